"""WeCom callback crypto on `cryptography`, checked against Tencent's published sample and wechatpy."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from adapters.wecom.crypto import (
    BadCiphertext,
    BadSignature,
    WeComCrypto,
    WrongReceiver,
    pad,
    signature,
    unpad,
)
from adapters.wecom.payload import UnsafeXml, cdata, parse_xml

# Tencent's WXBizMsgCrypt sample (weworkapi_python/callback/Sample.py): the settings and two requests.
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"
VERIFY = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
}
ECHO_PLAIN = b"1288432023552776189"
MESSAGE = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
    "encrypt": (
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGz"
        "BhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3J"
        "WcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQ"
        "HE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYu"
        "PDGOCI8jmnKiypE+"
    ),
}
MESSAGE_PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)


@pytest.fixture
def ours() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


@pytest.fixture
def theirs() -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


def _aes(plain: bytes) -> str:
    """Encrypt already-framed, already-padded bytes with the sample key (to build broken ciphertexts)."""
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def _frame(message: bytes, receiver: bytes = CORP_ID.encode()) -> bytes:
    return os.urandom(16) + len(message).to_bytes(4, "big") + message + receiver


# ----- Tencent's published vectors ---------------------------------------------------------------------


def test_signature_of_the_sample_url_verification():
    assert (
        signature(TOKEN, VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]) == VERIFY["msg_signature"]
    )


def test_sample_url_verification_gives_the_echo_exactly(ours):
    assert ours.verify_url(**VERIFY) == ECHO_PLAIN


def test_sample_message_decrypts_to_the_documented_xml(ours):
    plain = ours.decrypt_message(**MESSAGE)
    assert plain.decode() == MESSAGE_PLAIN
    fields = parse_xml(plain)
    assert fields["FromUserName"] == "ChenJiaShun" and fields["Content"] == "你好"
    assert fields["MsgId"] == "1456453720"


def test_sample_vectors_agree_with_wechatpy(theirs):
    echo = theirs.check_signature(
        VERIFY["msg_signature"], VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]
    )
    assert echo == ECHO_PLAIN.decode()
    xml = f"<xml><Encrypt><![CDATA[{MESSAGE['encrypt']}]]></Encrypt></xml>"
    assert (
        theirs.decrypt_message(xml, MESSAGE["msg_signature"], MESSAGE["timestamp"], MESSAGE["nonce"])
        == MESSAGE_PLAIN
    )


# ----- both directions against wechatpy ------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 11, 12, 13, 43, 44, 45, 75, 76, 77, 500, 2048])
def test_ours_encrypts_wechatpy_decrypts(ours, theirs, length):
    message = ("成交" * length)[:length].encode() or b""
    encrypt = ours.encrypt(message)
    xml = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    sig = ours.sign("1700000000", "nonce1", encrypt)
    assert theirs.decrypt_message(xml, sig, "1700000000", "nonce1") == message.decode()


@pytest.mark.parametrize(
    "text", ["", "hi", "你好，世界", "x" * 31, "y" * 32, "z" * 33, "<xml>" + "喜报" * 300]
)
def test_wechatpy_encrypts_ours_decrypts(ours, theirs, text):
    envelope = parse_xml(theirs.encrypt_message(text, "nonce2", "1700000001").encode())
    plain = ours.decrypt_message(
        envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
    )
    assert plain.decode() == text


def test_echostr_made_by_wechatpy_verifies_with_ours(ours):
    echostr = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("998877", CORP_ID).decode()
    assert ours.verify_url(ours.sign("1", "2", echostr), "1", "2", echostr) == b"998877"


# ----- padding is PKCS#7 to 32 bytes ---------------------------------------------------------------------


@pytest.mark.parametrize("length", range(0, 70))
def test_padding_is_to_a_multiple_of_32_and_round_trips(length):
    data = b"a" * length
    padded = pad(data)
    assert len(padded) % 32 == 0 and 1 <= len(padded) - length <= 32
    assert unpad(padded) == data


def test_a_16_byte_unpadder_refuses_wecom_padding():
    padded = pad(b"a" * 10)  # 22 bytes of padding: legal for WeCom's 32, not for AES's 16
    unpadder = sym_padding.PKCS7(128).unpadder()
    with pytest.raises(ValueError):
        unpadder.update(padded) + unpadder.finalize()


# ----- what must be refused ----------------------------------------------------------------------------


def test_forged_signature_is_refused_before_decrypting(ours):
    forged = {**MESSAGE, "msg_signature": "0" * 40}
    with pytest.raises(BadSignature) as caught:
        ours.decrypt_message(**forged)
    assert caught.value.status == 401


def test_message_for_another_corp_is_refused(ours):
    other = WeChatCrypto(TOKEN, AES_KEY, "wwOTHERCORP0000000")
    envelope = parse_xml(other.encrypt_message("<xml/>", "n", "1700000002").encode())
    with pytest.raises(WrongReceiver) as caught:
        ours.decrypt_message(
            envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
        )
    assert caught.value.status == 401


@pytest.mark.parametrize("last", [0, 33, 255])
def test_bad_padding_is_refused(ours, last):
    framed = _frame(b"<xml/>")
    filler = 32 - len(framed) % 32 or 32
    encrypt = _aes(framed + bytes([7]) * (filler - 1) + bytes([last]))
    with pytest.raises(BadCiphertext) as caught:
        ours.decrypt_message(ours.sign("1", "2", encrypt), "1", "2", encrypt)
    assert caught.value.reason == "bad_padding" and caught.value.status == 400


def test_inconsistent_padding_bytes_are_refused(ours):
    framed = _frame(b"<xml/>")
    count = 32 - len(framed) % 32 or 32
    broken = framed + bytes([count + 1 if count < 32 else 1]) + bytes([count]) * (count - 1)
    encrypt = _aes(broken)
    with pytest.raises(BadCiphertext):
        ours.decrypt(encrypt)


@pytest.mark.parametrize("cut", [1, 3, 7, 30])
def test_truncated_base64_is_refused(ours, cut):
    encrypt = MESSAGE["encrypt"][:-cut]
    with pytest.raises(BadCiphertext) as caught:
        ours.decrypt_message(ours.sign("1", "2", encrypt), "1", "2", encrypt)
    assert caught.value.status == 400


def test_length_field_past_the_end_is_refused(ours):
    framed = os.urandom(16) + (10_000).to_bytes(4, "big") + b"<xml/>" + CORP_ID.encode()
    with pytest.raises(BadCiphertext) as caught:
        ours.decrypt(_aes(pad(framed)))
    assert caught.value.reason == "bad_frame"


def test_the_aes_key_must_be_43_characters():
    with pytest.raises(ValueError):
        WeComCrypto(TOKEN, AES_KEY[:-1], CORP_ID)


# ----- XML in and out ------------------------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Encrypt>&lol3;</Encrypt></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        BOMB,
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>',
        b"<xml><!-- hi --><Encrypt>a</Encrypt></xml>",
        b"<xml><Encrypt>a</Encrypt>",
        b"<notxml><Encrypt>a</Encrypt></notxml>",
        b"\xff\xfe garbage",
        b"<xml>" + b"x" * (64 * 1024) + b"</xml>",
    ],
    ids=["billion-laughs", "external-entity", "comment", "unclosed", "wrong-root", "garbage", "oversized"],
)
def test_unsafe_or_broken_xml_is_refused(body):
    with pytest.raises(UnsafeXml):
        parse_xml(body)


def test_cdata_carries_any_text_including_its_own_terminator():
    text = "a]]>b<![CDATA[c"
    assert parse_xml(f"<xml><C>{cdata(text)}</C></xml>".encode())["C"] == text


def test_nested_fields_are_flattened():
    fields = parse_xml(b"<xml><From><UserId>u1</UserId><Name>N</Name></From><ChatId>c</ChatId></xml>")
    assert fields == {"From.UserId": "u1", "From.Name": "N", "ChatId": "c"}


def test_wechatpy_signature_check_rejects_ours_when_forged(theirs, ours):
    encrypt = ours.encrypt(b"<xml/>")
    with pytest.raises(InvalidSignatureException):
        theirs.decrypt_message(f"<xml><Encrypt>{encrypt}</Encrypt></xml>", "f" * 40, "1", "2")
