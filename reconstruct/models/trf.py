"""The field's backward model (mTRF; MNE-Python's ``ReceptiveField``): lagged ridge from EEG to mel frames.

Each mel frame at time t is predicted from every channel's EEG at t + tmin … t + tmax (the EEG follows the
music), one model per EEG participant, as in the paper's within-participant design. EEG and targets are
at the target frame rate (44 frames per second, `reconstruct.segments`); lags are zero-padded at segment
edges, exactly like ``mne.decoding.ReceptiveField`` on epochs with ``tmin=-tmax_s, tmax=-tmin_s`` (MNE's
lags run the other way) and a ridge estimator without intercept — a test checks the two agree. By
default the lags are taken every 2 frames (45 ms; ``lag_step``), which keeps everything the EEG tracks
below ~10 Hz at a quarter of the solve cost; ``lag_step=1`` is MNE's contiguous lag set.

The fast path: one pass over a participant's training segments gives, per cross-validation fold, the
Gram matrix, column sums and cross-products of the widest lag window, lag by lag, so every narrower window
(one tmin, one step) is a leading block; any union of folds is a sum of folds, and each held fold's squared
error and per-bin r follow from its own statistics. So the lag window, the ridge penalty and the rank are
chosen by K-fold cross-validation over whole training chunks (grouped by chunk position, never touching
validation or test chunks) at the price of one Gram matrix and one Cholesky factor per (training set,
penalty), shared by every window, and a triangular product per held fold. (Measured 2026-12-07, one core,
n = 1250 columns: one eigendecomposition costs ~15 Choleskys, so "every alpha from one eigh" loses to a
Cholesky per alpha at 4-6 alphas.)

The r that selection reports is optimistic: the point is chosen on the folds that score it. **Nested CV**
(``nested``, the mTRF convention) scores each outer fold k at the point an inner CV over the other folds chose
(inner training sets = all folds but k and j, each solved once and shared), with the model fitted on all but
k: ``nested_r`` / ``nested_mse``. The model used for prediction stays the one chosen on all folds.
``cv="loo"`` makes one fold per training chunk position (every presentation of that chunk held out
together): leave one chunk out. Not the default: on the demo set that is 32 folds, 78 s per participant
without nested CV against 11.4 s for 3-fold with it (one core, same load, 2026-12-07), and nested LOO solves
P(P+1)/2 = 528 training sets against 6 (use ``nested=False`` with it unless you can wait ~90× longer). Each
participant's **Haufe forward pattern** (Haufe et al. 2014) of the decoded first target component comes from
the same statistics (`haufe_pattern`).

Two choices keep it useful at the signal level of real EEG (measured at SNR 3e-4 on the simulated NMED-H set,
same-song observer: 46.9% plain, 57.6% with both): the EEG is band-passed to 1–8 Hz within each segment
(``band_hz``; where cortical tracking of music lives, and the filter never reaches across a chunk edge), and
the prediction may be cut to the top ``rank`` principal components of the participant's *training* mel frames
(``ranks``; a rank-1 model decodes one loudness-like time course, which is all the EEG carries there; 0 =
every bin on its own). The grid point is the one with the best cross-validated mean per-bin Pearson r
(``cv_score="r"``, the mTRF convention: it scores the time course, not the level) or the lowest squared error
(``"mse"``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import linalg

from reconstruct.errors import ParameterError
from reconstruct.segments import FRAMES_PER_S


@dataclass(frozen=True)
class TRFConfig:
    """The lag windows and penalties cross-validated per participant, and the folds."""

    tmax_grid: tuple[float, ...] = (0.25, 0.4)
    tmin: float = 0.0
    alphas: tuple[float, ...] = (1e-2, 1e-1, 1.0, 10.0)  # × the mean diagonal of the Gram matrix (1e2, 1e3:
    # never chosen on the demo set at the default SNR nor at the literature level, 0/96: dropped 2026-12-07)
    n_folds: int = 3
    lag_step: int = 2  # frames between lags: 45 ms at 44 frames/s (the EEG tracks the music below ~10 Hz)
    band_hz: tuple[float, float] | None = (1.0, 8.0)  # EEG band-pass within each segment; None: as recorded
    ranks: tuple[int, ...] = (1, 2, 4, 0)  # principal components of the training frames kept; 0: all bins
    cv_score: str = "r"  # "r": best mean per-bin Pearson r on held-out folds; "mse": lowest squared error
    cv: str = "kfold"  # "kfold": n_folds folds of chunk positions; "loo": one fold per training chunk position
    nested: bool = True  # also the unbiased nested-CV r (inner CV per outer fold; needs three folds or more)

    def __post_init__(self) -> None:
        bad_band = self.band_hz is not None and not (len(self.band_hz) == 2
                                                     and 0 < self.band_hz[0] < self.band_hz[1] < FRAMES_PER_S / 2)
        if not self.tmax_grid or min(self.tmax_grid) <= self.tmin or self.n_folds < 2 or not self.alphas \
                or min(self.alphas) <= 0 or self.lag_step < 1 or bad_band or not self.ranks \
                or min(self.ranks) < 0 or self.cv_score not in ("r", "mse") or self.cv not in ("kfold", "loo"):
            raise ParameterError(f"bad trf settings: {self}")

    def to_dict(self) -> dict:
        """Plain dict for manifests."""
        return asdict(self)


def lags_of(tmin: float, tmax: float, fps: float = FRAMES_PER_S, step: int = 1) -> np.ndarray:
    """Lags in frames from round(tmin·fps) to round(tmax·fps), inclusive, every `step` frames."""
    return np.arange(int(round(tmin * fps)), int(round(tmax * fps)) + 1, step)


def lagged(x: np.ndarray, lags: np.ndarray, *, lag_major: bool = False) -> np.ndarray:
    """Design matrix of one segment [shape=(T, channels × lags)], feature (c, l) = x[t + lags[l], c],
    zero outside the segment (channel-major, like MNE's (n_features, n_delays); `lag_major`: lag by lag, so the
    columns of a shorter lag window from the same first lag are a leading block)."""
    t, c = x.shape
    out = np.zeros((t, len(lags), c) if lag_major else (t, c, len(lags)), dtype=np.float32)
    for j, lag in enumerate(lags):
        into = out[:, j] if lag_major else out[:, :, j]
        if lag >= 0:
            into[:t - lag if lag else t] = x[lag:]
        else:
            into[-lag:] = x[:t + lag]
    return out.reshape(t, c * len(lags))


@dataclass
class _Stats:
    """Sufficient statistics of one fold's rows: n, Σx, Σy, XᵀX, XᵀY, YᵀY."""

    n: float
    sx: np.ndarray
    sy: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray

    def __sub__(self, other: _Stats) -> _Stats:
        return _Stats(self.n - other.n, self.sx - other.sx, self.sy - other.sy, self.xx - other.xx,
                      self.xy - other.xy, self.yy - other.yy)

    def __add__(self, other: _Stats) -> _Stats:
        return _Stats(self.n + other.n, self.sx + other.sx, self.sy + other.sy, self.xx + other.xx,
                      self.xy + other.xy, self.yy + other.yy)


