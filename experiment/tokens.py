"""Opaque per-session audio URLs: an HMAC of (session, trial, slot), never a clip id, song or side."""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_LENGTH = 32


def audio_token(secret: str, session_id: int, presentation_id: int | None, slot: str) -> str:
    """The URL token for one slot (x, a, b; or a headphone sound) of one trial of one session."""
    message = f"audio|{session_id}|{presentation_id if presentation_id is not None else '-'}|{slot}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:TOKEN_LENGTH]


def same_token(a: str, b: str) -> bool:
    """Constant-time comparison, so timing reveals nothing about a guessed token."""
    return hmac.compare_digest(a.encode(), b.encode())
