"""Rituals: the evening check-out (`checkouts`) and a 小组PK's stake (`competitions.stake`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("pinned_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_checkouts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_checkouts_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkouts")),
        sa.UniqueConstraint("member_id", "day", name=op.f("uq_checkouts_member_id_day")),
    )
    op.create_index("ix_checkouts_team_day", "checkouts", ["team_id", "day"], unique=False)
    # add_column, not batch mode: a rebuilt table would lose nothing here, but there is no need to.
    op.add_column(
        "competitions", sa.Column("stake", sa.String(length=200), nullable=False, server_default="")
    )


def downgrade() -> None:
    with op.batch_alter_table("competitions") as batch:
        batch.drop_column("stake")
    op.drop_index("ix_checkouts_team_day", table_name="checkouts")
    op.drop_table("checkouts")
