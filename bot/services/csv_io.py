"""Deals in from a CSV file, deals and check-ins out to one: what admins move between teambeat and Excel.

Import uses the webhook's rules (deal_intake) row by row in the caller's one transaction, so a file goes
in whole or not at all, and re-importing it is a no-op. Exports are UTF-8 with a BOM (Excel otherwise
reads Chinese as mojibake), amounts in major units and times in the team's timezone, in the same columns
the import reads, so an export can be imported elsewhere. Free text that Excel would run as a formula
(`=…`, `+…`, `-…`, `@…`) is written with a leading `'`, which the import removes again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.domain.money import Money
from bot.services import checkouts, deal_intake
from bot.services.checkins import questions_for
from bot.storage.orm import Checkin, CheckinAnswer, Checkout, Deal, Group, Member, Team
from bot.storage.uow import UnitOfWork

BOM = "\ufeff"
DEAL_COLUMNS = ("id", "member", "amount", "currency", "customer", "product", "closed_at", "status")
#: Written by the export for people reading it; the import accepts and ignores it.
INFORMATIONAL_COLUMNS = ("member_name",)
EXPORT_DEAL_COLUMNS = (
    "id",
    "member",
    "member_name",
    "amount",
    "currency",
    "customer",
    "product",
    "closed_at",
    "status",
)
CHECKIN_COLUMNS = ("date", "member", "member_name", "group", "status", "skip_reason", "completed_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = ("id", "member", "customer", "product")


@dataclass(frozen=True, slots=True)
class LineError:
    """A problem on one line of the file (line 1 is the header)."""

    line: int
    message: str
    allowed: str | list[str] | None = None
    value: object = None

    def __str__(self) -> str:
        text = f"line {self.line}: {self.message}"
        if self.value not in (None, ""):
            text += f": {self.value!r}"
        if self.allowed:
            allowed = ", ".join(self.allowed) if isinstance(self.allowed, list) else self.allowed
            text += f" (allowed: {allowed})"
        return text


class ImportFailed(Exception):
    """The file was refused; nothing of it was stored."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data record: the line it starts on, its values by column, and how many cells overflowed."""

    line: int
    values: dict[str, str]
    overflow: int = 0


@dataclass(slots=True)
class ImportReport:
    recorded: int = 0
    announced: int = 0
    duplicates: int = 0
    voided: int = 0
    unchanged_voids: int = 0
    lines: int = 0
    deal_ids: list[int] = field(default_factory=list)


