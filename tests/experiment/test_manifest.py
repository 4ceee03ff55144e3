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
    assert roles == {"reconstruction": 48, "target": 48, "practice_reconstruction": 8, "practice_target": 8}
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
    sha = write_wav(manifest.parent / "audio" / "r01.wav", 440.0, 1, 0.3)
    with pytest.raises(ExperimentError, match="differ in format, length or size"):
        load_manifest(edit(manifest, lambda d: next(c for c in d["clips"] if c["id"] == "r01").update(sha256=sha)))


def test_not_json_and_missing(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{nope")
    with pytest.raises(ExperimentError, match="not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ExperimentError, match="cannot read manifest"):
        load_manifest(tmp_path / "absent.json")


# Defect 6 of issue 14: hashes are required and verified, clips carry no metadata chunks, loudness is checked.


def _rewrite(manifest, clip_id: str, data: bytes) -> None:
    """Replace one clip's bytes and record their new hash (so only the property under test is wrong)."""
    import hashlib

    entry = next(c for c in json.loads(manifest.read_text())["clips"] if c["id"] == clip_id)
    (manifest.parent / entry["file"]).write_bytes(data)
    edit(manifest, lambda d: next(c for c in d["clips"] if c["id"] == clip_id).update(
        sha256=hashlib.sha256(data).hexdigest()))


def test_a_clip_without_its_sha256_is_refused(manifest):
    with pytest.raises(ExperimentError, match="r01: sha256 is missing"):
        load_manifest(edit(manifest, lambda d: next(c for c in d["clips"] if c["id"] == "r01").pop("sha256")))


def test_a_clip_with_a_metadata_chunk_is_refused(manifest):
    import struct

    wav = (manifest.parent / "audio" / "r01.wav").read_bytes()
    title = b"INAM" + struct.pack("<I", 6) + b"song1\x00"
    info = b"LIST" + struct.pack("<I", 4 + len(title)) + b"INFO" + title
    body = wav[12:] + info
    _rewrite(manifest, "r01", b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body)
    with pytest.raises(ExperimentError, match=r"r01: r01.wav holds chunks beyond fmt/data \('LIST'\)"):
        load_manifest(manifest)


def test_loudness_is_checked_against_the_manifest(tmp_path):
    import numpy as np
    import soundfile

    manifest = make_manifest(tmp_path / "loud", duration_s=1.0)
    edit(manifest, lambda d: d["params"].update(loudness_lufs=-13.5))
    assert len(load_manifest(manifest).clips) == 112  # every clip within 1 LU of the stated loudness
    path = manifest.parent / "audio" / "r05.wav"
    y, sr = soundfile.read(str(path), dtype="int16")
    soundfile.write(str(path), (y // 2).astype(np.int16), sr, subtype="PCM_16")  # 6 dB quieter
    _rewrite(manifest, "r05", path.read_bytes())
    with pytest.raises(ExperimentError, match=r"r05: loudness -19\.\d LUFS, the manifest says -13\.5"):
        load_manifest(manifest)
