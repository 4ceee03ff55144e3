"""A participant does the whole study in headless Chromium against gunicorn, hearing every clip."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from e2e_live import CLIP_SECONDS
from e2e_a11y import axe_violations
from e2e_steps import answer, events, play, presentation, session_row, wait_ready, walk_to_task
from experiment.models import ParticipantSession, Presentation, Questionnaire

pytestmark = pytest.mark.browser

STRATEGY = "Listened for the beat — «ünïcode» & <script>alert(1)</script> '; DROP TABLE session; --"


def test_a_participant_completes_the_whole_study(live_server, new_page, shot):
    live = live_server
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    row = walk_to_task(page, live, "main", query="PROLIFIC_PID=e2eprolific01&STUDY_ID=st1&SESSION_ID=se1",
                       shot=shot, prefix="flow-")

    page.locator("#start").click()
    chosen: dict[str, str] = {}
    for n in range(28):
        key = wait_ready(page)
        assert key == (f"p{n + 1}" if n < 4 else f"t{n - 3}")
        keyboard = n % 2 == 1  # every other trial entirely by keyboard
        for slot in ("x", "a", "b"):
            play(page, slot, keyboard=keyboard)
        if n % 7 == 3:
            play(page, "x", keyboard=keyboard)  # a replay
        truth = presentation(live, row.id, key).correct_side
        side = truth if n % 3 else ("B" if truth == "A" else "A")  # right two times in three
        chosen[key] = side
        if n in (0, 10):
            shot(page, f"flow-06-{'practice' if n == 0 else 'scored'}-trial")
        if n == 27:  # before the last answer leaves the task page: what its audio clock rendered
            rendered = [e for e in page.evaluate("window.__audio.started") if e["duration"] > 0.1]
        answer(page, side, keyboard=keyboard)
        if key.startswith("p"):
            feedback = page.locator("#feedback")
            expect(feedback).to_have_text("Correct!" if side == truth else f"Not quite — the match was {truth}.")
            if n == 0:
                shot(page, "flow-07-practice-feedback")
            page.locator("#next").click()
            if key == "p4":
                expect(page.locator("#intermission-panel")).to_be_visible()
                shot(page, "flow-08-intermission")
                page.locator("#continue").click()

    page.wait_for_url("**/questionnaire")
    shot(page, "flow-09-questionnaire")
    page.get_by_label("Your age").select_option("25-34")
    page.get_by_label("Over-ear headphones").check()
    page.get_by_label("Quiet", exact=True).check()
    page.get_by_label("How did you decide between A and B?").fill(STRATEGY)
    page.get_by_role("button", name="Submit and finish").click()
    page.wait_for_url("**/debrief")
    expect(page.locator("#completion-code")).to_have_text("E2EMAIN")
    expect(page.get_by_role("link", name="Return to Prolific")).to_have_attribute("href", re.compile(r"cc=E2EMAIN$"))
    shot(page, "flow-10-debrief")

    # ---- what the server stored
    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.stage, s.headphone_passed, s.prolific_pid) == ("completed", "done", True, "e2eprolific01")
    assert s.volume == pytest.approx(0.6) and s.completion_code == "E2EMAIN"
    plan = live.rows(sa.select(Presentation).where(Presentation.session_id == row.id))
    assert len(plan) == 28 and not any(p.timed_out for p in plan)
    stored = {("p" if p.practice else "t") + str(p.order_index): p for p in plan}
    assert {k: p.answer for k, p in stored.items()} == chosen
    assert all(p.correct == (p.answer == p.correct_side) for p in plan)
    assert sum(p.correct for p in plan if not p.practice) == 16  # right on 2 of every 3, as answered
    log = events(live, row.id)
    for p in plan:  # every clip of every trial was played to its end, as the page reported it
        ended = {e.slot for e in log if e.presentation_id == p.id and e.kind == "ended"}
        assert ended == {"x", "a", "b"}, (p.order_index, ended)
    assert sum(e.kind == "replay" for e in log) == 4
    answers = live.scalar(sa.select(Questionnaire.answers).where(Questionnaire.session_id == row.id))
    assert answers["strategy"] == STRATEGY and answers["age"] == "25-34" and answers["device"] == "over-ear"

    # ---- what the browser's audio clock says: 84 clips + 4 replays really rendered, start to end
    assert len(rendered) == 88
    for entry in rendered:
        assert entry["duration"] == pytest.approx(CLIP_SECONDS, abs=0.01)
        assert entry["ended"] is not None and entry["ended"] - entry["at"] >= 0.9 * entry["duration"]
    assert dialogs == []  # the questionnaire's <script> never ran anywhere



def test_the_pages_that_turn_people_away(live_server, new_page, shot):
    """Declined, already taken part, study closed, study full, an unknown page: each says so, no error."""
    from experiment.db import make_engine, session_factory
    from experiment.models import Experiment, Version
    from loadbot import SimulationConfig, simulate

    live = live_server
    page = new_page()
    page.goto(live.study_url("short", "consent"))
    page.get_by_role("button", name="I do not agree").click()
    expect(page.locator("h1")).to_have_text("Thank you")
    shot(page, "away-01-declined")

    done = simulate(SimulationConfig(url=live.base, n=1, pace=0, experiment_id=live.studies["short"], seed=5))
    pid = done.listeners[0].pid
    page = new_page()  # the same Prolific id in a fresh browser
    page.goto(live.study_url("short", f"?PROLIFIC_PID={pid}"))
    page.get_by_role("link", name="Continue").click()
    for box in page.locator("input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="I agree, start").click()
    expect(page.locator("h1")).to_have_text("You have already taken part")
    shot(page, "away-02-already")
    assert axe_violations(page) == []

    engine = make_engine(live.db_url)
    try:
        with session_factory(engine)() as db:
            study = db.get(Experiment, live.studies["short"])
            quotas = {v.id: v.quota for v in study.versions}
            for v in study.versions:
                v.quota = 0
            db.commit()
        page = new_page()
        page.goto(live.study_url("short"))
        expect(page.locator("h1")).to_have_text("The study is full")
        shot(page, "away-03-full")
        assert axe_violations(page) == []
        with session_factory(engine)() as db:
            for vid, quota in quotas.items():
                db.get(Version, vid).quota = quota
            db.get(Experiment, live.studies["short"]).state = "closed"
            db.commit()
        page.goto(live.study_url("short"))
        expect(page.locator("h1")).to_have_text("This study is not open")
        shot(page, "away-04-closed")
        assert axe_violations(page) == []
    finally:
        with session_factory(engine)() as db:
            db.get(Experiment, live.studies["short"]).state = "open"
            db.commit()
        engine.dispose()
    page.goto(live.url("/no/such/page"))
    expect(page.locator("body")).to_contain_text("not found")
    shot(page, "away-05-not-found")


def test_a_failed_headphone_check_ends_on_the_screened_out_page(live_server, new_page):
    """Wrong answers to every headphone sound: the screened-out page with its own code, and no quota place."""
    from types import SimpleNamespace

    from experiment.headphone_check import headphone_answers

    live = live_server
    page = new_page()
    page.goto(live.study_url("main") + "?PROLIFIC_PID=e2escreen01&STUDY_ID=st1&SESSION_ID=se9")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/consent")
    for box in page.locator("input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="I agree, start").click()
    page.wait_for_url("**/headphones")
    row = session_row(page, live, "main")
    truth = headphone_answers(SimpleNamespace(seed=row.seed, headphone_seed=row.headphone_seed), 6)
    for k, right in enumerate(truth, start=1):
        page.locator(f"input[name=t{k}][value='{right % 3 + 1}']").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/screened-out")
    expect(page.locator("#screened-out-code")).to_have_text("OUTMAIN")
    expect(page.get_by_role("link", name="Return to Prolific")).to_have_attribute("href", re.compile(r"cc=OUTMAIN$"))
    assert "E2EMAIN" not in page.content()
    page.goto(live.study_url("main", "task"))
    page.wait_for_url("**/screened-out")
    (s,) = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))
    assert (s.status, s.headphone_passed) == ("screened_out", False)


def test_no_key_answers_before_a_and_b_have_played_and_every_play_is_logged(live_server, new_page):
    """Issue 29: `x` then `a` answered 1.1 s after X started, neither A nor B heard; now `a` answers only once X, A
    and B have each played, the page shows the saved step, and each play leaves its playback record."""
    live = live_server
    page = new_page()
    row = walk_to_task(page, live, "main")
    page.locator("#start").click()
    assert wait_ready(page) == "p1"
    play(page, "x", keyboard=True)
    page.keyboard.press("a")  # would have answered before
    expect(page.locator("#status")).to_contain_text("Play X, A and B first")
    expect(page.locator(".answer").first).to_be_disabled()
    assert presentation(live, row.id, "p1").answer is None
    play(page, "a", keyboard=True)
    play(page, "b", keyboard=True)
    expect(page.locator(".answer").first).to_be_enabled()
    page.keyboard.press("a")
    expect(page.locator("#feedback-panel")).to_be_visible()
    assert presentation(live, row.id, "p1").answer == "A"
    page.locator("#next").click()
    for _ in range(3):  # the rest of the practice, then the first scored trial: its saved step
        wait_ready(page)
        answer(page, "B", keyboard=False)
        page.locator("#next").click()
    page.locator("#continue").click()
    wait_ready(page)
    answer(page, "A", keyboard=False)
    expect(page.locator("#saved-note")).to_contain_text("Answer saved (1 of 24 done)")
    wait_ready(page)  # the next trial is ready, and the note still says the last answer was saved
    expect(page.locator("#saved-note")).to_contain_text("Answer saved (1 of 24 done)")

    def records() -> list[dict]:
        return [e.detail for e in events(live, row.id) if e.kind == "playback"]

    import time
    for _ in range(50):  # the page flushes its log every 2 s
        if len(records()) >= 15:
            break
        time.sleep(0.2)
    first = records()[0]
    assert first["ctx_state"] == "running" and first["outcome"] == "ended"
    assert first["end_s"] - first["start_s"] >= 0.95 * first["duration_s"]
    import sqlalchemy as sa

    from experiment.tidy import trial_table
    table = trial_table(live.engine, live.studies["main"])
    mine = table[table["listener"] == live.rows(sa.select(ParticipantSession.listener).where(
        ParticipantSession.id == row.id))[0][0]]
    assert set(mine[mine["answer"].notna()]["playback"]) == {"ok"}  # every answered trial: each clip heard through
