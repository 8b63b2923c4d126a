"""R9 (quality.md): roles and tenants against the real `teambeat run`.

One bot process per backend (tests/support/doors.py) serves its teams through the platforms' own doors —
Slack in HTTP mode (`POST /slack/events`, signed), DingTalk's HTTP callback (signed) and WeCom's callback
(encrypted) — with every platform API a fake on loopback. Slack serves two workspaces, T0001 and T0002:
Slack multi-workspace is the OAuth install (`[slack] oauth = true`), so the app is installed in both
through `/slack/install` and `/slack/oauth_redirect`, as two workspace admins would.

The same user id string is deliberately everywhere: U0001, U0002 and U0003 are in both Slack workspaces,
on DingTalk and on WeCom — four different people each. Both Slack teams even use the same channel id,
C0001. U0001 leads East Sales (Slack T0001) and is a plain member everywhere else.

| team            | platform, workspace         | locale | leader | U0002  |
|-----------------|-----------------------------|--------|--------|--------|
| `slack-east`    | Slack T0001, channel C0001  | en     | U0001  | member |
| `slack-south`   | Slack T0002, channel C0001  | zh-CN  | U0004  | member |
| `dingtalk-east` | DingTalk dingcorp01         | zh-CN  | boss01 | —      |
| `dingtalk-west` | DingTalk dingcorp01         | zh-CN  | li01   | member |
| `wecom-west`    | WeCom (the app's own chat)  | zh-CN  | wendy  | member |

The east teams are doors.py's; the others are added here. Every day around the test is a holiday for the
teams, so no scheduled post can add rows of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import select
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.storage.orm import Competition, Deal, Goal, Group, Kudos, Leave, Member, OutboxRow, Team
from tests.conftest import BACKEND_PARAMS, chosen_backend
from tests.fakes import dingtalk, slack_bot, wecom
from tests.fakes.slack import command_form, encode_form, message_text, signed_headers
from tests.fakes.wecom import passive_reply, text_message
from tests.support.doors import (
    QUIET,
    SETTLE_TIMEOUT,
    SHANGHAI,
    SLACK_SOUTH,
    SLACK_SOUTH_TOKEN,
    WECOM_WEST_KEY,
    Doors,
    dingtalk_headers,
    open_doors,
    post_to_dingtalk,
    post_to_slack,
    sealed,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

T = TypeVar("T")
TRACKED = (Team, Group, Member, Goal, Deal, Kudos, Competition, Leave, OutboxRow)
"""Every table a command could change (processed_events aside: it records that a request arrived)."""
DINGTALK_PEOPLE = {"boss01": "王总", "li01": "李经理", "U0001": "李四", "U0002": "周五", "U0003": "吴六"}
WECOM_PEOPLE = {"wendy": "Wendy", "U0001": "孙七", "U0002": "钱八", "U0003": "冯九"}

TEAMS = f"""
[[teams]]
id = "slack-south"
name = "华南二部"
platform = "slack"
workspace = "{SLACK_SOUTH}"
channel = "{slack_bot.CHANNEL}"
calendar = "everyday"
extra_holidays = {{holidays}}
leaders = ["U0004"]
[[teams.groups]]
name = "狼队"
members = ["U0002", "U0001"]
[[teams.groups]]
name = "虎队"
members = ["U0003"]
[[teams.members]]
id = "U0004"
name = "陈经理"
[[teams.members]]
id = "U0001"
name = "刘一"
[[teams.members]]
id = "U0002"
name = "王二"
[[teams.members]]
id = "U0003"
name = "张三"

[[teams]]
id = "dingtalk-west"
name = "华西二部"
platform = "dingtalk"
workspace = "{dingtalk.CORP}"
channel = "{dingtalk.WEST}"
calendar = "everyday"
extra_holidays = {{holidays}}
leaders = ["li01"]
[[teams.groups]]
name = "鹰队"
members = ["U0002", "U0001"]
[[teams.groups]]
name = "豹队"
members = ["U0003"]
[[teams.members]]
id = "li01"
name = "李经理"
[[teams.members]]
id = "U0001"
name = "李四"
[[teams.members]]
id = "U0002"
name = "周五"
[[teams.members]]
id = "U0003"
name = "吴六"

