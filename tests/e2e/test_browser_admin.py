"""The experimenter in the browser: logs in, sees participants arrive live, exports the data."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from e2e_live import ADMIN_PASSWORD, ADMIN_USER
from e2e_steps import walk_to_task
from experiment.models import ParticipantSession, Presentation
from loadbot import SimulationConfig, simulate

pytestmark = pytest.mark.browser


def test_admin_logs_in_watches_live_and_exports(live_server, new_page, shot, tmp_path):
    live = live_server
    main = live.studies["main"]
    report = simulate(SimulationConfig(url=live.base, n=2, accuracy=1.0, experiment_id=main, seed=21, pace=0,
                                       reload_p=0, lost_reply_p=0))
    assert report.summary()["completed"] == 2, report.summary()
    pids = [r.pid for r in report.listeners]

    admin = new_page()
    admin.goto(live.url("/admin/"))
    admin.wait_for_url("**/admin/login**")  # anonymous: sent to the login page
    shot(admin, "admin-01-login")
    admin.get_by_label("Username").fill(ADMIN_USER)
    admin.get_by_label("Password").fill("not the password at all")
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("alert")).to_have_text("wrong username or password")
    admin.get_by_label("Username").fill(ADMIN_USER)
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(live.url("/admin/"))
    expect(admin.get_by_role("link", name="e2e main")).to_be_visible()
    shot(admin, "admin-02-studies")

    admin.get_by_role("link", name="e2e main").click()
    table = admin.locator("#participants tbody tr")
    for pid in pids:
        expect(table.filter(has_text=pid)).to_contain_text("completed")
        expect(table.filter(has_text=pid)).to_contain_text("24/24")
    shot(admin, "admin-03-study")
    # at 1000 px the wide tables scroll inside their box; the page itself never scrolls sideways
    assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # a participant arrives in another browser; the open admin page shows them without a reload
    before = table.count()
    admin.evaluate("window.__not_reloaded = true")
    other = new_page()
    row = walk_to_task(other, live, "main", query="PROLIFIC_PID=e2elive0001")
    expect(table).to_have_count(before + 1, timeout=15_000)  # static/js/admin.js polls every 5 s
    expect(table.filter(has_text="e2elive0001")).to_contain_text("task")
    assert admin.evaluate("window.__not_reloaded") is True
    shot(admin, "admin-04-study-live")

    # export the trials as CSV (one row per trial presented), read it back, compare with the database
    with admin.expect_download() as download:
        admin.locator(f'a[href$="/studies/{main}/export/trials.csv"]').click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    trials = pd.read_csv(path)
    stored = live.rows(sa.select(ParticipantSession.listener, ParticipantSession.prolific_pid,
                                 sa.func.count(Presentation.presented_utc), sa.func.count(Presentation.answer))
                       .join(Presentation, Presentation.session_id == ParticipantSession.id)
                       .where(ParticipantSession.experiment_id == main, ParticipantSession.preview.is_(False))
                       .group_by(ParticipantSession.listener, ParticipantSession.prolific_pid))
    for listener, pid, shown, answered in stored:
        mine = trials[trials["listener"] == listener]
        assert (len(mine), int(mine["answer"].notna().sum())) == (shown, answered), listener
        if pid in pids:
            assert (shown, answered) == (28, 28)
            assert mine.loc[~mine["practice"], "correct"].all()  # accuracy 1.0 on clips the ear tells apart
    assert set(trials["listener"]) == {s[0] for s in stored if s[2]}
    assert row.listener not in set(trials["listener"])  # consented, no trial presented yet

    with admin.expect_download() as download:
        admin.get_by_role("link", name="Data dictionary").click()
    dictionary = pd.read_csv(download.value.path())
    assert {"listener", "answer", "correct", "rt_ms"} <= set(dictionary.loc[dictionary["table"] == "trials", "column"])

    # one participant's page and the audit log (the logins and exports above are in it)
    admin.get_by_role("link", name=row.listener).click()
    expect(admin.locator("h1")).to_contain_text(row.listener)
    shot(admin, "admin-05-participant")
    admin.get_by_role("link", name="Audit log").click()
    expect(admin.locator("body")).to_contain_text("login_failed")
    expect(admin.locator("body")).to_contain_text("export")
    shot(admin, "admin-06-audit")
