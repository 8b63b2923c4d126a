"""Deals: `announce_pending`, the durable queue of deals whose announcements are still to be worked out.

A deal's 喜报, milestones and rank changes cost tens of milliseconds of reads; computed inside the deal's
own transaction they made every webhook and `/deal` wait for them. The deal now commits with this flag
set (so an acknowledged deal's announcement survives a crash), and the announcement queue works the
flagged deals off in order. The index on (announce_pending, id) makes finding the next one, and the
few deals still waiting in a period, an index probe on both backends.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deals") as batch:
        batch.add_column(
            sa.Column("announce_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_deals_announce_pending", "deals", ["announce_pending", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deals_announce_pending", table_name="deals")
    with op.batch_alter_table("deals") as batch:
        batch.drop_column("announce_pending")
