"""Outbox: an index on (destination, status, id) for finding each destination's head row.

The delivery worker claims a row only when it is the oldest pending row of its destination. Without this
index both SQLite and PostgreSQL answered that from the status index, scanning every pending row for
each one: quadratic in the backlog, seconds per claim once a check-in fan-out queued 2,000 DMs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_destination_status_id", "outbox", ["destination", "status", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_destination_status_id", table_name="outbox")
