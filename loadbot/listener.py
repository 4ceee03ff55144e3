"""Simulated listeners: many participants' worth of real HTTP traffic through the study's pages and JSON API.

`simulate(SimulationConfig(url=..., n=20, accuracy=0.85))` runs N listeners at once, each in its own thread
with its own `requests.Session` (a cookie jar, like a browser), through exactly the requests a browser makes.
`tuneback experiment simulate` calls it; so do the load benchmark (benchmarks/bench_load.py) and the tests.
It needs nothing but the study's URL: no database access, no secret, no test hook.

What one listener does, at a person's pace times `pace` (1.0 = real time, 0 = as fast as the server answers):

- arrives at the study link with a Prolific-style id ``sim-<run>-<n>`` (so simulated data are recognisable in
  the admin panel and the exports, and a consent form sent twice never opens a second session); consents;
- plays the calibration noise and the headphone-check sounds and *hears* the Huggins pitch (the interval in
  which the left and right channels differ), sets a volume, reads the instructions;
- per trial: presents it, downloads X, A and B in that order (as static/js/abx.js does), listens to each for
  the clip's duration, sometimes replays one, logs play / ended / replay events, decides, and answers with a
  fresh client-made answer id; a request that fails (connection error, time-out, 5xx) is sent again, with the
  same answer id, until the server confirms it or `retry_for_s` passes;
- sometimes reloads the page mid-trial (task page, state, the same three audio URLs again) and sometimes
  "loses" the reply to an answer and sends the same answer id again (the server must answer ``repeated``);
- answers the questionnaire and reads the completion code.

The decision: the listener's "ear" compares the log-band spectrum of A and of B with X's and picks the closer
one; with probability `accuracy` it answers what it heard, otherwise the other side. On clips that differ
clearly that scores `accuracy`; where the sounds carry no information (the noise-only control) it falls to
50%, as a person's would. The server tells nobody which side is right (practice feedback aside), so the
simulator cannot do better than its ears.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from loadbot.config import ListenerResult, SimulationConfig, SimulationFailure, SimulationReport
from loadbot.ears import clip_seconds, huggins_interval, listen
from loadbot.headphone_ears import quietest_interval

SLOTS = ("x", "a", "b")
SIM_HEADER = "X-Tuneback-Simulation"
"""experiment/simulation.py HEADER (loadbot talks HTTP only, so it names the header rather than import the app)."""
Truth = Callable[[str], dict[str, str]]
"""Prolific id → {trial key: correct side} of that listener's session (read by the CLI from the database)."""

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
HEADPHONE_RE = re.compile(r'data-play="(cal|hp\d+|ap\d+)" data-url="([^"]+)"')
CODE_RE = re.compile(r'id="completion-code">([^<]*)<')
STUDY_PATH_RE = re.compile(r"^/study/(\d+)/(consent|headphones|instructions|task|questionnaire|debrief|time-up)?$")
QUESTIONNAIRE_CHOICES = {
    "age": ("18-24", "25-34", "35-44", "45-54", "55+", ""),
    "hearing": ("no", "no", "no", "unsure"),
    "training": ("0", "1-2", "3-5", "6-10", "10+", ""),
    "device": ("over-ear", "in-ear", "over-ear"),
    "environment": ("quiet", "quiet", "some"),
    "familiar": ("none", "none", "some"),
}


# ------------------------------------------------------------------------------------------------ one listener


