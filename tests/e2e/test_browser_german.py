"""A participant does a German study end to end in headless Chromium (issue 15): consent → headphones → practice →
trials (one a catch trial) → questionnaire → debrief, every page in German with no English participant string left,
the page script's own text (phase, countdown, feedback) included."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from e2e_steps import presentation, session_row
from experiment.i18n import TRANSLATIONS
from experiment.models import ParticipantSession, Presentation
from experiment.headphone_check import headphone_answers

pytestmark = pytest.mark.browser

PHASE_RE = re.compile(r"^(Übung|Durchgang) (\d+) von (\d+)$")
PLACEHOLDER = re.compile(r"%\([a-z]+\)[sd]|\{[a-z]+\}|<[^>]+>|&amp;|%%")


def english_fragments() -> list[str]:
    """Pieces (12+ characters) of every English participant string whose German differs."""
    with open(TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle, locale="de")
    pieces = []
    for m in catalog:
        msgid = m.id[0] if isinstance(m.id, tuple) else m.id
        string = m.string[0] if isinstance(m.string, tuple) else m.string
        if msgid and msgid != string:
            pieces += [p.strip() for p in PLACEHOLDER.split(msgid.replace("&amp;", "&")) if len(p.strip()) >= 12]
    return pieces


ENGLISH = english_fragments()


def no_english(page, name: str) -> str:  # noqa: ANN001 - a Playwright page
    """The page's visible text, after checking it is German (lang="de") with no English participant string."""
    assert page.locator("html").get_attribute("lang") == "de", name
    text = page.locator("body").inner_text()
    left = [e for e in ENGLISH if e in text]
    assert not left, (name, left[:3])
    return text


def test_a_german_study_end_to_end(live_server, new_page, shot):
    live = live_server
    page = new_page()
    page.goto(live.study_url("german") + "?PROLIFIC_PID=e2egerman01&STUDY_ID=st1&SESSION_ID=se1")
    expect(page.locator("h1")).to_have_text("Erkennen Sie Musik, die aus Hirnsignalen rekonstruiert wurde?")
    assert "etwa 25 Minuten" in no_english(page, "landing")
    page.get_by_role("link", name="Weiter").click()
    page.wait_for_url("**/consent")
    text = no_english(page, "consent")
    assert "User-Agent" in text and "Dr. Muster, muster@example.org" in text
    shot(page, "german-01-consent")
    for box in page.locator("input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Ich stimme zu, starten").click()

    page.wait_for_url("**/headphones")
    no_english(page, "headphones")
    row = session_row(page, live, "german")
    page.get_by_role("button", name="Rauschen abspielen").click()
    truth = headphone_answers(SimpleNamespace(seed=row.seed, headphone_seed=row.headphone_seed), 6)
    for k, choice in enumerate(truth, start=1):
        started = page.evaluate("window.__audio.started.length")
        page.get_by_role("button", name=f"Klang {k} abspielen").click()
        page.wait_for_function("n => window.__audio.started.length > n", arg=started)
        page.locator(f"input[name=t{k}][value='{choice}']").check()
    page.get_by_role("button", name="Weiter").click()

    page.wait_for_url("**/instructions")
    text = no_english(page, "instructions")
    assert "1 Minute" in text and "Die 25 eigentlichen Durchgänge" in text  # 24 scored + 1 catch trial
    page.get_by_role("button", name="Übung beginnen").click()
    page.wait_for_url("**/task")
    no_english(page, "task")
    expect(page.get_by_role("link", name="Abbrechen und Teilnahme zurückziehen")).to_be_visible()
    page.locator("#start").click()

    catch = {f"t{i}" for (i,) in live.rows(sa.select(Presentation.order_index).where(
        Presentation.session_id == row.id, Presentation.catch.is_(True)))}
    assert len(catch) == 1
    for n in range(4 + 24 + 1):
        expect(page.locator('.play[data-slot="x"]')).to_be_enabled()
        match = PHASE_RE.match(page.locator("#phase").inner_text().strip())
        assert match, page.locator("#phase").inner_text()
        key = ("p" if match.group(1) == "Übung" else "t") + match.group(2)
        assert int(match.group(3)) == (4 if key.startswith("p") else 25)  # the catch trial is one of the 25
        assert re.fullmatch(r"\d+ s", page.locator("#countdown").inner_text())
        for slot in ("x", "a", "b"):
            count = page.evaluate("window.__audio.started.length")
            page.locator(f'.play[data-slot="{slot}"]').click()
            page.wait_for_function("n => { const s = window.__audio.started; "
                                   "return s.length > n && s[s.length - 1].ended !== null; }", arg=count)
        truth_side = presentation(live, row.id, key).correct_side
        wrong = n == 0  # one wrong practice answer shows the German "not quite"
        page.locator(f'.answer[data-answer="{("B" if truth_side == "A" else "A") if wrong else truth_side}"]').click()
        if key.startswith("p"):
            expected = f"Nicht ganz – passend war {truth_side}." if wrong else "Richtig!"
            expect(page.locator("#feedback")).to_have_text(expected)
            if n == 0:
                shot(page, "german-02-feedback")
            page.locator("#next").click()
            if key == "p4":
                expect(page.locator("#intermission-panel")).to_be_visible()
                no_english(page, "intermission")
                page.locator("#continue").click()

    page.wait_for_url("**/questionnaire")
    no_english(page, "questionnaire")
    page.get_by_label("Over-Ear-Kopfhörer").check()
    page.get_by_role("button", name="Absenden und abschließen").click()
    page.wait_for_url("**/debrief")
    text = no_english(page, "debrief")
    assert "Ihr Abschlusscode:" in text
    expect(page.locator("#completion-code")).to_have_text("E2EGERMAN")
    shot(page, "german-03-debrief")
    page.get_by_role("link", name="Abbrechen und Teilnahme zurückziehen").click()
    page.wait_for_url("**/withdraw")
    no_english(page, "withdraw")
    page.get_by_role("link", name="Nein, zurück zur Studie").click()
    page.wait_for_url("**/debrief")

    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.stage, s.withdrawn) == ("completed", "done", False)
    plan = live.rows(sa.select(Presentation).where(Presentation.session_id == row.id))
    assert len(plan) == 29 and all(p.answer is not None for p in plan)
    assert [p.correct for p in plan if p.catch] == [True]
