"""Test helpers for the experiment app: a fake clock, an app factory call, and a participant that walks the flow."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from experiment import create_app

SECRET = "test-secret-key"
ROOMY_LIMITS = {"RATE_LIMIT_ASSIGN": "100000 per minute", "RATE_LIMIT_PARTICIPANT": "100000 per minute"}
"""Tests walk many participants from one address in seconds; the limits' own tests (test_flood.py) set real ones."""


@dataclass
class FakeClock:
    """A settable UTC clock injected as the app's CLOCK."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Study:
    url: str
    experiment_id: int


def make_app(study: Study, clock: FakeClock, tmp_path: Path, **extra: Any):
    """An app on the study's database with the fake clock."""
    return create_app({"DATABASE_URL": study.url, "SECRET_KEY": SECRET, "TESTING": True, "CLOCK": clock,
                       "INSTANCE_PATH": str(tmp_path / "instance"), **ROOMY_LIMITS, **extra})


_ADDRESSES = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own (198.18.0.0/15, for tests): each Participant is a person on their own machine."""
    n = next(_ADDRESSES)
    return f"198.18.{n // 250 % 250}.{n % 250 + 1}"


CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Participant:
    """Walks the participant flow through a Flask test client, like AuthActions in flaskr."""

    def __init__(self, app, experiment_id: int, address: str | None = None) -> None:
        self.app = app
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address or fresh_address()
        self.eid = experiment_id
        self.csrf: str | None = None

    # pages -----------------------------------------------------------------------------------------
    def page(self, path: str, **kwargs):
        response = self.client.get(f"/study/{self.eid}/{path}", **kwargs)
        match = CSRF_RE.search(response.get_data(as_text=True))
        if match:
            self.csrf = match.group(1)
        return response

    def post(self, path: str, data: dict | None = None, csrf: bool = True):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.csrf
        return self.client.post(f"/study/{self.eid}/{path}", data=data)

    def start(self, query: str = "") -> Any:
        """Landing, consent page, agree: returns the consent POST's response."""
        self.page(query and f"?{query}" or "")
        self.page("consent")
        return self.post("consent", {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"})

    def headphones(self, correct: bool = True, volume: str = "0.6"):
        from experiment.models import ParticipantSession
        from experiment.headphone_check import headphone_answers
        from experiment.webdb import get_db

        page = self.page("headphones")
        assert page.status_code == 200, page.status_code
        from experiment.headphone_check import antiphase_answers, uses_antiphase

        with self.app.app_context():
            s = get_db().query(ParticipantSession).filter_by(token=self.token).one()
            truth = headphone_answers(s, 6)
            second = antiphase_answers(s, 6) if uses_antiphase(s.version.experiment) else []
        answers = truth if correct else [t % 3 + 1 for t in truth]
        form = {"volume": volume, **{f"t{k + 1}": str(a) for k, a in enumerate(answers)}}
        form.update({f"a{k + 1}": str(a) for k, a in enumerate(second)})  # the second test, right either way
        return self.post("headphones", form)

    def instructions(self):
        self.page("instructions")
        return self.post("instructions")

    def ready(self, query: str = "") -> None:
        """Consent, headphones and instructions: the task is next."""
        assert self.start(query).status_code == 302
        assert self.headphones().status_code == 302
        assert self.instructions().status_code == 302
        self.page("task")

    @property
    def token(self) -> str:
        with self.client.session_transaction() as flask_session:
            return flask_session["p"][str(self.eid)]

    # api -------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, csrf: bool = True, **kwargs):
        headers = {"X-CSRFToken": self.csrf} if csrf and self.csrf else {}
        url = f"/api/study/{self.eid}/{path}"
        if method == "GET":
            return self.client.get(url, headers=headers, **kwargs)
        return self.client.post(url, json=body, headers=headers, **kwargs)

    def state(self) -> dict:
        response = self.api("GET", "state")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def present(self, trial: str | None = None) -> dict:
        trial = trial or self.state()["trial"]["id"]
        response = self.api("POST", "present", {"trial": trial})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def answer(self, side: str = "A", trial: str | None = None, answer_id: str | None = None, listen: bool = True):
        """Answer; with `listen` first fetch and play X, A and B as the page does (studies require it by default)."""
        response = self.api("GET", "state") if listen or trial is None else None
        state = response.get_json() if response is not None and response.status_code == 200 else {}
        trial = trial or state["trial"]["id"]
        if listen:
            self.listen(state, trial)
        return self.api("POST", "answer", {"trial": trial, "answer": side, "id": answer_id or uuid.uuid4().hex})

    def listen(self, state: dict, trial: str) -> None:
        """Fetch the current trial's three sounds and log their plays (nothing when it is not the presented one)."""
        current = state.get("trial") or {}
        if current.get("id") != trial or not current.get("audio"):
            return
        for url in current["audio"].values():
            self.client.get(url)
        played = [{"kind": "play", "slot": s, "trial": trial, "t": 1.0} for s in ("x", "a", "b")]
        self.api("POST", "events", {"events": played})

    def do_trial(self, side: str = "A") -> dict:
        state = self.present()
        trial = state["trial"]["id"]
        for url in state["trial"]["audio"].values():
            assert self.client.get(url).status_code == 200
        played = [{"kind": "play", "slot": s, "trial": trial, "t": 1.0} for s in ("x", "a", "b")]
        assert self.api("POST", "events", {"events": played}).status_code == 200
        response = self.answer(side, state["trial"]["id"], listen=False)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def finish_trials(self, side: str = "A") -> dict:
        state = self.state()
        while state["trial"] is not None:
            state = self.do_trial(side)["state"]
        return state
