"""Parse the small XML vocabulary our templates emit into neutral blocks.

Templates speak XML rather than Markdown so that mentions survive as data and no renderer has to
re-escape anyone's text. The input is our own template output, so anything unexpected (an unknown tag,
a stray attribute, text outside a block) is a template bug: it raises ValueError so golden tests catch it.

Whitespace: any run of XML whitespace that contains a newline is template indentation and is removed;
other whitespace is kept. A newline that belongs to a member's own text reaches us as LINE SEPARATOR
(U+2028, see ``bot.rendering.engine``) and becomes a real newline only after that rule has run.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from bot.messages import (
    Block,
    Bold,
    BulletList,
    Button,
    Divider,
    Fields,
    Form,
    FormField,
    Heading,
    Image,
    Inline,
    Link,
    Mention,
    OutgoingMessage,
    Paragraph,
    Progress,
    Text,
)
from bot.rendering.format import percent

USER_NEWLINE = "\u2028"
"""How a newline inside a context value travels through the XML (see module docstring)."""

_INDENT = re.compile(r"[ \t\r\n]*\n[ \t\r\n]*")

_ATTRS: dict[str, frozenset[str]] = {
    "msg": frozenset({"fallback"}),
    "h": frozenset(),
    "p": frozenset(),
    "ul": frozenset(),
    "li": frozenset(),
    "fields": frozenset(),
    "f": frozenset({"label"}),
    "progress": frozenset({"value"}),
    "hr": frozenset(),
    "img": frozenset({"src", "alt"}),
    "b": frozenset(),
    "at": frozenset({"user"}),
    "a": frozenset({"href"}),
    "br": frozenset(),
    "buttons": frozenset(),
    "button": frozenset({"command"}),
    "form": frozenset({"title", "submit", "command"}),
    "field": frozenset({"key", "kind", "required", "initial", "hint"}),
}
_FIELD_KINDS = frozenset({"text", "number", "amount"})


def parse_message(xml_text: str) -> OutgoingMessage:
    """Turn one rendered template (`<msg>…</msg>`) into an OutgoingMessage."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ValueError(f"template output is not well-formed XML: {exc}") from exc
    if root.tag != "msg":
        raise ValueError(f"template output must have a <msg> root, not <{root.tag}>")
    _check_attrs(root)
    _no_loose_text(root.text, "msg")
    blocks: list[Block] = []
    buttons: list[Button] = []
    form: Form | None = None
    for child in root:
        if child.tag == "buttons":
            buttons.extend(_buttons(child))
        elif child.tag == "form":
            if form is not None:
                raise ValueError("a message holds one <form> at most")
            form = _form(child)
        else:
            block = _block(child)
            if block is not None:
                blocks.append(block)
        _no_loose_text(child.tail, "msg")
    fallback = _attr_text(root.get("fallback", ""))
    if not fallback:
        fallback = "\n".join(line for line in (plain_text(b) for b in blocks) if line)
    return OutgoingMessage(blocks=tuple(blocks), fallback_text=fallback, buttons=tuple(buttons), form=form)


def _buttons(el: ET.Element) -> list[Button]:
    """`<buttons><button command="/checkin">label</button>…</buttons>`: each a command, clicked."""
    _check_attrs(el)
    _no_loose_text(el.text, "buttons")
    out: list[Button] = []
    for child in el:
        if child.tag != "button":
            raise ValueError(f"<buttons> may only hold <button>, not <{child.tag}>")
        _check_attrs(child)
        command = _attr_text(child.get("command", ""))
        label = _text_only(child).strip()
        if not command.startswith("/") or not label:
            raise ValueError("<button> needs a command starting with / and a label")
        out.append(Button(label=label, command=command))
        _no_loose_text(child.tail, "buttons")
    return out


def _form(el: ET.Element) -> Form:
    """`<form title submit command><field key kind required initial hint>label</field>…</form>`."""
    _check_attrs(el)
    _no_loose_text(el.text, "form")
    fields: list[FormField] = []
    for child in el:
        if child.tag != "field":
            raise ValueError(f"<form> may only hold <field>, not <{child.tag}>")
        _check_attrs(child)
        kind = child.get("kind", "text")
        if kind not in _FIELD_KINDS or not child.get("key"):
            raise ValueError(f"<field> needs a key and a kind of {sorted(_FIELD_KINDS)}")
        fields.append(
            FormField(
                key=_attr_text(child.get("key", "")),
                label=_text_only(child).strip(),
                kind=kind,
                required=child.get("required", "true") != "false",
                initial=_attr_text(child.get("initial", "")),
                hint=_attr_text(child.get("hint", "")),
            )
        )
        _no_loose_text(child.tail, "form")
    command = _attr_text(el.get("command", ""))
    if not command.startswith("/") or not fields:
        raise ValueError("<form> needs a command starting with / and at least one <field>")
    return Form(
        title=_attr_text(el.get("title", "")),
        submit=_attr_text(el.get("submit", "")),
        command=command,
        fields=tuple(fields),
    )


def plain_text(block: Block) -> str:
    """A block as unformatted text: what a notification preview or a text-only client shows."""
    if isinstance(block, Heading | Paragraph):
        return _inlines_plain(block.inlines)
    if isinstance(block, BulletList):
        return "\n".join(f"• {_inlines_plain(item)}" for item in block.items)
    if isinstance(block, Fields):
        return "\n".join(f"{label}: {value}" for label, value in block.items)
    if isinstance(block, Progress):
        shown = percent(block.value)
        return f"{shown} {block.label}" if block.label else shown
    if isinstance(block, Image):
        return block.alt
    return ""


