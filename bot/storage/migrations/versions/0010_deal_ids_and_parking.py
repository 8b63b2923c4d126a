"""Deals: one per (team, external id) whichever door, and announcements set aside after failing.

The old unique key was (team, source, external id), while intake looked duplicates up by (team, id):
a CSV import racing the webhook with the same ids recorded both. The key is now (team, external id),
so the database settles a race. Copies already recorded are removed, keeping the first of each id
(the one every lookup, void and export has used); they only inflated totals.

`announce_attempts`, `announce_error` and `announce_parked_at`: a deal whose announcement fails every
time is set aside with its reason after a few attempts, so the deals after it are still announced;
`teambeat status` and /metrics count what was set aside (indexed: /metrics counts it on every scrape).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:40:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)
DEALS = sa.table(
    "deals",
    sa.column("id", sa.Integer),
    sa.column("team_id", sa.Integer),
    sa.column("external_id", sa.String),
)


def upgrade() -> None:
    first_of_each = sa.select(sa.func.min(DEALS.c.id)).group_by(DEALS.c.team_id, DEALS.c.external_id)
    removed = op.get_bind().execute(DEALS.delete().where(DEALS.c.id.not_in(first_of_each))).rowcount
    if removed:
        log.warning("removed %d deal(s) recorded twice under the same (team, id); kept the first", removed)
    with op.batch_alter_table("deals") as batch:
        batch.drop_constraint("uq_deals_team_id_source_external_id", type_="unique")
        batch.create_unique_constraint("uq_deals_team_id_external_id", ["team_id", "external_id"])
        batch.add_column(sa.Column("announce_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("announce_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("announce_parked_at", sa.DateTime(), nullable=True))
    op.create_index("ix_deals_announce_parked_at", "deals", ["announce_parked_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deals_announce_parked_at", table_name="deals")
    with op.batch_alter_table("deals") as batch:
        batch.drop_column("announce_parked_at")
        batch.drop_column("announce_error")
        batch.drop_column("announce_attempts")
        batch.drop_constraint("uq_deals_team_id_external_id", type_="unique")
        batch.create_unique_constraint(
            "uq_deals_team_id_source_external_id", ["team_id", "source", "external_id"]
        )
