"""The curve over N participants averaged, on hand-made test chunks (no training): averaging noisy copies of the
truth helps with N, pure noise stays at chance, brains (not recordings) are counted, and only test rows are
ever averaged."""

from dataclasses import replace

import numpy as np
import pytest

from reconstruct.errors import ParameterError, ReconstructError
from reconstruct.evaluation.brains import average_subsets, brains_curve, draw_subsets, per_brain, shared_spans
from reconstruct.evaluation.brains_report import brains_markdown, brains_plot
from reconstruct.evaluation.stats import accuracy_vs_chance, family_at_chance
from reconstruct.evaluation.time_specific import HeldOutChunks

SPANS = 8


def _chunks(*, people: int = 12, sigma: float = 2.0, recordings: int = 1, seed: int = 0,
            pure_noise: bool = False) -> HeldOutChunks:
    """2 songs × `people` participants × `recordings` presentations × 8 test spans; each reconstruction is
    the span's truth plus Gaussian noise of sd `sigma` (units), or noise alone."""
    rng = np.random.default_rng(seed)
    truth = {(s, k): rng.random((20, 16)) for s in range(2) for k in range(SPANS)}
    rows = [(s, p, r, k) for s in range(2) for p in range(people) for r in range(recordings) for k in range(SPANS)]
    t = np.stack([truth[(s, k)] for s, _, _, k in rows])
    noise = sigma * rng.standard_normal(t.shape)
    return HeldOutChunks(recording=np.array([(s * people + p) * recordings + r for s, p, r, _ in rows]),
                         participant=np.array([f"s{s}p{p:02d}" for s, p, _, _ in rows]),
                         song=np.array([f"song{s}" for s, *_ in rows]), chunk=np.array([k for *_, k in rows]),
                         recon=noise if pure_noise else t + noise, truth=t)


def _acc(curve: dict, measure: str) -> dict[int, float]:
    return {p["n"]: p["measures"][measure]["accuracy"] for p in curve["points"]}


def test_averaging_noisy_copies_of_the_truth_raises_accuracy_with_n():
    curve = brains_curve(_chunks(), draws=6)
    for m in ("span_id.top1", "observer.same_song"):
        acc = _acc(curve, m)
        assert acc[1] < acc[2] < acc[4] <= acc[12], (m, acc)
    top1 = {p["n"]: p["measures"]["span_id.top1"] for p in curve["points"]}
    assert top1[12]["ci"][0] > top1[1]["accuracy"] and top1[1]["chance"] == pytest.approx(1 / SPANS)
    assert [p["draws"] for p in curve["points"]] == [6, 6, 6, 1]


def test_pure_noise_stays_at_chance_for_every_n():
    curve = brains_curve(_chunks(pure_noise=True), draws=6)
    checks = [(m["correct"], m["n"], m["chance"]) for p in curve["points"] for m in p["measures"].values()]
    verdicts, _ = family_at_chance(checks)
    assert len(checks) == 16 and all(verdicts)


def test_two_presentations_count_once():
    two = _chunks(people=3, recordings=2)
    brains, info = per_brain(two)
    assert len(brains) == 2 * 3 * SPANS and info["max_recordings_per_brain_span"] == 2
    row = np.flatnonzero((two.participant == "s0p01") & (two.chunk == 5))
    mine = np.flatnonzero((brains.participant == "s0p01") & (brains.chunk == 5))
    assert np.allclose(brains.recon[mine[0]], two.recon[row].mean(axis=0))
    curve = brains_curve(two, ns=(1, 3, 6), draws=6)
    assert curve["participants_per_song"] == {"song0": 3, "song1": 3}
    assert [p["n"] for p in curve["points"]] == [1, 3] and curve["skipped"][0]["n"] == 6


def test_a_participant_who_heard_every_song_is_one_brain_per_song():
    """NMED-T shape: the same people hear both songs; a brain's "recording" never mixes songs, so the
    same-song observer's foil (the same recording at another span) stays in its song."""
    c = _chunks(people=3)
    c.participant = np.array([p[2:] for p in c.participant])  # s0p01, s1p01 -> p01, p01
    brains, _ = per_brain(c)
    assert all(len(set(brains.song[brains.recording == r])) == 1 for r in np.unique(brains.recording))
    assert len(np.unique(brains.recording)) == 6


def test_n_beyond_the_participants_available_is_skipped_with_a_reason():
    curve = brains_curve(_chunks(people=3), ns=(1, 2, 4, 12), draws=3)
    assert [p["n"] for p in curve["points"]] == [1, 2]
    assert [s["n"] for s in curve["skipped"]] == [4, 12]
    assert "3 participants available" in curve["skipped"][0]["reason"]
    assert "N=4 skipped" in brains_markdown(curve)