def _inlines_plain(inlines: Iterable[Inline]) -> str:
    parts: list[str] = []
    for inline in inlines:
        if isinstance(inline, Mention):
            parts.append(f"@{inline.name}")
        else:
            parts.append(inline.text)
    return "".join(parts)


# ----- blocks --------------------------------------------------------------------------------------


def _block(el: ET.Element) -> Block | None:
    _check_attrs(el)
    tag = el.tag
    if tag in ("h", "p"):
        inlines = _inlines(el)
        if not _has_content(inlines):
            return None
        return Heading(inlines) if tag == "h" else Paragraph(inlines)
    if tag == "ul":
        return _bullets(el)
    if tag == "fields":
        return _fields(el)
    if tag == "progress":
        return Progress(value=_ratio(el.get("value", "")), label=_text_only(el))
    if tag == "hr":
        _text_only(el, must_be_empty=True)
        return Divider()
    if tag == "img":
        _text_only(el, must_be_empty=True)
        if "src" not in el.attrib:
            raise ValueError("<img> needs a src attribute")
        src = _attr_text(el.get("src", ""))
        return Image(url=src, alt=_attr_text(el.get("alt", ""))) if src else None
    raise ValueError(f"unknown block tag <{tag}>")


def _bullets(el: ET.Element) -> BulletList | None:
    _no_loose_text(el.text, "ul")
    items: list[tuple[Inline, ...]] = []
    for li in el:
        if li.tag != "li":
            raise ValueError(f"<ul> may only hold <li>, not <{li.tag}>")
        _check_attrs(li)
        inlines = _inlines(li)
        if _has_content(inlines):
            items.append(inlines)
        _no_loose_text(li.tail, "ul")
    return BulletList(tuple(items)) if items else None


def _fields(el: ET.Element) -> Fields | None:
    _no_loose_text(el.text, "fields")
    items: list[tuple[str, str]] = []
    for f in el:
        if f.tag != "f":
            raise ValueError(f"<fields> may only hold <f>, not <{f.tag}>")
        _check_attrs(f)
        if "label" not in f.attrib:
            raise ValueError("<f> needs a label attribute")
        value = _text_only(f)
        if value:
            items.append((_attr_text(f.get("label", "")), value))
        _no_loose_text(f.tail, "fields")
    return Fields(tuple(items)) if items else None


def _ratio(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


# ----- inline --------------------------------------------------------------------------------------


def _inlines(el: ET.Element) -> tuple[Inline, ...]:
    out: list[Inline] = []
    _add_text(out, el.text)
    for child in el:
        _check_attrs(child)
        tag = child.tag
        if tag == "b":
            text = _text_only(child)
            if text:
                out.append(Bold(text))
        elif tag == "at":
            if "user" not in child.attrib:
                raise ValueError("<at> needs a user attribute")
            out.append(Mention(user_id=_attr_text(child.get("user", "")), name=_text_only(child)))
        elif tag == "a":
            if "href" not in child.attrib:
                raise ValueError("<a> needs an href attribute")
            url = _attr_text(child.get("href", ""))
            out.append(Link(url=url, text=_text_only(child) or url))
        elif tag == "br":
            _text_only(child, must_be_empty=True)
            _add_text(out, "\n", raw=True)
        else:
            raise ValueError(f"unknown inline tag <{tag}> inside <{el.tag}>")
        _add_text(out, child.tail)
    return tuple(out)


def _add_text(out: list[Inline], raw_text: str | None, *, raw: bool = False) -> None:
    """Append text after the whitespace rule, merging with a preceding Text."""
    if not raw_text:
        return
    text = raw_text if raw else _clean(raw_text)
    if not text:
        return
    if out and isinstance(out[-1], Text):
        out[-1] = Text(out[-1].text + text)
    else:
        out.append(Text(text))


def _has_content(inlines: tuple[Inline, ...]) -> bool:
    return any(not isinstance(i, Text) or i.text.strip() for i in inlines)


def _text_only(el: ET.Element, *, must_be_empty: bool = False) -> str:
    """The text of an element that may not hold other tags (b, at, a, f, progress …)."""
    for child in el:
        raise ValueError(f"<{el.tag}> may not contain <{child.tag}>")
    text = _clean(el.text or "")
    if must_be_empty and text.strip():
        raise ValueError(f"<{el.tag}> must be empty")
    return text


def _clean(text: str) -> str:
    return _INDENT.sub("", text).replace(USER_NEWLINE, "\n")


def _attr_text(value: str) -> str:
    return value.strip().replace(USER_NEWLINE, "\n")


# ----- strictness ----------------------------------------------------------------------------------


def _check_attrs(el: ET.Element) -> None:
    allowed = _ATTRS.get(el.tag)
    if allowed is None:
        return  # the caller reports the unknown tag with better context
    extra = set(el.attrib) - allowed
    if extra:
        raise ValueError(f"<{el.tag}> has unknown attribute(s): {', '.join(sorted(extra))}")


def _no_loose_text(text: str | None, where: str) -> None:
    if text and _INDENT.sub("", text).strip():
        raise ValueError(f"text outside a block inside <{where}>: {text.strip()[:40]!r}")