[[teams]]
id = "wecom-west"
name = "华西一部"
platform = "wecom"
workspace = "{wecom.CORP_ID}"
channel = "wrWestHome"
channel_webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_WEST_KEY}"
calendar = "everyday"
extra_holidays = {{holidays}}
leaders = ["wendy"]
[[teams.members]]
id = "wendy"
name = "Wendy"
[[teams.members]]
id = "U0001"
name = "孙七"
[[teams.members]]
id = "U0002"
name = "钱八"
[[teams.members]]
id = "U0003"
name = "冯九"
"""


async def eventually(probe: Callable[[], T], what: str) -> T:
    """`probe()` once it is truthy: an answer travels through the bot's background work to a fake."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {SETTLE_TIMEOUT} s")
        await asyncio.sleep(0.05)
    return found


# ----- the rooms: a team's channel as its members use it, on each platform -------------------------------


class Room(Protocol):
    team: str
    locale: str

    async def say(self, user: str, text: str, *, privately: bool = False) -> str:
        """`user` sends `text` to the bot in the team's channel (or in their DM with the bot); what the
        bot answered them."""
        ...

    def posts(self) -> list[str]:
        """Everything the bot posted in the team's home channel, in order."""
        ...


@dataclass
class SlackChannel:
    """Channel C0001 of one Slack workspace: people type slash commands; answers go to response_url."""

    team: str
    locale: str
    doors: Doors
    workspace: str
    token: str

    async def say(self, user: str, text: str, *, privately: bool = False) -> str:
        """A slash command; in the bot's DM the answer is a message there, elsewhere an ephemeral one."""
        command, _, rest = re.sub(r"@(U\d{4})", r"<@\1>", text).partition(" ")
        url = self.doors.slack.response_url(self.doors.slack_url)
        channel = self.doors.slack.workspaces[self.workspace].dms.setdefault(user, "D" + user[1:])
        where = channel if privately else slack_bot.CHANNEL
        earlier = len(self.messages(channel))
        body = encode_form(command_form(self.workspace, user, where, command, rest, url))
        answer = await post_to_slack(self.doors, body, signed_headers(slack_bot.SECRET, body))
        assert answer.status_code == 200, answer.text
        what = f"answer to {text!r} in {self.team}"
        if privately:
            return "\n".join(await eventually(lambda: self.messages(channel)[earlier:], what))
        replies = await eventually(lambda: self.doors.slack.answers_at(url), what)
        return "\n".join(message_text(reply) for reply in replies)

    def messages(self, channel: str) -> list[str]:
        """What the bot posted in `channel` of this workspace (channel ids repeat across workspaces)."""
        return [
            message_text(call.args)
            for call in self.doors.slack.succeeded("chat.postMessage")
            if call.token == self.token and call.args.get("channel") == channel
        ]

    def posts(self) -> list[str]:
        return self.messages(slack_bot.CHANNEL)


@dataclass
class DingTalkGroup:
    """A DingTalk group with the robot: people @-mention it; answers go to the message's sessionWebhook."""

    team: str
    locale: str
    doors: Doors
    conversation: str

    async def say(self, user: str, text: str, *, privately: bool = False) -> str:
        """An @-mention of the robot in the group, or a message in the robot's single chat."""
        msg_id = f"msg{uuid.uuid4().hex[:16]}"
        payload = dingtalk.robot_message(
            text,
            sender=user,
            msg_id=msg_id,
            session=msg_id,
            expires_at=datetime.now(SHANGHAI) + timedelta(minutes=90),
            group=None if privately else self.conversation,
            at_users=re.findall(r"@(\S+)", text),
            nick=DINGTALK_PEOPLE[user],
        )
        answer = await post_to_dingtalk(self.doors, payload, dingtalk_headers())
        assert answer.status_code == 200, answer.text
        replies = await eventually(
            lambda: self.doors.dingtalk.session_replies(msg_id), f"answer to {text!r} in {self.team}"
        )
        return "\n".join(dingtalk_text(reply) for reply in replies)

    def posts(self) -> list[str]:
        return [dingtalk_text(post) for post in self.doors.dingtalk.group_posts(self.conversation)]


