"""Daily records (the best day of each team and member, for 破纪录) and foldable outbox rows (digests).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_records",
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("best_minor", sa.BigInteger(), nullable=False),
        sa.Column("best_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "subject"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("fold_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("fold_data", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("folded_into", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("folded_into")
        batch.drop_column("fold_data")
        batch.drop_column("fold_kind")
    op.drop_table("daily_records")
