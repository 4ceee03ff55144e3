"""The decoder comparison: every decoder on one split per SNR, beside the song-mean baseline, as a table
and a plot; SNR 0 sits at chance on the time-specific measures."""

import json

import numpy as np

import pytest

from reconstruct.config import RunConfig
from reconstruct.evaluation.comparison import compare_decoders, comparison_markdown, write_comparison
from reconstruct.simulate import SimulatedDataConfig

SIM = SimulatedDataConfig(n_songs=2, n_participants=2, duration_s=245, snr=0.5, n_channels=8)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    return compare_decoders(RunConfig(run_dir=out, simulation=SIM), decoders=("ridge", "trf"), snrs=(0.0, 0.5),
                            out_dir=out, envelope_recordings=0, brains_snr=0.5, log=lambda _: None), out


def test_every_decoder_shares_the_split_and_the_baseline_is_beside_it(result):
    res, out = result
    for level in res["levels"]:
        assert [r["decoder"] for r in level["rows"]] == ["ridge", "trf", "song_mean"]
        assert level["split"]["overlap"]["test_targets_in_training"] == 0
    split = {d: np.load(out / "snr-0.5" / d / "split.npy") for d in ("ridge", "trf")}
    assert np.array_equal(split["ridge"], split["trf"])  # same songs, same seed: the very same split
    eeg = {d: (out / "snr-0.5" / d / "data" / "eeg.npy").resolve() for d in ("ridge", "trf")}
    assert eeg["ridge"] == eeg["trf"]  # one simulated set, linked


def test_trf_decodes_time_at_signal_and_not_at_snr_0(result):
    res, _ = result
    noise, signal = ({r["decoder"]: r for r in lv["rows"]} for lv in res["levels"])
    assert signal["trf"]["beats_baseline"]["same_song"] and signal["trf"]["beats_baseline"]["top1"]
    lo, hi = noise["trf"]["same_song"]["ci95"]
    assert lo <= 0.5 <= hi and not noise["trf"]["beats_baseline"]["top1"]


def test_table_and_plot_are_written(result, tmp_path):
    res, _ = result
    paths = write_comparison(res, tmp_path)
    assert json.loads(paths[0].read_text())["decoders"] == ["ridge", "trf"]
    table, field = comparison_markdown(res).split("### The field's metrics")
    assert table.strip().count("\n") == 1 + 2 * 3 and "song_mean" in table
    assert field.count("| song_mean |") == 2 and "MM 5-way" in field
    trf_rows = [line for line in field.splitlines() if line.startswith(("| 0 | trf", "| 0.5 | trf"))]
    assert trf_rows[0].endswith("| no |") and "band r" in trf_rows[1].rsplit("|", 2)[1]  # the verdict column
    assert paths[2].read_bytes()[:4] == paths[3].read_bytes()[:4] == b"\x89PNG"
    assert paths[3].name == "decoder_comparison_field.png"


def test_the_curve_over_participants_averaged_is_measured_for_every_decoder_at_its_level(result, tmp_path):
    res, _ = result
    noise, signal = res["levels"]
    assert "brains" not in noise and list(signal["brains"]["curves"]) == ["ridge", "trf"]
    trf = signal["brains"]["curves"]["trf"]
    assert [p["n"] for p in trf["points"]] == [1, 2] and [s["n"] for s in trf["skipped"]] == [4, 12]
    two = trf["points"][1]["measures"]
    assert two["observer.same_song"]["ci"][0] > 0.5 and "field.segment_id.3s.50" in two
    assert "### How many brains it takes" in comparison_markdown(res)
    paths = write_comparison(res, tmp_path)
    assert paths[-1].name == "decoder_comparison_brains.png" and paths[-1].read_bytes()[:4] == b"\x89PNG"


def test_every_row_carries_the_field_block_beside_chance(result):
    res, _ = result
    for level in res["levels"]:
        rows = {r["decoder"]: r["field"] for r in level["rows"]}
        for decoder in ("ridge", "trf", "song_mean"):
            assert rows[decoder]["mm2"]["chance"] == 0.5 and rows[decoder]["mm5"]["chance"] == 0.2
            assert rows[decoder]["song_id_3s"]["chance"] == 0.5 and "band_r" in rows[decoder]
        assert rows["song_mean"]["song_id_3s"]["accuracy"] == 1.0  # its own template: song ID by design
        assert set(rows["trf"]["beats_baseline"]) >= {"mm2", "mm5", "song_id_3s"}
    noise, signal = ({r["decoder"]: r["field"] for r in lv["rows"]} for lv in res["levels"])
    assert signal["trf"]["beats_baseline"]["idall_5s"] and signal["trf"]["band_r"]["p"] < 0.01
    assert not noise["trf"]["beats_baseline"]["idall_5s"] and noise["trf"]["band_r"]["p"] > 0.01