def dingtalk_text(message: dict[str, Any]) -> str:
    """The text of a session reply (`{"markdown": {…}}`, `{"text": {"content"}}`) or a post's msgParam."""
    body = message.get("markdown") or message.get("text") or message
    if isinstance(body, str):
        return body
    return str(body.get("text") or body.get("content") or "")


@dataclass
class WeComApp:
    """The WeCom app's chat: people write to it; answers come back passively or as an app message."""

    team: str
    locale: str
    doors: Doors
    robot_key: str
    oracle: WeChatCrypto = field(
        default_factory=lambda: WeChatCrypto(wecom.TOKEN, wecom.AES_KEY, wecom.CORP_ID)
    )
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(9_100_000_001))

    async def say(self, user: str, text: str, *, privately: bool = False) -> str:
        """A message in the app's chat, which is private to the person either way."""
        body, query = sealed(text_message(user, text, str(next(self.ids)), str(int(time.time()))))
        earlier = len(self.doors.wecom.dms(user))
        answer = await self.doors.http.post("/wecom/callback", params=query, content=body)
        assert answer.status_code == 200, answer.text
        passive = passive_reply(self.oracle, answer)
        if passive is not None:
            return passive["Content"]
        sent = await eventually(
            lambda: self.doors.wecom.dms(user)[earlier:], f"answer to {text!r} in {self.team}"
        )
        return "\n".join(message.content for message in sent)

    def posts(self) -> list[str]:
        return [sent.content for sent in self.doors.wecom.robot_posts(self.robot_key)]


# ----- the deployment ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """What the teams' data and channels look like: every tracked row, and the posts per team."""

    rows: dict[str, list[tuple[Any, ...]]]
    posts: dict[str, int]


@dataclass
class Deployment:
    """The running bot (doors.py) and the teams' rooms."""

    doors: Doors
    rooms: dict[str, Room]

    async def trace(self) -> Trace:
        rows: dict[str, list[tuple[Any, ...]]] = {}
        async with self.doors.engine.connect() as connection:
            for model in TRACKED:
                table = model.__table__
                found = await connection.execute(select(*table.columns).order_by(*table.primary_key))
                rows[table.name] = [tuple(row) for row in found]
        return Trace(rows, {name: len(room.posts()) for name, room in self.rooms.items()})

    async def idle(self) -> Trace:
        """The trace once the bot has finished: nothing pending in the outbox, nothing changing."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last = await self.trace()
        while True:
            await asyncio.sleep(QUIET)
            now = await self.trace()
            if now == last and (await self.doors.trace()).pending == 0:
                return now
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never settled\n{self.doors.bot.errors()}")
            last = now

    async def rows_by_team(self, model: Any, *columns: Any) -> list[tuple[Any, ...]]:
        """(team slug, *columns) for every row of `model`, oldest first."""
        query = (
            select(Team.slug, *columns).join_from(model, Team, model.team_id == Team.id).order_by(model.id)
        )
        async with self.doors.engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(query)]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKEND_PARAMS)
async def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    """One `teambeat run` serving doors.py's east teams and the three above, on a fresh database."""
    backend = chosen_backend(request.param)
    tmp_path = tmp_path_factory.mktemp(f"permissions-{backend}")
    async with open_doors(backend, tmp_path, extra_teams=TEAMS, slack_oauth=True) as doors:
        doors.dingtalk.users.update(DINGTALK_PEOPLE)
        doors.wecom.users.update(WECOM_PEOPLE)
        rooms: dict[str, Room] = {
            "slack-east": SlackChannel("slack-east", "en", doors, slack_bot.TEAM, slack_bot.BOT_TOKEN),
            "slack-south": SlackChannel("slack-south", "zh-CN", doors, SLACK_SOUTH, SLACK_SOUTH_TOKEN),
            "dingtalk-east": DingTalkGroup("dingtalk-east", "zh-CN", doors, dingtalk.EAST),
            "dingtalk-west": DingTalkGroup("dingtalk-west", "zh-CN", doors, dingtalk.WEST),
            "wecom-west": WeComApp("wecom-west", "zh-CN", doors, WECOM_WEST_KEY),
        }
        yield Deployment(doors, rooms)


