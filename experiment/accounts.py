"""Experimenter accounts beyond creating them (experiment.auth.create_user): deactivate, reset a password.

A deactivated account keeps its row (the audit log names it) with its password hash prefixed by "!", as
/etc/shadow locks an account: no password matches it, and every login made before (bound to the hash by
experiment.auth's fingerprint) stops working at its next request. Setting a new password makes it active again.
The panel and the CLI call these; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from experiment.auth import DISABLED_PREFIX, SETTINGS, check_new_password, hash_password, record_audit
from experiment.errors import ExperimentError
from experiment.models import AdminUser


class AccountConflict(ExperimentError):
    """A change the accounts' state forbids (deactivating yourself or the last active admin): HTTP 409."""


def is_active(user: AdminUser) -> bool:
    """Whether the account can log in (not deactivated)."""
    return not user.password_hash.startswith(DISABLED_PREFIX)


def active_admins(db: Session, *, lock: bool = False) -> list[AdminUser]:
    """Every active account; `lock` holds their rows so two deactivations cannot both pass the last-admin check."""
    query = sa.select(AdminUser).order_by(AdminUser.id)
    if lock:
        query = query.with_for_update()
    return [u for u in db.scalars(query) if is_active(u)]


def deactivate(db: Session, user: AdminUser, *, by: AdminUser | None, now: datetime) -> None:
    """Deactivate an account: it cannot log in and its open sessions end; never yourself or the last active one."""
    if not is_active(user):
        return
    if by is not None and by.id == user.id:
        raise AccountConflict("you cannot deactivate your own account: ask another admin")
    if not [u for u in active_admins(db, lock=True) if u.id != user.id]:
        raise AccountConflict(f"{user.username!r} is the last active admin: create another admin first")
    user.password_hash = DISABLED_PREFIX + user.password_hash
    record_audit(db, by.id if by else None, "deactivate_user", f"admin_user:{user.username}", None, now)


def reset_password(db: Session, user: AdminUser, password: str, *, by: AdminUser | None, now: datetime,
                   method: str | None = None, min_length: int = SETTINGS["ADMIN_PASSWORD_MIN_LENGTH"]) -> None:
    """Set a new password (ending every login made with the old one), lift any lock-out, reactivate the account."""
    check_new_password(password, min_length)
    was_active = is_active(user)
    user.password_hash = hash_password(password, method)
    user.failed_logins = 0
    user.locked_until = None
    record_audit(db, by.id if by else None, "reset_password", f"admin_user:{user.username}",
                 {"via": "panel" if by else "cli", "reactivated": not was_active}, now)
