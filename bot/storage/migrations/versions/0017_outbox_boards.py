"""Outbox: `board_key` and `board_quiet`, for boards that are one message updated in place.

A post naming a board (the day's 小组PK standings) is sent as an edit of the message the board's first
delivery posted, where the platform can edit; that message id stays on the sent row (`message_id`), so a
restart keeps editing the same message. A quiet update is only a refresh of the board: a destination
that cannot edit skips it instead of posting anew.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("board_key", sa.String(200), nullable=True))
    op.add_column("outbox", sa.Column("board_quiet", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_outbox_board", "outbox", ["board_key", "destination", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_board", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("board_quiet")
        batch.drop_column("board_key")
