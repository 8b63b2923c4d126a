"""Media: pictures served at `GET /media/<token>.png` for platforms that show an image only by URL
(a DingTalk custom robot's markdown). The token is random and unguessable; rows expire after 7 days.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_media")),
    )
    op.create_index(op.f("ix_media_expires_at"), "media", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_media_expires_at"), table_name="media")
    op.drop_table("media")
