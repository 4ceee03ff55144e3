"""Analyse the AB-X listening study: accuracy against chance, with the statistics a reviewer expects.

Modules, one job each (import them directly; this package imports nothing heavy so the CLI starts fast):

- ``load``: an export file (CSV/Parquet) or the study database → the tidy trial table.
- ``exclusions``: practice, unanswered trials, failed headphone checks, withdrawals, time-outs.
- ``listeners``: per-listener accuracy, exact binomial p, Wilson CI, Holm correction.
- ``group``: group mean/SD/min/max, pooled CI, t and Wilcoxon tests against chance.
- ``mixed``: crossed listener × item mixed logistic model and GEE.
- ``dprime``: d′ for AB-X (differencing, independent observations) and 2AFC.
- ``breakdowns``: accuracy by song, position, version, EEG participant, side; learning over trials.
- ``rt``: response-time summaries.
- ``power``: per-listener binomial power and listeners needed, by simulating the mixed model.
- ``plots``, ``render``: figures (base64 PNG) and the self-contained HTML page.
- ``report``: ``analyze(table, out_dir=…, seed=…)``, writing results.json + report.html.
- ``synthetic``: seeded simulated exports for tests, the benchmark and demos.
- ``cli``: the ``analysis`` click group (``analyze``; also exported as ``analyze_command``).
"""
