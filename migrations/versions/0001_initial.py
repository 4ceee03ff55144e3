"""Initial schema: every table of the design (clip … audit_log).

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Timestamps are stored as UTC (naive on SQLite; `experiment.models.UTCDateTime` converts).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "admin_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_utc", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_user")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_user_username")),
    )
    op.create_table(
        "experiment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("foil_policy", sa.String(length=32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("manifest_path", sa.String(length=1024), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest_info", sa.JSON(), nullable=False),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_utc", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("foil_policy in ('different-song', 'same-song')", name=op.f("ck_experiment_foil_policy")),
        sa.CheckConstraint("state in ('draft', 'open', 'closed')", name=op.f("ck_experiment_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("admin_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_user_id"],
            ["admin_user.id"],
            name=op.f("fk_audit_log_admin_user_id_admin_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_admin_user_id"), ["admin_user_id"], unique=False)

    op.create_table(
        "clip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("song", sa.String(length=128), nullable=False),
        sa.Column("eeg_participant", sa.String(length=128), nullable=True),
        sa.Column("position", sa.String(length=16), nullable=True),
        sa.Column("onset_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("half", sa.Integer(), nullable=True),
        sa.Column("target_key", sa.String(length=64), nullable=True),
        sa.Column("file_path", sa.String(length=1024), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "role in ('reconstruction', 'target', 'practice_reconstruction', 'practice_target')",
            name=op.f("ck_clip_role"),
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiment.id"], name=op.f("fk_clip_experiment_id_experiment"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip")),
        sa.UniqueConstraint("experiment_id", "key", name=op.f("uq_clip_experiment_id_key")),
    )
    with op.batch_alter_table("clip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clip_experiment_id"), ["experiment_id"], unique=False)

    op.create_table(
        "version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.CheckConstraint("quota >= 0", name=op.f("ck_version_quota")),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiment.id"], name=op.f("fk_version_experiment_id_experiment"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version")),
        sa.UniqueConstraint("experiment_id", "number", name=op.f("uq_version_experiment_id_number")),
    )
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_experiment_id"), ["experiment_id"], unique=False)

    op.create_table(
        "session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("listener", sa.String(length=32), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("prolific_pid", sa.String(length=64), nullable=True),
        sa.Column("prolific_study_id", sa.String(length=64), nullable=True),
        sa.Column("prolific_session_id", sa.String(length=64), nullable=True),
        sa.Column("consent_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("headphone_score", sa.Integer(), nullable=True),
        sa.Column("headphone_trials", sa.Integer(), nullable=True),
        sa.Column("headphone_passed", sa.Boolean(), nullable=True),
        sa.Column("volume", sa.Float(), nullable=True),
        sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("withdrawn_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("completion_code", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.CheckConstraint(
            "stage in ('headphone', 'instructions', 'task', 'questionnaire', 'done')", name=op.f("ck_session_stage")
        ),
        sa.CheckConstraint(
            "status in ('active', 'completed', 'timed_out', 'abandoned')", name=op.f("ck_session_status")
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiment.id"], name=op.f("fk_session_experiment_id_experiment"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["version.id"], name=op.f("fk_session_version_id_version"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
        sa.UniqueConstraint("experiment_id", "prolific_pid", name=op.f("uq_session_experiment_id_prolific_pid")),
        sa.UniqueConstraint("listener", name=op.f("uq_session_listener")),
        sa.UniqueConstraint("token", name=op.f("uq_session_token")),
    )
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_experiment_id"), ["experiment_id"], unique=False)
        batch_op.create_index("ix_session_version_id_status", ["version_id", "status"], unique=False)

    op.create_table(
        "trial_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("practice", sa.Boolean(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=32), nullable=False),
        sa.Column("target_clip_id", sa.Integer(), nullable=False),
        sa.Column("match_clip_id", sa.Integer(), nullable=False),
        sa.Column("foil_clip_id", sa.Integer(), nullable=False),
        sa.Column("correct_side", sa.String(length=1), nullable=False),
        sa.CheckConstraint("correct_side in ('A', 'B')", name=op.f("ck_trial_template_correct_side")),
        sa.ForeignKeyConstraint(
            ["foil_clip_id"], ["clip.id"], name=op.f("fk_trial_template_foil_clip_id_clip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["match_clip_id"], ["clip.id"], name=op.f("fk_trial_template_match_clip_id_clip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_clip_id"], ["clip.id"], name=op.f("fk_trial_template_target_clip_id_clip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["version.id"], name=op.f("fk_trial_template_version_id_version"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_template")),
        sa.UniqueConstraint("version_id", "item", name=op.f("uq_trial_template_version_id_item")),
        sa.UniqueConstraint(
            "version_id", "practice", "index", name=op.f("uq_trial_template_version_id_practice_index")
        ),
    )
    with op.batch_alter_table("trial_template", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_template_version_id"), ["version_id"], unique=False)

    op.create_table(
        "presentation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("practice", sa.Boolean(), nullable=False),
        sa.Column("order_index", sa.Integer(), nullable=False),
        sa.Column("correct_side", sa.String(length=1), nullable=False),
        sa.Column("presented_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=1), nullable=True),
        sa.Column("client_answer_id", sa.String(length=64), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.CheckConstraint("answer is null or answer in ('A', 'B')", name=op.f("ck_presentation_answer")),
        sa.CheckConstraint("correct_side in ('A', 'B')", name=op.f("ck_presentation_correct_side")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_presentation_session_id_session"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["trial_template.id"],
            name=op.f("fk_presentation_template_id_trial_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presentation")),
        sa.UniqueConstraint("session_id", "client_answer_id", name=op.f("uq_presentation_session_id_client_answer_id")),
        sa.UniqueConstraint(
            "session_id", "practice", "order_index", name=op.f("uq_presentation_session_id_practice_order_index")
        ),
    )
    with op.batch_alter_table("presentation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presentation_session_id"), ["session_id"], unique=False)

    op.create_table(
        "questionnaire",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_utc", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_questionnaire_session_id_session"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire")),
        sa.UniqueConstraint("session_id", name=op.f("uq_questionnaire_session_id")),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("presentation_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.String(length=8), nullable=True),
        sa.Column("client_ms", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["presentation_id"],
            ["presentation.id"],
            name=op.f("fk_event_presentation_id_presentation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_event_session_id_session"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_presentation_id"), ["presentation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_session_id"))
        batch_op.drop_index(batch_op.f("ix_event_presentation_id"))

    op.drop_table("event")
    op.drop_table("questionnaire")
    with op.batch_alter_table("presentation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presentation_session_id"))

    op.drop_table("presentation")
    with op.batch_alter_table("trial_template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_template_version_id"))

    op.drop_table("trial_template")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_index("ix_session_version_id_status")
        batch_op.drop_index(batch_op.f("ix_session_experiment_id"))

    op.drop_table("session")
    with op.batch_alter_table("version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_experiment_id"))

    op.drop_table("version")
    with op.batch_alter_table("clip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clip_experiment_id"))

    op.drop_table("clip")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_admin_user_id"))

    op.drop_table("audit_log")
    op.drop_table("experiment")
    op.drop_table("admin_user")