class Listener:
    """One simulated participant's browser: walks the pages by where the server sends it."""

    def __init__(self, config: SimulationConfig, index: int, run_id: str, t0: float, *,
                 truth: Truth | None = None, on_trial: Callable[[], None] | None = None) -> None:
        self.cfg = config
        self.truth_of = truth
        self.truth: dict[str, str] | None = None
        self.on_trial = on_trial
        self.rng = random.Random(f"tuneback-simulate:{config.seed}:{index}")
        pid = f"sim-{run_id}-{index:04d}" if config.prolific else None
        self.result = ListenerResult(index=index, pid=pid, experiment_id=config.experiment_id)
        self.base = config.url.rstrip("/") + "/"
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "tuneback-simulated-listener/1 (+loadbot)"
        if config.simulation_key:
            self.http.headers[SIM_HEADER] = config.simulation_key
        if config.forwarded_for:
            self.http.headers["X-Forwarded-For"] = f"198.18.{index // 250}.{index % 250 + 1}"
        self.csrf = ""
        self.t0 = t0
        self.events: list[dict[str, Any]] = []
        self.audio_clock = 0.0

    # -------------------------------------------------------------------------------------- http
    def request(self, method: str, path: str, kind: str, **kwargs: Any) -> requests.Response:
        """Send; connection errors, time-outs and 5xx are retried (same request, same body) like abx.js does."""
        url = urljoin(self.base, path.lstrip("/")) if not path.startswith("http") else path
        deadline = time.monotonic() + self.cfg.retry_for_s
        delay = 0.2
        while True:
            self.result.requests += 1
            t = time.perf_counter()
            try:
                response = self.http.request(method, url, timeout=self.cfg.request_timeout_s, **kwargs)
            except requests.RequestException as exc:
                self.result.connection_errors += 1
                reason, wait = exc.__class__.__name__, delay
            else:
                if response.status_code < 500 and response.status_code != 429:
                    self.result.latency[kind].append(time.perf_counter() - t)
                    return response
                if response.status_code == 429:  # rate-limited: come back when the server says, like a browser
                    self.result.throttled += 1
                    reason, wait = "HTTP 429", max(delay, min(10.0, _retry_after(response)))
                    if time.monotonic() + wait > deadline:
                        raise SimulationFailure(f"{method} {urlsplit(url).path}: still rate-limited after "
                                                f"{self.cfg.retry_for_s:.0f} s")
                    self.result.retries += 1
                    time.sleep(wait)
                    continue
                if response.status_code == 503:
                    self.result.unavailable += 1
                else:
                    self.result.server_errors += 1
                    self.result.errors.append(f"{method} {urlsplit(url).path}: HTTP {response.status_code}")
                reason = f"HTTP {response.status_code}"
                wait = max(delay, min(5.0, _retry_after(response)))
            if time.monotonic() + wait > deadline:
                raise SimulationFailure(f"{method} {urlsplit(url).path}: no answer for {self.cfg.retry_for_s:.0f} s "
                                        f"({reason})")
            self.result.retries += 1
            time.sleep(wait * (0.75 + 0.5 * self.rng.random()))
            delay = min(2.0, delay * 2)

    def page(self, path: str) -> requests.Response:
        """GET a page (following redirects) and keep its CSRF token."""
        response = self.request("GET", path, "page")
        match = CSRF_RE.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def form(self, path: str, data: dict[str, Any]) -> requests.Response:
        """POST a form with its CSRF token and follow the redirect to the next page, as a browser does."""
        response = self.request("POST", path, "page", data={**data, "csrf_token": self.csrf})
        if response.status_code == 409:
            outcome = _closed_outcome(response.text)
            if outcome:  # "you have already taken part" comes as a 409 page
                self.result.outcome = outcome
                raise _Done
            return self.page(self.study_path(""))  # a step already done (a retried post): go where we belong
        if response.status_code >= 400:
            raise SimulationFailure(f"POST {path}: HTTP {response.status_code}: {_message(response)}")
        match = CSRF_RE.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def api(self, method: str, name: str, body: dict[str, Any] | None = None, kind: str | None = None
            ) -> requests.Response:
        """Call the JSON API with the CSRF header."""
        path = f"/api/study/{self.result.experiment_id}/{name}"
        return self.request(method, path, kind or name, json=body,
                            headers={"X-CSRFToken": self.csrf, "Accept": "application/json"})

    def study_path(self, stage: str) -> str:
        return f"/study/{self.result.experiment_id}/{stage}"

    def think(self, lo: float, hi: float) -> None:
        """Wait like a person would, scaled by pace."""
        if self.cfg.pace > 0:
            time.sleep(self.rng.uniform(lo, hi) * self.cfg.pace)

    def log(self, kind: str, slot: str | None = None, trial: str | None = None, detail: dict | None = None) -> None:
        self.events.append({"kind": kind, "slot": slot, "trial": trial,
                            "t": round(1000 * (time.monotonic() - self.t0), 1), "detail": detail})

    def flush(self) -> None:
        """Send the queued events (as the page does every few seconds and on each answer)."""
        while self.events:
            batch, self.events = self.events[:100], self.events[100:]
            response = self.api("POST", "events", {"events": batch})
            if response.status_code != 200:
                self.result.errors.append(f"events: HTTP {response.status_code}: {_message(response)}")

    # -------------------------------------------------------------------------------------- the flow
    def run(self) -> ListenerResult:
        """Walk the whole flow; never raises (a failure is recorded in the result)."""
        self.result.started_s = time.monotonic() - self.t0
        try:
            self._walk()
        except _Done:
            pass  # turned away (full, closed, already): the outcome says which
        except SimulationFailure as exc:
            self.result.outcome = "failed"
            self.result.errors.append(str(exc))
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:  # a reply a browser can't use
            self.result.outcome = "failed"
            self.result.errors.append(f"{exc.__class__.__name__}: {exc}")
        finally:
            self.result.finished_s = time.monotonic() - self.t0
            self.http.close()
        return self.result

    def _walk(self) -> None:
        query = {}
        if self.result.pid:
            query = {"PROLIFIC_PID": self.result.pid, "STUDY_ID": "simulated",
                     "SESSION_ID": uuid.UUID(int=self.rng.getrandbits(128)).hex[:24]}
        entry = self.study_path("") if self.result.experiment_id else "/"
        response = self.page(entry + ("?" + urlencode(query) if query else ""))
        for _ in range(self.cfg.max_steps):
            match = STUDY_PATH_RE.match(urlsplit(response.url).path)
            if match is None:
                raise SimulationFailure(f"landed on {urlsplit(response.url).path} (HTTP {response.status_code})")
            self.result.experiment_id = int(match.group(1))
            stage = match.group(2) or "landing"
            if stage in ("landing", "consent"):
                outcome = _closed_outcome(response.text)
                if outcome:
                    self.result.outcome = outcome
                    return
                response = self._consent()
            elif stage == "headphones":
                response = self._headphones(response)
            elif stage == "instructions":
                self.think(5, 15)
                response = self.form(self.study_path("instructions"), {})
            elif stage == "task":
                response = self._task()
            elif stage == "questionnaire":
                response = self._questionnaire()
            elif stage == "debrief":
                code = CODE_RE.search(response.text)
                self.result.completion_code = code.group(1).strip() if code else None
                self.result.outcome = "completed"
                return
            else:  # time-up
                self.result.outcome = "timed_out"
                return
        raise SimulationFailure(f"still not done after {self.cfg.max_steps} steps")

    def _consent(self) -> requests.Response:
        page = self.page(self.study_path("consent"))
        outcome = _closed_outcome(page.text)
        if outcome or "/consent" not in urlsplit(page.url).path:
            return page
        self.think(10, 30)
        response = self.form(self.study_path("consent"),
                             {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"})
        outcome = _closed_outcome(response.text)
        if outcome:  # full / already: the page is shown in place of a redirect
            self.result.outcome = outcome
            raise _Done
        return response

    def _headphones(self, page: requests.Response) -> requests.Response:
        urls = dict(HEADPHONE_RE.findall(page.text))
        if "cal" not in urls:
            raise SimulationFailure("the headphone page has no calibration sound")
        self.think(3, 8)
        noise = self.request("GET", urls["cal"], "audio")
        self.log("play", "cal")
        self.think(clip_seconds(noise.content), clip_seconds(noise.content) * 2)
        volume = round(self.rng.uniform(0.4, 0.9), 2)
        self.log("volume", None, detail={"value": volume})
        answers = {}
        for slot in sorted((s for s in urls if s != "cal"), key=lambda s: (s[:2], int(s[2:]))):
            sound = self.request("GET", urls[slot], "audio")
            if sound.status_code != 200:
                raise SimulationFailure(f"headphone sound {slot}: HTTP {sound.status_code}")
            self.log("play", slot)
            self.think(clip_seconds(sound.content), clip_seconds(sound.content) + 2)
            if slot.startswith("ap"):  # the second test: which tone is the quietest
                answers[f"a{slot[2:]}"] = str(quietest_interval(sound.content))
            else:
                answers[f"t{slot[2:]}"] = str(huggins_interval(sound.content))
        self.flush()
        return self.form(self.study_path("headphones"), {"volume": str(volume), **answers})

    def _questionnaire(self) -> requests.Response:
        self.page(self.study_path("questionnaire"))
        self.think(20, 60)
        data = {name: self.rng.choice(values) for name, values in QUESTIONNAIRE_CHOICES.items()}
        data["strategy"] = "simulated listener: compared the spectra"
        data["problems"] = ""
        return self.form(self.study_path("questionnaire"), data)

    def _task(self) -> requests.Response:
        """The trial loop of static/js/abx.js, through the JSON API, until the server sends us on."""
        self.log("reload")
        self.think(2, 5)
        self.log("unlock")
        if self.truth_of is not None and self.truth is None and self.result.pid:
            self.truth = self.truth_of(self.result.pid) or None
        state = self._state()
        reloaded: set[str] = set()
        for _ in range(self.cfg.max_steps):
            trial = state.get("trial")
            if state.get("redirect") or trial is None:
                self.flush()
                return self.page(state.get("redirect") or self.study_path(""))
            key = trial["id"]
            if not trial["presented"]:
                if state.get("intermission"):
                    self.think(3, 8)
                response = self.api("POST", "present", {"trial": key})
                if response.status_code == 409:
                    self.result.conflicts += 1
                    state = response.json().get("state") or self._state()
                    continue
                if response.status_code != 200:
                    raise SimulationFailure(f"present {key}: HTTP {response.status_code}: {_message(response)}")
                state = response.json()
                trial = state["trial"]
            if trial["remaining_ms"] is not None and trial["remaining_ms"] <= 0:
                time.sleep(1.2)  # the page waits for the server to record the time-out, then asks again
                state = self._state()
                continue
            clips = self._load(trial["audio"])
            if clips is None:
                state = self._state()
                continue
            self.log("ready", trial=key)
            if key not in reloaded and self.rng.random() < self.cfg.reload_p:
                reloaded.add(key)
                self.result.reloads += 1
                self.flush()
                self.page(self.study_path("task"))
                self.log("reload")
                state = self._state()
                continue
            heard = self._listen(key, clips)
            known = (self.truth or {}).get(key)
            aim = known or heard  # with the truth, `accuracy` is the chance of being right; else of following the ear
            side = aim if self.rng.random() < self.cfg.accuracy else ("B" if aim == "A" else "A")
            self.think(1, 4)
            state = self._answer(key, side, heard, bool(trial["practice"]))
            if trial["practice"] and state.get("trial") is not None:
                self.think(1, 3)  # reading the feedback
        raise SimulationFailure(f"still in the task after {self.cfg.max_steps} steps")

    def _state(self) -> dict[str, Any]:
        response = self.api("GET", "state")
        if response.status_code != 200:
            raise SimulationFailure(f"state: HTTP {response.status_code}: {_message(response)}")
        return response.json()

    def _load(self, urls: dict[str, str]) -> dict[str, bytes] | None:
        """Download X, A, B in that order (so the order of requests tells nothing); None if the trial moved on."""
        clips = {}
        for slot in SLOTS:
            response = self.request("GET", urls[slot], "audio")
            if response.status_code == 404:  # timed out meanwhile: its sounds are gone
                return None
            if response.status_code != 200 or not response.content:
                raise SimulationFailure(f"audio {slot}: HTTP {response.status_code}")
            clips[slot] = response.content
        return clips

    def _listen(self, key: str, clips: dict[str, bytes]) -> str:
        """Play X, A, B (and maybe replay one) for their duration; return which side sounded like X."""
        order = list(SLOTS)
        if self.rng.random() < self.cfg.replay_p:
            order.append(self.rng.choice(SLOTS))
        played: set[str] = set()
        for slot in order:
            self.log("replay" if slot in played else "play", slot, key)
            if slot in played:
                self.result.replays += 1
            played.add(slot)
            duration = clip_seconds(clips[slot])
            self.think(duration, duration)
            self.log("ended", slot, key)
            # the page's playback record (static/js/abx.js), on a simulated audio clock: every clip heard to its end
            start, self.audio_clock = self.audio_clock, self.audio_clock + duration
            self.log("playback", slot, key, detail={"ctx_state": "running", "start_s": round(start, 4),
                                                    "end_s": round(self.audio_clock, 4), "duration_s": duration,
                                                    "output_latency_s": 0.0, "outcome": "ended", "cause": None})
            self.think(0.3, 1.5)
            self.audio_clock += 0.5
        return listen(self.cfg.ear, clips["x"], clips["a"], clips["b"], self.rng, noise=self.cfg.ear_noise)

    def _answer(self, key: str, side: str, heard: str, practice: bool) -> dict[str, Any]:
        """Send the answer until the server confirms it (same id every time); return the next state."""
        self.flush()
        answer_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        body = {"trial": key, "answer": side, "id": answer_id}
        t = time.perf_counter()
        errors_before = self.result.connection_errors + self.result.unavailable + self.result.server_errors
        response = self.api("POST", "answer", body)
        if response.status_code == 409:
            self.result.conflicts += 1
            payload = response.json()
            if payload.get("error") == "trial_timed_out":
                self.result.timed_out_trials += 1
            return payload.get("state") or self._state()
        if response.status_code != 200:
            raise SimulationFailure(f"answer {key}: HTTP {response.status_code}: {_message(response)}")
        payload = response.json()
        self.result.latency["answer_e2e"].append(time.perf_counter() - t)
        self.result.acked[answer_id] = key
        known = (self.truth or {}).get(key)
        if known and not practice and not payload.get("repeated"):
            self.result.scored_correct.append(side == known)
        if self.on_trial is not None:
            self.on_trial()
        if payload.get("answer") != side or payload.get("trial") != key:
            self.result.errors.append(f"answer {key}: sent {side}, server stored {payload.get('answer')}")
        if payload.get("repeated"):
            faults = self.result.connection_errors + self.result.unavailable + self.result.server_errors
            if faults == errors_before:
                self.result.errors.append(f"answer {key}: first send came back as a repeat")
            self.result.recovered += 1
        if practice and "feedback" in payload:
            self.result.practice_feedback.append(bool(payload["feedback"]["correct"]))
            self.result.ear_on_practice.append(heard == payload["feedback"]["correct_side"])
        if self.rng.random() < self.cfg.lost_reply_p:  # the reply "never arrived": send the same answer again
            again = self.api("POST", "answer", body)
            repeat = again.json() if again.status_code == 200 else {}
            if repeat.get("repeated") is True and repeat.get("answer") == side:
                self.result.repeats_confirmed += 1
            else:
                self.result.errors.append(f"answer {key}: the same id sent again gave HTTP {again.status_code} "
                                          f"{repeat or _message(again)}")
        return payload["state"]


class _Done(SimulationFailure):
    """The study turned the listener away (full, closed, already done): an outcome, not a failure."""


# ------------------------------------------------------------------------------------------------ the run


def simulate(config: SimulationConfig, *, on_done: Callable[[ListenerResult], None] | None = None,
             on_trial: Callable[[], None] | None = None, truth: Truth | None = None) -> SimulationReport:
    """Run `config.n` listeners at once (threads; arrivals spread over `ramp_s`); returns when all are done.

    `on_trial` is called after every confirmed answer (a progress bar); `truth` gives each listener its session's
    correct sides, so that `accuracy` is the share of right answers (else the share following the listener's ear).
    Every listener is bounded (`max_steps` pages and trials, `retry_for_s` per request), so this returns even
    if the server goes away for good: those listeners come back as ``failed`` with the reason.
    """
    config.check()
    run_id = config.run_id or secrets.token_hex(3)
    t0 = time.monotonic()
    results: list[ListenerResult | None] = [None] * config.n
    lock = threading.Lock()

    def one(i: int) -> None:
        delay = config.ramp_s * i / max(1, config.n - 1) if config.n > 1 else 0.0
        time.sleep(max(0.0, t0 + delay - time.monotonic()))
        result = Listener(config, i, run_id, t0, truth=truth, on_trial=on_trial and locked(on_trial)).run()
        results[i] = result
        if on_done is not None:
            with lock:
                on_done(result)

    def locked(call: Callable[[], None]) -> Callable[[], None]:
        def inner() -> None:
            with lock:
                call()
        return inner

    threads = [threading.Thread(target=one, args=(i,), name=f"listener-{i}", daemon=True) for i in range(config.n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return SimulationReport(config, [r for r in results if r is not None], time.monotonic() - t0)


def _closed_outcome(html: str) -> str | None:
    """The study turned us away: which page is this (full, closed, already), or None."""
    if "<h1>The study is full</h1>" in html:
        return "full"
    if "<h1>This study is not open</h1>" in html:
        return "closed"
    if "<h1>You have already taken part</h1>" in html:
        return "already"
    if 'id="other-device"' in html:
        return "other_device"
    return None


def _retry_after(response: requests.Response) -> float:
    """The server's Retry-After in seconds (0 when absent or not a number)."""
    try:
        return float(response.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0


def _message(response: requests.Response) -> str:
    """The reason in a JSON error, or the start of the body."""
    try:
        return str(response.json().get("message"))[:200]
    except ValueError:
        return response.text[:200]
