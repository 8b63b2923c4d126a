"""The TV board in a real headless browser (Debian's chromium, driven by playwright-python).

The real app serves the page on loopback; a deal posted by the signed webhook pops up as the 喜报 and
the board's numbers change, without a reload. Screenshots of every slide at 1920×1080 (an office TV) and
812×375 (a phone held sideways) are kept under tests/artifacts/tv/ for a person to look at.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from adapters.web.deals_hook import deal_hook_routes
from adapters.web.server import build_web_app
from bot.app import App, build_app
from bot.config import load_config
from bot.services import competitions, directory
from bot.services.scope import TeamScope
from bot.storage.orm import Competition, Goal, Team
from bot.tv import keys
from tests.support.deals import SECRET
from tests.support.loopback import serve
from tests.support.tv import post_deal

pytestmark = pytest.mark.slow  # a real headless browser (chromium through playwright)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "tv"
SIZES = {"tv": (1920, 1080), "phone": (812, 375)}
TITLE_FITS = (
    "(() => { const t = document.getElementById('slide-title'); return t.scrollWidth <= t.clientWidth; })()"
)

FLOOR = """
[hooks]
deals_secret = "{secret}"

[[teams]]
id = "floor"
name = "华东一部"
platform = "console"
workspace = "W1"
channel = "C-floor"
locale = "{locale}"
currency = "CNY"
leaders = ["boss"]