def read_rows(raw: bytes) -> list[CsvRow]:
    """Decode (UTF-8, with or without BOM) and parse; each data row with the line it starts on.

    Raises ImportFailed for a file that is not UTF-8, lacks a required column or names an unknown one.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [LineError(text_line(raw, exc.start), 'not UTF-8: save the file as "CSV UTF-8"')]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ImportFailed([LineError(1, "the file is empty: the first line must name the columns")])
    names = [h.strip().lower() for h in header]
    problems = [
        LineError(1, f"missing column {column}", list(DEAL_COLUMNS))
        for column in ("id", "member", "amount")
        if column not in names
    ]
    known = set(DEAL_COLUMNS) | set(INFORMATIONAL_COLUMNS)
    problems += [
        LineError(1, f"unknown column {name!r}", list(DEAL_COLUMNS)) for name in names if name not in known
    ]
    if len(set(names)) != len(names):
        problems.append(LineError(1, "a column is named twice"))
    if problems:
        raise ImportFailed(problems)
    rows: list[CsvRow] = []
    start = reader.line_num + 1
    for record in reader:
        if any(cell.strip() for cell in record):
            values = {name: (record[i] if i < len(record) else "") for i, name in enumerate(names)}
            overflow = sum(1 for cell in record[len(names) :] if cell.strip())
            rows.append(CsvRow(start, values, overflow))
        start = reader.line_num + 1
    return rows


def text_line(raw: bytes, offset: int) -> int:
    return raw[:offset].count(b"\n") + 1


async def import_deals(
    uow: UnitOfWork,
    team: Team,
    rows: Iterable[CsvRow],
    now: datetime,
    rules: deal_intake.IntakeRules,
    *,
    announce: bool,
) -> ImportReport:
    """Apply every row in `uow`'s transaction (the caller commits); ImportFailed lists every bad line.

    Rows are checked and applied in order, so a void may follow its deal in the same file. Ids already
    stored are duplicates, skipped. With `announce`, deals closed within 24 hours are announced as the
    webhook would; a deal voided within the same file is never announced.
    """
    rows = list(rows)
    errors: list[LineError] = []
    report = ImportReport(lines=len(rows))
    submissions = [{k: _unescape(v) if k in _TEXT_COLUMNS else v for k, v in r.values.items()} for r in rows]
    voided_in_file = {
        d.get("id", "").strip() for d in submissions if d.get("status", "").strip().lower() == "void"
    }
    recorded_here: set[str] = set()
    seen: dict[tuple[str, str], int] = {}
    for row, data in zip(rows, submissions, strict=True):
        line = row.line
        if row.overflow:
            errors.append(
                LineError(line, f"{row.overflow} value(s) beyond the last column: quote values with commas")
            )
            continue
        data["team"] = team.slug
        try:
            request = await deal_intake.validate(uow.session, data, now, rules)
        except deal_intake.InvalidDeal as invalid:
            errors += [LineError(line, e.message, e.allowed, e.value) for e in invalid.errors]
            continue
        key = (request.external_id, request.status)
        if key in seen:
            errors.append(LineError(line, f"id {request.external_id!r} repeats line {seen[key]}"))
            continue
        seen[key] = line
        if request.status == "void" and request.external_id in recorded_here:
            deal = await deal_intake.find_external(uow.session, team, request.external_id)
            assert deal is not None
            deal.voided_at = now  # recorded and voided in one file: nothing was announced to correct
            report.voided += 1
            continue
        quiet = not announce or request.external_id in voided_in_file
        result = await deal_intake.apply(uow, request, now, source="csv", announce=False if quiet else None)
        if result.outcome == "recorded":
            recorded_here.add(request.external_id)
            report.recorded += 1
            report.announced += int(result.announced)
            report.deal_ids.append(result.deal_id)
        elif result.outcome == "duplicate":
            report.duplicates += 1
        elif result.outcome == "voided":
            report.voided += 1
        else:
            report.unchanged_voids += 1
    if errors:
        raise ImportFailed(errors)
    return report


def _unescape(value: str) -> str:
    """Undo the export's formula guard: `'=SUM` was written for `=SUM`."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _escape(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def local_range(team: Team, start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants bounding the team's local days start..end (inclusive)."""
    if end < start:
        raise ValueError("--to is before --from")
    zone = ZoneInfo(team.timezone)
    since = datetime.combine(start, time(), zone).astimezone(UTC)
    until = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    return since, until


async def export_deals(uow: UnitOfWork, team: Team, start: date, end: date) -> str:
    """Every deal closed on the team's local days start..end, voided ones with status `void`."""
    since, until = local_range(team, start, end)
    zone = ZoneInfo(team.timezone)
    rows = await uow.session.execute(
        select(Deal, Member)
        .join(Member, Member.id == Deal.member_id)
        .where(Deal.team_id == team.id, Deal.closed_at >= since, Deal.closed_at < until)
        .order_by(Deal.closed_at, Deal.id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_DEAL_COLUMNS)
    for deal, member in rows:
        writer.writerow(
            (
                _escape(deal.external_id),
                _escape(member.user_id),
                _escape(member.name),
                f"{Money(deal.amount_minor, deal.currency).major:f}",
                deal.currency,
                _escape(deal.customer),
                _escape(deal.product),
                _local(deal.closed_at, zone),
                "void" if deal.voided_at is not None else "won",
            )
        )
    return out.getvalue()


async def export_checkins(uow: UnitOfWork, team: Team, start: date, end: date) -> str:
    """One row per member and day with a check-in (or a check-out), one column per question (amounts in
    major units); when the range has evening check-outs, their status and answers follow in `checkout_…`
    columns."""
    if end < start:
        raise ValueError("--to is before --from")
    zone = ZoneInfo(team.timezone)
    result = await uow.session.execute(
        select(Checkin, Member, Group)
        .join(Member, Member.id == Checkin.member_id)
        .outerjoin(Group, Group.id == Member.group_id)
        .options(selectinload(Checkin.answers))
        .where(Checkin.team_id == team.id, Checkin.day >= start, Checkin.day <= end)
        .order_by(Checkin.day, Member.name, Member.id)
    )
    outs = await uow.session.execute(
        select(Checkout, Member, Group)
        .join(Member, Member.id == Checkout.member_id)
        .outerjoin(Group, Group.id == Member.group_id)
        .where(Checkout.team_id == team.id, Checkout.day >= start, Checkout.day <= end)
        .order_by(Checkout.day, Member.name, Member.id)
    )
    by_day: dict[tuple[date, int], list] = {}
    for checkin, member, group in result:
        by_day[(checkin.day, member.id)] = [checkin, None, member, group]
    for checkout, member, group in outs:
        by_day.setdefault((checkout.day, member.id), [None, None, member, group])[1] = checkout
    # By day, stably: the database's order of names within a day, check-out-only rows after the others.
    rows = sorted(by_day.values(), key=lambda r: (r[0] or r[1]).day)
    keys = [q.key for q in questions_for(team)]
    for checkin, _, _, _ in rows:
        if checkin is not None:
            keys += [a.question_key for a in checkin.answers if a.question_key not in keys]
    headers = [f"answer_{k}" if k in CHECKIN_COLUMNS else k for k in keys]
    out_keys: list[str] = []
    if any(r[1] is not None for r in rows):
        out_keys = [q.key for q in checkouts.questions_for(team)]
        headers += ["checkout_status", *(f"checkout_{k}" for k in out_keys)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow((*CHECKIN_COLUMNS, *headers))
    for checkin, checkout, member, group in rows:
        answers = {a.question_key: _answer(a, team) for a in checkin.answers} if checkin else {}
        extra = []
        if out_keys:
            extra = [checkout.status if checkout else ""]
            extra += [_escape(checkouts.answer_of(checkout, k)) if checkout else "" for k in out_keys]
        writer.writerow(
            (
                (checkin or checkout).day.isoformat(),
                _escape(member.user_id),
                _escape(member.name),
                _escape(group.name) if group is not None else "",
                checkin.status if checkin else "",
                _escape(checkin.skip_reason) if checkin else "",
                _local(checkin.completed_at, zone) if checkin and checkin.completed_at else "",
                *(answers.get(k, "") for k in keys),
                *extra,
            )
        )
    return out.getvalue()


def for_excel(text: str) -> bytes:
    """The bytes to write: UTF-8 with a BOM, which is how Excel recognises UTF-8."""
    return (BOM + text).encode("utf-8")


def _answer(answer: CheckinAnswer, team: Team) -> str:
    if answer.kind == "amount" and answer.amount_minor is not None:
        return f"{Money(answer.amount_minor, team.currency).major:f}"
    if answer.kind == "number" and answer.number is not None:
        return answer.number
    return _escape(answer.text)


def _local(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).isoformat(sep=" ", timespec="seconds")