def _stats(xs: list[np.ndarray], ys: list[np.ndarray], lags: np.ndarray, *, lag_major: bool = False) -> _Stats:
    x = np.concatenate([lagged(s, lags, lag_major=lag_major) for s in xs])
    y = np.concatenate(ys).astype(np.float64)
    return _Stats(float(len(x)), x.sum(0, dtype=np.float64), y.sum(0), (x.T @ x).astype(np.float64),
                  (x.T @ y.astype(np.float32)).astype(np.float64), y.T @ y)


@dataclass
class _System:
    """The normal equations of one fold's training rows on one lag window, centred once for every penalty."""

    st: _Stats
    cols: np.ndarray
    xx: np.ndarray
    xy: np.ndarray
    intercept: bool

    @classmethod
    def of(cls, st: _Stats, cols: np.ndarray, *, intercept: bool) -> _System:
        """Cut the window's block out of the statistics (and centre it when `intercept`)."""
        every = np.array_equal(cols, np.arange(len(st.sx)))  # all columns in order: no copy to cut
        xx, xy = (st.xx if every else st.xx[np.ix_(cols, cols)]), st.xy[cols]
        if intercept:
            mx, my = st.sx[cols] / st.n, st.sy / st.n
            xx = xx - st.n * np.outer(mx, mx)
            xy = xy - st.n * np.outer(mx, my)
        return cls(st, cols, xx, xy, intercept)

    def solve(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Ridge coefficients and intercept at penalty `alpha`."""
        coef = linalg.cho_solve(linalg.cho_factor(self.penalised(alpha), overwrite_a=True, check_finite=False),
                                self.xy, check_finite=False)
        return coef, self.intercept_of(coef, len(self.cols))

    def penalised(self, alpha: float) -> np.ndarray:
        """XᵀX + alpha·I, a new array (the diagonal added in place: no n × n identity is made)."""
        a = self.xx.copy()
        a.flat[::len(a) + 1] += alpha
        return a

    def intercept_of(self, coef: np.ndarray, k: int) -> np.ndarray:
        """The intercept that goes with coefficients on the first `k` columns."""
        st = self.st
        return (st.sy / st.n - (st.sx[self.cols[:k]] / st.n) @ coef) if self.intercept else np.zeros(self.xy.shape[1])

    def solve_prefixes(self, alpha: float, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """`solve` on the first k columns for each k in `sizes`, from one Cholesky factor: a leading block of the
        factor of XᵀX + alpha·I is the factor of that block, and the forward substitution's leading rows are too."""
        low = linalg.cholesky(self.penalised(alpha), lower=True, overwrite_a=True, check_finite=False)
        half = linalg.solve_triangular(low, self.xy, lower=True, check_finite=False)
        out = []
        for k in sizes:
            coef = linalg.solve_triangular(low[:k, :k], half[:k], lower=True, trans="T", check_finite=False)
            out.append((coef, self.intercept_of(coef, k)))
        return out


def _solve(st: _Stats, cols: np.ndarray, alpha: float, *, intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients on columns `cols` from statistics (centred when `intercept`)."""
    return _System.of(st, cols, intercept=intercept).solve(alpha)


def _held_out(st: _Stats, cols: np.ndarray, coef: np.ndarray, b: np.ndarray,
              quad: np.ndarray | None = None) -> tuple[float, float]:
    """(Σ‖y − ŷ‖², mean over bins of Pearson r(ŷ, y)) over the rows whose statistics are `st`, ŷ = x·coef + b
    (`quad`: Σ(x·coef)² per bin when the caller has it: the one costly product)."""
    xy, sx = st.xy[cols], st.sx[cols]
    if quad is None:
        quad = np.sum(coef * (st.xx[np.ix_(cols, cols)] @ coef), axis=0)
    s_hat = sx @ coef + st.n * b  # Σŷ per bin
    hat_y = np.sum(coef * xy, axis=0) + b * st.sy  # Σŷ·y per bin
    hat_hat = quad + 2 * b * (sx @ coef) + st.n * b ** 2  # Σŷ² per bin
    y_y = np.diag(st.yy)
    sse = float(np.sum(y_y - 2 * hat_y + hat_hat))
    cov = hat_y - s_hat * st.sy / st.n
    var_hat, var_y = hat_hat - s_hat ** 2 / st.n, y_y - st.sy ** 2 / st.n
    ok = (var_hat > 1e-12 * max(1.0, float(np.max(var_hat)))) & (var_y > 0)
    r = np.where(ok, cov / np.sqrt(np.where(ok, var_hat * var_y, 1.0)), 0.0)
    return sse, float(np.mean(r))


def _components(st: _Stats, rank: int) -> np.ndarray:
    """The top `rank` principal components of these rows' targets [shape=(bins, rank)], strongest first."""
    n_bins = st.sy.shape[0]
    mean = st.sy / st.n
    _, vecs = linalg.eigh(st.yy / st.n - np.outer(mean, mean), subset_by_index=[n_bins - rank, n_bins - 1])
    return vecs[:, ::-1]


def _bases(st: _Stats, ranks: tuple[int, ...]) -> dict[int, np.ndarray | None]:
    """Each rank's component basis [shape=(bins, rank)] from one eigendecomposition (None: every bin on its own)."""
    n_bins = st.sy.shape[0]
    cut = [r for r in ranks if 0 < r < n_bins]
    top = _components(st, max(cut)) if cut else None
    return {r: (top[:, :r] if 0 < r < n_bins else None) for r in ranks}


def _reduced(coef: np.ndarray, b: np.ndarray, basis: np.ndarray | None, mean: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """The model whose prediction is mean + (ŷ − mean)·V·Vᵀ: the full prediction cut to the components V."""
    if basis is None:
        return coef, b
    return (coef @ basis) @ basis.T, ((b - mean) @ basis) @ basis.T + mean


def _scored_ranks(held: _Stats, cols: np.ndarray, coef: np.ndarray, b: np.ndarray, mean: np.ndarray,
                  bases: dict[int, np.ndarray | None], factor: np.ndarray | None) -> dict[int, tuple[float, float]]:
    """`_held_out` of the model cut to each rank, with Σ(x·coef)² per bin from one product: ‖R·coef‖² where
    RᵀR = the held rows' XᵀX on `cols` (`factor`: R, upper triangular, Fortran order; a triangular product is
    half a full one), cut through each basis V (bins × rank, so nothing of size bins² is formed)."""
    if factor is None:
        projected = held.xx[np.ix_(cols, cols)] @ coef  # XᵀX·coef: quadratic forms as coefᵀ(XᵀX·coef)
        quad = np.sum(coef * projected, axis=0)
    else:
        projected = linalg.blas.dtrmm(1.0, factor, coef)  # R·coef: quadratic forms as ‖R·coef‖²
        quad = np.sum(projected ** 2, axis=0)
    out = {}
    for rank, basis in bases.items():
        cut_coef, cut_b = _reduced(coef, b, basis, mean)
        if basis is None:
            out[rank] = _held_out(held, cols, cut_coef, cut_b, quad)
            continue
        inner = (projected @ basis).T @ (coef @ basis if factor is None else projected @ basis)  # Vᵀcoefᵀ H coef V
        out[rank] = _held_out(held, cols, cut_coef, cut_b, np.einsum("bk,kl,bl->b", basis, inner, basis))
    return out


def _factors(st: _Stats, sizes: list[int]) -> list[np.ndarray] | None:
    """Upper Cholesky factors R (RᵀR = XᵀX) of each window's leading block of one fold's Gram matrix, Fortran
    order, from one factorisation (None when it is not positive definite: the callers fall back to XᵀX·coef)."""
    try:
        upper = linalg.cholesky(st.xx[:max(sizes), :max(sizes)], lower=False, check_finite=False)
    except linalg.LinAlgError:
        return None
    return [np.asfortranarray(upper[:k, :k]) for k in sizes]


def _sum(stats: list[_Stats]) -> _Stats:
    total = stats[0]
    for st in stats[1:]:
        total = total + st
    return total


def _pairs(n_folds: int, *, nested: bool) -> list[tuple[frozenset, int]]:
    """(training folds, held fold) of the selection CV (all but k, k) and, when `nested`, of every inner CV
    (all but k and j, j for each outer fold k): the inner training sets repeat, so each is solved once."""
    everything = frozenset(range(n_folds))
    out = [(everything - {k}, k) for k in range(n_folds)]
    if nested:
        out += [(everything - {k, j}, j) for k in range(n_folds) for j in range(n_folds) if j != k]
    return list(dict.fromkeys(out))


def _grid_scores(per_fold: list[_Stats], pairs: list[tuple[frozenset, int]], sizes: list[int], config: TRFConfig, *,
                 scale: float, intercept: bool) -> dict[tuple[frozenset, int], np.ndarray]:
    """Per (training folds, held fold): every grid point's held-out (squared error, mean per-bin r)
    [shape=(points, 2)], points in (window, alpha, rank) order. The statistics are lag-major, so lag window w is
    the first `sizes[w]` columns: each training set's normal equations are centred once, factored once per
    penalty for every window (`_System.solve_prefixes`), and scored on each held fold it is paired with."""
    by_train: dict[frozenset, list[int]] = {}
    for train, held in pairs:
        by_train.setdefault(train, []).append(held)
    n_a, n_r = len(config.alphas), len(config.ranks)
    out = {pair: np.zeros((len(sizes) * n_a * n_r, 2)) for pair in pairs}
    factors = {j: _factors(per_fold[j], sizes) for j in sorted({held for _, held in pairs})}
    for train, helds in by_train.items():
        st = _sum([per_fold[k] for k in sorted(train)])
        bases, mean = _bases(st, config.ranks), st.sy / st.n
        order = np.arange(max(sizes))
        system = _System.of(st, order, intercept=intercept)
        for a, alpha in enumerate(config.alphas):
            for w, (k, (coef, b)) in enumerate(zip(sizes, system.solve_prefixes(alpha * scale, sizes))):
                for j in helds:
                    factor = factors[j][w] if factors[j] is not None else None
                    scored = _scored_ranks(per_fold[j], order[:k], coef, b, mean, bases, factor)
                    first = (w * n_a + a) * n_r
                    out[train, j][first:first + n_r] = [scored[rank] for rank in config.ranks]
    return out


def _best(sse: np.ndarray, r: np.ndarray, cv_score: str) -> int:
    """Index of the best grid point by mean r (first among equals) or by squared error."""
    return int(np.argmax(r)) if cv_score == "r" else int(np.argmin(sse))


def _nested(scores: dict, n_folds: int, points: list[dict], n_rows: list[float], n_bins: int, cv_score: str) -> dict:
    """The unbiased estimate: per outer fold k, the grid point an inner CV on the other folds chose, scored on k
    by the model fitted on all but k (the selection CV's own fold-k model, so no extra solve)."""
    outer = []
    for k in range(n_folds):
        inner = [scores[frozenset(range(n_folds)) - {k, j}, j] for j in range(n_folds) if j != k]
        pick = _best(sum(s[:, 0] for s in inner), sum(s[:, 1] for s in inner) / len(inner), cv_score)
        sse, r = scores[frozenset(range(n_folds)) - {k}, k][pick]
        outer.append({"fold": k, **{key: points[pick][key] for key in ("tmax", "alpha", "rank")},
                      "r": float(r), "mse": float(sse / (n_rows[k] * n_bins))})
    return {"nested_r": float(np.mean([o["r"] for o in outer])),
            "nested_mse": float(sum(o["mse"] * n_rows[o["fold"]] for o in outer) / sum(n_rows)), "outer": outer}


def haufe_pattern(st: _Stats, cols: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Forward pattern (Haufe et al. 2014: A = Cov(X)·W·Cov(Ŷ)⁻¹) of the decoder's first target component
    [shape=(len(cols),), the columns' order]: how the EEG at each channel and lag co-varies with the decoded time
    course of the training frames' first principal component (sign: loud is positive), in channel-std units per
    unit of it."""
    v = _components(st, 1)[:, 0]
    v = v if v.sum() >= 0 else -v
    w = coef.astype(np.float64) @ v
    mx = st.sx[cols] / st.n
    cov_x = st.xx[np.ix_(cols, cols)] / st.n - np.outer(mx, mx)
    cov_w = cov_x @ w
    var = float(w @ cov_w)
    return cov_w / var if var > 0 else np.zeros_like(cov_w)


def fit_trf(xs: list[np.ndarray], ys: list[np.ndarray], folds: np.ndarray, config: TRFConfig, *,
            intercept: bool = True) -> dict:
    """Cross-validate (lag window, alpha, rank) over `folds` (one fold id per segment) and refit on all segments;
    with three folds or more, also nested CV: each outer fold scored at the point an inner CV without it chose.

    Parameters
    ----------
    xs : list of np.ndarray [shape=(T_i, channels)], standardised EEG at the frame rate, one per segment
    ys : list of np.ndarray [shape=(T_i, bins)], the target frames
    folds : np.ndarray [shape=(n_segments,)], the fold of each segment (segments of one chunk share it)

    Returns a dict with ``coef`` [shape=(channels × lags, bins)], ``intercept``, ``lags``, ``alpha``, ``rank``,
    every grid point's (selection-)cross-validated mean squared error and mean per-bin r (``grid``; optimistic:
    the point is chosen on the same folds), ``nested`` (``nested_r``, ``nested_mse``, per outer fold the chosen
    point; None with fewer than three folds) and ``pattern``, the Haufe forward pattern [shape=(channels, lags)]."""
    windows = [lags_of(config.tmin, t, step=config.lag_step) for t in config.tmax_grid]
    all_lags = np.unique(np.concatenate(windows))
    fold_ids = np.unique(folds)
    per_fold = [_stats([x for x, f in zip(xs, folds) if f == k], [y for y, f in zip(ys, folds) if f == k], all_lags,
                       lag_major=True) for k in fold_ids]
    total = _sum(per_fold)
    n_channels, n_bins = xs[0].shape[1], ys[0].shape[1]
    scale = float(np.mean(np.diag(total.xx))) or 1.0
    n_folds = len(fold_ids) if len(fold_ids) > 1 else 0
    points = [{"tmax": t, "alpha": a, "rank": r} for t in config.tmax_grid for a in config.alphas for r in config.ranks]
    nest = config.nested and n_folds >= 3
    sizes = [len(lags) * n_channels for lags in windows]  # each window is a leading block: one tmin, one step
    scores = _grid_scores(per_fold, _pairs(n_folds, nested=nest), sizes, config, scale=scale, intercept=intercept)
    outer = [scores[frozenset(range(n_folds)) - {k}, k] for k in range(n_folds)]
    sse = sum(s[:, 0] for s in outer) if outer else np.zeros(len(points))
    r = sum(s[:, 1] for s in outer) / max(1, n_folds) if outer else np.zeros(len(points))
    grid = [{**p, "cv_mse": float(e) / (total.n * n_bins), "cv_r": float(c)} for p, e, c in zip(points, sse, r)]
    best = max(grid, key=lambda g: g["cv_r"]) if config.cv_score == "r" else min(grid, key=lambda g: g["cv_mse"])
    nested = (_nested(scores, n_folds, points, [st.n for st in per_fold], n_bins, config.cv_score)
              if nest else None)
    lags = lags_of(config.tmin, best["tmax"], step=config.lag_step)
    cols = np.arange(len(lags) * n_channels)
    coef, b = _solve(total, cols, best["alpha"] * scale, intercept=intercept)
    coef, b = _reduced(coef, b, _bases(total, (best["rank"],))[best["rank"]], total.sy / total.n)
    pattern = haufe_pattern(total, cols, coef).reshape(len(lags), n_channels).T
    coef = coef.reshape(len(lags), n_channels, n_bins).transpose(1, 0, 2).reshape(-1, n_bins)  # channel-major
    return {"coef": coef.astype(np.float32), "intercept": b.astype(np.float32), "lags": lags,
            "tmin": config.tmin, "tmax": best["tmax"], "alpha": best["alpha"], "alpha_abs": best["alpha"] * scale,
            "rank": best["rank"], "grid": grid, "nested": nested, "pattern": pattern.astype(np.float32)}


def fit_fixed(xs: list[np.ndarray], ys: list[np.ndarray], lags: np.ndarray, alpha: float, *,
              intercept: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ridge at one lag window and one absolute penalty (what MNE's ReceptiveField + Ridge fits)."""
    st = _stats(xs, ys, lags)
    return _solve(st, np.arange(st.xx.shape[0]), alpha, intercept=intercept)


def predict_trf(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Predicted frames of one segment [shape=(T, bins)]."""
    return lagged(x, lags) @ coef + intercept


def chunk_folds(chunk_in_song: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold of each segment by its chunk's *time in the song*, dealt round-robin in time order: every fold
    spans the song, and a chunk's target (song, second) never trains the fold that scores it through
    another recording of the same song (e.g. a second presentation)."""
    order = {c: i for i, c in enumerate(np.unique(chunk_in_song))}
    return np.array([order[c] % n_folds for c in chunk_in_song])


def trf_folds(chunk_in_song: np.ndarray, config: TRFConfig) -> np.ndarray:
    """The CV fold of each of one participant's training segments: `chunk_folds` with ``config.n_folds`` folds, or
    with ``cv="loo"`` one fold per chunk position (leave one chunk out; every presentation of it held together)."""
    n_folds = config.n_folds if config.cv == "kfold" else len(np.unique(chunk_in_song))
    return chunk_folds(chunk_in_song, n_folds)