# ----- what a refusal says -------------------------------------------------------------------------------

ONLY = {
    "en": {
        "leader": "Only team leaders can use {command}.",
        "lead": "Only group leads and team leaders can use {command}.",
    },
    "zh-CN": {"leader": "{command} 只有团队长可以使用", "lead": "{command} 只有组长或团队长可以使用"},
}
ASK = {
    "en": {"leader": "Ask your team leader", "lead": "Ask your group lead"},
    "zh-CN": {"leader": "请找你的团队长帮忙", "lead": "请找你的组长帮忙"},
}
USAGE = {
    "en": {"goal": "Usage: /goal ", "deal": "Usage: /deal ", "team": "Usage: /team "},
    "zh-CN": {"goal": "用法：/目标 ", "deal": "用法：/成交 ", "team": "用法：/团队 "},
}


def assert_refused(reply: str, room: Room, command: str, required: str) -> None:
    """The reply says who may do it, whom to ask, and how the command is written — in the team's language."""
    locale = room.locale
    assert ONLY[locale][required].format(command=command) in reply, (room.team, reply)
    assert ASK[locale][required] in reply, (room.team, reply)
    assert USAGE[locale][command.split()[0].lstrip("/")] in reply, (room.team, reply)
    assert "Traceback" not in reply


# ----- a member asks for what needs a lead or a leader -----------------------------------------------------


async def test_a_member_is_refused_what_needs_a_lead_or_leader_and_nothing_changes(
    deployment: Deployment,
) -> None:
    """U0002 is a plain member in four teams: setting the team's goal or a teammate's, logging a deal for
    a teammate, adding a group, promoting themselves or starting a PK is refused — in the team's
    language whatever language the command was typed in, naming who may do it, whom to ask and how the
    command is written — and leaves no row and no post behind."""
    before = await deployment.idle()
    asked = {
        "/goal team 300000 month": ("/goal", "leader"),
        "/goal @U0003 20000 week": ("/goal", "lead"),
        "/deal 5000 @U0003 Umbrella": ("/deal", "lead"),
        "/team group add Panthers": ("/team", "leader"),
        "/team role @U0002 leader": ("/team", "leader"),
        "/team pk start Sprint today..tomorrow": ("/team pk start", "leader"),
    }
    for name in ("slack-east", "slack-south", "dingtalk-west", "wecom-west"):
        room = deployment.rooms[name]
        for text, (command, required) in asked.items():
            assert_refused(await room.say("U0002", text), room, command, required)
    assert await deployment.idle() == before, "a refused command changed a team"


# ----- a leader of one team, in another ----------------------------------------------------------------


