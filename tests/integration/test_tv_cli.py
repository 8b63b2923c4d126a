"""`teambeat tv --team ID [--rotate] [-c FILE]` and `/team tv`: the board's link, to whom it is given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.cli import main
from tests.support.chat import Chat
from tests.support.tv import write_tv_config

URL = re.compile(r"(https?://\S+/tv/(\w+)\?key=([\w-]+))")


def _config(tmp_path: Path, public_url: str = "") -> Path:
    path = write_tv_config(tmp_path, f"sqlite:///{tmp_path / 'tv.db'}", port=8123)
    if public_url:
        text = path.read_text("utf-8").replace("[server]\n", f'[server]\npublic_url = "{public_url}"\n', 1)
        path.write_text(text, "utf-8")
    return path


def _tv(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tv", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_tv_prints_the_board_url_and_rotate_replaces_the_key(tmp_path, capsys) -> None:
    config = str(_config(tmp_path, "https://screens.example.com/teambeat/"))
    code, first, _ = _tv(capsys, "--team", "east", "-c", config)
    assert code == 0
    assert re.fullmatch(r"https://screens\.example\.com/teambeat/tv/east\?key=[\w-]{32}\n", first), first
    assert _tv(capsys, "--team", "east", "-c", config)[1] == first  # the same key until rotated
    code, rotated, _ = _tv(capsys, "--team", "east", "--rotate", "-c", config)
    assert (
        code == 0
        and rotated != first
        and rotated.startswith("https://screens.example.com/teambeat/tv/east?key=")
    )
    assert _tv(capsys, "--team", "east", "-c", config)[1] == rotated
    west = _tv(capsys, "--team", "west", "-c", config)[1]
    assert URL.search(west).group(3) != URL.search(rotated).group(3)  # type: ignore[union-attr]


def test_tv_without_public_url_uses_host_and_port_and_names_an_unknown_team(tmp_path, capsys) -> None:
    config = str(_config(tmp_path))
    code, out, _ = _tv(capsys, "--team", "east", "-c", config)
    assert code == 0 and out.startswith("http://127.0.0.1:8123/tv/east?key=")
    code, out, err = _tv(capsys, "--team", "nope", "-c", config)
    assert code == 1 and out == "" and "no team with id 'nope'" in err


async def test_team_tv_sends_a_leader_the_link_in_a_dm_never_in_the_channel(chat: Chat) -> None:
    reply = await chat.say("boss", "/团队 tv")
    assert "私信" in reply and "key=" not in reply
    assert not any("key=" in post for post in chat.channel_posts())
    [dm] = chat.dms("boss")
    found = URL.search(dm)
    assert found is not None and found.group(1).startswith("http://127.0.0.1:8080/tv/east?key=")
    # Asked in the DM, the link comes back right there; the key stays the same.
    again = await chat.say("boss", "/team tv", dm=True)
    assert found.group(3) in again
    # Rotated: a new key, and the reply says the old link has stopped.
    rotated = await chat.say("boss", "/team tv rotate", dm=True)
    new = URL.search(rotated)
    assert new is not None and new.group(3) != found.group(3) and "旧链接已经失效" in rotated


@pytest.mark.parametrize("who", ["bob", "alice"])  # a member and a group lead
async def test_team_tv_is_refused_to_anyone_but_a_leader(chat: Chat, who: str) -> None:
    reply = await chat.say(who, "/team tv")
    assert "/team tv 只有团队长可以使用" in reply
    assert "key=" not in reply and not chat.dms(who) and not chat.dms("boss")


@pytest.mark.slow
async def test_teambeat_run_serves_the_board_once_a_key_exists_and_sigterm_ends_open_boards(tmp_path) -> None:
    """A console team with no webhook and no HTTP platform: the server runs because the team has a board,
    and stopping the bot does not wait out the grace period for the board left open."""
    import asyncio
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.support.bot_process import free_port
    from tests.support.tv import open_stream

    port = free_port()
    config = tmp_path / "run.toml"
    text = (
        f'[database]\nurl = "sqlite:///{tmp_path / "run.db"}"\n[server]\nhost = "127.0.0.1"\nport = {port}\n'
    )
    text += '[console]\nenabled = true\nuser = "boss"\n'
    text += '[[teams]]\nid = "east"\nname = "华东一部"\nplatform = "console"\nworkspace = "local"\n'
    text += 'channel = "east"\nleaders = ["boss"]\n[[teams.members]]\nid = "boss"\nname = "Boss"\n'
    config.write_text(text, encoding="utf-8")
    made = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "tv", "--team", "east", "-c", str(config)], check=True
    )
    assert made.returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "run", "-c", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(300):
                try:
                    await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            from sqlalchemy import create_engine
            from sqlalchemy import text as sql

            engine = create_engine(f"sqlite:///{tmp_path / 'run.db'}")
            with engine.connect() as connection:
                key = connection.execute(sql("SELECT key FROM tv_keys")).scalar_one()
            engine.dispose()
            assert (await client.get(f"/tv/east?key={key}")).status_code == 200
            async with open_stream(client, f"/tv/east/events?key={key}") as stream:
                assert (await stream.next("board")).data["team"] == "华东一部"
                began = time.monotonic()
                process.send_signal(signal.SIGTERM)
                await stream.ended(timeout=10)
                code = await asyncio.to_thread(process.wait, 20)
        assert code == 0
        assert time.monotonic() - began < 8, "SIGTERM waited for the open board"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdin is not None
        process.stdin.close()
