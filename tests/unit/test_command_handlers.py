"""Command handlers and argument binding on a FakeUnitOfWork: the rules that need no database are checked
without one (a handler that touched the session would fail with NoDatabase)."""

from __future__ import annotations

import pytest

from bot.commands import deals, goals, kudos, leave, team
from bot.commands.errors import CommandError, InvalidArgument, MissingArgument, PermissionDenied, Refused
from bot.commands.forms import bind, run
from bot.domain.money import Money
from bot.domain.periods import PeriodName
from tests.unit.fake_uow import TIGERS, WOLVES, FakeUnitOfWork, context, member

BOSS = member(1, "boss", "leader")
ALICE = member(2, "alice", "lead", WOLVES)  # leads 狼队
BOB = member(3, "bob", "member", TIGERS)
DAVE = member(4, "dave", "member", WOLVES)


async def refused(ctx, words: str) -> CommandError:
    """What the command answers to `words`, which must be an error."""
    with pytest.raises(CommandError) as caught:
        await run(ctx, ctx.spec.forms, words.split())
    return caught.value


async def test_self_kudos_is_refused_before_anything_is_counted_or_stored() -> None:
    uow = FakeUnitOfWork()
    ctx = context("kudos", BOB, uow=uow)
    with pytest.raises(Refused) as caught:
        await kudos.give(ctx, [ALICE, BOB], "thanks")
    assert caught.value.code == "kudos_self"
    assert uow.events == []


async def test_kudos_with_a_receiver_but_no_reason_is_missing_the_reason() -> None:
    with pytest.raises(MissingArgument) as caught:
        await kudos.give(context("kudos", BOB), [ALICE], "")
    assert caught.value.detail == {"argument": "reason"}


async def test_a_member_cannot_log_a_deal_for_someone_else_and_nothing_is_recorded() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Refused) as caught:
        await deals.log_deal(context("deal", BOB, uow=uow), Money(500_000, "CNY"), DAVE, "")
    assert (caught.value.code, caught.value.detail) == (
        "permission_denied",
        {"command": "deal", "required": "lead"},
    )
    assert uow.events == []


def test_a_lead_acts_for_their_own_group_only() -> None:
    assert deals.may_act_for(ALICE, DAVE)
    assert not deals.may_act_for(ALICE, BOB)
    assert deals.may_act_for(BOSS, BOB)
    assert deals.may_act_for(BOB, BOB)


def test_the_deal_payload_model_refuses_a_customer_text_too_long() -> None:
    ctx = context("deal", BOB)
    with pytest.raises(InvalidArgument) as caught:
        deals.chat_deal(ctx, Money(1_280_000, "CNY"), "客" * 301)
    assert caught.value.detail == {
        "argument": "customer",
        "value": "客" * 20 + "…",
        "reason": "text.too_long",
        "max": 300,
    }
    money, customer = deals.chat_deal(ctx, Money(1_280_000, "CNY"), "华为\n年度采购")
    assert (money, customer) == (Money(1_280_000, "CNY"), "华为 年度采购")  # on one line, as the webhook's


@pytest.mark.parametrize(
    ("words", "argument", "value", "reason"),
    [
        ("abc", "amount", "abc", "amount.not_a_number"),
        ("0", "amount", "0", "amount.not_positive"),
        ("$100", "amount", "$100", "amount.unknown_currency"),
        ("1.001", "amount", "1.001", "amount.too_precise"),
        ("undo x1", "deal_id", "x1", "deal.id"),
    ],
)
async def test_deal_arguments_are_converted_before_the_handler_runs(words, argument, value, reason) -> None:
    error = await refused(context("deal", BOB), words)
    assert isinstance(error, InvalidArgument)
    assert (error.detail["argument"], error.detail["value"], error.reason) == (argument, value, reason)


async def test_a_missing_argument_carries_its_own_example_in_the_team_language() -> None:
    zh = await refused(context("deal", BOB), "")
    en = await refused(context("deal", BOB, locale="en"), "")
    assert zh.detail == {"argument": "amount", "example": "12800、1.28万、¥12,800"}
    assert en.detail == {"argument": "amount", "example": "12800, 12,800, $12,800, 12.8k"}


@pytest.mark.parametrize(
    ("spec", "words", "argument", "reason"),
    [
        ("rank", "明年", "period", "period.unknown"),
        ("rank", "本周 利润", "subject", "subject.unknown"),
        ("rank", "本周 小组 利润", "metric", "metric.unknown"),
        ("recap", "下辈子", "period", "period.unknown"),
        ("leave", "2026-02-30", "dates", "day.impossible"),
        ("leave", "2026-11-25..2026-11-23", "dates", "day.reversed"),
        ("leave", "2026-11-01", "dates", "day.past"),
        ("leave", "23/11/2026", "dates", "day.malformed"),
        ("goal", "team 30万 明年", "goal", "goal.vague"),
        ("help", "dael", "topic", "command.unknown"),
    ],
)
async def test_each_converter_names_what_is_wrong(spec, words, argument, reason) -> None:
    error = await refused(context(spec, BOSS), words)
    assert isinstance(error, InvalidArgument), error
    assert (error.detail["argument"], error.reason) == (argument, reason)


