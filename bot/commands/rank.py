"""/rank — the leaderboard of people or groups for a period, with the caller's own place and gap."""

from __future__ import annotations

import asyncio

from bot.charts.labels import labels
from bot.charts.rank import rank_png
from bot.commands.competition import competition_board
from bot.commands.context import CommandContext
from bot.commands.errors import InvalidArgument
from bot.commands.registry import CommandRegistry, CommandSpec
from bot.domain.leaderboard import excerpt
from bot.domain.periods import PeriodName, parse_period
from bot.messages import OutgoingMessage, png_image
from bot.services import charts, standings

PEOPLE_WORDS = {"people", "person", "members", "个人", "成员", "人"}
GROUP_WORDS = {"groups", "group", "小组", "组", "pk"}
METRIC_WORDS = {
    "amount": "amount",
    "金额": "amount",
    "业绩": "amount",
    "deals": "deals",
    "单数": "deals",
    "单": "deals",
    "单量": "deals",
    "per-capita": "per_capita",
    "per_capita": "per_capita",
    "percapita": "per_capita",
    "人均": "per_capita",
}
CHART_WORDS = {"chart", "picture", "图", "图表", "图片"}


async def rank_command(ctx: CommandContext) -> OutgoingMessage:
    if ctx.args and ctx.args[0].lower() in ("pk", "比赛"):  # a named competition's standings
        return await competition_board(ctx, list(ctx.args[1:]))
    period, subject, metric = PeriodName.TODAY, "people", "amount"
    chart = False
    for token in ctx.args:
        low = token.lower()
        if low in CHART_WORDS:
            chart = True
        elif parse_period(low) is not None:
            period = parse_period(low)
        elif low in PEOPLE_WORDS:
            subject = "people"
        elif low in GROUP_WORDS:
            subject = "groups"
        elif low in METRIC_WORDS:
            metric = METRIC_WORDS[low]
        else:
            raise InvalidArgument("period", token, "period.unknown")
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


def register(registry: CommandRegistry) -> None:
    registry.register(
        CommandSpec("rank", ("排行", "排名", "排行榜", "leaderboard", "top", "board"), rank_command)
    )
