"""The playback log (issue 29): per play the page's audio context state, audio-clock start and end, latency, and
whether it ended or was cut; a stated rule flags trials where a clip never sounded or was cut short."""

from __future__ import annotations

import pytest

from experiment.db import make_engine
from experiment.export import dictionary_frame, export_bundle
from experiment.playback import judge, trial_flag
from experiment.tidy import trial_table


def _record(slot: str, *, state: str = "running", start: float = 1.0, end: float = 6.0, duration: float = 5.0,
            outcome: str = "ended", cause: str | None = None) -> dict:
    return {"kind": "playback", "slot": slot, "detail": {"ctx_state": state, "start_s": start, "end_s": end,
                                                         "duration_s": duration, "output_latency_s": 0.02,
                                                         "outcome": outcome, "cause": cause}}


@pytest.mark.parametrize("detail, verdict", [
    (_record("x")["detail"], (True, True)),
    (_record("x", end=3.0, outcome="cut", cause="hidden")["detail"], (True, False)),
    (_record("x", end=6.0, outcome="cut", cause="replaced")["detail"], (True, False)),
    (_record("x", state="suspended", end=1.0)["detail"], (False, False)),
    (_record("x", end=5.5)["detail"], (True, False)),  # "ended" but the clock ran 4.5 of 5 s
    ({}, (False, False)),
])
def test_the_rule_on_one_play(detail, verdict):
    assert judge(detail) == verdict


def test_the_rule_on_a_trial():
    full = [(s, _record(s)["detail"]) for s in "xab"]
    assert trial_flag(full) == "ok"
    assert trial_flag(full[:2] + [("b", _record("b", end=2.0, outcome="cut", cause="device_change")["detail"])]) \
        == "cut_short"
    assert trial_flag(full[:2]) == "never_sounded"
    assert trial_flag([]) == "not_logged"


def test_logged_plays_flag_the_trial_in_the_export_and_the_dictionary_says_so(participant, study):
    p = participant()
    p.ready()
    state = p.present()
    trial = state["trial"]["id"]
    p.listen(state, trial)
    events = [{**_record(s), "trial": trial, "t": 1.0} for s in "xa"]
    events.append({**_record("b", end=2.5, outcome="cut", cause="hidden"), "trial": trial, "t": 2.0})
    assert p.api("POST", "events", {"events": events}).status_code == 200
    assert p.answer("A", trial).status_code == 200
    p.do_trial("A")  # p2: no playback record
    engine = make_engine(study.url)
    try:
        table = trial_table(engine, study.experiment_id)
        files = export_bundle(engine, study.experiment_id, "csv")
    finally:
        engine.dispose()
    assert table["playback"].tolist() == ["cut_short", "not_logged"]
    playback_csv = files[f"study-{study.experiment_id}-playback.csv"].decode()
    assert "hidden" in playback_csv and playback_csv.count("\n") == 4  # header + three plays
    dictionary = dictionary_frame()
    assert {"playback"} <= set(dictionary["table"]) and "never_sounded" in " ".join(dictionary["meaning"])
    headphone = dictionary[(dictionary["table"] == "trials") & (dictionary["column"] == "headphone_passed")]
    assert "5" in headphone["meaning"].iloc[0] and "20%" in headphone["meaning"].iloc[0]
    assert b'"headphone_check"' in files["export.json"] and b'"expected_loudspeaker_pass_rate"' in files["export.json"]


def test_a_malformed_playback_detail_is_stored_and_judged_never_sounded(participant, study):
    p = participant()
    p.ready()
    state = p.present()
    trial = state["trial"]["id"]
    bad = [{"kind": "playback", "slot": s, "trial": trial, "t": 1.0, "detail": {"start_s": "soon"}} for s in "xab"]
    assert p.api("POST", "events", {"events": bad}).status_code == 200
    p.answer("A", trial)
    engine = make_engine(study.url)
    try:
        assert trial_table(engine, study.experiment_id)["playback"].tolist() == ["never_sounded"]
    finally:
        engine.dispose()
