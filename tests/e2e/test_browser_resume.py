"""In the browser: a reload resumes the same trial with the same sides; lost replies and pending answers count
once; an idle trial times out; the session cap ends on the time-up page."""

from __future__ import annotations

import hashlib
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from e2e_a11y import axe_violations
from e2e_steps import answer, events, play, presentation, wait_ready, walk_to_task
from experiment.models import Event, ParticipantSession

pytestmark = pytest.mark.browser


def eventually(check, timeout_s: float = 5.0) -> None:  # noqa: ANN001
    """Wait for something the page sends in the background (its event log is flushed every 2 s)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _audio_requests(page, seen: list[str]) -> None:  # noqa: ANN001
    page.on("request", lambda r: seen.append(r.url) if "/audio/" in r.url else None)


def _sha(page, url: str) -> tuple[int, str]:  # noqa: ANN001
    response = page.context.request.get(url)
    return response.status, hashlib.sha256(response.body()).hexdigest()


def test_reload_mid_trial_resumes_the_same_trial_and_sides(live_server, new_page, shot):
    live = live_server
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)  # a phone
    seen: list[str] = []
    _audio_requests(page, seen)
    row = walk_to_task(page, live, "main", shot=shot, prefix="phone-")
    page.locator("#start").click()
    assert wait_ready(page) == "p1"
    play(page, "x", keyboard=False)
    answer(page, "A", keyboard=False)
    page.locator("#next").click()
    assert wait_ready(page) == "p2"
    play(page, "a", keyboard=False)
    urls = seen[-3:]
    before = presentation(live, row.id, "p2")
    sounds = [_sha(page, url) for url in urls]
    left_before = int(page.locator("#countdown").inner_text().rstrip(" s"))
    shot(page, "phone-06-trial-before-reload")

    page.reload()
    expect(page.locator("#start-panel")).to_be_visible()  # a fresh page needs a gesture to unlock audio again
    page.locator("#start").click()
    assert wait_ready(page) == "p2"
    shot(page, "phone-07-trial-after-reload")
    assert seen[-3:] == urls  # the same three URLs, asked for in the same order
    assert [_sha(page, url) for url in urls] == sounds  # …serving the same sounds: A and B did not swap
    after = presentation(live, row.id, "p2")
    assert (after.correct_side, after.presented_utc, after.answer) == (before.correct_side, before.presented_utc, None)
    assert int(page.locator("#countdown").inner_text().rstrip(" s")) <= left_before  # the clock kept running
    expect(page.locator("#progress")).to_have_attribute("value", "1")

    answer(page, "B", keyboard=True)
    expect(page.locator("#feedback-panel")).to_be_visible()
    assert presentation(live, row.id, "p2").answer == "B"
    eventually(lambda: sum(e.kind == "reload" for e in events(live, row.id)) == 2)  # the page's log, flushed


def test_answers_survive_lost_replies_and_reloads(live_server, new_page):
    """A reply lost on the way back, and a reload while an answer is still unsent: each answer counts once."""
    live = live_server
    page = new_page()
    row = walk_to_task(page, live, "main")
    page.locator("#start").click()
    assert wait_ready(page) == "p1"

    sent: list[dict] = []

    def lose_the_first_reply(route) -> None:  # noqa: ANN001
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            route.fetch()  # the server receives and commits it…
            route.abort("connectionreset")  # …but the page never hears back
        else:
            route.continue_()

    page.route("**/answer", lose_the_first_reply)
    answer(page, "A", keyboard=False)
    expect(page.locator("#feedback-panel")).to_be_visible()
    page.unroute("**/answer")
    assert len(sent) == 2 and sent[0] == sent[1]  # retried with the same answer id
    p1 = presentation(live, row.id, "p1")
    assert (p1.answer, p1.client_answer_id) == ("A", sent[0]["id"])
    assert sum(e.kind == "answer" and e.presentation_id == p1.id for e in events(live, row.id)) == 1

    page.locator("#next").click()
    assert wait_ready(page) == "p2"
    tries: list[dict] = []
    page.route("**/answer", lambda route: (tries.append(route.request.post_data_json),
                                           route.abort("internetdisconnected")))
    answer(page, "B", keyboard=False)
    expect(page.locator("#status")).to_contain_text("retrying")
    page.wait_for_timeout(500)  # let the backoff send it once more
    page.unroute("**/answer")
    page.reload()  # the pending answer waits in sessionStorage…
    page.locator("#start").click()
    expect(page.locator("#feedback-panel")).to_be_visible()  # …and is sent again, with the same id
    p2 = presentation(live, row.id, "p2")
    assert tries and (p2.answer, p2.client_answer_id) == ("B", tries[0]["id"])
    assert {t["id"] for t in tries} == {tries[0]["id"]}
    eventually(lambda: any(e.kind == "retry" for e in events(live, row.id)))


def test_an_idle_trial_times_out(live_server, new_page, shot):
    """Study 'short' allows 3 s per trial: the page counts down, the server records the time-out, p2 follows."""
    live = live_server
    page = new_page()
    seen: list[str] = []
    _audio_requests(page, seen)
    row = walk_to_task(page, live, "short")
    page.locator("#start").click()
    assert wait_ready(page) == "p1"
    assert 0 <= int(page.locator("#countdown").inner_text().rstrip(" s")) <= 3  # the study's 3-s limit, counting
    urls = seen[-3:]
    expect(page.locator("#status")).to_have_text("Time is up for this trial.", timeout=8_000)
    expect(page.locator(".answer").first).to_be_disabled()
    shot(page, "timeout-01-trial-timed-out")
    assert wait_ready(page) == "p2"
    p1 = presentation(live, row.id, "p1")
    assert (p1.timed_out, p1.answer, p1.correct) == (True, None, False)
    assert any(e.kind == "timeout" and e.presentation_id == p1.id for e in events(live, row.id))
    assert all(page.context.request.get(url).status == 404 for url in urls)  # its sounds are gone
    expect(page.locator("#progress")).to_have_attribute("value", "1")


def test_the_session_cap_ends_on_the_time_up_page(live_server, new_page, shot):
    """Study 'capped' ends sessions 12 s after consent: the task page hands over to the time-up page."""
    live = live_server
    page = new_page()
    row = walk_to_task(page, live, "capped")
    page.locator("#start").click()
    page.wait_for_url("**/time-up", timeout=25_000)
    expect(page.locator("h1")).to_have_text("The time limit has passed")
    shot(page, "timeout-02-session-time-up")
    assert axe_violations(page) == []
    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.stage) == ("timed_out", "done")
    assert live.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.session_id == row.id, Event.kind == "session_timeout")) == 1
