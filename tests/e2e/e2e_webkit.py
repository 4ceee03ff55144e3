"""WebKit (Safari's engine) for the e2e suite: Debian's WebKitWebDriver + MiniBrowser under Xvfb, via Selenium.

The participant's steps mirror e2e_steps.walk_to_task/wait_ready/play/answer, in Selenium's terms; the
database facts (session row, presentations, events) come from e2e_steps unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from e2e_live import AUDIO_PROBE, LiveServer
from e2e_steps import PHASE_RE, decode_cookie, row_for_cookie
from experiment.headphone_check import headphone_answers

WEBKIT_DRIVER = os.environ.get("TUNEBACK_WEBKIT_DRIVER", "/usr/bin/WebKitWebDriver")
MINIBROWSER = os.environ.get("TUNEBACK_MINIBROWSER", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
TIMEOUT_S = 15.0


def missing() -> str | None:
    """Why WebKit can't run here (None when it can): the Debian packages scripts/setup.sh --test installs."""
    for path, package in ((WEBKIT_DRIVER, "webkit2gtk-driver"), (MINIBROWSER, "webkit2gtk-driver"),
                          (shutil.which("Xvfb") or "/usr/bin/Xvfb", "xvfb")):
        if not Path(path).exists():
            return f"no {path}: apt-get install {package} (scripts/setup.sh --test does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def xvfb() -> Iterator[str]:
    """A private virtual X display on a free number (Xvfb picks it and tells us through -displayfd)."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def webkit_driver() -> Iterator[Any]:
    """MiniBrowser in automation mode, driven by WebKitWebDriver on its own X display."""
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    with xvfb() as display:
        options = Options()
        options.binary_location = MINIBROWSER
        options.add_argument("--automation")
        service = Service(executable_path=WEBKIT_DRIVER, env={**os.environ, "DISPLAY": display})
        driver = webdriver.WebKitGTK(options=options, service=service)
        driver.set_page_load_timeout(30)
        try:
            yield driver
        finally:
            driver.quit()


def wait(driver: Any, check: Callable[[Any], Any], *, timeout_s: float = TIMEOUT_S, what: str = "") -> Any:
    """Poll `check(driver)` until it is truthy; fail with `what` (and the page's URL) when it never is."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(check, f"{what} (at {driver.current_url})")


def css(driver: Any, selector: str) -> Any:
    """The element matching a CSS selector."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def button(driver: Any, text: str) -> Any:
    """The button, link or submit input whose text is exactly `text`."""
    from selenium.webdriver.common.by import By

    found = [e for e in driver.find_elements(By.CSS_SELECTOR, "button, a, input[type=submit]")
             if (e.text or e.get_attribute("value") or "").strip() == text and e.is_displayed()]
    assert found, f"no control named {text!r} on {driver.current_url}"
    return found[0]


def wait_url(driver: Any, suffix: str, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until the page's path ends with `suffix`."""
    wait(driver, lambda d: d.current_url.split("?")[0].endswith(suffix), timeout_s=timeout_s, what=f"URL *{suffix}")


def session_row(driver: Any, live: LiveServer, study: str) -> Any:
    """This browser's participant session row in `study`, from its signed cookie."""
    return row_for_cookie(decode_cookie(driver.get_cookie("tuneback")["value"]), live, study)


def probe_audio(driver: Any) -> None:
    """Install the audio-clock probe (e2e_live.AUDIO_PROBE) in the loaded page, before any sound is made."""
    driver.execute_script(AUDIO_PROBE)


def walk_to_task(driver: Any, live: LiveServer, study: str, *, shot: Callable[[str], Any] | None = None) -> Any:
    """Landing → consent → headphones (slider by keyboard, six sounds played, right answers) → instructions → task."""
    from selenium.webdriver.common.keys import Keys

    snap = shot or (lambda name: None)
    driver.get(live.study_url(study))
    assert "recognise music" in css(driver, "h1").text
    snap("01-landing")
    button(driver, "Continue").click()
    wait_url(driver, "/consent")
    for box in driver.find_elements("css selector", "input[type=checkbox]"):
        box.click()
    button(driver, "I agree, start").click()
    wait_url(driver, "/headphones")
    row = session_row(driver, live, study)
    probe_audio(driver)
    button(driver, "Play noise").click()
    slider = css(driver, "#volume-slider")
    for _ in range(4):  # 0.80 → 0.60 with the keyboard
        slider.send_keys(Keys.ARROW_LEFT)
    wait(driver, lambda d: css(d, "#volume").get_attribute("value") == "0.6", what="volume 0.6")
    for k, choice in enumerate(headphone_answers(SimpleNamespace(seed=row.seed, headphone_seed=row.headphone_seed), 6), start=1):
        started = driver.execute_script("return window.__audio.started.length")
        button(driver, f"Play sound {k}").click()
        wait(driver, lambda d: d.execute_script("return window.__audio.started.length") > started, what=f"sound {k}")
        css(driver, f"input[name=t{k}][value='{choice}']").click()
    snap("03-headphones")
    button(driver, "Continue").click()
    wait_url(driver, "/instructions")
    button(driver, "Start the practice").click()
    wait_url(driver, "/task")
    probe_audio(driver)
    snap("05-task-start")
    return row


def wait_ready(driver: Any) -> str:
    """Wait until the trial's three sounds are decoded and can be played; return its key (p1…, t1…)."""
    wait(driver, lambda d: css(d, "#trial-panel").is_displayed() and css(d, '.play[data-slot="x"]').is_enabled(),
         what="trial ready")
    match = PHASE_RE.match(css(driver, "#phase").text.strip())
    assert match, css(driver, "#phase").text
    return ("p" if match.group(1) == "Practice" else "t") + match.group(2)


def play(driver: Any, slot: str, *, keyboard: bool) -> None:
    """Play one of X, A, B (button or key) and wait until the page's audio clock has run through it."""
    from selenium.webdriver.common.action_chains import ActionChains

    n = driver.execute_script("return window.__audio.started.length")
    if keyboard:
        ActionChains(driver).send_keys({"x": "x", "a": "1", "b": "2"}[slot]).perform()
    else:
        css(driver, f'.play[data-slot="{slot}"]').click()
    wait(driver, lambda d: d.execute_script(
        "const s = window.__audio.started; return s.length > arguments[0] && s[s.length - 1].ended !== null;", n),
        what=f"{slot} played to its end")


def answer(driver: Any, side: str, *, keyboard: bool) -> None:
    """Answer A or B (button or key), first playing X, A and B if the answers are still closed (issue 29)."""
    from selenium.webdriver.common.action_chains import ActionChains

    if not css(driver, f'.answer[data-answer="{side}"]').is_enabled():
        for slot in ("x", "a", "b"):
            play(driver, slot, keyboard=keyboard)
    if keyboard:
        ActionChains(driver).send_keys(side.lower()).perform()
    else:
        css(driver, f'.answer[data-answer="{side}"]').click()


def eventually(check: Callable[[], Any], timeout_s: float = 6.0) -> None:
    """Wait for something the page sends in the background (its event log is flushed every 2 s)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)
