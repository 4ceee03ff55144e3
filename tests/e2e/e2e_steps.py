"""Steps a participant takes in the real browser, and the database facts the tests check them against."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from playwright.sync_api import expect

from e2e_live import SECRET, LiveServer
from experiment.models import Event, ParticipantSession, Presentation
from experiment.headphone_check import headphone_answers

PHASE_RE = re.compile(r"^(Practice|Trial) (\d+) of (\d+)$")


def decode_cookie(value: str) -> dict[str, Any]:
    """A signed Flask session cookie, decoded with the server's key (any browser driver)."""
    app = Flask("decode-cookie")
    app.secret_key = SECRET
    return SecureCookieSessionInterface().get_signing_serializer(app).loads(value)


def cookie_session(page: Any, live: LiveServer) -> dict[str, Any]:
    """The browser's signed Flask session cookie, decoded with the server's key."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies(live.base)}
    return decode_cookie(cookies["tuneback"])


def row_for_cookie(cookie: dict[str, Any], live: LiveServer, study: str) -> Any:
    """The participant session row a decoded cookie points at in `study`."""
    token = cookie["p"][str(live.studies[study])]
    return live.rows(sa.select(ParticipantSession).where(ParticipantSession.token == token))[0]


def session_row(page: Any, live: LiveServer, study: str) -> Any:
    """This browser's participant session row in `study`."""
    return row_for_cookie(cookie_session(page, live), live, study)


def presentation(live: LiveServer, session_id: int, key: str) -> Any:
    """The stored row of trial `key` (p1…p4, t1…t24) of a session."""
    return live.rows(sa.select(Presentation).where(
        Presentation.session_id == session_id, Presentation.practice.is_(key.startswith("p")),
        Presentation.order_index == int(key[1:])))[0]


def events(live: LiveServer, session_id: int) -> list[Any]:
    return live.rows(sa.select(Event).where(Event.session_id == session_id).order_by(Event.id))


def walk_to_task(page: Any, live: LiveServer, study: str, *, query: str = "", shot=None, prefix: str = "") -> Any:  # noqa: ANN001
    """Landing → consent → headphones (volume by keyboard, the six sounds played, right answers) → instructions
    → the task page; returns the session row."""
    snap = (lambda name: shot(page, f"{prefix}{name}")) if shot else (lambda name: None)
    page.goto(live.study_url(study) + (f"?{query}" if query else ""))
    expect(page.locator("h1")).to_contain_text("recognise music")
    snap("01-landing")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/consent")
    snap("02-consent")
    for box in page.locator("input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="I agree, start").click()
    page.wait_for_url("**/headphones")
    row = session_row(page, live, study)
    page.get_by_role("button", name="Play noise").click()
    slider = page.locator("#volume-slider")
    slider.focus()
    for _ in range(4):  # 0.80 → 0.60 with the keyboard
        slider.press("ArrowLeft")
    expect(page.locator("#volume")).to_have_value("0.6")
    truth = headphone_answers(SimpleNamespace(seed=row.seed, headphone_seed=row.headphone_seed), 6)
    for k, answer in enumerate(truth, start=1):
        started = page.evaluate("window.__audio.started.length")
        page.get_by_role("button", name=f"Play sound {k}").click()
        page.wait_for_function("n => window.__audio.started.length > n", arg=started)
        page.locator(f"input[name=t{k}][value='{answer}']").check()
    expect(page.locator("#hp-status")).to_have_text("")
    snap("03-headphones")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/instructions")
    snap("04-instructions")
    page.get_by_role("button", name="Start the practice").click()
    page.wait_for_url("**/task")
    snap("05-task-start")
    return row


def wait_ready(page: Any) -> str:
    """Wait until the trial's three sounds are decoded and can be played; return its key (p1…, t1…).

    The answers open only once X, A and B have each been played (issue 29).
    """
    expect(page.locator("#trial-panel")).to_be_visible()
    expect(page.locator('.play[data-slot="x"]')).to_be_enabled()
    match = PHASE_RE.match(page.locator("#phase").inner_text().strip())
    assert match, page.locator("#phase").inner_text()
    return ("p" if match.group(1) == "Practice" else "t") + match.group(2)


def play(page: Any, slot: str, *, keyboard: bool) -> None:
    """Play one of X, A, B (button or key) and wait until the audio clock has run through it."""
    n = page.evaluate("window.__audio.started.length")
    if keyboard:
        page.keyboard.press({"x": "x", "a": "1", "b": "2"}[slot])
    else:
        page.locator(f'.play[data-slot="{slot}"]').click()
    page.wait_for_function(
        "n => { const s = window.__audio.started; return s.length > n && s[s.length - 1].ended !== null; }", arg=n)


def answer(page: Any, side: str, *, keyboard: bool) -> None:
    """Answer A or B (button or key), first playing X, A and B if the answers are still closed (issue 29)."""
    if page.locator(f'.answer[data-answer="{side}"]').is_disabled():
        for slot in ("x", "a", "b"):
            play(page, slot, keyboard=keyboard)
    if keyboard:
        page.keyboard.press(side.lower())
    else:
        page.locator(f'.answer[data-answer="{side}"]').click()
