"""WeCom's XML, read safely and written correctly.

WeCom never sends a DTD, an entity declaration or a comment, so any `<!` other than `<![CDATA[` is
refused before the stdlib parser sees the bytes: no entity expansion (billion laughs), no external
entities, whatever the expat version. Bodies are size-limited first; callbacks are a few KB.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

MAX_XML_BYTES = 64 * 1024
_DECLARATIONS = re.compile(rb"<!(?!\[CDATA\[)")
_CDATA_SECTION = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.DOTALL)  # member text: may hold `<!channel>`
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class UnsafeXml(ValueError):
    """The body is not the small, declaration-free XML document WeCom sends."""


def parse_xml(data: bytes, limit: int = MAX_XML_BYTES) -> dict[str, str]:
    """`<xml><A>1</A><From><UserId>u</UserId></From></xml>` -> {"A": "1", "From.UserId": "u"}."""
    if len(data) > limit:
        raise UnsafeXml(f"XML over {limit} bytes")
    if _DECLARATIONS.search(_CDATA_SECTION.sub(b"", data)):
        raise UnsafeXml("DTDs, entities and comments are not accepted")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from None
    if root.tag != "xml":
        raise UnsafeXml("the root element must be <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            for grandchild in child:
                fields.setdefault(f"{child.tag}.{grandchild.tag}", (grandchild.text or "").strip())
        else:
            fields.setdefault(child.tag, child.text or "")
    return fields


def cdata(text: str) -> str:
    """A CDATA section holding any text: `]]>` is split across two sections, invalid chars dropped."""
    clean = _XML_INVALID.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_corp: str, create_time: int, content: str) -> str:
    """The plaintext of a passive text reply (encrypted before it is sent)."""
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_corp)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )


def encrypted_envelope(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """The body of an encrypted passive reply."""
    return (
        f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{int(timestamp)}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
    )
