"""SQLAlchemy 2 models. Money is stored as integer minor units; instants as UTC; days as local dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC and hands them back aware, identically on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(200), default="")
    channel_webhook: Mapped[str] = mapped_column(String(500), default="")
    channel_secret: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    calendar: Mapped[str] = mapped_column(String(16), default="cn")
    extra_holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra_workdays: Mapped[list[str]] = mapped_column(JSON, default=list)
    kudos_daily_cap: Mapped[int] = mapped_column(Integer, default=5)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checkin_questions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Changed by triggers whenever the team's members or groups change (migration 0009); never written here.
    roster_version: Mapped[str] = mapped_column(String(32), default="", server_default="")

    workspace: Mapped[Workspace] = relationship(lazy="joined")


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    slogan: Mapped[str] = mapped_column(String(300), default="")


class Member(Base):
    """A person in one team. The platform and workspace are the team's, so (team, user_id) is unique."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")  # leader | lead | member
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"), nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    mobile: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    employee_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Leave(Base):
    __tablename__ = "leaves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500), default="")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Goal(Base):
    """A target for a subject (`team`, `group:<id>` or `member:<id>`), metric and period instance."""

    __tablename__ = "goals"
    __table_args__ = (UniqueConstraint("team_id", "subject", "metric", "period", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(40))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), nullable=True)
    metric: Mapped[str] = mapped_column(String(16))  # amount | deals
    period: Mapped[str] = mapped_column(String(16))  # today | week | month | quarter
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive last day
    target: Mapped[int] = mapped_column(BigInteger)  # minor units for amount, a count for deals
    set_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day"), Index("ix_checkins_team_day", "team_id", "day"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | skipped
    skip_reason: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)

    answers: Mapped[list[CheckinAnswer]] = relationship(
        back_populates="checkin", cascade="all, delete-orphan", order_by="CheckinAnswer.position"
    )


