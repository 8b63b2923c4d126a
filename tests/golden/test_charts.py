"""Charts: every picture decodes, has its size, draws every glyph from the packaged font, and is the same
bytes for the same data (goldens: tests/golden/expected/charts.json, rewritten by --update-golden)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import matplotlib
import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from bot.charts.font import font_path
from bot.charts.model import GroupRace, PersonDay, RaceChart, RankChart, RecapChart, SummaryChart
from bot.charts.race import race_png
from bot.charts.rank import rank_png
from bot.charts.recap import recap_png
from bot.charts.summary import summary_png
from tests.golden.chart_samples import samples

EXPECTED = Path(__file__).parent / "expected" / "charts.json"
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = samples()


def render_quietly(render) -> tuple[bytes, list[str]]:
    """The chart's bytes and every "Glyph … missing" warning matplotlib gave while drawing it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = render()
    return data, [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_chart_decodes_at_its_size_with_every_glyph(name: str) -> None:
    render, height = SAMPLES[name]
    data, missing = render_quietly(render)
    assert missing == []
    image = Image.open(io.BytesIO(data))
    image.load()
    assert (image.format, image.size) == ("PNG", (800, height))
    assert "Software" not in image.info and "Creation Time" not in image.info


def test_a_missing_glyph_is_noticed() -> None:
    """The check above can fail: a character outside the subset (Ext. B) makes matplotlib warn."""
    chart = RecapChart("zh-CN", "CNY", "12/04", (PersonDay("\U00020000", 100, None),), 100)
    _, missing = render_quietly(lambda: recap_png(chart))
    assert missing


def test_charts_match_their_goldens(update_golden: bool) -> None:
    hashes = {name: hashlib.sha256(render()).hexdigest() for name, (render, _) in sorted(SAMPLES.items())}
    recorded = {"matplotlib": matplotlib.__version__, "sha256": hashes}
    if update_golden:
        EXPECTED.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", "utf-8")
    expected = json.loads(EXPECTED.read_text("utf-8"))
    assert recorded == expected, "charts changed: look at them, then rewrite with --update-golden"


def test_same_data_same_bytes_in_a_fresh_process(tmp_path: Path) -> None:
    """Another process with an empty matplotlib cache (a fresh machine) draws the very same bytes."""
    script = (
        "import hashlib, sys\n"
        "from tests.golden.chart_samples import samples\n"
        "sys.stdout.write(hashlib.sha256(samples()['recap.zh-CN'][0]()).hexdigest())\n"
    )
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout == hashlib.sha256(SAMPLES["recap.zh-CN"][0]()).hexdigest()


def test_the_font_is_a_small_subset_that_covers_every_template_character() -> None:
    path = font_path()
    assert 200_000 < path.stat().st_size < 1_500_000
    assert "SIL Open Font License" in (path.parent / "OFL.txt").read_text("utf-8")
    cmap = TTFont(str(path))["cmap"].getBestCmap()
    wanted = set()
    for file in (ROOT / "bot" / "templates").rglob("*"):
        if file.suffix in (".xml", ".toml"):
            wanted.update(re.findall(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]", file.read_text("utf-8")))
    chars = (ROOT / "tools" / "chart_font" / "chars.txt").read_text("utf-8").strip()
    wanted.update(chars)
    assert sorted(c for c in wanted if ord(c) not in cmap) == []
    assert len([c for c in chars if "\u4e00" <= c <= "\u9fff"]) >= 3755
    # `pip install .` carries it: the font and its license are package data
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "charts/fonts/*" in pyproject["tool"]["setuptools"]["package-data"]["bot"]


FEBRUARY = tuple(f"2/{d:02d}" for d in range(1, 29))
EMPTY = {
    "recap, nobody yet": lambda: recap_png(RecapChart("zh-CN", "CNY", "12/04", (), 0)),
    "summary, nothing this month, a longer last month": lambda: summary_png(
        SummaryChart(
            "en", "USD", "monthly", "2/01–2/28", tuple(f"2/{d:02d}" for d in range(1, 29)), (), (5,) * 31
        )
    ),
    "race, no groups": lambda: race_png(RaceChart("zh-CN", "CNY", "空", ())),
    "race, nothing sold": lambda: race_png(RaceChart("en", "JPY", "x", (GroupRace("A", 0, 0),))),
    "rank, empty board": lambda: rank_png(RankChart("en", "JPY", "t", ())),
}


@pytest.mark.parametrize("case", sorted(EMPTY))
def test_charts_of_empty_days_still_draw(case: str) -> None:
    data, missing = render_quietly(EMPTY[case])
    assert missing == [] and Image.open(io.BytesIO(data)).size[0] == 800
