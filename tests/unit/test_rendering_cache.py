"""What the renderer does once instead of on every render, and the faster dict lookup it uses."""

from __future__ import annotations

import jinja2
import pytest

from bot.rendering.engine import Renderer, _Environment

PERIOD = {"period": "today", "start": "2026-11-20", "end": "2026-11-20"}


def test_the_template_folder_is_walked_once_per_renderer(monkeypatch):
    walks = []
    original = jinja2.PackageLoader.list_templates

    def counting(self):
        walks.append(1)
        return original(self)

    monkeypatch.setattr(jinja2.PackageLoader, "list_templates", counting)
    renderer = Renderer()
    for locale in ("zh-CN", "en", "en-US", "fr", None, "zh-CN"):
        renderer.render("period_label", locale, **PERIOD)
    assert renderer.resolve_locale("en-GB") == "en"
    assert renderer.resolve_locale("fr") == "zh-CN"
    assert renderer.template_names("en")
    assert len(walks) == 1
    Renderer().render("period_label", "en", **PERIOD)  # another renderer lists for itself
    assert len(walks) == 2


def test_dict_keys_read_as_jinja_always_read_them():
    env = _Environment(undefined=jinja2.StrictUndefined)
    row = {"name": "Alice", "items": "three", "total": 0}
    assert env.from_string("{{ row.name }} {{ row.total }}").render(row=row) == "Alice 0"
    # A key that is also a dict method still means the method, exactly as in plain jinja.
    assert env.from_string("{{ row.items is callable }}").render(row=row) == "True"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ row.missing }}").render(row=row)
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined)
    source = "{{ row.name }}|{{ row.get('total') }}|{{ row.keys() | list | length }}"
    assert env.from_string(source).render(row=row) == plain.from_string(source).render(row=row)
