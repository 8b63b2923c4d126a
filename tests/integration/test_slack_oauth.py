"""`[slack] oauth = true`: two workspaces install the app through /slack/install and /slack/oauth_redirect;
their tokens live in slack_sdk's tables on our database, and each workspace is served with its own."""

from __future__ import annotations

import re

from sqlalchemy import func, select, text

from bot.storage.orm import Deal
from tests.fakes.slack import FakeSlack, message_text
from tests.fakes.slack_bot import APP_TOKEN, CHANNEL, TEAM, SlackBot, slack_bot, workspace

OTHER = "T0002"


async def install(bot: SlackBot, code: str) -> str:
    page = await bot.http.get("/slack/install")
    assert page.status_code == 200
    state = re.search(r"slack-app-oauth-state=([^;]+)", page.headers["set-cookie"]).group(1)
    assert f"state={state}" in page.text and "client_id=cid.1" in page.text  # the "Add to Slack" link
    done = await bot.http.get(
        "/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )
    return done.text if done.status_code == 200 else f"HTTP {done.status_code}"


async def test_two_workspaces_install_and_stay_apart(engine, database_url, tmp_path):
    home, other = workspace(), workspace(OTHER, "xoxb-fake-T0002")
    fake = FakeSlack([home, other], app_token=APP_TOKEN)
    fake.oauth_codes = {"code-home": home, "code-other": other}
    async with slack_bot(tmp_path, database_url, fake=fake, oauth=True) as bot:
        forged = await bot.http.get("/slack/oauth_redirect", params={"code": "code-home", "state": "made-up"})
        assert forged.status_code == 400  # a state we never issued
        for code in ("code-home", "code-other"):
            page = await install(bot, code)
            assert "Thank you!" in page and "slack://app?team=T000" in page, page
        assert fake.oauth_codes == {}
        async with bot.app.engine.connect() as connection:
            bots = dict((await connection.execute(text("SELECT team_id, bot_token FROM slack_bots"))).all())
        assert bots == {TEAM: "xoxb-fake-T0001", OTHER: "xoxb-fake-T0002"}

        answer = await bot.command("U0002", "/deal 12800")
        assert "¥12,800" in answer[0]
        assert [c.token for c in fake.succeeded("chat.postMessage")] == ["xoxb-fake-T0001"] * 3

        # The same user id in the other workspace is someone else, in no team there.
        elsewhere = await bot.command("U0002", "/deal 500", team=OTHER)
        assert "还没有绑定团队" in elsewhere[0]  # "no team here yet" (the bot's default locale)
        infos = {(c.args["user"], c.token) for c in fake.succeeded("users.info")}
        assert infos == {("U0002", "xoxb-fake-T0001"), ("U0002", "xoxb-fake-T0002")}

        # A workspace that never installed the app gets nothing done and no call made for it.
        calls = len(fake.calls)
        stranger = await bot.command("U0002", "/deal 900", team="T0003")
        assert len(stranger) == 1 and "install this app" in stranger[0]  # bolt's own answer
        assert len(fake.calls) == calls
        async with bot.app.sessionmaker() as session:
            deals = await session.scalar(select(func.count()).select_from(Deal))
        assert deals == 1
        assert message_text(bot.channel_posts(CHANNEL)[0]).count("<@U0002>") >= 1
