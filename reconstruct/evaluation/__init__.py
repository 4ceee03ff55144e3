"""Stage 7, Evaluate: how much of the music the reconstructions carry, measured as the paper does and
with controls.

.. autosummary::
   classifier   song-ID CNN trained on true spectra, tested on reconstructions (Table 2)
   metrics      SSIM and PSNR per example and per bin (Figs 3–4)
   controls     noise-only and EEG-shuffled runs that must score at chance
   observer     the one observer module: level-relative distances, the AB-X ideal observer, study trials
    time_specific same-song observer, top-k span identification, the song-mean baseline
   brains       the curve over N participants averaged per test span (brains_report: its table and plot)
   sweep        SNR × training minutes → accuracy on the simulated set
   evaluate     all of the above for one run dir
   report       evaluation.json + evaluation.html
   (the CLI verb is reconstruct/cli_evaluate.py, beside the other verbs)
"""
