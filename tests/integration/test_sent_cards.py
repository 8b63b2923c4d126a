"""The one rule for clicks on the cards teambeat sent, on every platform (bot/services/sent_cards.py),
against the database: not ours, expired, first click wins, a repeat acts no more, old rows forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Button, CardClick
from bot.services import sent_cards
from bot.services.sent_cards import Verdict

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
FILL_IN, SKIP = Button("📝 填写表单", "/checkin"), Button("⏭ 今天跳过", "/checkin skip")


async def send(session: AsyncSession, card_id: str = "tb1", at: datetime = NOW) -> None:
    await sent_cards.record(
        session,
        platform="wecom",
        card_id=card_id,
        workspace="ww1",
        user_id="dave",
        title="📝 打卡 1/3",
        text="昨天完成了什么？",
        buttons=(FILL_IN, SKIP),
        now=at,
    )
    await session.commit()


async def judge(
    session: AsyncSession,
    click: CardClick,
    *,
    at: datetime = NOW,
    platform: str = "wecom",
    workspace: str = "ww1",
    user: str = "dave",
) -> sent_cards.Judged:
    return await sent_cards.judge(
        session, platform=platform, workspace=workspace, user_id=user, click=click, lifetime=DAY, now=at
    )


async def test_a_card_not_sent_to_the_clicker_or_a_button_it_never_had_is_not_ours(session):
    await send(session)
    skip = CardClick("tb1", 1, "rc-1")
    not_ours = [
        await judge(session, CardClick("tb-never", 1, "rc-1")),
        await judge(session, skip, platform="dingtalk"),
        await judge(session, skip, workspace="ww-other"),
        await judge(session, skip, user="bob"),
        await judge(session, CardClick("tb1", 2, "rc-1")),
        await judge(session, CardClick("tb1", -1, "rc-1")),
    ]
    assert [j.verdict for j in not_ours] == [Verdict.NOT_OURS] * len(not_ours)
    acts = await judge(session, skip)
    assert (acts.verdict, acts.button) == (Verdict.ACT, SKIP)
    assert acts.card is not None and acts.card.buttons == (FILL_IN, SKIP) and acts.card.title == "📝 打卡 1/3"


async def test_a_card_past_its_platforms_lifetime_has_expired(session):
    await send(session)
    skip = CardClick("tb1", 1, "rc-1")
    assert (await judge(session, skip, at=NOW + DAY)).verdict is Verdict.ACT
    assert (await judge(session, skip, at=NOW + DAY + timedelta(seconds=1))).verdict is Verdict.EXPIRED


async def test_the_first_click_wins_and_a_repeat_acts_no_more(session):
    await send(session)
    first, second = CardClick("tb1", 1, "rc-1"), CardClick("tb1", 0, "rc-2")
    assert await sent_cards.choose(session, "wecom", "dave", first, NOW)
    assert not await sent_cards.choose(session, "wecom", "dave", second, NOW)
    await session.commit()
    assert await sent_cards.acted(session, "wecom", first)
    assert not await sent_cards.acted(session, "wecom", second)

    again = await judge(session, first)  # the same click again: a platform's retry
    assert (again.verdict, again.button) == (Verdict.REPEAT, SKIP)
    other = await judge(session, second, at=NOW + 3 * DAY)  # another click, however late: told the choice
    assert (other.verdict, other.button) == (Verdict.CHOSEN, SKIP)
    unnamed = await judge(session, CardClick("tb1", 0))  # a platform naming no click: taken for a repeat
    assert unnamed.verdict is Verdict.REPEAT

    # the card shows the choice once
    assert await sent_cards.take_update(session, "wecom", "tb1")
    assert not await sent_cards.take_update(session, "wecom", "tb1")


async def test_old_cards_are_forgotten_when_a_new_one_is_recorded(session):
    await send(session, "tb-old")
    await send(session, "tb-month", at=NOW + sent_cards.KEPT)
    await send(session, "tb-new", at=NOW + sent_cards.KEPT + timedelta(seconds=1))
    assert await sent_cards.find(session, "wecom", "tb-old") is None
    assert await sent_cards.find(session, "wecom", "tb-month") is not None


async def test_the_stale_line_names_the_reason_the_choice_and_the_lifetime(session):
    await send(session)
    await sent_cards.choose(session, "wecom", "dave", CardClick("tb1", 1, "rc-1"), NOW)
    other = await judge(session, CardClick("tb1", 0, "rc-2"))
    assert sent_cards.stale_context(other, timedelta(hours=72)) == {
        "reason": "chosen",
        "chosen": SKIP.label,
        "hours": 72,
    }
    foreign = await judge(session, CardClick("tb1", 0, "rc-2"), user="bob")
    assert sent_cards.stale_context(foreign, DAY) == {"reason": "not_ours", "chosen": "", "hours": 24}
