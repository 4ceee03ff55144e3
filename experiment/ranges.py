"""HTTP byte ranges (RFC 9110 §14) for audio: Safari will not play media served without them."""

from __future__ import annotations

import re

_SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the resource does not have (HTTP 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) of a single byte range, None to send the whole body.

    Multi-range and malformed headers are ignored (the whole body is a valid answer to them);
    a syntactically valid range that lies outside the resource raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _SINGLE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable
        return max(0, size - n), size - 1
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = int(last) if last else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)
