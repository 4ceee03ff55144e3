"""Where the analysed data came from, said first in every output: the study, its data set, its listeners, its state.

A report must never read as final for a study still running, nor as evidence about people or real EEG when the
listeners or the EEG were simulated. The study block comes from the database or the export's export.json
(experiment/provenance.py); the listeners' `simulated` flags from the trial table.
"""

from __future__ import annotations

import pandas as pd

RUNNING_STATES = ("open", "draft")


def provenance(table: pd.DataFrame) -> dict:
    """Study id and name, data set (simulated or not), listeners simulated or not, and final or provisional."""
    study = dict(table.attrs.get("study") or {})
    listeners = table.groupby("listener")["simulated"].any() if "simulated" in table else pd.Series(dtype=bool)
    n_sim, n_all = int(listeners.sum()), int(len(listeners))
    ids = sorted(int(i) for i in table["experiment_id"].dropna().unique()) if "experiment_id" in table else []
    dataset = study.get("dataset") or {}
    out = {
        "study_id": study.get("id", ids[0] if len(ids) == 1 else None),
        "study_name": study.get("name"),
        "study_state": study.get("state"),
        "places": study.get("places"), "completed": study.get("completed"),
        "dataset": dataset.get("name"), "dataset_simulated": dataset.get("simulated"),
        "listeners": n_all, "listeners_simulated": n_sim, "headphone_check": study.get("headphone_check"),
        "listeners_kind": "simulated" if n_all and n_sim == n_all else ("mixed" if n_sim else "real"),
    }
    out["status"] = _status(out)
    out["lines"] = lines(out)
    return out


def _status(p: dict) -> str:
    """'final' (closed, or every place filled by a completed session), 'provisional' (still running) or 'unknown'
    (an export without its export.json)."""
    if p["study_state"] is None:
        return "unknown"
    filled = bool(p["places"]) and (p["completed"] or 0) >= p["places"]
    return "provisional" if p["study_state"] in RUNNING_STATES and not filled else "final"


def lines(p: dict) -> list[str]:
    """The provenance in a few sentences, banners first; never a None in the text."""
    out = []
    if p["dataset_simulated"]:
        out.append(f"SIMULATED DATA SET: the clips were reconstructed from simulated EEG ({p['dataset']}), not from "
                   "people's recordings.")
    if p["listeners_kind"] == "simulated":
        out.append(f"SIMULATED LISTENERS: all {p['listeners']} listeners are simulated (`tuneback experiment "
                   "simulate`), not people; the figures test the pipeline, not human recognition.")
    elif p["listeners_kind"] == "mixed":
        out.append(f"{p['listeners_simulated']} of {p['listeners']} listeners are simulated and were excluded "
                   "(stated rule: simulated listeners never count beside real ones).")
    name = f" “{p['study_name']}”" if p["study_name"] else ""
    study = f"Study {p['study_id']}{name}" if p["study_id"] is not None else "An unnamed study"
    data = f"; data set {p['dataset']}" + (" (simulated EEG)" if p["dataset_simulated"] else "") \
        if p["dataset"] else "; data set not recorded in the input"
    out.append(study + data + ".")
    hp = p.get("headphone_check") or {}
    if hp.get("rule"):
        out.append(f"Headphone screen: {hp.get('test', 'Huggins pitch')}; {hp['rule']}; about "
                   f"{100 * float(hp.get('expected_loudspeaker_pass_rate') or 0):.0f}% of loudspeaker users are "
                   f"expected to pass (source: {hp.get('expected_rate_source', 'Milne et al. 2021')}).")
    if p["status"] == "provisional":
        out.append(f"PROVISIONAL: the study is still {p['study_state']}; "
                   f"{_of(p['completed'], p['places'])} complete. These figures will change.")
    elif p["status"] == "final" and p["study_state"] in RUNNING_STATES:
        out.append(f"Complete: {_of(p['completed'], p['places'])} done, every place filled (the study is still "
                   f"{p['study_state']}; close it in the panel).")
    elif p["status"] == "final":
        out.append(f"Final: the study is {p['study_state']}; {_of(p['completed'], p['places'])} complete.")
    else:
        out.append("Whether the study was finished is not known (the export's export.json was not beside it).")
    return out


def _of(done: int | None, places: int | None) -> str:
    """'3 of 16 sessions' (without unknown parts)."""
    if done is None:
        return "an unknown number of sessions"
    return f"{done} of {places} sessions" if places else f"{done} sessions"
