"""TV keys: one per team, the secret in the TV board's link (`GET /tv/<team>?key=…`).

A table of its own rather than a column of `teams`: rotating a key touches nothing else of the team, and
SQLite never rebuilds `teams` (whose roster triggers a rebuild would drop, see 0009).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tv_keys",
        sa.Column("team_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_tv_keys_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_tv_keys")),
    )


def downgrade() -> None:
    op.drop_table("tv_keys")