async def test_rank_reads_its_words_in_any_order() -> None:
    ctx = context("rank", BOB)
    assert await bind(ctx, ctx.spec.forms[1], ["单数", "小组", "本周"]) == {
        "period": PeriodName.WEEK,
        "subject": "groups",
        "metric": "deals",
        "chart": False,
    }
    assert await bind(ctx, ctx.spec.forms[1], []) == {
        "period": PeriodName.TODAY,
        "subject": "people",
        "metric": "amount",
        "chart": False,
    }


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["30万", "本月"], goals.Terms("30万", "amount", False, PeriodName.MONTH, False)),
        (["month", "50", "deals"], goals.Terms("50", "deals", True, PeriodName.MONTH, False)),
        (["50单", "week"], goals.Terms("50", "deals", False, PeriodName.WEEK, False)),
        (["清除", "本月"], goals.Terms(None, "amount", False, PeriodName.MONTH, True)),
        (["0", "quarter"], goals.Terms(None, "amount", False, PeriodName.QUARTER, True)),
    ],
)
def test_goal_terms_come_in_any_order(tokens, expected) -> None:
    assert goals.read_terms(tokens) == expected


async def test_a_goal_without_a_period_is_vague_and_nothing_is_looked_up() -> None:
    uow = FakeUnitOfWork()
    ctx = context("goal", BOSS, "team 30万", uow=uow)
    with pytest.raises(InvalidArgument) as caught:
        await goals.goal_command(ctx, goals.Subject("team"), goals.Terms(number="30万"))
    assert caught.value.detail == {"argument": "goal", "value": "team 30万", "reason": "goal.vague"}
    assert uow.events == []


@pytest.mark.parametrize(
    ("speaker", "subject", "required"),
    [
        (BOB, goals.Subject("team"), "leader"),
        (BOB, goals.Subject("member", member=DAVE), "lead"),
        (ALICE, goals.Subject("group", group=TIGERS), "lead"),
        (ALICE, goals.Subject("member", member=BOB), "lead"),
    ],
)
def test_who_may_set_which_goal(speaker, subject, required) -> None:
    with pytest.raises(PermissionDenied) as caught:
        goals.check_subject(context("goal", speaker), subject)
    assert caught.value.detail["required"] == required


def test_whose_goals_a_lead_and_a_leader_may_set() -> None:
    goals.check_subject(context("goal", ALICE), goals.Subject("group", group=WOLVES))
    goals.check_subject(context("goal", ALICE), goals.Subject("member", member=DAVE))
    goals.check_subject(context("goal", BOSS), goals.Subject("team"))


def test_leave_for_someone_else_needs_their_lead() -> None:
    with pytest.raises(PermissionDenied):
        leave.whose(context("leave", BOB), DAVE)
    assert leave.whose(context("leave", ALICE), DAVE) is DAVE
    assert leave.whose(context("leave", BOB), None) is BOB


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("morning", ["8:45"], "08:45"),
        ("reminders", ["14:00", "10:30"], ["10:30", "14:00"]),
        ("weekly", ["fri", "18:30"], "fri 18:30"),
        ("monthly", ["last", "18:30"], "last 18:30"),
        ("insights", ["off"], None),
    ],
)
def test_schedule_values(kind, values, expected) -> None:
    assert team.schedule_value(kind, values) == expected


@pytest.mark.parametrize(
    ("kind", "values"), [("morning", ["25:00"]), ("weekly", ["someday", "18:30"]), ("morning", ["off"])]
)
def test_schedule_values_refused(kind, values) -> None:
    with pytest.raises(InvalidArgument) as caught:
        team.schedule_value(kind, values)
    assert caught.value.reason == "time.malformed"


@pytest.mark.parametrize(
    ("words", "argument"),
    [
        ("role lead", "member"),
        ("schedule", "kind"),
        ("schedule morning", "time"),
        ("pk start", "competition"),
    ],
)
async def test_team_forms_say_which_argument_is_missing(words, argument) -> None:
    error = await refused(context("team", BOSS), words)
    assert isinstance(error, MissingArgument)
    assert error.detail["argument"] == argument


async def test_a_member_is_refused_a_leader_form_before_its_arguments_are_read() -> None:
    error = await refused(context("team", BOB), "pk start 冲刺 2026-11-01")  # a past range: not looked at
    assert isinstance(error, PermissionDenied)
    assert error.detail == {"command": "team pk start", "required": "leader"}


async def test_an_error_in_a_chosen_form_carries_that_form_s_usage() -> None:
    error = await refused(context("team", BOSS), "pk start 冲刺 2026-11-01")
    assert error.detail["reason"] == "pk.past"
    assert error.detail["usage"] == '/团队 pk start 比赛名称 开始..结束 [小组…] [人均|单数] [stake "奖惩"]'
