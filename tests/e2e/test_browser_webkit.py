"""The participant flow in WebKit (Safari's engine: Debian's MiniBrowser under WebKitWebDriver): the whole study
with every clip decoded and played, a reload that resumes the same trial, and the time-up page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e_live import CLIP_SECONDS, SCREENSHOTS
from e2e_steps import events, presentation
from e2e_webkit import answer, button, css, eventually, play, wait, wait_ready, wait_url, walk_to_task
from experiment.models import ParticipantSession, Presentation

pytestmark = pytest.mark.browser


def _shooter(driver, prefix: str):  # noqa: ANN001, ANN202
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return lambda name: driver.save_screenshot(str(SCREENSHOTS / f"webkit-{prefix}{name}.png"))


def test_webkit_participant_completes_the_study_hearing_every_clip(live_server, webkit):
    live, driver = live_server, webkit
    shot = _shooter(driver, "flow-")
    row = walk_to_task(driver, live, "main", shot=shot)
    button(driver, "Start").click()
    chosen: dict[str, str] = {}
    for n in range(28):
        key = wait_ready(driver)
        assert key == (f"p{n + 1}" if n < 4 else f"t{n - 3}")
        keyboard = n % 2 == 1  # every other trial by keyboard alone
        for slot in ("x", "a", "b"):
            play(driver, slot, keyboard=keyboard)
        truth = presentation(live, row.id, key).correct_side
        side = truth if n % 3 else ("B" if truth == "A" else "A")  # right two times in three
        chosen[key] = side
        if n == 27:  # before the last answer leaves the task page: what WebKit's audio clock rendered
            rendered = [e for e in driver.execute_script("return window.__audio.started") if e["duration"] > 0.1]
        if n == 5:
            shot("06-trial")
        answer(driver, side, keyboard=keyboard)
        if key.startswith("p"):
            wait(driver, lambda d: css(d, "#feedback-panel").is_displayed(), what="practice feedback")
            expected = "Correct!" if side == truth else f"Not quite — the match was {truth}."
            assert css(driver, "#feedback").text == expected
            css(driver, "#next").click()
            if key == "p4":
                wait(driver, lambda d: css(d, "#intermission-panel").is_displayed(), what="intermission")
                css(driver, "#continue").click()

    wait_url(driver, "/questionnaire")
    css(driver, "select[name=age] option[value='25-34']").click()
    css(driver, "input[name=device][value='over-ear']").click()
    css(driver, "textarea[name=strategy]").send_keys("WebKit: listened for the melody")
    button(driver, "Submit and finish").click()
    wait_url(driver, "/debrief")
    assert css(driver, "#completion-code").text == "E2EMAIN"
    shot("10-debrief")

    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.stage, s.headphone_passed) == ("completed", "done", True) and s.volume == pytest.approx(0.6)
    plan = live.rows(sa.select(Presentation).where(Presentation.session_id == row.id))
    stored = {("p" if p.practice else "t") + str(p.order_index): p.answer for p in plan}
    assert len(plan) == 28 and stored == chosen and not any(p.timed_out for p in plan)
    log = events(live, row.id)
    for p in plan:  # the page's own events: each of X, A and B started and played to its end in every trial
        for kind in ("play", "ended"):
            assert {e.slot for e in log if e.presentation_id == p.id and e.kind == kind} == {"x", "a", "b"}, (
                p.order_index, kind)
    assert len(rendered) == 84  # 28 trials × 3 clips, decoded and rendered by WebKit's audio clock
    for entry in rendered:
        assert entry["duration"] == pytest.approx(CLIP_SECONDS, abs=0.01)
        assert entry["ended"] is not None and entry["ended"] - entry["at"] >= 0.9 * entry["duration"]


def test_webkit_reload_resumes_the_same_trial(live_server, webkit):
    live, driver = live_server, webkit
    row = walk_to_task(driver, live, "main")
    button(driver, "Start").click()
    assert wait_ready(driver) == "p1"
    for slot in ("x", "a", "b"):  # answers open once all three have played (issue 29)
        play(driver, slot, keyboard=False)
    answer(driver, "A", keyboard=False)
    wait(driver, lambda d: css(d, "#feedback-panel").is_displayed(), what="feedback")
    css(driver, "#next").click()
    assert wait_ready(driver) == "p2"
    before = presentation(live, row.id, "p2")
    left_before = int(css(driver, "#countdown").text.rstrip(" s"))

    driver.refresh()
    wait(driver, lambda d: css(d, "#start-panel").is_displayed(), what="start panel after reload")
    driver.execute_script("window.__audio = undefined")
    from e2e_webkit import probe_audio

    probe_audio(driver)
    button(driver, "Start").click()  # a fresh page needs a gesture to unlock audio again (Safari's rule)
    assert wait_ready(driver) == "p2"
    play(driver, "b", keyboard=False)  # the resumed trial's sounds decode and play
    after = presentation(live, row.id, "p2")
    assert (after.correct_side, after.presented_utc, after.answer) == (before.correct_side, before.presented_utc, None)
    assert int(css(driver, "#countdown").text.rstrip(" s")) <= left_before  # the clock kept running
    answer(driver, "B", keyboard=True)
    wait(driver, lambda d: css(d, "#feedback-panel").is_displayed(), what="feedback after reload")
    assert presentation(live, row.id, "p2").answer == "B"
    eventually(lambda: sum(e.kind == "reload" for e in events(live, row.id)) == 2)


def test_webkit_session_cap_ends_on_the_time_up_page(live_server, webkit):
    live, driver = live_server, webkit
    row = walk_to_task(driver, live, "capped")
    button(driver, "Start").click()
    wait_url(driver, "/time-up", timeout_s=25)
    assert css(driver, "h1").text == "The time limit has passed"
    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.stage) == ("timed_out", "done")
