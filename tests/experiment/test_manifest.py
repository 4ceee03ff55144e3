"""Manifest checks: schema, roles, targets, and files (present, hashed, all of one format and size)."""

from __future__ import annotations

import json

import pytest

from experiment.errors import ExperimentError
from experiment.manifest import load_manifest
from experiment_factory import make_manifest, write_wav


@pytest.fixture
def manifest(tmp_path):
    return make_manifest(tmp_path / "m")


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_loads_the_contract_manifest(manifest):
    m = load_manifest(manifest)
    roles = {r: len(m.role(r)) for r in ("reconstruction", "target", "practice_reconstruction", "practice_target")}
    assert roles == {"reconstruction": 48, "target": 48, "practice_reconstruction": 4, "practice_target": 4}
    assert m.songs == ("song1", "song2", "song3", "song4") and len(m.sha256) == 64
    assert all(c.file.is_absolute() for c in m.clips)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema="other/2"), "schema is 'other/2'"),
        (lambda d: d["clips"][1].update(role="weird"), "role 'weird'"),
        (lambda d: d["clips"][1].update(target="nope"), "target 'nope' is not in the manifest"),
        (lambda d: d["clips"][1].update(half=3), "half 1 or 2"),
        (lambda d: d["clips"][1].update(position="late"), "position 'late'"),
        (lambda d: d["clips"][1].update(file="../../etc/passwd"), "inside the manifest's folder"),
        (lambda d: d["clips"][1].update(sha256="0" * 64), "sha256"),
        (lambda d: d["clips"][1].update(file="audio/missing.wav"), "missing or unreadable"),
        (lambda d: d["clips"].append(dict(d["clips"][0])), "appears 2 times"),
        (lambda d: d["clips"][1].pop("song"), "lacks song"),
        (lambda d: d.update(clips=[]), "non-empty list"),
    ],
)
def test_bad_manifests_are_refused_with_a_reason(manifest, change, message):
    with pytest.raises(ExperimentError, match=message):
        load_manifest(edit(manifest, change))


def test_clips_of_different_size_are_refused(manifest):
    write_wav(manifest.parent / "audio" / "r01.wav", 440.0, 1, 0.3)
    with pytest.raises(ExperimentError, match="differ in format, length or size"):
        load_manifest(edit(manifest, lambda d: [c.update(sha256="") for c in d["clips"]]))


def test_not_json_and_missing(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{nope")
    with pytest.raises(ExperimentError, match="not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ExperimentError, match="cannot read manifest"):
        load_manifest(tmp_path / "absent.json")
