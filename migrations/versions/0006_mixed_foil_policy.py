"""The mixed foil policy and the study's observer lines (issue 25).

A study may now hold both kinds of trial (`foil_policy = 'mixed'`: every listener gets different-song and
same-song trials), the default for new studies. `experiment.observer_lines` stores, per foil kind, what the
as-heard ideal observer predicts on the study's trials and over every admissible pair of its clips, and what
identity alone scores (NULL until a run's lines are stored; existing studies keep their policy).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "foil_policy in ('different-song', 'same-song')"
NEW = "foil_policy in ('mixed', 'different-song', 'same-song')"


def _set_check(old: str, new: str) -> None:
    """Replace the foil-policy check. On SQLite the table is not rebuilt: dropping `experiment` would cascade-
    delete every study's sessions (foreign keys are on), so its stored CREATE statement is edited in place, the
    documented way to change a CHECK constraint (sqlite.org/lang_altertable.html)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        with op.batch_alter_table("experiment", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("ck_experiment_foil_policy"), type_="check")
            batch_op.create_check_constraint(op.f("ck_experiment_foil_policy"), new)
        return
    sql = bind.execute(sa.text("select sql from sqlite_master where type = 'table' and name = 'experiment'")).scalar()
    if sql is None or sql.count(old) != 1:
        raise RuntimeError(f"the experiment table's foil_policy check is not {old!r}; cannot migrate it")
    version = bind.execute(sa.text("pragma schema_version")).scalar()
    bind.exec_driver_sql("pragma writable_schema = on")
    bind.execute(sa.text("update sqlite_master set sql = :sql where type = 'table' and name = 'experiment'"),
                 {"sql": sql.replace(old, new)})
    bind.exec_driver_sql(f"pragma schema_version = {int(version) + 1}")
    bind.exec_driver_sql("pragma writable_schema = off")


def upgrade() -> None:
    """Widen the foil-policy check to 'mixed'; add experiment.observer_lines (NULL for existing studies)."""
    _set_check(OLD, NEW)
    op.add_column("experiment", sa.Column("observer_lines", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Refuse to drop mixed studies' meaning silently: downgrading fails while a mixed study exists."""
    bind = op.get_bind()
    mixed = bind.execute(sa.text("select count(*) from experiment where foil_policy = 'mixed'")).scalar()
    if mixed:
        raise RuntimeError(f"{mixed} mixed-policy stud{'y' if mixed == 1 else 'ies'} exist: delete them before "
                           "downgrading below 0006 (their trials mix both foil kinds)")
    op.drop_column("experiment", "observer_lines")
    _set_check(NEW, OLD)
