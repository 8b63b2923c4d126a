"""Outbox: `parts_sent`, how many parts of a split post the platform has accepted.

An adapter splits a long post into several messages. The worker records each part as it goes out, so a
retry or another replica taking over a dead one's lease resumes after the last part sent instead of
sending the whole post again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parts_sent")
