"""Sent cards: the interactive cards teambeat sent on any platform (DingTalk robot cards, WeCom template
cards) and the one click each acted on.

A click names its card by the id we gave it and a button by its position; a card not in this table is
not ours, so its click is refused. The first click that acts is kept (`chosen`, with the platform's id
of that click), so a second click or a platform's retry acts no more, on any replica; `shown` takes the
card's one update showing the choice.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sent_cards",
        sa.Column("card_id", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("chosen", sa.Integer(), nullable=True),
        sa.Column("chosen_click", sa.Text(), nullable=True),
        sa.Column("chosen_by", sa.String(length=128), nullable=True),
        sa.Column("chosen_at", sa.DateTime(), nullable=True),
        sa.Column("shown", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_sent_cards")),
    )
    op.create_index(op.f("ix_sent_cards_created_at"), "sent_cards", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sent_cards_created_at"), table_name="sent_cards")
    op.drop_table("sent_cards")
