"""Jobs: one durable queue for the work done after a request (bot/jobs).

Requests acknowledged and still in the inbox become the intake's `command.<adapter>` jobs, and the
inbox goes. Deals still waiting for their announcements become `announce_deal` jobs, and deals whose
announcement was set aside become parked ones (with their attempts and reason); the deals' own
attempt, error and parking columns go — the job keeps them now. `announce_pending` stays: the boards
of a deal's announcements leave out the deals still waiting behind it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:00:00
"""

import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("parked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_jobs_team_id_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
    )
    op.create_index("ix_jobs_parked_run_after", "jobs", ["parked_at", "run_after"], unique=False)
    # The deal's id in the key and the JSON payload: '…' || id works on SQLite and PostgreSQL alike.
    for waiting, parked_at in (
        ("announce_pending", "NULL"),
        ("announce_parked_at IS NOT NULL", "announce_parked_at"),
    ):
        op.execute(
            "INSERT INTO jobs (kind, key, payload, team_id, run_after, attempts, last_error, parked_at,"
            " created_at) SELECT 'announce_deal', 'announce_deal:' || id, '{\"deal_id\":' || id || '}',"
            f" team_id, created_at, announce_attempts, announce_error, {parked_at}, created_at"
            f" FROM deals WHERE {waiting} ORDER BY id"
        )
    _inbox_to_jobs()
    op.drop_index("ix_inbox_adapter_owner_id", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("ix_deals_announce_parked_at", table_name="deals")
    with op.batch_alter_table("deals") as batch:
        batch.drop_column("announce_parked_at")
        batch.drop_column("announce_error")
        batch.drop_column("announce_attempts")


def _inbox_to_jobs() -> None:
    """Requests acknowledged and still in the inbox become the intake's command jobs (adapters/intake.py)."""
    inbox = sa.table(
        "inbox",
        sa.column("id"),
        sa.column("adapter"),
        sa.column("payload"),
        sa.column("received_at", sa.DateTime()),
    )
    jobs = sa.table(
        "jobs",
        *(sa.column(name) for name in ("kind", "payload", "attempts")),
        *(sa.column(name, sa.DateTime()) for name in ("run_after", "created_at")),
    )
    connection = op.get_bind()
    for adapter, payload, received_at in connection.execute(
        sa.select(inbox.c.adapter, inbox.c.payload, inbox.c.received_at).order_by(inbox.c.id)
    ):
        at = received_at.replace(tzinfo=UTC)
        job = {"payload": json.loads(payload), "received_at": at.isoformat()}
        connection.execute(
            jobs.insert().values(
                kind=f"command.{adapter}",
                payload=json.dumps(job, separators=(",", ":")),
                attempts=0,
                run_after=received_at,
                created_at=received_at,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("deals") as batch:
        batch.add_column(sa.Column("announce_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("announce_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("announce_parked_at", sa.DateTime(), nullable=True))
    op.create_index("ix_deals_announce_parked_at", "deals", ["announce_parked_at"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_adapter_owner_id", "inbox", ["adapter", "owner", "id"], unique=False)
    op.drop_index("ix_jobs_parked_run_after", table_name="jobs")
    op.drop_table("jobs")
