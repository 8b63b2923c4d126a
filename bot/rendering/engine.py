"""Render a named post template for a locale into a neutral OutgoingMessage.

Templates (`bot/templates/<locale>/<name>.xml`) are ours and trusted; everything a member typed enters
only as a context *value*, which jinja autoescapes into the XML, so `{{ 7*7 }}` or `<!channel>` in a name
stays literal text. Templates are found through the package, never through the current directory.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, Undefined
from markupsafe import Markup

from bot.messages import OutgoingMessage
from bot.rendering.format import percent
from bot.rendering.parse import USER_NEWLINE, parse_message

DEFAULT_LOCALE = "zh-CN"
_SUFFIX = ".xml"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """jinja2's Environment, reading a context dict's keys without first failing to find an attribute.

    Contexts are plain dicts, and `{{ p.name }}` tries getattr — raising AttributeError — before the
    key; a recap of 500 people does that thousands of times. For a key that is not also a dict attribute
    the answer is the same, found without the exception.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class UnknownTemplate(LookupError):
    """Asked for a template that does not exist: a programming error, named plainly."""


class Renderer:
    """One jinja2 environment over the packaged templates; build it once in the bootstrap and share it."""

    def __init__(self) -> None:
        env = _Environment(
            loader=PackageLoader("bot", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_finalize,
            auto_reload=False,  # packaged templates never change while we run: no stat() per render
        )
        env.filters["pct"] = percent
        env.filters["signed_pct"] = _signed_percent
        env.tests["present"] = _present
        env.globals["fail"] = _fail
        self._env = env
        # The packaged templates never change while we run: list them once, not on every render.
        self._templates: list[str] | None = None
        self._resolved: dict[str | None, str] = {}

    def render(self, name: str, locale: str, /, **context: Any) -> OutgoingMessage:
        """Render `<locale>/<name>.xml` with `context` and parse it into blocks."""
        chosen = self.resolve_locale(locale)
        path = f"{chosen}/{name}{_SUFFIX}"
        try:
            template = self._env.get_template(path)
        except TemplateNotFound as exc:
            known = ", ".join(self.template_names(chosen)) or "none"
            raise UnknownTemplate(
                f"no template {name!r} for locale {chosen!r} (looked for {path}; known: {known})"
            ) from exc
        xml_text = template.render(**context)
        try:
            return parse_message(xml_text)
        except ValueError as exc:
            raise ValueError(f"template {path} rendered invalid markup: {exc}") from exc

    def resolve_locale(self, locale: str | None) -> str:
        """The locale we have templates for: exact, else same language ("en-US" -> "en"), else zh-CN."""
        chosen = self._resolved.get(locale)
        if chosen is None:
            chosen = self._resolved[locale] = self._resolve(locale)
        return chosen

    def _resolve(self, locale: str | None) -> str:
        available = self.locales()
        if locale in available:
            return locale
        language = (locale or "").replace("_", "-").split("-")[0].lower()
        for candidate in available:
            if candidate.split("-")[0].lower() == language:
                return candidate
        return DEFAULT_LOCALE

    def locales(self) -> list[str]:
        return sorted({path.split("/", 1)[0] for path in self._template_paths() if "/" in path})

    def _template_paths(self) -> list[str]:
        """Every packaged template path, walked from the package folder once per Renderer."""
        if self._templates is None:
            self._templates = self._env.list_templates()
        return self._templates

    def template_names(self, locale: str) -> list[str]:
        """Post templates of one locale, without macro files (names starting with "_")."""
        prefix = f"{locale}/"
        names = []
        for path in self._template_paths():
            if not path.startswith(prefix) or not path.endswith(_SUFFIX):
                continue
            name = path[len(prefix) : -len(_SUFFIX)]
            if "/" not in name and not name.startswith("_"):
                names.append(name)
        return sorted(names)


def _finalize(value: Any) -> Any:
    """Make a context string safe to embed in XML without losing the member's own line breaks.

    Characters XML cannot carry are dropped, and newlines travel as USER_NEWLINE so the parser's
    indentation rule does not swallow them. Markup (macro output) is template text and left alone, and
    so is a printable string (no line breaks, nothing XML cannot carry): the common case, checked fast.
    """
    if isinstance(value, str) and not isinstance(value, Markup) and not value.isprintable():
        value = _XML_INVALID.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
        return value.replace("\n", USER_NEWLINE)
    return value


def _signed_percent(ratio: float | None) -> str:
    return percent(ratio, signed=True)


def _fail(message: str) -> None:
    """`{{ fail("…") }}` in a template: a caller passed a value the template has no words for."""
    raise ValueError(message)


def _present(value: Any) -> bool:
    """`x is present`: given and meaningful — not undefined, None, "" or an empty collection.

    Lets templates treat optional context keys the same whether the caller passed None or left them out,
    while StrictUndefined still catches every other missing name.
    """
    if isinstance(value, Undefined) or value is None:
        return False
    if isinstance(value, str | list | tuple | dict | set):
        return len(value) > 0
    return True
