"""Deal webhook helpers: a team whose members carry emails, mobiles and employee codes, and signing.

Signing is written out here from product.md rather than borrowed from the server, so that the tests
check the contract, not the server against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

SECRET = "test-deals-secret"

TEAM_TOML = """
[hooks]
deals_secret = "{secret}"

[server]
host = "127.0.0.1"
port = {port}
max_body_bytes = {max_body_bytes}

[[teams]]
id = "east"
name = "华东一部"
platform = "console"
workspace = "W1"
channel = "C-east"
locale = "zh-CN"
currency = "CNY"
calendar = "cn"
leaders = ["boss"]

[[teams.groups]]
name = "狼队"
members = ["alice", "carol"]

[[teams.groups]]
name = "虎队"
members = ["bob"]

[[teams.members]]
id = "boss"
name = "Boss"
[[teams.members]]
id = "alice"
name = "Alice"
email = "alice@example.com"
mobile = "+8613800000002"
employee_code = "E002"
[[teams.members]]
id = "bob"
name = "Bob"
email = "bob@example.com"
mobile = "+8613800000003"
employee_code = "E003"
[[teams.members]]
id = "carol"
name = "Carol"
"""


def write_deals_config(
    tmp_path: Path, url: str, *, port: int = 8080, max_body_bytes: int = 1_048_576, extra: str = ""
) -> Path:
    path = tmp_path / "teambeat.toml"
    team = TEAM_TOML.format(secret=SECRET, port=port, max_body_bytes=max_body_bytes)
    path.write_text(f'[database]\nurl = "{url}"\n' + team + extra, encoding="utf-8")
    return path


def body_of(payload: dict[str, object] | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()


def signed_headers(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    """`X-Teambeat-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Teambeat-Timestamp": str(timestamp),
        "X-Teambeat-Signature": f"v1={mac}",
        "Content-Type": "application/json",
    }