class CheckinAnswer(Base):
    """One typed answer: the raw text always, plus the parsed number (decimal string) or amount."""

    __tablename__ = "checkin_answers"
    __table_args__ = (UniqueConstraint("checkin_id", "question_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # text | number | amount
    text: Mapped[str] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    checkin: Mapped[Checkin] = relationship(back_populates="answers")


class Checkout(Base):
    """A member's evening check-out: a few questions at the end of the day (`answers`: key and text, in
    the order answered); `pinned_at` when a leader pinned its "what worked" answer to the 夕会's 经验分享."""

    __tablename__ = "checkouts"
    __table_args__ = (UniqueConstraint("member_id", "day"), Index("ix_checkouts_team_day", "team_id", "day"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | skipped
    answers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        # One deal per (team, id) whichever door it came through: the database is the referee of a race.
        UniqueConstraint("team_id", "external_id"),
        Index("ix_deals_team_closed", "team_id", "closed_at"),
        Index("ix_deals_member_closed", "member_id", "closed_at"),
        Index("ix_deals_announce_pending", "announce_pending", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    customer: Mapped[str] = mapped_column(String(300), default="")
    product: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(16))  # chat | webhook | csv
    external_id: Mapped[str] = mapped_column(String(128))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    # Committed with the deal and its announce_deal job; cleared in the job's transaction that writes
    # the announcements (or when the job is parked): the boards leave out deals still waiting.
    announce_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Kudos(Base):
    __tablename__ = "kudos"
    __table_args__ = (Index("ix_kudos_team_created", "team_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    giver_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(1000))
    day: Mapped[date] = mapped_column(Date)  # the giver's team-local day, for the daily cap
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    """One post waiting to leave, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # The rate limiter reads a destination's recent attempts; also serves lookups by destination.
        Index("ix_outbox_destination_last_attempt", "destination", "last_attempt_at"),
        # The worker claims only a destination's head (its oldest pending row): one probe per row.
        Index("ix_outbox_destination_status_id", "destination", "status", "id"),
        # A board's message: its latest sent row; and its newer pending states, to send only the newest.
        Index("ix_outbox_board", "board_key", "destination", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(128))
    channel_id: Mapped[str] = mapped_column(String(500))
    channel_kind: Mapped[str] = mapped_column(String(8))  # dm | group
    destination: Mapped[str] = mapped_column(String(700))  # platform:workspace:channel
    payload: Mapped[str] = mapped_column(Text)  # OutgoingMessage JSON
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | folded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the latest attempt completed, sent or not: the rate limiter's log and `teambeat status`.
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Parts of a split post the platform accepted so far: a retry or a takeover resumes after them.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Posts that may be folded into one digest when a burst would exceed the destination's rate
    # ("deal" for 喜报), with what a digest line shows; a folded row is "sent" with `folded_into` set.
    fold_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    fold_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    folded_into: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A board updated in place (the day's 小组PK standings): where the platform edits, each row of the
    # same key edits the message the board's first row posted (its `message_id`), and only the newest
    # pending state is sent (older ones are "folded" into it). `board_quiet`: only a refresh, which a
    # destination that cannot edit skips (there, only the rows that are news are posted, as new posts).
    board_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    board_quiet: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ScheduledPost(Base):
    """Proof that a scheduled post ran for one team, kind and period: the once-per-period guarantee."""

    __tablename__ = "scheduled_posts"
    __table_args__ = (UniqueConstraint("team_id", "kind", "period_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # checkin | reminder | morning | recap | weekly | monthly
    period_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRow(Base):
    """Work to do after a request: a command, a deal's announcements, a team's post (bot/jobs)."""

    __tablename__ = "jobs"
    # The worker's claim reads the due, unparked rows oldest first.
    __table_args__ = (Index("ix_jobs_parked_run_after", "parked_at", "run_after"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Optional: a job with the key of one already queued is not queued again (and tells a deal's job apart).
    key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far (a crash counts too)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Media(Base):
    """A picture served at `GET /media/<token>.png` until `expires_at` (bot/services/media.py)."""

    __tablename__ = "media"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SentCard(Base):
    """An interactive card teambeat sent (DingTalk robot card, WeCom template card): which buttons it
    carried, for whom, and the one click it acted on. A click on a card not listed here is not ours; a
    second click or a platform's retry finds the choice here, in whichever process it arrives
    (bot/services/sent_cards.py)."""

    __tablename__ = "sent_cards"

    card_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[str] = mapped_column(Text)  # JSON: [[label, command], ...] in the card's order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    chosen: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the button's position
    chosen_click: Mapped[str | None] = mapped_column(Text, nullable=True)  # the platform's click id
    chosen_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    chosen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    shown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ProcessedEvent(Base):
    """Inbound event ids already handled: platforms retry, and a retry must not run a command twice."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DailyRecord(Base):
    """The best single day so far of a team ("team") or a member ("member:<id>"): kept so that checking
    a deal for a new record never scans the whole history."""

    __tablename__ = "daily_records"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(40), primary_key=True)
    best_minor: Mapped[int] = mapped_column(BigInteger)
    best_day: Mapped[date | None] = mapped_column(Date, nullable=True)


class Competition(Base):
    """A named group PK (小组PK) over a range of the team's local days, both ends inclusive.

    `group_ids` keeps the competing groups in the order the leader named them; `status` is `active`
    until the result is posted (`finished`) or a leader calls it off (`stopped`).
    """

    __tablename__ = "competitions"
    __table_args__ = (
        Index("ix_competitions_team_status", "team_id", "status"),
        Index("ix_competitions_status_end", "status", "end_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    group_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    metric: Mapped[str] = mapped_column(String(16), default="amount")  # amount | per_capita | deals
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | finished | stopped
    stake: Mapped[str] = mapped_column(String(200), default="", server_default="")  # prize or forfeit
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("members.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Streak(Base):
    """A member's check-in streak as of one day (bot/domain/streaks.py explains the recurrence).

    Moved forward when a check-in completes and read for a whole team in two queries, so a recap never
    walks back through a year of check-ins; `basis` fingerprints the calendar and leave the run rests on,
    and a row that no longer matches it is recounted from history.
    """

    __tablename__ = "streaks"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    length: Mapped[int] = mapped_column(Integer)  # the streak counted back from last_day
    last_day: Mapped[date] = mapped_column(Date)  # a done day, or since_day when length is 0
    since_day: Mapped[date] = mapped_column(Date)  # the missed workday the run followed
    basis: Mapped[str] = mapped_column(String(32))


class TvKey(Base):
    """The key of a team's TV board (`/tv/<team>?key=…`): a link for a screen, changed by `teambeat tv
    --rotate`. One per team; the board and its open streams check it, so a new one ends the old at once."""

    __tablename__ = "tv_keys"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# A period's totals (stats.member_totals) read only these columns of its deals. With all of
# them in one index SQLite answers from the index alone instead of fetching every deal's row (a month of
# a 500-person team in less than half the time); PostgreSQL can do the same once a table is vacuumed.
# It leads with ix_deals_team_closed's columns, which it makes redundant.
Index(
    "ix_deals_team_closed_totals",
    Deal.team_id,
    Deal.closed_at,
    Deal.member_id,
    Deal.amount_minor,
    Deal.voided_at,
)
