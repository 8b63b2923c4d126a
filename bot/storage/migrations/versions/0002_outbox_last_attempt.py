"""Outbox: when each row's latest attempt completed, indexed with its destination for the rate limiter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("last_attempt_at", sa.DateTime(), nullable=True))
        batch.drop_index("ix_outbox_destination")
        batch.create_index(
            "ix_outbox_destination_last_attempt", ["destination", "last_attempt_at"], unique=False
        )
    # Rows sent before this revision: their one known attempt is their send.
    op.execute("UPDATE outbox SET last_attempt_at = sent_at WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_destination_last_attempt")
        batch.create_index("ix_outbox_destination", ["destination"], unique=False)
        batch.drop_column("last_attempt_at")
