"""The experimenter's admin panel: login, studies (create, open, close, quotas, preview), live progress,
participants (withdraw, erase on request), the audit log, exports and the analysis report.

One blueprint `bp` (experiment.admin.core), its routes split by concern into the modules below; importing
the package registers them all. Every route but the login page refuses anonymous callers, and every change is
written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

from experiment.admin import access, audit_log, exports, participants, previews, reports, studies  # noqa: F401
from experiment.admin.core import bp, init_app

__all__ = ["bp", "init_app"]
