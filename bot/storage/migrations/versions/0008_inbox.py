"""Inbox: requests acknowledged to a platform and not yet handled.

Slack and DingTalk want an answer within seconds, so their requests are acknowledged first and handled
after. Kept only in memory between the two, a crash lost what was acknowledged; an inbox row is written
(a burst's rows in one transaction) before the acknowledgement, and deleted once the request has been
handled. `owner` is the process that took it in, which reads its own rows in id order; rows left by a
process that is gone are taken over by the next one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sqlite_autoincrement=True,  # ids never reused: the inbox tells rows in hand apart by id
    )
    op.create_index("ix_inbox_adapter_owner_id", "inbox", ["adapter", "owner", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbox_adapter_owner_id", table_name="inbox")
    op.drop_table("inbox")