[[teams.groups]]
name = "狼队"
slogan = "狼性出击，业绩翻倍"
members = ["lina", "wangqiang", "zhaolei"]
[[teams.groups]]
name = "虎队"
slogan = "虎虎生威"
members = ["zhangwei", "liuyang", "huangmin"]
[[teams.groups]]
name = "鹰队"
slogan = "鹰击长空"
members = ["chenjing", "yangfan"]
"""
PEOPLE = {
    "boss": "周总",
    "lina": "李娜",
    "wangqiang": "王强",
    "zhaolei": "赵磊",
    "zhangwei": "张伟",
    "liuyang": "刘洋",
    "huangmin": "黄敏",
    "chenjing": "陈静",
    "yangfan": "杨帆",
}
DEALS = [("lina", 28800), ("zhangwei", 19900), ("chenjing", 16800), ("wangqiang", 12800), ("liuyang", 9800)]
DEALS += [("lina", 8800), ("yangfan", 6600), ("huangmin", 5200), ("zhaolei", 3900)]


MORE_GROUPS = """
[[teams.groups]]
name = "豹队"
slogan = "快人一步"
members = ["g4"]
[[teams.groups]]
name = "狮子王者联盟"
slogan = "王者归来，谁与争锋，一路向前冲冲冲"
members = ["g5"]
[[teams.groups]]
name = "龙队"
members = ["g6"]
"""


def _config_text(url: str, locale: str = "zh-CN", more_groups: bool = False) -> str:
    members = "".join(
        f'\n[[teams.members]]\nid = "{uid}"\nname = "{name}"\n'
        f'email = "{uid}@example.com"\nmobile = "+861380000{i:04d}"\n'
        for i, (uid, name) in enumerate(PEOPLE.items())
    )
    if more_groups:
        members += MORE_GROUPS + "".join(
            f'\n[[teams.members]]\nid = "g{i}"\nname = "新人{i}"\n' for i in (4, 5, 6)
        )
    return f'[database]\nurl = "{url}"\n' + FLOOR.format(secret=SECRET, locale=locale) + members


@dataclass
class Floor:
    app: App
    base: str
    client: httpx.AsyncClient
    key: str

    def url(self, view: str = "", rotate: int = 0) -> str:
        extra = (f"&view={view}" if view else "") + (f"&rotate={rotate}" if rotate else "")
        return f"{self.base}/tv/floor?key={self.key}{extra}"


async def _arrange(app: App, with_pk_result: bool) -> str:
    """A month goal, a 小组PK running this week, (optionally) one that ended with a result today."""
    now = datetime.now(UTC)
    async with app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team).where(Team.slug == "floor"))
        assert team is not None
        scope = TeamScope.of(team, now)
        month, week = scope.period("month"), scope.period("week")
        groups = await directory.groups_of(uow.session, team)
        uow.session.add(
            Goal(
                team_id=team.id,
                subject="team",
                metric="amount",
                period="month",
                period_start=month.start,
                period_end=month.end,
                target=80_000_000,
                created_at=now,
            )
        )
        uow.session.add(
            Competition(
                team_id=team.id,
                name="双十二冲刺",
                start_day=week.start,
                end_day=week.end,
                group_ids=[g.id for g in groups],
                metric="amount",
                status=competitions.ACTIVE,
                created_at=now,
            )
        )
        if with_pk_result:
            yesterday = scope.today - timedelta(days=1)
            uow.session.add(
                Competition(
                    team_id=team.id,
                    name="开门红",
                    start_day=yesterday - timedelta(days=2),
                    end_day=scope.today,  # ended: its deals are today's, so the winner is the one ahead now
                    group_ids=[g.id for g in groups],
                    metric="amount",
                    status=competitions.FINISHED,
                    stake="输的组请奶茶",
                    created_at=now - timedelta(days=3),
                    ended_at=now,
                )
            )
        key = await keys.ensure_key(uow.session, team.id, now)
        await uow.commit()
    return key


@pytest_asyncio.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    async with _floor(tmp_path, "zh-CN") as served:
        yield served


@contextlib.asynccontextmanager
async def _floor(tmp_path: Path, locale: str, more_groups: bool = False) -> AsyncIterator[Floor]:
    path = tmp_path / "floor.toml"
    path.write_text(_config_text(f"sqlite:///{tmp_path / 'floor.db'}", locale, more_groups), encoding="utf-8")
    app = await build_app(load_config(path, environ={}))
    try:
        key = await _arrange(app, with_pk_result=True)
        asgi = build_web_app(app, {}, deal_hook_routes(app))
        async with serve(asgi) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            for n, (who, amount) in enumerate(DEALS):
                answer = await post_deal(client, _deal(n, who, amount))
                assert answer.status_code == 202, answer.text
            yield Floor(app, base, client, key)
    finally:
        await app.close()


def _deal(n: int, who: str, amount: int) -> dict[str, object]:
    return {
        "id": f"d-{n}",
        "team": "floor",
        "member": who,
        "amount": amount,
        "customer": "某客户",
        "product": "年卡",
    }


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get update && apt-get install -y chromium"
    from playwright.async_api import async_playwright  # pip install playwright (the `test` extra)

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nTV board screenshots: {ARTIFACTS}")
    return ARTIFACTS


async def _open(browser, floor: Floor, size: str, view: str = "", rotate: int = 0):
    width, height = SIZES[size]
    page = await browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(floor.url(view, rotate))
    await page.wait_for_selector("#live.on", timeout=10_000)  # the event stream is open
    return page, errors


async def test_a_deal_pops_up_as_the_xibao_and_the_numbers_change(
    browser, floor: Floor, artifacts: Path
) -> None:
    # A 小组PK ended today: its winners lead the rotation for the rest of the day.
    page, _ = await _open(browser, floor, "tv")
    assert await page.is_visible("#slide-winners.active")
    assert await page.inner_text("#winners-names") == "狼队"
    assert await page.inner_text("#winners-stake") == "输的组请奶茶"  # the promise made for the contest
    await page.close()
    page, errors = await _open(browser, floor, "tv", view="people")
    assert await page.inner_text("#team-name") == "华东一部"
    before = await page.inner_text("#today-total")
    assert before == "¥11.26万"
    assert await page.is_visible("#slide-people.active")
    people = await page.locator("#people-list .pname").all_inner_texts()
    assert people[:3] == ["李娜", "张伟", "陈静"]
    await page.wait_for_timeout(900)  # let the entrance transitions finish
    await page.screenshot(path=str(artifacts / "people-1920x1080.png"))

    posted = time.monotonic()
    answer = await post_deal(floor.client, _deal(100, "yangfan", 52000))
    assert answer.status_code == 202
    await page.wait_for_selector("#xibao:not([hidden])", timeout=5_000)
    shown = time.monotonic() - posted
    assert await page.inner_text("#xibao-name") == "杨帆"
    assert await page.inner_text("#xibao-amount") == "¥5.2万"
    assert await page.inner_text("#xibao-total") == "团队今日 ¥16.46万"
    await page.wait_for_timeout(800)
    await page.screenshot(path=str(artifacts / "xibao-1920x1080.png"))
    await page.wait_for_function(
        "document.getElementById('today-total').textContent === '¥16.46万'", timeout=5_000
    )
    # The 喜报 goes away after a few seconds and the board is back, with 杨帆 now first.
    await page.wait_for_selector("#xibao", state="hidden", timeout=10_000)
    assert (await page.locator("#people-list .pname").all_inner_texts())[0] == "杨帆"
    html = await page.content()
    for private in ("example.com", "+86138", "某客户", "年卡"):
        assert private not in html
    assert errors == [], errors
    assert shown < 2.0, f"the 喜报 appeared {shown:.2f} s after the webhook answered"
    await page.close()


@pytest.mark.parametrize("size", list(SIZES))
async def test_every_slide_fits_the_screen(browser, floor: Floor, artifacts: Path, size: str) -> None:
    width, height = SIZES[size]
    for view in ("people", "race", "goal", "winners"):
        page, errors = await _open(browser, floor, size, view=view)
        assert await page.is_visible(f"#slide-{view}.active")
        # Nothing spills out of the screen: the page never scrolls, and the slide's content is inside it.
        box = await page.evaluate(
            """(id) => { const s = document.getElementById(id); let r = s.getBoundingClientRect();
                 let bottom = r.top, right = r.left;
                 s.querySelectorAll('*').forEach(e => { const b = e.getBoundingClientRect();
                   if (b.width && b.height && getComputedStyle(e).display !== 'none') {
                     bottom = Math.max(bottom, b.bottom); right = Math.max(right, b.right); } });
                 return {bottom, right, scrollH: document.documentElement.scrollHeight}; }""",
            f"slide-{view}",
        )
        assert await page.evaluate(TITLE_FITS), f"the {view} title is cut off"
        assert box["scrollH"] <= height and box["bottom"] <= height + 1 and box["right"] <= width + 1, (
            view,
            box,
        )
        await page.wait_for_timeout(1_600)  # transitions, the thermometer's fill
        await page.screenshot(path=str(artifacts / f"{view}-{width}x{height}.png"))
        assert errors == [], errors
        await page.close()
    # The 喜报 on this screen too.
    page, _ = await _open(browser, floor, size, view="people")
    await post_deal(floor.client, _deal(200 + width, "chenjing", 12800))
    await page.wait_for_selector("#xibao:not([hidden])", timeout=5_000)
    await page.wait_for_timeout(800)
    await page.screenshot(path=str(artifacts / f"xibao-{width}x{height}.png"))
    await page.close()


async def test_a_rotated_key_tells_the_screen_to_get_a_new_link(browser, floor: Floor) -> None:
    page, _ = await _open(browser, floor, "phone")
    async with floor.app.uow_factory() as uow:
        team = await uow.session.scalar(select(Team).where(Team.slug == "floor"))
        assert team is not None
        await keys.rotate(uow.session, team.id, datetime.now(UTC))
        await uow.commit()
    await page.wait_for_selector("#notice:not([hidden])", timeout=5_000)
    assert "链接已更换" in await page.inner_text("#notice")
    await page.close()


async def test_an_english_team_reads_its_board_in_english(browser, tmp_path: Path, artifacts: Path) -> None:
    async with _floor(tmp_path, "en") as floor:
        for view, title in (("people", "Top sellers"), ("race", "Group race"), ("goal", "Goal")):
            page, errors = await _open(browser, floor, "tv", view=view)
            assert await page.inner_text("#slide-title") == title
            assert await page.inner_text("#today-total") == "¥112,600"
            assert await page.evaluate(TITLE_FITS), f"the {view} title is cut off"
            await page.wait_for_timeout(1_600)
            await page.screenshot(path=str(artifacts / f"en-{view}-1920x1080.png"))
            assert errors == [], errors
            await page.close()


async def test_six_groups_in_the_race_still_fit(browser, tmp_path: Path, artifacts: Path) -> None:
    async with _floor(tmp_path, "zh-CN", more_groups=True) as floor:
        for size, (width, height) in SIZES.items():
            page, errors = await _open(browser, floor, size, view="race")
            assert await page.locator("#race-list .team-row").count() == 6
            bottom = await page.evaluate(
                "Math.max(...[...document.querySelectorAll('#race-list .team-row')]"
                ".map(e => e.getBoundingClientRect().bottom))"
            )
            assert bottom <= height - 0.02 * height, (size, bottom)  # clear of the footer
            await page.wait_for_timeout(1_600)
            await page.screenshot(path=str(artifacts / f"race6-{width}x{height}.png"))
            assert errors == [], errors
            await page.close()
