"""Every template × every locale × every sample × every platform renderer, compared with a file on disk.

A changed wording or layout — on any one platform — shows up as a diff of a readable file under
expected/<platform>/<locale>/. `TEAMBEAT_UPDATE_GOLDEN=1` (or `pytest tests/golden --update-golden`)
rewrites them; without it a missing file fails. To cover a new platform, add it to platforms.PLATFORMS
and run with the switch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.messages import OutgoingMessage
from bot.rendering.engine import Renderer
from tests.golden.platforms import PLATFORMS
from tests.golden.samples import NO_MEMBER_TEXT, SAMPLES

HERE = Path(__file__).parent
EXPECTED = HERE / "expected"
TEMPLATES = HERE.parents[1] / "bot" / "templates"
LOCALES = ("zh-CN", "en")
CASES = [
    pytest.param(platform, locale, name, index, id=f"{platform}-{locale}-{name}-{index}")
    for platform in PLATFORMS
    for locale in LOCALES
    for name in sorted(SAMPLES)
    for index in range(1, len(SAMPLES[name]) + 1)
]


def golden_path(platform: str, locale: str, name: str, index: int) -> Path:
    return EXPECTED / platform / locale / f"{name}-{index}.{PLATFORMS[platform].suffix}"


def compare(path: Path, shown: str, update: bool) -> None:
    """`shown` against the file; with `update` the file is written instead. A missing file fails."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shown, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; run with TEAMBEAT_UPDATE_GOLDEN=1 and review it")
    assert shown == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str, int], OutgoingMessage]:
    """Each sample rendered once per locale, shared by the four platforms."""
    return {}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("platform", "locale", "name", "index"), CASES)
def test_golden(
    renderer: Renderer,
    rendered: dict[tuple[str, str, int], OutgoingMessage],
    update_golden: bool,
    platform: str,
    locale: str,
    name: str,
    index: int,
) -> None:
    context = SAMPLES[name][index - 1]
    key = (locale, name, index)
    if key not in rendered:
        rendered[key] = renderer.render(name, locale, **context)
    shown = PLATFORMS[platform].render(rendered[key]) + "\n"
    compare(golden_path(platform, locale, name, index), shown, update_golden)
    # Whatever the wording, a member's hostile text must come out literally and inert. Where a platform
    # mentions people by id, a hostile *name* may not show at all; any other hostile text must.
    spec = PLATFORMS[platform]
    # A form's fields show only in Slack's modal (plain text there: tests/unit/test_buttons_and_forms.py),
    # never in a post; the console lists them.
    shown_context = context if platform == "console" else {k: v for k, v in context.items() if k != "fields"}
    if _mentions_evil(shown_context, names=not spec.mentions_by_id):
        for piece in spec.shown:
            assert piece in shown
    body = "\n".join(line for line in shown.splitlines() if not line.startswith("<<< "))
    for piece in spec.never:
        assert piece not in body


def _mentions_evil(value: Any, names: bool = True) -> bool:
    """Whether the hostile sample text is in `value`; with `names=False`, not counting members' names."""
    if isinstance(value, str):
        return "{{ 7*7 }}" in value
    if isinstance(value, dict):
        if not names and value.get("user_id"):
            return False
        return any(_mentions_evil(v, names) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions_evil(v, names) for v in value)
    return False


def test_a_missing_golden_file_fails_and_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "slack" / "en" / "recap-1.json"
    with pytest.raises(pytest.fail.Exception, match="no golden file"):
        compare(path, "{}\n", update=False)
    assert not path.exists()
    compare(path, "{}\n", update=True)
    assert path.read_text(encoding="utf-8") == "{}\n"
    with pytest.raises(AssertionError):
        compare(path, "[]\n", update=False)


def templates_without_sample(templates: Path, samples: dict[str, Any]) -> dict[str, list[str]]:
    """Post template files (not `_` partials) on disk, per locale, that no sample renders."""
    found: dict[str, list[str]] = {}
    for locale_dir in sorted(p for p in templates.iterdir() if p.is_dir()):
        names = sorted(p.stem for p in locale_dir.glob("*.xml") if not p.name.startswith("_"))
        missing = [name for name in names if name not in samples]
        if missing:
            found[locale_dir.name] = missing
    return found


def test_every_template_file_has_a_sample() -> None:
    assert templates_without_sample(TEMPLATES, SAMPLES) == {}


def test_every_shared_template_file_is_imported_by_a_template() -> None:
    """A `_` file's macros reach the goldens only through the templates that import them."""
    for locale in LOCALES:
        folder = TEMPLATES / locale
        texts = "".join(p.read_text(encoding="utf-8") for p in folder.glob("*.xml"))
        unused = [p.name for p in folder.glob("_*.xml") if f'"{locale}/{p.name}"' not in texts]
        assert not unused, f"{locale}: shared template files nothing imports: {unused}"


def test_a_template_file_without_a_sample_is_named(tmp_path: Path) -> None:
    for locale in LOCALES:
        (tmp_path / locale).mkdir()
        (tmp_path / locale / "recap.xml").write_text("<msg/>", encoding="utf-8")
        (tmp_path / locale / "_macros.xml").write_text("", encoding="utf-8")
    (tmp_path / "en" / "brand_new.xml").write_text("<msg/>", encoding="utf-8")
    assert templates_without_sample(tmp_path, SAMPLES) == {"en": ["brand_new"]}


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
        assert (TEMPLATES / locale / "_macros.xml").exists(), f"{locale} has no _macros.xml"


def test_every_sample_set_shows_hostile_member_text() -> None:
    for name, contexts in SAMPLES.items():
        if name in NO_MEMBER_TEXT:
            continue
        assert any(_mentions_evil(c) for c in contexts), f"{name} has no sample with hostile text"


def test_no_stale_golden_files() -> None:
    """A removed sample, template or platform must not leave an expected file that nothing checks."""
    wanted = {
        golden_path(platform, locale, name, index)
        for platform in PLATFORMS
        for locale in LOCALES
        for name, contexts in SAMPLES.items()
        for index in range(1, len(contexts) + 1)
    }
    present = {p for p in EXPECTED.rglob("*") if p.is_file() and p.name != "charts.json"}
    assert not (present - wanted), f"stale golden files: {sorted(str(p) for p in present - wanted)}"
