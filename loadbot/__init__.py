"""The load-test bot: simulated listeners that drive a running study over HTTP, as browsers do.

A client of the web app's public pages and JSON API, not part of the app: it needs only the study's URL.
`simulate(SimulationConfig(url=..., n=20))` is the entry point (`tuneback experiment simulate` calls it, as do
benchmarks/bench_load.py and the tests).

- ``config``: the run's settings (`SimulationConfig`) and results (`ListenerResult`, `SimulationReport`);
- ``ears``: how a simulated listener decides (A or B, the Huggins interval, clip lengths);
- ``listener``: one simulated browser (`Listener`) and the run of N of them (`simulate`).
"""

from __future__ import annotations

from loadbot.config import ListenerResult, SimulationConfig, SimulationFailure, SimulationReport, percentile_ms
from loadbot.ears import EARS, clip_seconds, hear, hear_in_time, huggins_interval, listen
from loadbot.listener import simulate

__all__ = ["EARS", "hear_in_time", "listen", "ListenerResult", "SimulationConfig", "SimulationFailure", "SimulationReport", "clip_seconds", "hear",
           "huggins_interval", "percentile_ms", "simulate"]
