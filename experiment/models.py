"""The study's tables (SQLAlchemy 2 declarative); imports only SQLAlchemy so analysis can share them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Stable constraint names, so Alembic migrations name things the same on SQLite and PostgreSQL."""


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite, aware elsewhere)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: server timestamps must be timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY auto-increments."""


def utcnow() -> datetime:
    """The server's clock, aware and in UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base with the project's constraint naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON()}


class Experiment(Base):
    """A study built from one manifest: its versions, state, foil policy, seed and settings."""

    __tablename__ = "experiment"
    __table_args__ = (
        sa.CheckConstraint("state in ('draft', 'open', 'closed')", name="state"),
        sa.CheckConstraint("foil_policy in ('mixed', 'different-song', 'same-song')", name="foil_policy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    foil_policy: Mapped[str] = mapped_column(sa.String(32), default="mixed")
    observer_lines: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(), nullable=True)
    """Per foil kind: the as-heard ideal observer (study's trials, every admissible pair) and identity alone."""
    seed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest_path: Mapped[str] = mapped_column(sa.String(1024))
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    manifest_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_utc: Mapped[datetime] = mapped_column(default=utcnow)
    opened_utc: Mapped[datetime | None]
    closed_utc: Mapped[datetime | None]
    archived_utc: Mapped[datetime | None]
    """When a finished study was archived (hidden from the list, still exported, never reopened); None: not."""

    versions: Mapped[list[Version]] = relationship(
        back_populates="experiment", order_by="Version.number", cascade="all, delete-orphan"
    )
    clips: Mapped[list[Clip]] = relationship(back_populates="experiment", cascade="all, delete-orphan")


class Clip(Base):
    """One audio file of the manifest (target, reconstruction or practice), kept server-side only."""

    __tablename__ = "clip"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "key"),
        sa.CheckConstraint(
            "role in ('reconstruction', 'target', 'practice_reconstruction', 'practice_target')", name="role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(32))
    song: Mapped[str] = mapped_column(sa.String(128))
    eeg_participant: Mapped[str | None] = mapped_column(sa.String(128))
    position: Mapped[str | None] = mapped_column(sa.String(16))
    onset_s: Mapped[float | None] = mapped_column(sa.Float)
    duration_s: Mapped[float] = mapped_column(sa.Float)
    half: Mapped[int | None]
    target_key: Mapped[str | None] = mapped_column(sa.String(64))
    file_path: Mapped[str] = mapped_column(sa.String(1024))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int]

    experiment: Mapped[Experiment] = relationship(back_populates="clips")


class Version(Base):
    """A counterbalancing version (1 or 2) of a study, with its participant quota."""

    __tablename__ = "version"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "number"), sa.CheckConstraint("quota >= 0", name="quota"))

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    quota: Mapped[int] = mapped_column(default=8)

    experiment: Mapped[Experiment] = relationship(back_populates="versions")
    templates: Mapped[list[TrialTemplate]] = relationship(
        back_populates="version",
        order_by="(TrialTemplate.practice.desc(), TrialTemplate.index)",
        cascade="all, delete-orphan",
    )


class TrialTemplate(Base):
    """One AB-X item of a version: X (target), its matching reconstruction and the foil."""

    __tablename__ = "trial_template"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "item"),
        sa.UniqueConstraint("version_id", "practice", "index"),
        sa.CheckConstraint("correct_side in ('A', 'B')", name="correct_side"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("version.id", ondelete="CASCADE"), index=True)
    practice: Mapped[bool] = mapped_column(default=False)
    index: Mapped[int]
    item: Mapped[str] = mapped_column(sa.String(32))
    target_clip_id: Mapped[int] = mapped_column(sa.ForeignKey("clip.id", ondelete="CASCADE"))
    match_clip_id: Mapped[int] = mapped_column(sa.ForeignKey("clip.id", ondelete="CASCADE"))
    foil_clip_id: Mapped[int] = mapped_column(sa.ForeignKey("clip.id", ondelete="CASCADE"))
    correct_side: Mapped[str] = mapped_column(sa.String(1))

    version: Mapped[Version] = relationship(back_populates="templates")
    target_clip: Mapped[Clip] = relationship(foreign_keys=[target_clip_id])
    match_clip: Mapped[Clip] = relationship(foreign_keys=[match_clip_id])
    foil_clip: Mapped[Clip] = relationship(foreign_keys=[foil_clip_id])


