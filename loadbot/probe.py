"""Before any listener starts: is a tuneback server there, is the study there and open, is the key right?

Each answer that stops the run is one line naming the reason, in seconds, not minutes of retries.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from loadbot.errors import LoadbotError
from loadbot.listener import SIM_HEADER

PROBE_TIMEOUT_S = 5.0


def probe(url: str, experiment_id: int, key: str | None) -> dict[str, Any]:
    """The study's id, name, state, free places and trials per listener, as the server reports them."""
    base = url.rstrip("/") + "/"
    headers = {"Accept": "application/json", **({SIM_HEADER: key} if key else {})}
    try:
        response = requests.get(urljoin(base, f"api/study/{experiment_id}/simulation"), headers=headers,
                                timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as exc:
        raise LoadbotError(_unreachable(url, exc)) from exc
    body = _json(response, url)
    if response.status_code == 404:
        raise LoadbotError(f"there is no study {experiment_id} at {url} ({body.get('message', 'not found')})")
    if response.status_code != 200:
        raise LoadbotError(f"study {experiment_id} at {url} refused the simulation: HTTP {response.status_code}: "
                              f"{body.get('message', '?')}")
    if body.get("state") != "open":
        raise LoadbotError(f"study {experiment_id} ({body.get('name')}) is {body.get('state')}, not open: open it "
                              "in the admin panel first")
    if not body.get("places_free"):
        raise LoadbotError(f"study {experiment_id} ({body.get('name')}) is full: no place is free")
    return body


def newest_open(url: str) -> int:
    """The study `/` sends visitors to (one line naming the reason when there is none or no server)."""
    base = url.rstrip("/") + "/"
    try:
        response = requests.get(base, allow_redirects=False, timeout=PROBE_TIMEOUT_S)
    except requests.RequestException as exc:
        raise LoadbotError(_unreachable(base, exc)) from exc
    path = urlsplit(response.headers.get("Location", "")).path
    parts = [p for p in path.split("/") if p]
    if response.status_code in (301, 302, 303) and len(parts) == 2 and parts[0] == "study" and parts[1].isdigit():
        return int(parts[1])
    raise LoadbotError(f"{base} has no open study to send listeners to (HTTP {response.status_code}); "
                          "name one with --study")


def _json(response: requests.Response, url: str) -> dict[str, Any]:
    """The reply's JSON object, or a one-line error saying this is not a tuneback server."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        kind = response.headers.get("Content-Type", "?").split(";")[0]
        raise LoadbotError(f"{url} does not answer like a tuneback server (HTTP {response.status_code}, {kind})")
    return body


def _unreachable(url: str, exc: requests.RequestException) -> str:
    """Why nothing answered, in one line."""
    reason = "connection refused" if isinstance(exc, requests.ConnectionError) else exc.__class__.__name__
    return (f"no server answers at {url} ({reason}): start it with `tuneback experiment serve` "
            "(or `bash scripts/demo.sh`) and try again")
