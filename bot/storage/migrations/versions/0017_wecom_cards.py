"""WeCom cards: the template cards sent with buttons, and the one click each acted on.

A click (`template_card_event`) names only the card's task id and the button's key: this table says which
command the key stands for, whom the card went to, when (a card older than 72 hours no longer acts), and
whether a click was already carried out — so a double click or WeCom's retry acts once, on any replica.

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
    op.create_table(
        "wecom_cards",
        sa.Column("task_id", sa.String(length=128), nullable=False),
        sa.Column("workspace", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("chosen", sa.String(length=64), nullable=True),
        sa.Column("chosen_at", sa.DateTime(), nullable=True),
        sa.Column("response_code", sa.String(length=512), nullable=True),
        sa.Column("card_updated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_wecom_cards")),
    )
    op.create_index(op.f("ix_wecom_cards_sent_at"), "wecom_cards", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_wecom_cards_sent_at"), table_name="wecom_cards")
    op.drop_table("wecom_cards")
