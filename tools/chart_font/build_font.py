"""Build the CJK font subset the charts ship with (bot/charts/fonts/), from Debian's `fonts-noto-cjk`.

    apt-get install fonts-noto-cjk
    python tools/chart_font/build_font.py

or, without installing it: `apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb unpacked`,
then `python tools/chart_font/build_font.py --root unpacked`.

Noto Sans CJK SC (SIL OFL 1.1) cut down to the characters charts draw: ASCII, the 3,755 hanzi of GB2312
level 1, the symbols below and every character of the packaged templates and chart labels. The subset is
a Modified Version under the OFL, so it gets its own family name; its license sits beside it.
The characters are written to chars.txt beside this script, so a change to them shows in review.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
COPYRIGHT = "usr/share/doc/fonts-noto-cjk/copyright"
SOURCE_FAMILY = "Noto Sans CJK SC"
FAMILY = "Teambeat Sans SC"
OUT_DIR = ROOT / "bot" / "charts" / "fonts"
FONT_FILE = "TeambeatSansSC-Regular.otf"
CHARS_FILE = Path(__file__).resolve().parent / "chars.txt"
# Punctuation, currency and marks that posts and charts use beyond ASCII.
SYMBOLS = (
    "¥￥€£°±×÷·—–‘’“”…‰※→←↑↓▲▼△▽●○■□◆◇★☆√✓、。〈〉《》「」『』【】〔〕〖〗"
    "！＂＃＄％＆＇（）＊＋，－．／：；＜＝＞？＠［＼］＾＿｀｛｜｝～"
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ"
    "\u00a0\u3000"
)
# The CJK Unified Ideographs block and CJK punctuation: what the templates add is taken from these.
_TEMPLATE_CHARS = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def gb2312_level1() -> str:
    """Rows 16-55 of GB2312 (0xB0A1-0xD7F9): the 3,755 most common hanzi."""
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the five empty cells at the end of row 55
    return "".join(chars)


def template_chars() -> str:
    found: set[str] = set()
    for path in sorted((ROOT / "bot" / "templates").rglob("*")):
        if path.suffix in (".xml", ".toml"):
            found.update(_TEMPLATE_CHARS.findall(path.read_text("utf-8")))
    return "".join(sorted(found))


def wanted() -> str:
    ascii_ = "".join(chr(c) for c in range(0x20, 0x7F))
    seen: dict[str, None] = {}
    for ch in ascii_ + SYMBOLS + gb2312_level1() + template_chars():
        seen.setdefault(ch, None)
    return "".join(seen)


def source_font(root: Path):
    collection = TTCollection(str(root / SOURCE))
    for font in collection.fonts:
        if font["name"].getDebugName(1) == SOURCE_FAMILY:
            return font
    raise SystemExit(f"{root / SOURCE} has no {SOURCE_FAMILY!r}: apt-get install fonts-noto-cjk")


def rename(font) -> None:
    """A Modified Version under the OFL carries its own name (the original's stays in the copyright)."""
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 21, 22):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName("Regular", 2, 3, 1, 0x409)
    names.setName(f"{FAMILY} Regular; subset of {SOURCE_FAMILY}", 3, 3, 1, 0x409)
    names.setName(f"{FAMILY} Regular", 4, 3, 1, 0x409)
    names.setName(FAMILY.replace(" ", "") + "-Regular", 6, 3, 1, 0x409)
    cff = font["CFF "].cff
    cff.fontNames = [FAMILY.replace(" ", "") + "-Regular"]
    top = cff.topDictIndex[0]
    for key in ("FullName", "FamilyName"):
        if hasattr(top, key):
            setattr(top, key, FAMILY)


def license_text(font, root: Path) -> str:
    copyright_ = font["name"].getDebugName(0) or ""
    debian = (root / COPYRIGHT).read_text("utf-8")
    body = debian.split("License: SIL-1.1\n", 2)[-1].split("\nLicense: ", 1)[0]
    ofl = "\n".join("" if line.strip() == "." else line[1:] for line in body.splitlines())
    return (
        f"{FONT_FILE} is a subset of {SOURCE_FAMILY} (Noto CJK, https://github.com/googlefonts/noto-cjk),\n"
        f"made by tools/chart_font/build_font.py and renamed {FAMILY!r} as the license asks of a\n"
        f"Modified Version.\n\n{copyright_}\n\n"
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n\n"
        f"{ofl.strip()}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/"), help="where fonts-noto-cjk's files are")
    args = parser.parse_args()
    chars = wanted()
    CHARS_FILE.write_text(chars + "\n", "utf-8")
    font = source_font(args.root)
    options = subset.Options()
    options.layout_features = ["kern"]  # matplotlib lays text out glyph by glyph: no shaping tables
    options.name_IDs = ["*"]
    options.name_languages = [0x409]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = False
    # Charts set text horizontally only. FreeType reads a glyph's vertical metrics too when they exist,
    # each read a call back into Python through matplotlib's file object: a third of a glyph's reads.
    options.drop_tables += ["vhea", "vmtx", "VORG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    rename(font)
    font.recalcTimestamp = False  # same characters, same bytes
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT_DIR / FONT_FILE), reorderTables=True)
    (OUT_DIR / "OFL.txt").write_text(license_text(font, args.root), "utf-8")
    print(f"{OUT_DIR / FONT_FILE}: {len(chars)} characters, {(OUT_DIR / FONT_FILE).stat().st_size} bytes")


if __name__ == "__main__":
    main()
