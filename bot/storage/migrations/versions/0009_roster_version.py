"""Teams: `roster_version`, a token the database changes whenever the team's members or groups change.

Every /rank and post reads the team's roster (its active members and groups): 200 rows for a 200-person
team, a millisecond or more of every /rank, though rosters change a few times a day. A process keeps the
roster it read with the token it read it under and reads it again only when the token differs. Triggers,
not application code, change the token, so no writer can forget to (another replica, CSV import, a cascade,
a hand-written UPDATE). Each change draws a random token rather than counting up: a token seen inside a
transaction that was then rolled back never comes back with other rows behind it.

A later migration that rebuilds `members`, `groups` or `teams` with batch mode on SQLite must re-create
these triggers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the roster holds of a member and of a group: only changes to these change the token.
WATCHED = {"members": "team_id, user_id, name, group_id, active", "groups": "team_id, name, slogan"}
# A new team draws a token too: one that reuses a deleted team's id must not find that team's roster.
NEW_TEAM_SQLITE = """
CREATE TRIGGER teams_roster_insert AFTER INSERT ON teams
BEGIN
    UPDATE teams SET roster_version = lower(hex(randomblob(16))) WHERE id = NEW.id;
END
"""
NEW_TEAM_POSTGRES = """
CREATE TRIGGER teams_roster_insert BEFORE INSERT ON teams
FOR EACH ROW EXECUTE FUNCTION teambeat_new_roster_version()
"""

SQLITE_TOKEN = "lower(hex(randomblob(16)))"
SQLITE_TRIGGER = """
CREATE TRIGGER {table}_roster_{event} AFTER {event_clause} ON {table}
BEGIN
    UPDATE teams SET roster_version = {token} WHERE id IN ({teams});
END
"""

POSTGRES_FUNCTION = """
CREATE FUNCTION teambeat_roster_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE teams SET roster_version = md5(random()::text || clock_timestamp()::text)
        WHERE id = OLD.team_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE teams SET roster_version = md5(random()::text || clock_timestamp()::text)
        WHERE id = NEW.team_id;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_NEW_TEAM_FUNCTION = """
CREATE FUNCTION teambeat_new_roster_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.roster_version := md5(random()::text || clock_timestamp()::text);
    RETURN NEW;
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER {table}_roster_changed AFTER INSERT OR DELETE OR UPDATE OF {columns} ON {table}
FOR EACH ROW EXECUTE FUNCTION teambeat_roster_changed()
"""


def _sqlite_triggers(table: str, columns: str) -> list[str]:
    events = {
        "insert": ("INSERT", "NEW.team_id"),
        "update": (f"UPDATE OF {columns}", "OLD.team_id, NEW.team_id"),
        "delete": ("DELETE", "OLD.team_id"),
    }
    return [
        SQLITE_TRIGGER.format(table=table, event=event, event_clause=clause, token=SQLITE_TOKEN, teams=teams)
        for event, (clause, teams) in events.items()
    ]


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("roster_version", sa.String(length=32), nullable=False, server_default=""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_NEW_TEAM_FUNCTION)
        for table, columns in WATCHED.items():
            op.execute(POSTGRES_TRIGGER.format(table=table, columns=columns))
        op.execute(NEW_TEAM_POSTGRES)
    else:
        for table, columns in WATCHED.items():
            for statement in _sqlite_triggers(table, columns):
                op.execute(statement)
        op.execute(NEW_TEAM_SQLITE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_roster_changed ON {table}")
        op.execute("DROP TRIGGER teams_roster_insert ON teams")
        op.execute("DROP FUNCTION teambeat_roster_changed()")
        op.execute("DROP FUNCTION teambeat_new_roster_version()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_roster_{event}")
        op.execute("DROP TRIGGER teams_roster_insert")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("roster_version")