def _row(decoder, acc):
    m = {"accuracy": acc, "ci95": [acc - 0.05, acc + 0.05], "chance": 0.5}
    return {"decoder": decoder, "different_song": m, "same_song": m, "ssim": 0.3, "psnr_db": 16.0}


def _comparison(decoders, levels, command):
    return {"decoders": list(decoders), "command": command, "simulation": {"snr": None}, "split_seed": 0,
            "train_seed": 0, "select_seed": 0,
            "levels": [{"snr": snr, "eeg_digest": f"eeg-{snr}",
                        "rows": [_row(d, acc) for d in decoders] + [_row("song_mean", 0.45)]} for snr, acc in levels]}


def test_merging_keeps_the_other_decoders_rows_marked_and_replaces_the_re_run_ones():
    from reconstruct.evaluation.comparison import merge_comparison
    old = _comparison(("cnn", "trf"), [(3e-4, 0.5), (0.4, 0.7)], "old run")
    new = _comparison(("trf",), [(3e-4, 0.58)], "trf again")
    merged = merge_comparison(new, old)
    low, high = merged["levels"]
    assert [(r["decoder"], r.get("measured_by")) for r in low["rows"]] == [
        ("cnn", "old run"), ("trf", None), ("song_mean", None)]
    assert low["rows"][1]["same_song"]["accuracy"] == 0.58
    assert [(r["decoder"], r.get("measured_by")) for r in high["rows"]] == [
        ("cnn", "old run"), ("trf", "old run"), ("song_mean", None)]  # a level not re-run keeps its rows, marked
    assert "† measured by an earlier command" in comparison_markdown(merged) and "| cnn † |" in comparison_markdown(merged)
    field = comparison_markdown(merged).split("### The field's metrics")[1]
    assert "| 0.0003 | cnn † | – | – |" in field  # rows measured before the field block show a dash
    from reconstruct.evaluation.comparison import comparison_plot
    from reconstruct.evaluation.comparison_field import field_plot
    assert comparison_plot(merged)[:4] == b"\x89PNG"  # a level without one decoder's row still plots
    assert field_plot(merged)[:4] == b"\x89PNG"  # and rows without a field block too


def test_rows_of_another_simulation_are_never_merged():
    from reconstruct.errors import ParameterError
    from reconstruct.evaluation.comparison import merge_comparison
    old = _comparison(("cnn",), [(0.4, 0.7)], "old")
    with pytest.raises(ParameterError, match="another simulation"):
        merge_comparison({**_comparison(("trf",), [(0.4, 0.6)], "new"), "split_seed": 1}, old)
    changed = _comparison(("trf",), [(0.4, 0.6)], "new")
    changed["levels"][0]["eeg_digest"] = "the generator changed"  # same settings, other EEG
    with pytest.raises(ParameterError, match="other EEG"):
        merge_comparison(changed, old)
    del old["levels"][0]["eeg_digest"]  # an earlier run that recorded none cannot be vouched for
    with pytest.raises(ParameterError, match="other EEG"):
        merge_comparison(_comparison(("trf",), [(0.4, 0.6)], "new"), old)


def test_merging_keeps_the_curves_over_n_of_decoders_not_re_run():
    from reconstruct.evaluation.comparison import merge_comparison
    old = _comparison(("cnn", "trf"), [(3e-4, 0.5)], "old run")
    old["levels"][0]["brains"] = {"snr": 3e-4, "curves": {"cnn": {"old": 1}, "trf": {"old": 1}}}
    new = _comparison(("trf",), [(3e-4, 0.58)], "trf again")
    new["levels"][0]["brains"] = {"snr": 3e-4, "curves": {"trf": {"new": 1}}}
    curves = merge_comparison(new, old)["levels"][0]["brains"]["curves"]
    assert curves == {"cnn": {"old": 1}, "trf": {"new": 1}}


def test_the_report_draws_a_trf_runs_forward_patterns_and_names_its_nested_r(result):
    from reconstruct.evaluation.report import _trf_patterns
    _, out = result
    train = {"decoder": "trf", "cv_r_mean": 0.31, "nested_r_mean": 0.29}
    html = "".join(_trf_patterns({"main": {"train": train}, "run_dir": str(out / "snr-0.5" / "trf")}))
    assert "forward patterns" in html and "0.290 nested" in html and "<img" in html
    assert _trf_patterns({"main": {"train": {"decoder": "ridge"}}, "run_dir": str(out)}) == []
