"""Read MATLAB files, v5 (scipy.io) and v7.3 (HDF5), into one Python shape, failing in one clear line.

Both formats go through :func:`pymatreader.read_mat`, which undoes the v7.3 column-major layout (HDF5
stores a MATLAB ``125 x 250 x 20`` array as ``20 x 250 x 125``) so the same data gives the same
array whichever way MATLAB saved it. Values come back simplified the same way for both formats:
singleton dimensions squeezed, scalars as Python numbers, char arrays as ``str``, cells as ``list``,
structs as ``dict``.

.. autosummary::
   read_mat
   whos
   get_array
   get_fs
   get_strings
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pymatreader
from scipy.io.matlab import MatReadError, MatReadWarning

from reconstruct.errors import DataFormatError
from reconstruct.recording import EEG_FS

# What scipy, h5py and zlib raise (or warn) on a file they cannot parse; MemoryError is deliberately absent.
_PARSE_ERRORS = (
    MatReadError, ValueError, OSError, TypeError, KeyError, IndexError, RuntimeError, EOFError,
    NotImplementedError, zlib.error, MatReadWarning,
)
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SCIPY_EXTRAS = ("__header__", "__version__", "__globals__")


class MatVariable(NamedTuple):
    """One variable listed by :func:`whos`: its name, MATLAB shape and MATLAB class."""

    name: str
    shape: tuple[int, ...]
    mclass: str


def read_mat(path: str | Path, *, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Read a v5 or v7.3 MAT file so callers never care which MATLAB wrote it.

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file.
    keys : iterable of str, optional
        Read only these variables (saves memory on multi-GB files); each must exist.

    Returns
    -------
    dict
        Variable name -> value (``np.ndarray``, number, ``str``, ``list`` or ``dict``).

    Raises
    ------
    DataFormatError
        The file is missing, empty, not a MAT file, truncated or corrupt, or lacks one of `keys`
        (the message lists the variables it does have).
    """
    path = Path(path)
    names = [v.name for v in whos(path)]
    wanted = None if keys is None else list(keys)
    for key in wanted or ():
        if key not in names:
            raise DataFormatError(_missing_key_message(path, key, names))
    contents = _parse(path, lambda: pymatreader.read_mat(path, variable_names=wanted))
    return {k: v for k, v in contents.items() if k not in _SCIPY_EXTRAS}


def whos(path: str | Path) -> list[MatVariable]:
    """List a MAT file's variables without loading their data, to pick or report keys cheaply."""
    path = Path(path)
    _check_readable(path)
    _check_v5_complete(path)
    listing = _parse(path, lambda: pymatreader.whosmat(path))
    return [MatVariable(str(n), tuple(int(d) for d in shape), str(c)) for n, shape, c in listing]


def get_array(contents: Mapping[str, Any], key: str, path: str | Path, *,
              ndim: int | None = None, layout: str = "") -> np.ndarray:
    """Return variable `key` as a real numeric array, so type and shape errors name the file and key.

    `layout` (e.g. ``"channels x samples x participants"``) is only used to explain a wrong `ndim`.
    """
    value = _require(contents, key, path)
    array = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int, float)) else None
    if array is None or array.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: variable '{key}' is {_describe(value)}, expected a numeric array")
    if ndim is not None and array.ndim != ndim:
        expected = f"{ndim} dimensions" + (f" ({layout})" if layout else "")
        raise DataFormatError(f"{path}: variable '{key}' has shape {array.shape}, expected {expected}")
    if array.size == 0:
        raise DataFormatError(f"{path}: variable '{key}' is empty")
    return array


