"""/rank — the leaderboard of people or groups for a period, with the caller's own place and gap."""

from __future__ import annotations

import asyncio

from bot.charts.labels import labels
from bot.charts.rank import rank_png
from bot.commands.arguments import PERIODS, Arg, Choice, Metric, Text
from bot.commands.competition import MAX_NAME, competition_board
from bot.commands.context import CommandContext
from bot.commands.forms import Form, command
from bot.commands.registry import CommandRegistry
from bot.domain.leaderboard import excerpt
from bot.domain.periods import PeriodName
from bot.messages import OutgoingMessage, png_image
from bot.services import charts, standings

SUBJECT_WORDS = {
    **dict.fromkeys(("people", "person", "members", "个人", "成员", "人"), "people"),
    **dict.fromkeys(("groups", "group", "小组", "组", "pk"), "groups"),
}
CHART_WORDS = {"chart", "picture", "图", "图表", "图片"}
PK_WORDS = ("pk", "比赛")


async def rank_command(
    ctx: CommandContext, period: PeriodName, subject: str, metric: str, chart: bool
) -> OutgoingMessage:
    if metric == "per_capita" and subject == "people":
        subject = "groups"
    scope = ctx.scope
    board = await standings.board(ctx.session, scope, scope.period(period))
    entries = board.people_standings() if subject == "people" else board.group_standings()
    own_key = f"member:{ctx.member.id}" if subject == "people" else f"group:{ctx.member.group_id}"
    rows = excerpt(entries, metric, 10, own_key)

    def show(value: int) -> str:
        return str(value) if metric == "deals" else scope.money(value)

    def view(row) -> dict:
        return {
            "rank": row.rank,
            "name": row.standing.name,
            "value": show(row.value),
            "deals": row.standing.deals,
            "gap": show(row.gap_to_next) if row.gap_to_next else None,
        }

    shown = [row for row in rows.top if row.value > 0]  # a board of zeros says nothing
    own = rows.own if shown else None  # "1st of all at ¥0" says nothing either
    # Deals of members in no group (or no longer in the team) are in the total but on no row: say so,
    # or an empty board beside a non-zero total reads as "no deals yet".
    outside_amount = board.team_amount - sum(s.amount_minor for s in entries)
    outside_deals = board.team_deals - sum(s.deals for s in entries)
    outside = None
    if outside_deals > 0:
        outside = {"total": scope.money(outside_amount), "deals": outside_deals}
    reply = ctx.reply(
        "rank",
        period=period.value,
        subject=subject,
        metric=metric,
        rows=[view(r) for r in shown],
        ranked=rows.ranked,  # people or groups on the board, with or without deals yet
        own=view(own) if own else None,
        own_shown=own is not None and own in shown,
        total=scope.money(board.team_amount),
        outside=outside,
    )
    if not (chart and charts.images_on(ctx.team)):
        return reply
    shown_rows = [*shown, *([own] if own is not None and own not in shown else [])]
    words = labels(ctx.locale)
    title = words["rank_title"].format(
        period=words["periods"][period.value],
        subject=words["subjects"][subject],
        metric=words["metrics"][metric],
    )
    data = charts.rank_chart(scope, title, metric, shown_rows, own_key)
    png = await asyncio.to_thread(rank_png, data)
    return OutgoingMessage((*reply.blocks, png_image(png, title)), reply.fallback_text)


async def pk_board(ctx: CommandContext, name: str | None) -> OutgoingMessage:
    return await competition_board(ctx, name)


SPEC = command(
    "rank",
    ("排行", "排名", "排行榜", "leaderboard", "top", "board"),
    Form(PK_WORDS, (Arg("name", Text(max_len=MAX_NAME), optional=True, label="competition"),), pk_board),
    Form(
        (),
        (
            Arg("period", PERIODS, optional=True, default=PeriodName.TODAY),
            Arg(
                "subject",
                Choice(SUBJECT_WORDS, "subject.unknown"),
                optional=True,
                default="people",
                label="rank_subject",
            ),
            Arg("metric", Metric(), optional=True, default="amount"),
            Arg(
                "chart",
                Choice(dict.fromkeys(CHART_WORDS, True), ""),
                optional=True,
                default=False,
                label="chart",
            ),
        ),
        rank_command,
        any_order=True,
    ),
)


def register(registry: CommandRegistry) -> None:
    registry.register(SPEC)
