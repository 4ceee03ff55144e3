"""Whole numbers from query strings and form fields: ASCII digits only, in a range, or None."""

from __future__ import annotations

MAX_ID = 2**31 - 1
"""No row id is larger; a bigger number would overflow SQLite (a 500) or be refused by PostgreSQL."""


def whole_number(raw: str | None, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """`raw` as an int in [lo, hi], or None: '²' or '٣' (str.isdigit() says yes, int() may not) and '1e9' are not.

    :param raw: the text as it came from the request (surrounding blanks allowed).
    """
    text = (raw or "").strip()
    if not text or len(text) > len(str(hi)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if lo <= value <= hi else None
