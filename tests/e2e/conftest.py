"""End-to-end fixtures: the real app under gunicorn on a free port, and headless Chromium driven by Playwright.

One server serves the whole e2e session, on a fresh SQLite database built from the synthetic manifest
(tests/experiment/experiment_factory.py, clips of 0.25 s so 28 trials of really played audio stay quick):

- ``main``: the normal study (60-s trial limit, 30-min cap) at the root link;
- ``short``: the same clips with a 3-s trial limit (the idle-trial time-out, without waiting a minute);
- ``capped``: a 2-s trial limit and a 12-s session cap (the time-up page);
- ``german``: the participant pages in German, with one catch trial (test_browser_german.py).

Every response the browser gets from the server is checked for the security headers and for 5xx, every page
error (uncaught JavaScript exception) fails the test, and at the end the server's log must hold no traceback.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from e2e_live import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, SECRET, AUDIO_PROBE, LiveServer, build_database, free_port


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """gunicorn (2 gthread workers) serving the e2e database on a free loopback port, for the whole session."""
    from experiment.db import make_engine

    folder = tmp_path_factory.mktemp("e2e")
    url, studies = build_database(folder)
    port = free_port()
    log_path = folder / "gunicorn.log"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "TUNEBACK_INSTANCE_PATH": str(folder / "instance"),
           # every simulated listener comes from 127.0.0.1: the per-address limits are tested in test_flood.py
           "TUNEBACK_RATE_LIMIT_ASSIGN": "100000 per minute", "TUNEBACK_RATE_LIMIT_PARTICIPANT": "100000 per minute"}
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "experiment:create_app()", "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--log-level", "info",
           "--chdir", str(ROOT)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", url, studies, log_path, proc, make_engine(url))
    try:
        _wait_until_up(server)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        server.engine.dispose()
    log_text = log_path.read_text(errors="replace")
    assert "Traceback" not in log_text and "unhandled error" not in log_text, (
        f"the server logged an error during the e2e tests:\n{log_text[-4000:]}")


def _wait_until_up(server: LiveServer, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url("/"), timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {server.log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer within 60 s")


# ------------------------------------------------------------------------------------------------ the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/setup.sh --test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                      args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def webkit_session() -> Iterator[Any]:
    """One MiniBrowser (WebKitGTK, Safari's engine) for the session, under Xvfb via WebKitWebDriver."""
    import e2e_webkit

    why = e2e_webkit.missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with e2e_webkit.webkit_driver() as driver:
        yield driver


@pytest.fixture
def webkit(webkit_session, live_server) -> Iterator[Any]:
    """The WebKit browser as a new participant: no cookies, nothing pending in sessionStorage."""
    driver = webkit_session
    driver.get(live_server.url("/no-such-page"))
    driver.delete_all_cookies()
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    yield driver


@dataclass
class Watch:
    """What one browser context saw from the server: every response, every page error."""

    base: str
    responses: list[Any] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Security headers on every response of ours, no 5xx, no uncaught script error."""
        assert not self.page_errors, f"JavaScript errors: {self.page_errors}"
        ours = [r for r in self.responses if r.url.startswith(self.base)]
        assert ours, "the browser saw no response from the server"
        for r in ours:
            h = r.headers  # Playwright gives lower-case names
            assert r.status < 500, (r.status, r.url)
            assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), r.url
            assert h.get("x-content-type-options") == "nosniff", r.url
            assert h.get("x-frame-options") == "DENY", r.url


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable[..., Any]]:
    """A factory of pages, each in a fresh browser context (its own cookies), checked when the test ends."""
    contexts: list[tuple[Any, Watch]] = []

    def make(**context_args: Any):
        context = browser.new_context(viewport=context_args.pop("viewport", {"width": 1000, "height": 900}),
                                      accept_downloads=True, **context_args)
        context.add_init_script(AUDIO_PROBE)
        context.set_default_timeout(15_000)
        watch = Watch(live_server.base)
        context.on("response", lambda response: watch.responses.append(response))
        page = context.new_page()
        page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
        contexts.append((context, watch))
        return page

    yield make
    for context, watch in contexts:
        context.close()
        watch.check()


@pytest.fixture
def shot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot under test-artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
