"""A phone (390×844, touch only) does the whole study with nothing wider than the screen, and axe-core finds no
serious or critical violation on any participant or admin page."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from e2e_a11y import PageChecks, axe_source
from e2e_live import ADMIN_PASSWORD, ADMIN_USER, SCREENSHOTS
from e2e_steps import play, session_row, wait_ready, walk_to_task
from experiment.models import ParticipantSession
from experiment.headphone_check import headphone_answers
from loadbot import SimulationConfig, simulate

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}


def test_phone_touch_only_whole_study_fits_and_passes_axe(live_server, new_page, shot):
    axe_source()
    live = live_server
    page = new_page(**PHONE)
    page.on("console", lambda m: None)
    page.add_init_script("document.addEventListener('keydown', e => (window.__keys = (window.__keys || 0) + 1), true)")
    check = PageChecks(phone=True)
    page.goto(live.study_url("main"))
    check(page, "landing")
    page.get_by_role("link", name="Continue").tap()
    page.wait_for_url("**/consent")
    check(page, "consent")
    for box in page.locator("input[type=checkbox]").all():
        box.tap()
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_url("**/headphones")
    row = session_row(page, live, "main")
    page.get_by_role("button", name="Play noise").tap()
    slider = page.locator("#volume-slider")
    box = slider.bounding_box()
    page.touchscreen.tap(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)  # drag the level by touch
    expect(page.locator("#volume")).not_to_have_value("0.8")
    for k, choice in enumerate(headphone_answers(SimpleNamespace(seed=row.seed, headphone_seed=row.headphone_seed), 6), start=1):
        page.get_by_role("button", name=f"Play sound {k}").tap()
        page.locator(f"input[name=t{k}][value='{choice}']").tap()
    check(page, "headphones")
    page.get_by_role("button", name="Continue").tap()
    page.wait_for_url("**/instructions")
    check(page, "instructions")
    page.get_by_role("button", name="Start the practice").tap()
    page.wait_for_url("**/task")
    check(page, "task: start")
    page.locator("#start").tap()
    for n in range(28):
        key = wait_ready(page)
        for slot in ("x", "a", "b"):  # the answers open once all three have played (issue 29)
            page.locator(f'.play[data-slot="{slot}"]').tap()
        if n in (0, 4):
            check(page, f"task: trial {key}")
            shot(page, f"phone-trial-{key}")
        page.locator('.answer[data-answer="A"]').tap()
        if key.startswith("p"):
            expect(page.locator("#feedback-panel")).to_be_visible()
            if n == 0:
                check(page, "task: feedback")
            page.locator("#next").tap()
            if key == "p4":
                expect(page.locator("#intermission-panel")).to_be_visible()
                check(page, "task: intermission")
                page.locator("#continue").tap()
    page.wait_for_url("**/questionnaire")
    check(page, "questionnaire")
    page.get_by_label("Over-ear headphones").tap()
    page.get_by_role("button", name="Submit and finish").tap()
    page.wait_for_url("**/debrief")
    check(page, "debrief")
    shot(page, "phone-debrief")
    assert page.evaluate("window.__keys || 0") == 0  # not one key pressed: touch alone did it
    s = live.rows(sa.select(ParticipantSession).where(ParticipantSession.id == row.id))[0]
    assert (s.status, s.headphone_passed) == ("completed", True) and s.volume != pytest.approx(0.8)
    assert len(check.pages) == 11
    check.assert_clean()


def test_every_other_page_passes_axe(live_server, new_page, shot):
    """The pages that turn people away, the time-up page, and every admin page (the report included)."""
    axe_source()
    live = live_server
    check = PageChecks()
    page = new_page()
    page.goto(live.study_url("short", "consent"))
    page.get_by_role("button", name="I do not agree").click()
    check(page, "declined")
    page.goto(live.url("/no/such/page"))
    check(page, "not found")

    done = simulate(SimulationConfig(url=live.base, n=1, pace=0, experiment_id=live.studies["short"], seed=9))
    assert done.summary()["completed"] == 1
    admin = new_page()
    admin.goto(live.url("/admin/login"))
    check(admin, "admin: login")
    admin.get_by_label("Username").fill(ADMIN_USER)
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(live.url("/admin/"))
    check(admin, "admin: studies")
    admin.get_by_role("link", name="e2e short").click()
    expect(admin.locator("#participants tbody tr").first).to_be_visible()
    expect(admin.locator("#chart-accuracy svg circle.version-mean").first).to_be_visible()
    expect(admin.locator("#chart-timeline svg path.completions")).to_have_count(1)
    completed = live.scalar(sa.select(sa.func.count()).select_from(ParticipantSession).where(
        ParticipantSession.experiment_id == live.studies["short"], ParticipantSession.status == "completed",
        ParticipantSession.preview.is_(False)))
    timeline = admin.locator("#chart-timeline svg").get_attribute("aria-label")
    assert timeline.startswith(f"Completion timeline: {completed} of ") and completed >= 1
    accuracy = admin.locator("#chart-accuracy svg").get_attribute("aria-label")
    assert "Accuracy by version" in accuracy and "version 1" in accuracy and "version 2" in accuracy
    check(admin, "admin: study")
    shot(admin, "admin-study-charts")
    admin.set_viewport_size({"width": 390, "height": 844})  # the study page on a phone: the charts shrink to fit
    assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    admin.set_viewport_size({"width": 1000, "height": 900})
    admin.locator("#participants tbody tr a").first.click()
    expect(admin.locator("h1")).to_contain_text("L")
    check(admin, "admin: participant")
    admin.get_by_role("link", name="Audit log").click()
    check(admin, "admin: audit")
    admin.goto(live.url("/admin/studies/new"))
    check(admin, "admin: new study")
    admin.goto(live.url(f"/admin/studies/{live.studies['capped']}/report"))
    check(admin, "admin: report (none yet)")
    admin.goto(live.url(f"/admin/studies/{live.studies['short']}/report"))
    expect(admin.locator("#results")).to_contain_text("Listeners chose the matching reconstruction")
    check(admin, "admin: analysis report")
    admin.screenshot(path=str(SCREENSHOTS / "admin-report-first-screen.png"))  # the first screen only
    check.assert_clean()


def test_trial_page_works_by_keyboard_and_announces_itself(live_server, new_page):
    """Roles and names a screen reader reads, live regions, and a Tab order that follows the task."""
    live = live_server
    page = new_page()
    walk_to_task(page, live, "main")
    page.keyboard.press("Enter")  # Start has the focus when the page opens
    key = wait_ready(page)
    assert key == "p1"
    expect(page.get_by_role("group", name="Sounds").get_by_role("button")).to_have_count(3)
    expect(page.get_by_role("group", name="Which one matches X?").get_by_role("button")).to_have_count(2)
    expect(page.get_by_role("button", name="A matches X")).to_be_disabled()  # until X, A and B have played
    for slot in ("x", "a", "b"):
        play(page, slot, keyboard=True)
    expect(page.get_by_role("button", name="A matches X")).to_be_enabled()
    assert page.locator("#phase").get_attribute("aria-live") == "polite"  # "Practice 1 of 4" is announced
    assert page.locator("#status").get_attribute("role") == "status"
    order = []
    for _ in range(5):  # X has the focus once the sounds are ready; Tab walks the controls in task order
        order.append(page.evaluate("document.activeElement.dataset.slot || document.activeElement.dataset.answer"))
        page.keyboard.press("Tab")
    assert order == ["x", "a", "b", "A", "B"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # answer B from the keyboard focus alone
    expect(page.locator("#feedback-panel")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "next"  # focus moves to what comes next
    PageChecks()(page, "feedback")
