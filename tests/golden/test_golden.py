"""Every template × every locale × every sample × every platform renderer, compared with a file on disk.

A changed wording or layout shows up as a diff of a readable text file; `pytest --update-golden`
accepts it. To cover a new platform, add its renderer to RENDERERS and run with --update-golden.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.console.render import render_console
from bot.messages import OutgoingMessage
from bot.rendering.engine import Renderer

HERE = Path(__file__).parent
EXPECTED = HERE / "expected"
RENDERERS: dict[str, Callable[[OutgoingMessage], str]] = {"console": render_console}
LOCALES = ("zh-CN", "en")
EVIL_SHOWN = ("<!channel>", "{{ 7*7 }}", "**x**", "@所有人")


def _load_samples():
    """Import samples.py by path: tests/ is not a package, so its module name would be ambiguous."""
    name = "teambeat_golden_samples"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "samples.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


SAMPLES_MODULE = _load_samples()
SAMPLES = SAMPLES_MODULE.SAMPLES
CASES = [
    pytest.param(renderer, locale, name, index, id=f"{renderer}-{locale}-{name}-{index}")
    for renderer in RENDERERS
    for locale in LOCALES
    for name in sorted(SAMPLES)
    for index in range(1, len(SAMPLES[name]) + 1)
]


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("renderer_name", "locale", "name", "index"), CASES)
def test_golden(
    renderer: Renderer, update_golden: bool, renderer_name: str, locale: str, name: str, index: int
) -> None:
    context = SAMPLES[name][index - 1]
    msg = renderer.render(name, locale, **context)
    shown = RENDERERS[renderer_name](msg) + "\n"
    path = EXPECTED / renderer_name / locale / f"{name}-{index}.txt"
    if update_golden:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shown, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run pytest --update-golden and review it"
    assert shown == path.read_text(encoding="utf-8")
    # Whatever the wording, a member's hostile text must come out exactly as typed.
    if renderer_name == "console" and _mentions_evil(context):
        for piece in EVIL_SHOWN:
            assert piece in shown


def _mentions_evil(value: Any) -> bool:
    if isinstance(value, str):
        return "{{ 7*7 }}" in value
    if isinstance(value, dict):
        return any(_mentions_evil(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions_evil(v) for v in value)
    return False


def test_every_template_exists_in_every_locale_and_has_a_sample(renderer: Renderer) -> None:
    assert set(renderer.locales()) == set(LOCALES)
    names = {locale: set(renderer.template_names(locale)) for locale in LOCALES}
    assert names["zh-CN"] == names["en"], "templates differ between locales"
    assert names["zh-CN"], "no templates found"
    missing = names["zh-CN"] - set(SAMPLES)
    assert not missing, f"templates without a golden sample: {sorted(missing)}"
    unknown = set(SAMPLES) - names["zh-CN"]
    assert not unknown, f"samples for templates that do not exist: {sorted(unknown)}"
    for locale in LOCALES:
        macros = Path(__file__).parents[2] / "bot" / "templates" / locale / "_macros.xml"
        assert macros.exists(), f"{locale} has no _macros.xml"


def test_every_sample_set_shows_hostile_member_text() -> None:
    exempt = SAMPLES_MODULE.NO_MEMBER_TEXT
    for name, contexts in SAMPLES.items():
        if name in exempt:
            continue
        assert any(_mentions_evil(c) for c in contexts), f"{name} has no sample with hostile text"


def test_no_stale_golden_files() -> None:
    """A removed sample or template must not leave an expected file that nothing checks any more."""
    wanted = {
        EXPECTED / renderer / locale / f"{name}-{index}.txt"
        for renderer in RENDERERS
        for locale in LOCALES
        for name, contexts in SAMPLES.items()
        for index in range(1, len(contexts) + 1)
    }
    present = set(EXPECTED.rglob("*.txt")) if EXPECTED.exists() else set()
    assert not (present - wanted), f"stale golden files: {sorted(str(p) for p in present - wanted)}"
