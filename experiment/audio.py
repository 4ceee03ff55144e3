"""Clip bytes the browser may receive: plain PCM WAV (only `fmt ` and `data` chunks), exactly as verified.

A WAV's metadata chunks (LIST/INFO titles, `id3 `, `bext`…) could carry a song name to the browser, so a
study accepts only clips made of the two chunks the sound needs, and serves only bytes whose sha256 is the
one checked when the study was created.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

from experiment.errors import ExperimentError

log = logging.getLogger(__name__)

ALLOWED_CHUNKS = ("fmt ", "data")


class ClipIntegrityError(ExperimentError):
    """A clip's bytes on disk are not the ones verified when the study was created."""


def wav_chunks(data: bytes) -> list[str]:
    """The chunk ids of a RIFF/WAVE file in order; ExperimentError if it is not one or is cut short."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ExperimentError("not a RIFF/WAVE file")
    ids, pos = [], 12
    while pos < len(data):
        if pos + 8 > len(data):
            raise ExperimentError(f"a chunk header is cut short at byte {pos}")
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        ids.append(chunk_id.decode("latin-1"))
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
        if pos > len(data) + 1:
            raise ExperimentError(f"chunk {chunk_id!r} runs past the end of the file")
    return ids


def wav_problem(data: bytes) -> str | None:
    """Why these bytes may not be served as a clip (None when they are plain `fmt ` + `data`)."""
    try:
        ids = wav_chunks(data)
    except ExperimentError as exc:
        return str(exc)
    extra = [i for i in ids if i not in ALLOWED_CHUNKS]
    if extra:
        return f"holds chunks beyond fmt/data ({', '.join(repr(i) for i in extra)}): metadata could name the song"
    if ids.count("fmt ") != 1 or ids.count("data") != 1:
        return f"needs exactly one fmt and one data chunk, has {ids}"
    return None


def verified_bytes(path: str | Path, sha256: str) -> bytes:
    """The clip's bytes, only if they still hash to the `sha256` verified at study creation."""
    data = Path(path).read_bytes()
    if not sha256 or hashlib.sha256(data).hexdigest() != sha256:
        log.error("clip %s no longer matches its verified sha256; refusing to serve it", Path(path).name)
        raise ClipIntegrityError(f"clip file {Path(path).name} changed since the study was created")
    return data