def get_fs(contents: Mapping[str, Any], key: str, path: str | Path, *,
           expected: float | None = EEG_FS) -> float:
    """Return the sampling rate stored under `key`, refusing anything but `expected` Hz when given."""
    value = _require(contents, key, path)
    array = np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int, float)) else None
    if array is None or array.size != 1 or array.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: variable '{key}' is {_describe(value)}, expected one sampling rate in Hz")
    fs = float(array.reshape(()))
    if not np.isfinite(fs) or fs <= 0:
        raise DataFormatError(f"{path}: sampling rate '{key}' = {fs} must be a positive number of Hz")
    if expected is not None and abs(fs - expected) > 1e-6:
        raise DataFormatError(f"{path}: sampling rate '{key}' = {fs:g} Hz, expected {expected:g} Hz")
    return fs


def get_strings(contents: Mapping[str, Any], key: str, path: str | Path) -> list[str]:
    """Return ids stored as a cell of strings, a char matrix or numbers, as a list of str."""
    value = _require(contents, key, path)
    if isinstance(value, str):
        return [value.strip()]
    items = value.ravel().tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(items, list) or not all(isinstance(i, (str, int, float)) for i in items):
        raise DataFormatError(f"{path}: variable '{key}' is {_describe(value)}, expected a list of ids")
    return [_id_to_str(i) for i in items]


def _id_to_str(item: str | int | float) -> str:
    """Spell an id the way a person would: '7' rather than '7.0'."""
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return str(item).strip()


def _require(contents: Mapping[str, Any], key: str, path: str | Path) -> Any:
    """Return contents[key] or fail listing the keys the file does have."""
    if key not in contents:
        raise DataFormatError(_missing_key_message(path, key, list(contents)))
    return contents[key]


def _missing_key_message(path: str | Path, key: str, names: Iterable[str]) -> str:
    """Say which variable is missing and which ones are there, so a wrong guess is easy to fix."""
    have = ", ".join(sorted(names)) or "no variables"
    return f"{path}: no variable '{key}'; the file has: {have}"


def _describe(value: Any) -> str:
    """Name a value's type and shape for an error message."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _check_readable(path: Path) -> None:
    """Fail early, naming the file, when there is nothing to parse."""
    if not path.exists():
        raise DataFormatError(f"{path}: file not found")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path}: file is empty (0 bytes)")


def _check_v5_complete(path: Path) -> None:
    """Walk a v5 file's top-level tags: scipy lists a truncated file's surviving variables silently."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        header = fh.read(128)
        if not header.startswith(b"MATLAB 5.0") or header[126:128] not in (b"IM", b"MI"):
            return  # v7.3, v4 or not a MAT file: h5py and scipy report those themselves
        byteorder = "little" if header[126:128] == b"IM" else "big"
        offset = 128
        while offset < size:
            tag = fh.read(8)
            nbytes = int.from_bytes(tag[4:8], byteorder) if len(tag) == 8 else 0
            if len(tag) < 8 or offset + 8 + nbytes > size:
                raise DataFormatError(f"{path}: truncated or corrupt MATLAB v5 file (a variable at byte "
                                      f"{offset} runs past the end of the {size}-byte file)")
            offset += 8 + nbytes
            fh.seek(offset)


def _parse(path: Path, read: Callable[[], Any]) -> Any:
    """Run a pymatreader call, turning any parse failure into one line that says what is wrong."""
    try:
        with warnings.catch_warnings():
            # scipy warns about, then skips, unreadable variables; a half-read file is a corrupt file.
            warnings.simplefilter("error", category=MatReadWarning)
            return read()
    except _PARSE_ERRORS as exc:
        raise DataFormatError(_failure_message(path, exc)) from exc


def _failure_message(path: Path, exc: BaseException) -> str:
    """Classify a parse failure from the file's first bytes: not a MAT file, or a damaged one."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    reason = " ".join(str(exc).split()) or exc.__class__.__name__
    if head.startswith(b"MATLAB 7.3") or _HDF5_SIGNATURE in head:
        return f"{path}: truncated or corrupt MATLAB v7.3 (HDF5) file ({reason})"
    if head.startswith(b"MATLAB"):
        return f"{path}: truncated or corrupt MATLAB v5 file ({reason})"
    return f"{path}: not a MAT file (no MATLAB header; starts with {head[:16]!r})"
