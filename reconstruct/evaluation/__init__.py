"""Stage 7, Evaluate: how much of the music the reconstructions carry, measured as the paper does and
with controls.

.. autosummary::
   classifier   song-ID CNN trained on true spectra, tested on reconstructions (Table 2)
   metrics      SSIM and PSNR per example and per bin (Figs 3–4)
   controls     noise-only and EEG-shuffled runs that must score at chance
   observer     ideal observer on the AB-X trials (distance and SSIM)
   sweep        SNR × training minutes → accuracy on the simulated set
   evaluate     all of the above for one run dir
   report       evaluation.json + evaluation.html
   cli          `tuneback reconstruct evaluate`
"""