async def test_a_leader_cannot_edit_a_team_they_do_not_lead_nor_reach_its_people(
    deployment: Deployment,
) -> None:
    """U0001 leads East Sales in Slack T0001; in T0002 — same user id, same channel id — he is a member
    of 华南二部. boss01 leads 华东一部 on DingTalk and is nobody in 华西二部, a team of the same corp.
    Neither may change a team they do not lead, start or stop its PK, or act on its people."""
    rooms = deployment.rooms
    east, south = rooms["slack-east"], rooms["slack-south"]
    ding_east, ding_west = rooms["dingtalk-east"], rooms["dingtalk-west"]
    started = await south.say("U0004", "/team pk start 冲刺 today..tomorrow 狼队 虎队")
    assert "小组PK「冲刺」已发起" in started, started
    before = await deployment.idle()

    in_south = {
        "/team setup 改名了": ("/team setup", "leader"),
        "/team group add 豹队": ("/team", "leader"),
        "/team role @U0001 leader": ("/team", "leader"),
        "/team member remove @U0004": ("/team", "leader"),
        "/team pk start 抢跑 today..tomorrow 狼队 虎队": ("/team pk start", "leader"),
        "/team pk stop 冲刺": ("/team pk stop", "leader"),
        "/goal team 10万 month": ("/goal", "leader"),
    }
    for text, (command, required) in in_south.items():
        assert_refused(await south.say("U0001", text), south, command, required)
    # The same U0001 is a leader in his own workspace, where 华南二部's competition does not exist.
    stop = await east.say("U0001", "/team pk stop 冲刺")
    assert "There is no group competition called “冲刺”" in stop, stop

    in_west = {
        "/team setup 华东一部": ("/team setup", "leader"),
        "/team calendar weekdays": ("/team", "leader"),
        "/team schedule morning 08:45": ("/team", "leader"),
        "/team role @boss01 leader": ("/team", "leader"),
        "/team pk start 抢跑 today..tomorrow 鹰队 豹队": ("/team pk start", "leader"),
        "/goal team 10万 month": ("/goal", "leader"),
        "/deal 5000 @U0002": ("/deal", "lead"),
    }
    for text, (command, required) in in_west.items():
        assert_refused(await ding_west.say("boss01", text), ding_west, command, required)
    # In his own team boss01 leads, but U0002 of 华西二部, in the same corp, is not one of his people.
    for text in ("/deal 5000 @U0002 客户A", "/kudos @U0002 辛苦了", "/team role @U0002 lead"):
        reply = await ding_east.say("boss01", text)
        assert "找不到成员「＠U0002」。请用 ＠ 选择本团队的成员" in reply, reply  # DingTalk shows @ as ＠

    assert await deployment.idle() == before, "an attempt on another team changed something"
    assert await deployment.rows_by_team(Competition, Competition.name, Competition.status) == [
        ("slack-south", "冲刺", "active")
    ]


# ----- the same user id in two workspaces and on two platforms -------------------------------------------


@dataclass(frozen=True)
class Life:
    """What U0002 and their leader do in one team, and how that team shows it."""

    leader: str
    seller: str  # U0002's name in this team
    thanked: str  # U0003's name in this team
    deal: str  # `/deal` arguments
    customer: str
    amount: str  # the deal as the team's replies show it
    kudos: str
    goal: str  # `/goal team` arguments
    target: str  # the goal as the team's replies show it

    def marks(self) -> tuple[str, ...]:
        """What only this team's data contains: if another team shows one of these, data crossed."""
        amounts = (self.amount.lstrip("¥"), self.target.lstrip("¥"))
        return (self.seller, self.thanked, self.customer, self.kudos, *amounts)


LIVES = {
    "slack-east": Life(
        leader="U0001",
        seller="Alice",
        thanked="Bob",
        deal="12800 Acme",
        customer="Acme",
        amount="¥12,800",
        kudos="great demo at Acme",
        goal="90000 month",
        target="¥90,000",
    ),
    "slack-south": Life(
        leader="U0004",
        seller="王二",
        thanked="张三",
        deal="3300 万达广场",
        customer="万达广场",
        amount="¥3,300",
        kudos="帮忙拿下万达",
        goal="60万 本月",
        target="¥60万",
    ),
    "dingtalk-west": Life(
        leader="li01",
        seller="周五",
        thanked="吴六",
        deal="4500 华为年度采购",
        customer="华为年度采购",
        amount="¥4,500",
        kudos="电话跟进到位",
        goal="70万 本月",
        target="¥70万",
    ),
    "wecom-west": Life(
        leader="wendy",
        seller="钱八",
        thanked="冯九",
        deal="7700 腾讯云续费",
        customer="腾讯云续费",
        amount="¥7,700",
        kudos="报价做得漂亮",
        goal="80万 本月",
        target="¥80万",
    ),
}


