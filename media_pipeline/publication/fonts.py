"""Fonts embedded in e-books: the glyphs a text needs, cut from the installed Noto fonts, so cheap readers
without Vietnamese, Chinese, Lao or Khmer fonts still show the text."""
from __future__ import annotations

import io
import logging
import subprocess
from pathlib import Path

from media_pipeline import tools
from media_pipeline.errors import ToolMissing

log = logging.getLogger(__name__)

# fontconfig patterns per language; the first that resolves to a Noto file is used.
FAMILIES = {"zh": ["Noto Serif CJK SC", "Noto Sans CJK SC"], "lo": ["Noto Serif Lao", "Noto Sans Lao"],
            "km": ["Noto Serif Khmer", "Noto Sans Khmer"]}
DEFAULT = ["Noto Serif"]


def find(language: str) -> tuple[Path, int] | None:
    """The font file (and index in a collection) for a language, through fontconfig; None if none is installed."""
    for family in FAMILIES.get(language.split("-")[0], DEFAULT):
        try:
            out = tools.run("fc-match", ["-f", "%{file}:%{index}", f"{family}:lang={language}"]).stdout.decode()
        except (ToolMissing, subprocess.CalledProcessError):
            return None
        path, _, index = out.rpartition(":")
        if "noto" in path.lower() and Path(path).exists():
            return Path(path), int(index or 0)
    return None


def subset(text: str, language: str) -> bytes | None:
    """An OpenType font holding just the characters of `text` (plus ASCII), or None when no font is found."""
    from fontTools import subset as ft_subset
    from fontTools.ttLib import TTFont

    found = find(language)
    if found is None:
        log.warning("no Noto font for %s: the e-book relies on the reader's fonts", language)
        return None
    path, index = found
    font = TTFont(str(path), fontNumber=index, lazy=False)
    options = ft_subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    sub = ft_subset.Subsetter(options)
    sub.populate(unicodes={ord(c) for c in text} | set(range(0x20, 0x7F)))
    sub.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()
