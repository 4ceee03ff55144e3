"""What the experimenter should see before a study opens (issue 29): missing participant texts, the headphone
screen's expected error rate, and how to fill the study with simulated listeners (clearly flagged)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from experiment.models import Experiment
from experiment.provenance import headphone_rule
from experiment.settings import StudySettings
from experiment.simulation import simulation_key

REQUIRED_TEXTS = {"researcher_contact": "researcher contact", "ethics_reference": "ethics approval reference",
                  "data_retention": "data retention"}
"""The consent page tells participants these; empty, it says nothing the participant can act on."""


def missing_texts(experiment: Experiment) -> list[str]:
    """The consent-page texts this study leaves empty."""
    settings = StudySettings.of(experiment)
    return [label for key, label in REQUIRED_TEXTS.items() if not str(getattr(settings, key) or "").strip()]


def study_notes(experiment: Experiment) -> dict[str, Any]:
    """Warnings and facts for the study page: missing texts, the headphone rule, the simulation command."""
    settings = StudySettings.of(experiment)
    key = simulation_key(current_app.config["SECRET_KEY"], experiment.id)
    base = request.host_url.rstrip("/")
    dataset = (experiment.manifest_info or {}).get("dataset") or {}
    return {
        "missing_texts": missing_texts(experiment),
        "headphone": headphone_rule(settings),
        "require_listening": settings.require_listening,
        "second_device": settings.second_device,
        "simulated_dataset": bool(dataset.get("simulated")), "dataset": dataset.get("name"),
        "simulation_key": key,
        "simulate_command": f"tuneback experiment simulate --url {base} --study {experiment.id} --n 16 --key {key}",
    }
