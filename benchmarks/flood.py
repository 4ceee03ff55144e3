"""A script hammering a study's consent and events from one address, for bench_load's flood phase.

Three kinds of abuse, round-robin, as fast as the server answers, until told to stop:
- `no_id`: cookie-less consent POSTs without a Prolific id (the study requires one: never a place);
- `forged_id`: consent POSTs with made-up Prolific ids (the study's cap on new places per client bounds them,
  refused consents count against it too, and any place they take is released once it goes idle);
- `events`: 100-event batches from the forged sessions (refused by the per-session rate limit and event budget).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter

import requests

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')
AGREE = {"read_info": "y", "voluntary": "y", "data_use": "y", "agree": "agree"}
FLOOD_ADDRESS = "203.0.113.66"
USER_AGENT = "tuneback-flood-bot/1"


def _csrf(html: str) -> str:
    """The page's CSRF token."""
    match = CSRF_RE.search(html)
    return (match.group(1) or match.group(2)) if match else ""


def _consent(base: str, eid: int, query: str, counts: Counter, kind: str) -> requests.Session | None:
    """One fresh client: landing, consent page, agree; returns the client when it got a session."""
    http = requests.Session()
    http.headers.update({"User-Agent": USER_AGENT, "X-Forwarded-For": FLOOD_ADDRESS})
    http.get(f"{base}/study/{eid}/{query}", timeout=30, allow_redirects=False)
    page = http.get(f"{base}/study/{eid}/consent", timeout=30)
    response = http.post(f"{base}/study/{eid}/consent", data={**AGREE, "csrf_token": _csrf(page.text)},
                         timeout=30, allow_redirects=False)
    counts[f"{kind}_{response.status_code}"] += 1
    return http if response.status_code == 302 and "/headphones" in response.headers.get("Location", "") else None


def flood(base: str, eid: int, stop: threading.Event, study_id: str) -> Counter:
    """Hammer until `stop` is set; returns the status codes seen per kind of request."""
    counts: Counter = Counter()
    sessions: list[requests.Session] = []
    batch = {"events": [{"kind": "play", "slot": "x", "trial": "p1", "t": 1.0}] * 50
             + [{"kind": "visible", "t": 2.0}] * 50}
    while not stop.is_set():
        try:
            _consent(base, eid, "", counts, "no_id")
            got = _consent(base, eid, f"?PROLIFIC_PID=flood-{uuid.uuid4().hex[:12]}&STUDY_ID={study_id}",
                           counts, "forged_id")
            if got is not None:
                sessions.append(got)
            for http in sessions[-3:]:
                csrf = _csrf(http.get(f"{base}/study/{eid}/headphones", timeout=30).text)
                response = http.post(f"{base}/api/study/{eid}/events", json=batch, timeout=30,
                                     headers={"X-CSRFToken": csrf})
                counts[f"events_{response.status_code}"] += 1
        except requests.RequestException as exc:  # the faults of the run hit the flood too
            counts[f"error_{exc.__class__.__name__}"] += 1
    return counts
