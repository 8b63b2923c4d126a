"""Streaks: each member's check-in streak as of a day, kept so that recaps read it instead of history;
and an index that answers a period's deal totals on its own.

No backfill here: a member without a row is counted from history the first time a streak is read for
them (a recap, a summary, a check-in reply), and that row is written with the reader's transaction.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "streaks",
        sa.Column("member_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("since_day", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_streaks_member_id_members"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_streaks_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_streaks")),
    )
    op.create_index(op.f("ix_streaks_team_id"), "streaks", ["team_id"], unique=False)
    op.create_index(
        "ix_deals_team_closed_totals",
        "deals",
        ["team_id", "closed_at", "member_id", "amount_minor", "voided_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deals_team_closed_totals", table_name="deals")
    op.drop_index(op.f("ix_streaks_team_id"), table_name="streaks")
    op.drop_table("streaks")
