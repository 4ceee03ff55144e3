"""The audit log page."""

from __future__ import annotations

import math

import sqlalchemy as sa
from flask import render_template, request

from experiment.admin.core import bp
from experiment.models import AdminUser, AuditLog
from experiment.params import whole_number
from experiment.webdb import get_db

AUDIT_PAGE = 100


@bp.get("/audit")
def audit() -> str:
    """The audit log, newest first: who did what to which study or participant, and when."""
    page_no = whole_number(request.args.get("page"), lo=1, hi=10**6 - 1) or 1
    db = get_db()
    total = db.scalar(sa.select(sa.func.count()).select_from(AuditLog)) or 0
    rows = db.execute(sa.select(AuditLog, AdminUser.username).outerjoin(
        AdminUser, AdminUser.id == AuditLog.admin_user_id).order_by(AuditLog.id.desc())
        .limit(AUDIT_PAGE).offset((page_no - 1) * AUDIT_PAGE)).all()
    pages = max(1, math.ceil(total / AUDIT_PAGE))
    return render_template("admin/audit.html", rows=rows, page=page_no, pages=pages, total=total)