class ParticipantSession(Base):
    """One participant's run through the study (table `session`): version, seed, status, checks, timing."""

    __tablename__ = "session"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "prolific_pid"),
        sa.CheckConstraint("status in ('active', 'completed', 'timed_out', 'abandoned', 'screened_out')",
                           name="status"),
        sa.CheckConstraint(
            "stage in ('headphone', 'instructions', 'task', 'questionnaire', 'done')", name="stage"
        ),
        sa.Index("ix_session_version_id_status", "version_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.ForeignKey("experiment.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("version.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    listener: Mapped[str] = mapped_column(sa.String(32), unique=True)
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    """The trial order and sides seed: HMAC of the server secret and the session (sessions.derive_seed)."""
    headphone_seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    """The headphone sounds' seed, derived apart from `seed`; NULL on sessions older than migration 0003."""
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    stage: Mapped[str] = mapped_column(sa.String(16), default="headphone")
    prolific_pid: Mapped[str | None] = mapped_column(sa.String(64))
    prolific_study_id: Mapped[str | None] = mapped_column(sa.String(64))
    prolific_session_id: Mapped[str | None] = mapped_column(sa.String(64))
    consent_utc: Mapped[datetime | None]
    headphone_score: Mapped[int | None]
    headphone_trials: Mapped[int | None]
    headphone_passed: Mapped[bool | None]
    headphone_attempts: Mapped[int | None]
    """Headphone checks submitted (a retry draws new sounds); NULL on sessions older than migration 0004."""
    volume: Mapped[float | None] = mapped_column(sa.Float)
    started_utc: Mapped[datetime] = mapped_column(default=utcnow)
    finished_utc: Mapped[datetime | None]
    last_seen_utc: Mapped[datetime | None]
    withdrawn: Mapped[bool] = mapped_column(default=False)
    preview: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    simulated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """Made by `tuneback experiment simulate` with the study's simulation key (experiment/simulation.py)."""
    withdrawn_utc: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)
    completion_code: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))

    version: Mapped[Version] = relationship()
    presentations: Mapped[list[Presentation]] = relationship(
        back_populates="session",
        order_by="(Presentation.practice.desc(), Presentation.order_index)",
        cascade="all, delete-orphan",
    )


class Presentation(Base):
    """One trial as drawn for one session: order, correct side, times, answer and its client id."""

    __tablename__ = "presentation"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "client_answer_id"),
        sa.UniqueConstraint("session_id", "practice", "order_index"),
        sa.CheckConstraint("correct_side in ('A', 'B')", name="correct_side"),
        sa.CheckConstraint("answer is null or answer in ('A', 'B')", name="answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("session.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("trial_template.id", ondelete="CASCADE"))
    practice: Mapped[bool] = mapped_column(default=False)
    order_index: Mapped[int]
    correct_side: Mapped[str] = mapped_column(sa.String(1))
    presented_utc: Mapped[datetime | None]
    answered_utc: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(sa.String(1))
    client_answer_id: Mapped[str | None] = mapped_column(sa.String(64))
    correct: Mapped[bool | None]
    timed_out: Mapped[bool] = mapped_column(default=False)
    catch: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """A catch trial (X played again on the correct side, experiment/catch.py): shown like any trial, never scored."""

    session: Mapped[ParticipantSession] = relationship(back_populates="presentations")
    template: Mapped[TrialTemplate] = relationship()


class Event(Base):
    """An append-only log line: a play, an end, a tab hide, an answer, a time-out…"""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("session.id", ondelete="CASCADE"), index=True)
    presentation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("presentation.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32))
    slot: Mapped[str | None] = mapped_column(sa.String(8))
    client_ms: Mapped[float | None] = mapped_column(sa.Float)
    detail: Mapped[dict[str, Any] | None]
    created_utc: Mapped[datetime] = mapped_column(default=utcnow)


class Questionnaire(Base):
    """The short end-of-study questionnaire of one session."""

    __tablename__ = "questionnaire"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("session.id", ondelete="CASCADE"), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_utc: Mapped[datetime] = mapped_column(default=utcnow)


class AdminUser(Base):
    """An experimenter account: hashed password and lock-out counters."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_utc: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_utc: Mapped[datetime | None]


class AuditLog(Base):
    """Who did what to which study or participant, and when (withdrawals, erasures, state changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    admin_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("admin_user.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str | None] = mapped_column(sa.String(255))
    detail: Mapped[dict[str, Any] | None]
    created_utc: Mapped[datetime] = mapped_column(default=utcnow)
