"""The TV board over real loopback HTTP, on SQLite and PostgreSQL: its keys, its live events, rotation.

A board is a link with a key on an office screen. Without the right key — missing, wrong, another
team's, or one rotated away — the answer is the same 401 whether or not the team exists, and a rotation
closes the boards that are open. Deals reach open boards from any replica, as names and amounts only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest_asyncio

from adapters.web.deals_hook import deal_hook_routes
from adapters.web.serve import WebServer
from adapters.web.server import build_web_app
from bot.app import App, build_app
from bot.config import Config, load_config
from bot.services import deal_intake
from bot.storage.orm import Team
from bot.tv import keys
from tests.support.tv import PRIVATE, open_stream, post_deal, write_tv_config


@dataclass
class Board:
    app: App
    config: Config
    client: httpx.AsyncClient
    pg_schema: str | None
    east: str  # east's key
    west: str  # west's key

    async def rotate(self, slug: str = "east") -> str:
        """A new key, committed as `teambeat tv --rotate` commits it (from another process)."""
        async with self.app.uow_factory() as uow:
            team_id = await team_id_of(uow.session, slug)
            key = await keys.rotate(uow.session, team_id, datetime.now(UTC))
            await uow.commit()
        return key


async def team_id_of(session, slug: str) -> int:
    from sqlalchemy import select

    return await session.scalar(select(Team.id).where(Team.slug == slug))


async def _key(app: App, slug: str) -> str:
    async with app.uow_factory() as uow:
        key = await keys.ensure_key(uow.session, await team_id_of(uow.session, slug), datetime.now(UTC))
        await uow.commit()
    return key


@pytest_asyncio.fixture
async def board(engine, database_url, tmp_path) -> AsyncIterator[Board]:
    url, pg_schema = database_url
    config = load_config(write_tv_config(tmp_path, url), environ={})
    app = await build_app(config, migrate=False, pg_schema=pg_schema)
    try:
        east, west = await _key(app, "east"), await _key(app, "west")
        asgi = build_web_app(app, {}, deal_hook_routes(app))
        server = WebServer(asgi, "127.0.0.1", 0)
        await server.start()
        try:
            base = f"http://127.0.0.1:{server.port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                yield Board(app, config, client, pg_schema, east, west)
        finally:
            await server.stop()
    finally:
        await app.close()


def deal(n: int, member: str = "alice", amount: int = 12800) -> dict[str, object]:
    return {
        "id": f"crm-{n}",
        "team": "east",
        "member": member,
        "amount": amount,
        "customer": "华为",
        "product": "年度订阅",
    }


# ----- keys ------------------------------------------------------------------------------------------


async def test_the_page_opens_with_the_key_and_shows_the_board(board: Board) -> None:
    await post_deal(board.client, deal(1, "alice", 12800))
    answer = await board.client.get(f"/tv/east?key={board.east}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    page = answer.text
    assert "华东一部" in page and "今日龙虎榜" in page and "Alice" in page and "¥1.28万" in page
    assert '<html lang="zh-CN">' in page
    assert (
        "http://" not in page.replace(str(board.client.base_url), "") and "https://" not in page
    )  # nothing remote
    for private in PRIVATE:
        assert private not in page, private


async def test_an_english_team_gets_an_english_board(board: Board) -> None:
    page = (await board.client.get(f"/tv/west?key={board.west}")).text
    assert '<html lang="en">' in page and "No deals yet today" in page and "今日龙虎榜" not in page


async def test_missing_wrong_foreign_and_unknown_keys_get_one_and_the_same_401(board: Board) -> None:
    refused = [
        "/tv/east",
        "/tv/east?key=",
        f"/tv/east?key={board.east[:-1]}",
        f"/tv/east?key={board.east}x",
        f"/tv/east?key={board.west}",  # another team's key
        f"/tv/nosuchteam?key={board.east}",  # a team that does not exist
        "/tv/nosuchteam",
    ]
    answers = []
    for path in refused:
        for route in (path, path.replace("?", "/events?") if "?" in path else path + "/events"):
            answer = await board.client.get(route)
            answers.append((route, answer.status_code, answer.text))
    assert {status for _, status, _ in answers} == {401}, answers
    assert len({text for _, _, text in answers}) == 1, "the answer must not tell teams apart"
    assert "nosuchteam" not in answers[0][2] and "east" not in answers[0][2]
    assert (await board.client.get(f"/tv/west?key={board.west}")).status_code == 200


async def test_a_rotated_key_closes_open_boards_and_stops_working(board: Board) -> None:
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        await stream.next("board")
        started = time.monotonic()
        new = await board.rotate()
        revoked = await stream.next("revoked", timeout=5)
        await stream.ended(timeout=5)
        closed_after = time.monotonic() - started
    assert revoked.data == {}
    assert closed_after < 2.5, f"the open board was closed {closed_after:.2f} s after the rotation"
    assert new != board.east
    assert (await board.client.get(f"/tv/east?key={board.east}")).status_code == 401
    assert (await board.client.get(f"/tv/east/events?key={board.east}")).status_code == 401
    assert (await board.client.get(f"/tv/east?key={new}")).status_code == 200
    # The other team's board is untouched.
    async with open_stream(board.client, f"/tv/west/events?key={board.west}") as west:
        assert (await west.next("board")).data["team"] == "华西二部"


# ----- live ------------------------------------------------------------------------------------------


async def test_a_deal_reaches_an_open_board_with_names_and_amounts_only(board: Board) -> None:
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        first = await stream.next("board")
        assert first.data["total"] == "¥0" and first.data["people"] == []
        posted = time.monotonic()
        assert (await post_deal(board.client, deal(7, "alice", 12800))).status_code == 202
        shown = await stream.next("deal", timeout=5)
        latency = time.monotonic() - posted
        after = await stream.next("board")
        assert (await post_deal(board.client, deal(8, "bob@example.com", 3000))).status_code == 202
        second = await stream.next("deal")
        raw = "\n".join(stream.raw)
    assert latency < 2.0
    assert (
        shown.data["name"] == "Alice"
        and shown.data["amount"] == "¥1.28万"
        and shown.data["total"] == "¥1.28万"
    )
    assert set(shown.data) == {"deal", "name", "amount", "total"}
    assert after.data["total"] == "¥1.28万" and after.data["deals"] == 1
    assert [p["name"] for p in after.data["people"]] == ["Alice"]
    assert second.data["name"] == "Bob" and second.data["total"] == "¥1.58万"
    assert shown.id is not None and second.id is not None and second.id > shown.id
    for private in PRIVATE:
        assert private not in raw, private


async def test_a_deal_recorded_by_another_replica_reaches_the_board_within_2_s(board: Board) -> None:
    """Another process on the same database: nothing in this process hears of the deal but the poll."""
    other = await build_app(board.config, migrate=False, pg_schema=board.pg_schema)
    try:
        async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
            await stream.next("board")
            recorded = time.monotonic()
            rules = deal_intake.IntakeRules(max_amount=board.config.bot.max_amount)
            result = await deal_intake.submit(
                other.uow_factory, deal(21, "carol", 5000), datetime.now(UTC), rules
            )
            assert result.outcome == "recorded"
            shown = await stream.next("deal", timeout=5)
            latency = time.monotonic() - recorded
    finally:
        await other.close()
    assert shown.data["name"] == "Carol" and shown.data["amount"] == "¥5,000"
    assert latency < 2.0, f"shown {latency:.2f} s after the other replica recorded it"


async def test_a_board_that_reconnects_gets_the_deals_it_missed(board: Board) -> None:
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        await post_deal(board.client, deal(31, "alice", 1000))
        seen = await stream.next("deal")
        where = stream.last_id
    assert where is not None and where >= seen.data["deal"]
    # Meanwhile, with no board open, two more deals land.
    await post_deal(board.client, deal(32, "bob", 2000))
    await post_deal(board.client, deal(33, "carol", 3000))
    headers = {"Last-Event-ID": str(where)}
    async with open_stream(board.client, f"/tv/east/events?key={board.east}", headers) as stream:
        assert (await stream.next()).kind == "board"
        missed = [await stream.next("deal"), await stream.next("deal")]
    assert [m.data["name"] for m in missed] == ["Bob", "Carol"]
    # Without Last-Event-ID, a new board shows the board and no old 喜报.
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        assert (await stream.next()).kind == "board"
        try:
            extra = await stream.next("deal", timeout=1.2)
        except TimeoutError:
            extra = None
    assert extra is None


async def test_a_voided_deal_comes_off_the_board(board: Board) -> None:
    await post_deal(board.client, deal(41, "alice", 9000))
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        assert (await stream.next("board")).data["total"] == "¥9,000"
        await post_deal(board.client, {"id": "crm-41", "team": "east", "status": "void"})
        updated = await stream.next("board", timeout=5)
    assert updated.data["total"] == "¥0"


async def test_stopping_the_server_ends_open_boards_at_once(engine, database_url, tmp_path) -> None:
    url, pg_schema = database_url
    config = load_config(write_tv_config(tmp_path, url), environ={})
    app = await build_app(config, migrate=False, pg_schema=pg_schema)
    try:
        key = await _key(app, "east")
        server = WebServer(build_web_app(app, {}), "127.0.0.1", 0)
        await server.start()
        base = f"http://127.0.0.1:{server.port}"
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as client,
            open_stream(client, f"/tv/east/events?key={key}") as stream,
        ):
            await stream.next("board")
            started = time.monotonic()
            await asyncio.wait_for(server.stop(), 5)
            stopped = time.monotonic() - started
            await stream.ended(timeout=2)
    finally:
        await app.close()
    assert stopped < 2.0, f"stopping took {stopped:.2f} s with a board open"


async def test_a_board_shows_the_goal_the_race_and_a_finished_pk(board: Board) -> None:
    from bot.clock import SystemClock
    from bot.rendering.engine import Renderer
    from bot.services import competitions
    from bot.services.directory import team_by_slug
    from bot.storage.orm import Competition, Goal
    from bot.tv.board import snapshot

    now = datetime.now(UTC)
    await post_deal(board.client, deal(51, "alice", 100000))
    await post_deal(board.client, deal(52, "bob", 30000))
    async with board.app.uow_factory() as uow:
        team = await team_by_slug(uow.session, "east")
        assert team is not None
        from bot.services.scope import TeamScope

        scope = TeamScope.of(team, now)
        month = scope.period("month")
        uow.session.add(
            Goal(
                team_id=team.id,
                subject="team",
                metric="amount",
                period="month",
                period_start=month.start,
                period_end=month.end,
                target=50000000,
                created_at=now,
            )
        )
        from bot.services import directory

        groups = await directory.groups_of(uow.session, team)
        yesterday = scope.today - timedelta(days=1)
        uow.session.add(
            Competition(
                team_id=team.id,
                name="冲刺赛",
                start_day=scope.today,
                end_day=scope.today,
                group_ids=[g.id for g in groups],
                metric="amount",
                status=competitions.FINISHED,
                created_at=now,
                ended_at=now,
            )
        )
        uow.session.add(
            Competition(
                team_id=team.id,
                name="旧比赛",
                start_day=yesterday,
                end_day=yesterday,
                group_ids=[g.id for g in groups],
                metric="amount",
                status=competitions.FINISHED,
                created_at=now - timedelta(days=2),
                ended_at=now - timedelta(days=1),
            )
        )
        await uow.commit()
    async with board.app.sessionmaker() as session:
        team = await team_by_slug(session, "east")
        view = (await snapshot(session, team, SystemClock().now(), Renderer())).view
    assert view["goal"]["target"] == "¥50万" and view["goal"]["actual"] == "¥13万"
    assert view["goal"]["remaining"] == "¥37万" and 0.25 < view["goal"]["ratio"] < 0.27
    assert [r["name"] for r in view["race"]["rows"]] == ["狼队", "虎队"]
    assert view["race"]["rows"][0]["share"] == 1.0 and 0.29 < view["race"]["rows"][1]["share"] < 0.31
    assert view["winners"]["name"] == "冲刺赛" and [g["name"] for g in view["winners"]["groups"]] == ["狼队"]


async def test_a_deal_committed_after_a_later_one_is_still_shown(board: Board) -> None:
    """PostgreSQL hands out ids in order but commits them in any order: a deal whose id is below one the
    board has already shown must still reach it (the poll looks a little below the highest id seen)."""
    from sqlalchemy import func, select

    from bot.storage.orm import Deal, Member

    async def insert(deal_id: int, who: str, amount: int) -> None:
        now = datetime.now(UTC)
        async with board.app.sessionmaker() as session:
            member = await session.scalar(select(Member.id).where(Member.user_id == who))
            team = await team_id_of(session, "east")
            session.add(
                Deal(
                    id=deal_id,
                    team_id=team,
                    member_id=member,
                    amount_minor=amount * 100,
                    currency="CNY",
                    source="webhook",
                    external_id=f"late-{deal_id}",
                    closed_at=now,
                    created_at=now,
                )
            )
            await session.commit()

    async with board.app.sessionmaker() as session:
        top = await session.scalar(select(func.max(Deal.id))) or 0
    async with open_stream(board.client, f"/tv/east/events?key={board.east}") as stream:
        await stream.next("board")
        await insert(top + 10, "alice", 700)
        first = await stream.next("deal")
        await insert(top + 5, "bob", 300)  # "committed" after top + 10, with a lower id
        late = await stream.next("deal")
        board_after = await stream.next("board")
    assert (first.data["name"], late.data["name"]) == ("Alice", "Bob")
    assert board_after.data["total"] == "¥1,000"
    assert late.id is not None and first.id is not None and late.id >= first.id  # ids never go back


async def test_a_board_whose_database_is_down_is_told_to_come_back(tmp_path) -> None:
    path = tmp_path / "down.toml"
    path.write_text('[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:9/none"\n', encoding="utf-8")
    app = await build_app(load_config(path, environ={}), migrate=False)
    try:
        server = WebServer(build_web_app(app, {}), "127.0.0.1", 0)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
                page = await client.get("/tv/east?key=abc")
                events = await client.get("/tv/east/events?key=abc")
        finally:
            await server.stop()
    finally:
        await app.close()
    assert page.status_code == events.status_code == 503
    assert page.headers["retry-after"] == "5" and "reconnect" in page.text