async def test_the_same_user_id_is_another_person_in_every_workspace_and_platform(
    deployment: Deployment,
) -> None:
    """U0002 logs a deal and thanks U0003 in four teams, and each team's leader sets a goal. Each
    team's answers to /rank, /goal and /kudos — in its channel and in U0002's DM with the bot there —
    and its channel posts show its own and nothing of the others'; each stored row belongs to the team
    it was said in, with members of that team only."""
    rooms = deployment.rooms
    for name, life in LIVES.items():
        room = rooms[name]
        recorded = await room.say("U0002", f"/deal {life.deal}")
        assert life.amount in recorded, (name, recorded)
        assert await room.say("U0002", f"/kudos @U0003 {life.kudos}"), name
        goal = await room.say(life.leader, f"/goal team {life.goal}")
        assert life.target in goal, (name, goal)
    await deployment.idle()

    for name, life in LIVES.items():
        room = rooms[name]
        others = [mark for other, their in LIVES.items() if other != name for mark in their.marks()]
        answers = {
            "/rank": await room.say("U0002", "/rank"),
            "/goal": await room.say("U0002", "/goal"),
            "/kudos": await room.say("U0002", "/kudos"),
            "/rank in private": await room.say("U0002", "/rank", privately=True),
        }
        for rank in (answers["/rank"], answers["/rank in private"]):
            assert life.seller in rank and life.amount in rank, (name, answers)
        assert life.target in answers["/goal"], (name, answers)
        assert life.thanked in answers["/kudos"], (name, answers)
        channel = "\n".join(room.posts())
        assert life.customer in channel and life.kudos in channel, (name, channel)
        for what, text in {**answers, "channel": channel}.items():
            crossed = [mark for mark in others if mark in text]
            assert not crossed, f"{name} {what} shows another team's {crossed}:\n{text}"

    # Deal ids are one sequence across teams: another team's id finds nothing, even for its namesake.
    ids = {team: deal for team, deal in await deployment.rows_by_team(Deal, Deal.id)}
    for name, other in (("slack-south", "slack-east"), ("wecom-west", "dingtalk-west")):
        for who in ("U0002", LIVES[name].leader):
            undo = await rooms[name].say(who, f"/deal undo {ids[other]}")
            assert f"找不到编号为 {ids[other]} 的成交记录" in undo, (name, who, undo)

    members = await deployment.rows_by_team(Member, Member.id, Member.user_id)
    person = {member_id: (team, user) for team, member_id, user in members}
    deals = await deployment.rows_by_team(Deal, Deal.customer, Deal.member_id, Deal.voided_at)
    assert sorted((team, customer, person[who], void) for team, customer, who, void in deals) == sorted(
        (name, life.customer, (name, "U0002"), None) for name, life in LIVES.items()
    )
    kudos = await deployment.rows_by_team(Kudos, Kudos.reason, Kudos.giver_id, Kudos.receiver_id)
    assert sorted((team, reason, person[by], person[to]) for team, reason, by, to in kudos) == sorted(
        (name, life.kudos, (name, "U0002"), (name, "U0003")) for name, life in LIVES.items()
    )
    goals = await deployment.rows_by_team(Goal, Goal.subject, Goal.set_by_id)
    assert sorted((team, subject, person[by]) for team, subject, by in goals) == sorted(
        (name, "team", (name, life.leader)) for name, life in LIVES.items()
    )