def test_averaging_never_touches_a_non_test_row():
    """Training rows whose reconstructions are the truth itself (what a model that fitted them gives back)
    sit beside noise-only test rows: averaged in, they would lift every N; with their roles they are dropped."""
    test = _chunks(people=4, pure_noise=True)
    fitted = replace(_chunks(people=4), recon=_chunks(people=4).truth.copy())
    both = HeldOutChunks(*(np.concatenate([getattr(test, f), getattr(fitted, f)]) for f in
                           ("recording", "participant", "song", "chunk", "recon", "truth")))
    roles = np.array(["test"] * len(test) + ["train"] * len(fitted))
    clean = brains_curve(test, ns=(1, 4), draws=4)
    guarded = brains_curve(both, ns=(1, 4), draws=4, roles=roles)
    leaky = brains_curve(both, ns=(1, 4), draws=4)  # every row taken for a test row: the leak it prevents
    assert guarded["points"] == clean["points"] and guarded["rows"]["n_non_test_rows_dropped"] == len(fitted)
    top1 = {name: c["points"][1]["measures"]["span_id.top1"] for name, c in (("leaky", leaky), ("guarded", guarded))}
    assert top1["leaky"]["accuracy"] > 0.5 and not top1["leaky"]["at_chance"] and top1["guarded"]["at_chance"]


def test_one_subset_serves_every_span_of_its_song():
    brains, _ = per_brain(_chunks(people=5))
    spans = shared_spans(brains)
    subsets = {s: draw_subsets(people, 2, 4, np.random.default_rng(0)) for s, (people, _) in spans.items()}
    avg = average_subsets(brains, spans, subsets)
    for r in np.unique(avg.recording):
        rows = avg.recording == r
        assert len(set(avg.participant[rows])) == 1 and sorted(avg.chunk[rows]) == list(range(SPANS))
    assert len(avg) == 2 * 4 * SPANS


def test_subsets_are_distinct_seeded_and_all_of_them_when_few():
    people = [f"p{i}" for i in range(12)]
    a = draw_subsets(people, 2, 12, np.random.default_rng(3))
    assert len(set(a)) == 12 and a == draw_subsets(people, 2, 12, np.random.default_rng(3))
    assert draw_subsets(people, 12, 12, np.random.default_rng(3)) == [tuple(people)]


def test_the_song_mean_baseline_is_one_line_and_the_report_says_simulated():
    c = _chunks(people=3)
    means = np.stack([c.truth[c.song == s].mean(axis=0) for s in c.song])
    curve = {**brains_curve(c, ns=(1, 2), draws=3, baseline=means), "simulated": True, "dataset": "nmedh-sim"}
    base = curve["song_mean_baseline"]["measures"]
    assert base["observer.different_song"]["accuracy"] > 0.9 and base["span_id.top1"]["at_chance"]
    md = brains_markdown(curve)
    assert "SIMULATED" in md and md.count("song-mean baseline (any N)") == 1
    assert brains_plot(curve)[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs", [{"ns": (0,)}, {"ns": ()}, {"ns": (1.5,)}, {"draws": 0}])
def test_bad_settings_are_one_line_errors(kwargs):
    with pytest.raises(ParameterError):
        brains_curve(_chunks(people=2), **kwargs)


def test_no_test_row_is_a_clear_error():
    c = _chunks(people=2)
    with pytest.raises(ReconstructError, match="no test chunk"):
        brains_curve(c, roles=np.full(len(c), "train"))


def test_any_scorer_plugs_in_and_its_floats_become_curves_too():
    """A scorer shaped like field_metrics (accuracy_vs_chance dicts and plain figures) needs no adapter."""
    def mean_r(chunks, recon):
        r = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(recon, chunks.truth)]
        hits = int(sum(x > 0.2 for x in r))
        return {"band_r": {"mean_r": float(np.mean(r))}, "above": accuracy_vs_chance(hits, len(r), 0.5)}

    curve = brains_curve(_chunks(people=4), ns=(1, 4), draws=2, scorers={"field": mean_r})
    r = [p["values"]["field.band_r.mean_r"] for p in curve["points"]]
    assert r[0] < r[1] and set(curve["points"][0]["measures"]) == {"field.above"}


def test_the_table_and_plot_can_show_a_chosen_few_measures():
    curve = brains_curve(_chunks(people=2), ns=(1, 2), draws=1)
    md = brains_markdown(curve, ["span_id.top1"])
    assert "span_id.top1" in md and "observer.same_song" not in md
    assert brains_plot(curve, ["span_id.top1"])[:4] == b"\x89PNG"
