"""Every signed door reads its timestamp the same strict way — 1 to 13 ASCII digits — before anything else,
so that a number Python would also take (`"١٧٠٠"`, `"1_700"`, 400 digits) or one `str.isdigit()` takes and
`int()` refuses (`"²"`) is refused with a reason, never an exception (which the server answered 500)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from adapters.dingtalk.sign import callback_problem, callback_sign
from adapters.web.deals_hook import sign, signature_problem
from adapters.web.timestamps import parse_timestamp
from adapters.wecom.callback import open_message, verify_url
from adapters.wecom.crypto import CallbackRejected, WeComCrypto, signature
from tests.fakes import wecom

SECRET = "s3cret"
NOW = time.time()
HOSTILE = {
    "400 digits": "9" * 400,
    "14 digits": "1" * 14,
    "superscript two": "²",
    "circled one": "①",
    "Arabic-Indic digits": "١٧٠٠٠٠٠٠٠٠",
    "full-width digits": "１７００００００００",
    "underscores": f"{int(NOW):_}",
    "a sign": f"+{int(NOW)}",
    "spaces around": f" {int(NOW)} ",
    "a trailing newline": f"{int(NOW)}\n",
    "empty": "",
}


def test_only_ascii_digits_up_to_13_are_a_timestamp():
    assert parse_timestamp("1700000000") == 1_700_000_000
    assert parse_timestamp("1700000000123") == 1_700_000_000_123
    assert parse_timestamp("0") == 0
    assert parse_timestamp(None) is None
    assert {why: parse_timestamp(text) for why, text in HOSTILE.items()} == dict.fromkeys(HOSTILE)


@pytest.mark.parametrize("why", list(HOSTILE))
def test_the_deal_webhook_refuses_a_hostile_timestamp_even_signed_over_it(why):
    timestamp, body = HOSTILE[why], b'{"id": "1"}'
    problem = signature_problem(SECRET, timestamp, sign(SECRET, timestamp, body), body, NOW)
    assert "X-Teambeat" in problem, why


def test_the_deal_webhook_still_takes_a_good_one():
    timestamp, body = str(int(NOW)), b'{"id": "1"}'
    assert signature_problem(SECRET, timestamp, sign(SECRET, timestamp, body), body, NOW) == ""


@pytest.mark.parametrize("why", list(HOSTILE))
def test_a_dingtalk_callback_refuses_a_hostile_timestamp_even_signed_over_it(why):
    timestamp = HOSTILE[why].replace(str(int(NOW)), str(int(NOW * 1000)))
    problem = callback_problem(SECRET, timestamp, callback_sign(SECRET, timestamp), int(NOW * 1000))
    assert problem, why


def test_a_dingtalk_callback_still_takes_a_good_one():
    timestamp = str(int(NOW * 1000))
    assert callback_problem(SECRET, timestamp, callback_sign(SECRET, timestamp), int(NOW * 1000)) == ""


@pytest.mark.parametrize("why", [why for why in HOSTILE if HOSTILE[why]])
def test_a_wecom_callback_refuses_a_hostile_timestamp_with_a_400(why):
    crypto = WeComCrypto(wecom.TOKEN, wecom.AES_KEY, wecom.CORP_ID)
    timestamp, nonce, encrypt = HOSTILE[why], "n0nce", crypto.encrypt(b"1288432023552776189")
    query = {"msg_signature": signature(wecom.TOKEN, timestamp, nonce, encrypt), "timestamp": timestamp}
    query |= {"nonce": nonce}
    now = datetime.fromtimestamp(NOW, UTC)
    for check in (
        lambda: verify_url(crypto, query | {"echostr": encrypt}, now),
        lambda: open_message(crypto, query, f"<xml><Encrypt>{encrypt}</Encrypt></xml>".encode(), now),
    ):
        with pytest.raises(CallbackRejected) as refused:
            check()
        assert (refused.value.status, refused.value.reason) == (400, "bad_timestamp"), why
