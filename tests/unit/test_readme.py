"""The README as a newcomer follows it: prerequisites first, the two commands, the sample team's ids, and
the deal webhook's signing documented inside the repository, agreeing with the code."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from adapters.web.deals_hook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)


def block(language: str, containing: str) -> str:
    [found] = [body for lang, body in BLOCKS if lang == language and containing in body]
    return found


def test_prerequisites_come_before_the_two_commands_which_stay_first():
    assert BLOCKS[0][1].strip() == "pip install . && teambeat run"
    assert BLOCKS[1][1].strip() == "pip install -e '.[test]' && python -m pytest"
    before = README[: README.index("```")]
    assert "Python 3.11 or newer" in before
    assert "`python3 -m venv .venv && . .venv/bin/activate`" in before


def test_nothing_points_outside_the_repository():
    assert "../shared" not in README and "product.md" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not re.match(r"[a-z]+://", target):  # a web address (or a dtmd:// one quoted as an example)
            assert (ROOT / target).exists(), target


def test_the_sample_teams_ids_and_the_english_locale_are_stated():
    prose = " ".join(README.split())
    for sample in ("sample.toml", "sample.en.toml"):
        config = tomllib.loads((ROOT / "adapters" / "console" / sample).read_text(encoding="utf-8"))
        assert f"team id `{config['teams'][0]['id']}`" in prose
    assert "`teambeat run --locale en`" in prose and "`teambeat demo --locale en`" in prose


def test_the_python_signing_example_signs_as_the_server_checks():
    example = block("python", "hmac.new")
    assert TIMESTAMP_HEADER in example and SIGNATURE_HEADER in example
    names: dict[str, object] = {}
    exec(example.split("request = ")[0], names)  # everything up to sending
    secret, ts, body = names["secret"], names["ts"], names["body"]
    assert names["sig"] == sign(secret.decode(), ts, body)
    assert '"<timestamp>.<raw body>"' in README


def test_the_curl_example_signs_as_the_server_checks():
    example = block("bash", "openssl dgst")
    assert f'-H "{TIMESTAMP_HEADER}: $ts"' in example and f'-H "{SIGNATURE_HEADER}: v1=$sig"' in example
    script = example.split("curl ")[0] + 'printf "%s\\n%s\\n%s\\n" "$ts" "$body" "$sig"\n'
    ts, body, sig = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    secret = re.search(r"secret='([^']*)'", example).group(1)
    assert "v1=" + sig == sign(secret, ts, body.encode())
