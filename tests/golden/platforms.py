"""Each platform's renderer as the golden files show it: one readable text per message.

Each entry renders the way its adapter sends a channel post: Slack's chat.postMessage payloads, DingTalk's
markdown for a group robot (mentions notify), WeCom's markdown for a group robot (<@id> mentions, chart
bytes sent as images) and the console's plain text. A message the platform splits shows every part.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from adapters.console.render import render_console
from adapters.dingtalk.render import render as render_dingtalk
from adapters.slack.render import render_slack
from adapters.wecom.render import ROBOT_MARKDOWN_BYTES, render_markdown
from bot.messages import OutgoingMessage


def slack_payloads(msg: OutgoingMessage) -> str:
    return json.dumps([m.payload() for m in render_slack(msg)], ensure_ascii=False, indent=2)


def dingtalk_markdown(msg: OutgoingMessage) -> str:
    posts = render_dingtalk(msg, notify=True)
    return "\n\n".join(
        f"<<< post {n}/{len(posts)} · title: {p.title} · at: {', '.join(p.at_user_ids) or '-'} >>>\n{p.text}"
        for n, p in enumerate(posts, 1)
    )


def wecom_markdown(msg: OutgoingMessage) -> str:
    rendered = render_markdown(msg, limit=ROBOT_MARKDOWN_BYTES, robot=True)
    parts = [
        f"<<< message {n}/{len(rendered.chunks)} >>>\n{chunk}" for n, chunk in enumerate(rendered.chunks, 1)
    ]
    parts += [f"<<< image {n}: {len(data)} bytes >>>" for n, data in enumerate(rendered.images, 1)]
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Platform:
    """A renderer, the golden files' suffix, and what a member's hostile text must (not) become."""

    render: Callable[[OutgoingMessage], str]
    suffix: str
    shown: tuple[str, ...]  # the hostile sample's pieces, as this platform shows them inertly
    never: tuple[str, ...]  # markup that would notify everyone or bold the member's words
    mentions_by_id: bool = True  # a mentioned member shows as an id, not their name


PLATFORMS: dict[str, Platform] = {
    "console": Platform(render_console, "txt", ("<!channel>", "{{ 7*7 }}", "**x**", "@所有人"), (), False),
    "slack": Platform(slack_payloads, "json", ("&lt;!channel&gt;", "{{ 7*7 }}"), ("<!channel>",)),
    "dingtalk": Platform(
        dingtalk_markdown, "md", ("＜!channel＞", "{{ 7＊7 }}", "＊＊x＊＊", "＠所有人"), ("@所有人", "**x**")
    ),
    "wecom": Platform(
        wecom_markdown,
        "md",
        ("＜!channel＞", "{{ 7＊7 }}", "＊＊x＊＊", "＠所有人"),
        ("@所有人", "**x**", "<!channel>"),
    ),
}
