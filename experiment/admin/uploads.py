"""Unpacking an uploaded clips zip safely, and finding the manifest of a new study."""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from flask import current_app
from werkzeug.datastructures import FileStorage

from experiment.errors import ExperimentError
from experiment.webdb import now

MAX_ZIP_MEMBERS = 5000


def server_manifest(text: str) -> Path:
    """A manifest.json on the server (a folder means its manifest.json), or ExperimentError."""
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise ExperimentError(f"there is no manifest file at {path} on the server")
    return path


def unpack_upload(upload: FileStorage) -> Path:
    """Unpack an uploaded zip into a new folder under instance/uploads/, refusing unsafe or oversized archives."""
    limit = int(current_app.config["ADMIN_UPLOAD_MAX_BYTES"])
    try:
        archive = zipfile.ZipFile(upload.stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExperimentError(f"the upload {upload.filename!r} is not a zip file ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _junk(m.filename)]
        if not members:
            raise ExperimentError("the zip is empty")
        if len(members) > MAX_ZIP_MEMBERS:
            raise ExperimentError(f"the zip holds {len(members)} files; at most {MAX_ZIP_MEMBERS} are accepted")
        total = sum(m.file_size for m in members)
        if total > limit:
            raise ExperimentError(f"the zip unpacks to {total} bytes, more than the {limit} allowed")
        for m in members:
            _check_member(m)
        root = Path(current_app.instance_path) / "uploads"
        root.mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix=f"{now():%Y%m%dT%H%M%S}-", dir=root))
        try:
            written = 0
            for m in members:
                target = dest.joinpath(*Path(m.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limit:  # the sizes in the zip's directory may lie
                            raise ExperimentError(f"the zip unpacks to more than the {limit} bytes allowed")
                        out.write(chunk)
        except (ExperimentError, zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            if isinstance(exc, ExperimentError):
                raise
            raise ExperimentError(f"the zip could not be unpacked: {exc}") from exc
    return dest


def _junk(name: str) -> bool:
    """Files archivers add that are not part of the clips (macOS resource forks, .DS_Store)."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] in {".DS_Store", "Thumbs.db"}


def _check_member(m: zipfile.ZipInfo) -> None:
    """Refuse absolute paths, '..', drive letters, backslashes and symbolic links inside the zip."""
    name = m.filename
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in parts or not parts:
        raise ExperimentError(f"the zip holds an unsafe path: {name!r}")
    if stat.S_ISLNK(m.external_attr >> 16):
        raise ExperimentError(f"the zip holds a symbolic link: {name!r}")


def find_manifest(folder: Path) -> Path:
    """The one manifest.json in the unpacked zip (at its top or inside one folder)."""
    found = [p for p in (folder / "manifest.json", *folder.glob("*/manifest.json")) if p.is_file()]
    if len(found) != 1:
        where = ", ".join(str(p.relative_to(folder)) for p in found) or "none"
        raise ExperimentError(f"the zip must hold exactly one manifest.json at its top or in one folder (found: "
                              f"{where})")
    return found[0]
