"""A check-in fan-out on DingTalk stays within the app's server-API rate: DingTalk refuses an app's
calls beyond its QPS, so personal prompts to many members must queue in teambeat, not be refused there.

Real time: the fake counts calls per real second, as DingTalk does (about three seconds here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.dingtalk.adapter import DingTalkAdapter
from bot.app import build_app
from bot.clock import FixedClock
from bot.config import load_config
from bot.delivery.outbox import enqueue
from bot.delivery.worker import DeliveryWorker
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text
from tests.fakes.dingtalk import APP_KEY, APP_SECRET, CORP, ROBOT_CODE, FakeDingTalk
from tests.support.loopback import serve
from tests.support.qps_gate import QpsGate

QPS = 8
MEMBERS = 20


def config(tmp_path: Path, url: str, api: str) -> Path:
    path = tmp_path / "teambeat.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n\n[dingtalk]\napp_key = "{APP_KEY}"\napp_secret = "{APP_SECRET}"\n'
        f'robot_code = "{ROBOT_CODE}"\napi_base_url = "{api}"\noapi_base_url = "{api}"\napi_qps = {QPS}\n',
        encoding="utf-8",
    )
    return path


def prompt(name: str) -> OutgoingMessage:
    text = f"早上好，{name}！今天的打卡开始啦。"
    return OutgoingMessage((Paragraph((Text(text),)),), text)


@pytest.mark.slow
async def test_personal_dms_to_many_members_queue_within_the_app_qps(engine, database_url, tmp_path):
    clock = FixedClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    people = {f"u{i}": f"成员{i}" for i in range(MEMBERS)}
    fake = FakeDingTalk(clock, users=people)
    gate = QpsGate(fake.asgi(), QPS, ("/v1.0/", "/topapi/"))
    url, pg_schema = database_url
    async with serve(gate) as api:
        app = await build_app(
            load_config(config(tmp_path, url, api), environ={}),
            clock,
            migrate=False,  # the engine fixture migrated it
            pg_schema=pg_schema,
        )
        adapter = DingTalkAdapter(app)
        try:
            assert adapter.client.quota.per_second == QPS
            async with app.uow_factory() as uow:
                for user, name in people.items():
                    await enqueue(
                        uow.session,
                        channel=ChannelRef("dingtalk", CORP, user, "dm"),
                        message=prompt(name),
                        dedupe_key=f"prompt:{user}",
                        now=clock.now(),
                    )
                await uow.commit()
            worker = DeliveryWorker(app.uow_factory, {"dingtalk": adapter}, clock)
            assert await worker.drain() == MEMBERS
        finally:
            await adapter.stop()
            await app.close()

    assert gate.refused == []  # DingTalk never had to say QpsLimitForApi
    for user, name in people.items():
        assert fake.dms(user) == [f"早上好，{name}！今天的打卡开始啦。"]
    # one token call and one batchSend per member (personal texts are never merged)
    assert len(gate.passed) == 1 + MEMBERS
