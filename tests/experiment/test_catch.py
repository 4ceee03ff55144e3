"""Catch trials (issue 15): placed from the session's seed, served like any trial, never scored, counted per listener."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin_support import rows as _rows
from experiment.catch import place_catch_trials
from experiment.design import build_design, draw_session, longest_run
from experiment.errors import ExperimentError
from experiment.manifest import load_manifest
from experiment.models import Presentation
from experiment.progress import participant_rows
from experiment.study import create_experiment, get_experiment
from experiment.tidy import trial_table
from experiment.webdb import engine_of, get_db
from experiment_client import Participant, Study, make_app


@pytest.fixture(scope="module")
def version(manifest_path):
    return build_design(load_manifest(manifest_path).clips, seed=1).versions[0]


@pytest.mark.parametrize("seed", range(20))
def test_placement_is_deterministic_spread_and_renumbered(version, seed):
    plan = place_catch_trials(draw_session(version, seed), version, seed, 3)
    assert plan == place_catch_trials(draw_session(version, seed), version, seed, 3)
    trials = [p for p in plan if not p.practice]
    flags = [getattr(p, "catch", False) for p in trials]
    assert sum(flags) == 3 and not flags[0] and not any(a and b for a, b in zip(flags, flags[1:]))
    assert [p.order_index for p in trials] == list(range(1, len(version.trials) + 4))
    assert [p for p in trials if not getattr(p, "catch", False)] != []
    scored = [p.item for p in trials if not getattr(p, "catch", False)]
    assert sorted(scored) == sorted(t.item for t in version.trials)  # every scored item once, in the drawn order
    assert longest_run([p.correct_side for p in trials]) <= 4
    assert {p.item for p in trials if getattr(p, "catch", False)} <= set(scored)


def test_other_seeds_place_them_elsewhere(version):
    where = {tuple(i for i, p in enumerate(place_catch_trials(draw_session(version, s), version, s, 2))
                   if getattr(p, "catch", False)) for s in range(10)}
    assert len(where) > 3


def test_zero_catch_trials_leaves_the_plan_alone(version):
    assert place_catch_trials(draw_session(version, 4), version, 4, 0) == draw_session(version, 4)


@pytest.mark.parametrize("bad", [-1, 13, 2.5, True, "2"])
def test_bad_catch_setting_refused(database_url, manifest_path, bad):
    with pytest.raises(ExperimentError, match="catch_trials"):
        create_experiment(database_url, manifest_path, settings={"catch_trials": bad})


@pytest.mark.parametrize("bad", [-1, 60_001, "fast", None])
def test_bad_too_fast_floor_refused(database_url, manifest_path, bad):
    with pytest.raises(ExperimentError, match="too_fast_ms"):
        create_experiment(database_url, manifest_path, settings={"too_fast_ms": bad})


@pytest.fixture
def catch_study(database_url, manifest_path, clock, tmp_path):
    study = Study(database_url, create_experiment(database_url, manifest_path, seed=1,
                                                  settings={"catch_trials": 2, "too_fast_ms": 3000}))
    app = make_app(study, clock, tmp_path)
    yield study, app
    engine_of(app).dispose()


def test_catch_trial_is_served_like_any_trial_and_counted_apart(catch_study, clock):
    study, app = catch_study
    p = Participant(app, study.experiment_id)
    assert "then 26 trials" in p.page("").get_data(as_text=True)  # the pages count the catch trials in
    p.ready()
    catches = _rows(study.url, sa.select(Presentation.order_index, Presentation.correct_side)
                    .where(Presentation.catch.is_(True)).order_by(Presentation.order_index))
    assert len(catches) == 2
    catch_keys = {f"t{r.order_index}": r.correct_side for r in catches}
    first_catch = f"t{catches[0].order_index}"
    state = p.state()
    seen_bodies = []
    while state["trial"] is not None:
        trial = p.present()["trial"]
        assert set(trial) == {"id", "practice", "index", "total", "presented", "remaining_ms", "audio"}
        if not trial["practice"]:
            assert trial["total"] == 26  # 24 scored + 2 catch, in one numbering
        responses = {slot: p.client.get(url) for slot, url in trial["audio"].items()}
        headers = {slot: sorted((k, v) for k, v in r.headers.items() if k not in ("Retry-After", "X-RateLimit-Reset"))
                   for slot, r in responses.items()}
        assert headers["x"] == headers["a"] == headers["b"]  # same type, size and headers in every trial
        side = "A"
        if trial["id"] in catch_keys:
            match = catch_keys[trial["id"]].lower()
            other = "b" if match == "a" else "a"
            assert responses[match].data == responses["x"].data != responses[other].data
            right = catch_keys[trial["id"]]
            side = right if trial["id"] == first_catch else ("B" if right == "A" else "A")  # one right, one wrong
        elif not trial["practice"]:
            seen_bodies.append(responses["x"].data != responses["a"].data and responses["x"].data != responses["b"].data)
        p.api("POST", "events", {"events": [{"kind": "play", "slot": s, "trial": trial["id"], "t": 1.0}
                                            for s in ("x", "a", "b")]})
        clock.advance(2)  # every answer 2 s after the start: under the study's 3000 ms floor
        reply = p.answer(side, trial["id"])
        assert reply.status_code == 200
        assert ("feedback" in reply.get_json()) == trial["practice"]  # a catch trial gets no feedback either
        state = reply.get_json()["state"]
    assert all(seen_bodies) and len(seen_bodies) == 24
    table = trial_table(engine_of(app), study.experiment_id)
    assert int(table["catch"].sum()) == 2 and table.loc[table["catch"], "eeg_participant"].isna().all()
    assert int(table.loc[table["catch"], "correct"].sum()) == 1
    assert table.loc[~table["practice"], "too_fast"].all()
    with app.app_context():
        row, = participant_rows(get_db(), get_experiment(get_db(), study.experiment_id), clock())
    assert (row.catch_total, row.catch_done, row.catch_correct) == (2, 2, 1)
    assert row.trials_total == 24 and row.trials_done == 24 and row.too_fast == 26
