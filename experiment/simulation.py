"""Simulation mode: simulated listeners that prove they are simulated, so the limits let them in and the data say so.

`tuneback experiment simulate` sends the study's simulation key in the `X-Tuneback-Simulation` header on every
request. The key is an HMAC of the server's secret and the study id, so only someone holding the server's secret
(the experimenter, on the server's machine or from the admin panel) can make one; nothing is stored. A request with
the right key is exempt from the rate limits and the per-address cap on places (one machine fills a study), and the
session it opens is stored with `simulated = true`, which every export carries and the analysis acts on.
A wrong key is refused (403 with the reason), never silently treated as a person.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Tuneback-Simulation"
SIM_PID_PREFIX = "sim-"
"""Prolific ids the simulator uses; sessions made before migration 0007 are recognised as simulated by these."""


def simulation_key(secret: str, experiment_id: int) -> str:
    """The study's simulation key: HMAC-SHA256 of the server secret and the study id (hex, 32 characters)."""
    message = f"tuneback-simulate|{experiment_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def key_status(secret: str, experiment_id: int, sent: str | None) -> bool | None:
    """None: no key sent (a person); True: the study's key; False: a wrong key (refuse it)."""
    if not sent:
        return None
    return hmac.compare_digest(sent.strip(), simulation_key(secret, experiment_id))


def looks_simulated(pid: str | None, flag: bool | None = None) -> bool:
    """Whether a session is simulated: its flag, or (sessions older than 0007) a `sim-` Prolific id."""
    return bool(flag) or bool(pid and pid.startswith(SIM_PID_PREFIX))
