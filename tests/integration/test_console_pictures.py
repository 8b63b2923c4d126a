"""The console shows charts the only way a terminal can: as PNG files in a folder, their paths printed."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image as PILImage

from adapters.console.adapter import ConsoleAdapter
from bot.clock import FixedClock
from bot.messages import ChannelRef, OutgoingMessage, Paragraph, Text, png_image
from tests.golden.chart_samples import samples

ROOT = Path(__file__).resolve().parents[2]
PICTURE_LINE = re.compile(r"\[image: [^\]]*\] (?P<path>\S+\.png)")


async def test_a_chart_becomes_a_file_and_its_path_is_printed(tmp_path: Path) -> None:
    png = samples()["recap.zh-CN"][0]()
    out = io.StringIO()
    clock = FixedClock(datetime(2026, 11, 23, 18, tzinfo=ZoneInfo("Asia/Shanghai")))
    adapter = ConsoleAdapter("local", "east", "lily", clock, out=out, pictures=tmp_path / "pics")
    message = OutgoingMessage((Paragraph((Text("复盘"),)), png_image(png, "今日业绩")), "复盘")
    await adapter.send(ChannelRef("console", "local", "east"), message)
    printed = out.getvalue()
    (path,) = PICTURE_LINE.findall(printed)
    assert Path(path).parent == tmp_path / "pics" and Path(path).read_bytes() == png
    assert "base64" not in printed and "复盘" in printed


@pytest.mark.slow
def test_the_demo_writes_its_charts_to_a_folder_and_prints_their_paths(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "demo", "--days", "1", "--start", "2026-11-23"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    paths = [Path(p) for p in PICTURE_LINE.findall(result.stdout)]
    assert len(paths) >= 2  # the evening recap's, the 小组PK race's or /排行 … 图表's
    folder = paths[0].parent
    assert folder.parent == tmp_path and folder.name.startswith("teambeat-pictures-")
    assert f"📊 图表: {folder}" in result.stdout
    for path in paths:
        image = PILImage.open(path)
        image.load()
        assert image.format == "PNG" and image.size[0] == 800
    assert "Glyph" not in result.stderr  # no character drawn as a box
