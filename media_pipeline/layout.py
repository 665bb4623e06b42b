"""Text layout for burned-in captions and title cards, for every script, measured by rendered width.

Pillow (with FreeType and Noto fonts) draws the text, so wrapping uses the glyphs' real advance widths:
Vietnamese, English and Lao break between words, Chinese between characters (never before closing punctuation
such as "，。"), and a word wider than the line breaks between its letters. Everything stays inside a safe area
(5 % of each side). libass could wrap, but it wraps Chinese only at spaces (which Chinese has none of) and gives
no way to measure the result, which is why captions are composed here and encoded as stills.

Rules, per frame size:
- caption type is sized from the frame's short side, never smaller than MIN_FONT_PX (legible on a 384×192 LED
  board: capitals about 10 px high);
- the caption block (every language stacked, each language at most MAX_LINES lines, twice as many on a portrait
  frame) takes at most a third of the frame height; when it does not fit even at the smallest type, the
  languages take turns within the sentence's time, and a sentence too long for one picture is shown as pages
  of whole lines (`caption_pages`);
- the title card keeps clear of the caption block.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from media_pipeline.errors import EngineError, ToolMissing

MIN_FONT_PX = 14
MAX_LINES = 2          # per language on a landscape frame; portrait frames take twice as many
SAFE = 0.05
CAPTION_SHARE = 1 / 3
COLOURS = [(255, 255, 255), (255, 230, 0), (180, 255, 180)]  # per stacked language
BOX = (0, 0, 0, 170)

# Scripts written without spaces between words (Chinese, Japanese, Korean blocks and their punctuation): a line
# may break between any two of their characters.
_UNSPACED_CHARS = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
UNSPACED = re.compile(f"[{_UNSPACED_CHARS}]")
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")  # the Noto Sans CJK font's share
NO_LINE_START = set("，。、；：？！）」』】〉》”’,.;:?!)]}%")
_TOKEN = re.compile(f"\\s+|[{_UNSPACED_CHARS}]|[^\\s{_UNSPACED_CHARS}]+")  # spaces, one such character, a word


@lru_cache(maxsize=16)
def font_file(pattern: str) -> str:
    """A font file for a fontconfig pattern (Noto Sans carries Vietnamese, Noto Sans CJK Chinese)."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10)
    except FileNotFoundError as exc:
        raise ToolMissing("fc-match (fontconfig) is not installed; apt-get install fontconfig") from exc
    if out.returncode or not out.stdout:
        raise EngineError(f"no font matches {pattern!r}; install fonts-noto-core and fonts-noto-cjk")
    return out.stdout


@lru_cache(maxsize=256)
def font_for(text_sample: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK for Chinese text, Noto Sans for the rest (`text_sample`: any text of that script)."""
    family = "Noto Sans CJK SC" if CJK.search(text_sample) else "Noto Sans"
    return ImageFont.truetype(font_file(f"{family}:{'bold' if bold else 'regular'}"), size)


def _script_key(text: str) -> str:
    return "中" if CJK.search(text) else "a"


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float, limit: int | None = None) -> list[str]:
    """Lines of `text` no wider than `width` pixels in `font`, broken where the script allows.

    With a `limit`, stops as soon as there are more lines than that (the caller only needs to know it is too
    many), so trying type sizes that do not fit costs little.
    """
    measure = ImageDraw.Draw(Image.new("L", (1, 1))).textlength
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(" ".join(text.split())):
        if limit is not None and len(lines) > limit:
            return lines
        if token.isspace():
            if line:
                line += " "
            continue
        candidate = line + token
        if measure(candidate.rstrip(), font=font) <= width or not line.strip():
            if measure(candidate, font=font) > width and not line.strip():
                # A single word wider than the line: break it between letters.
                for ch in token:
                    if line and measure(line + ch, font=font) > width:
                        lines.append(line.rstrip())
                        line = ""
                    line += ch
                continue
            line = candidate
            continue
        if token[0] in NO_LINE_START and line.strip():
            # Keep closing punctuation on the line it closes: move the line's last character down with it.
            if UNSPACED.match(line[-1]) and len(line.rstrip()) > 1:
                lines.append(line[:-1].rstrip())
                line = line[-1] + token
                continue
        lines.append(line.rstrip())
        line = token
    if line.strip():
        lines.append(line.rstrip())
    return lines


@dataclass
class CaptionPage:
    """One caption picture (RGBA), where it goes, and the share of the sentence's time it is shown."""

    image: Image.Image
    x: int
    y: int
    font_px: int
    share: float


def safe_box(width: int, height: int) -> tuple[int, int, int, int]:
    """left, top, right, bottom of the safe area."""
    mx, my = max(4, round(width * SAFE)), max(4, round(height * SAFE))
    return mx, my, width - mx, height - my


def start_font_px(width: int, height: int, languages: int) -> int:
    """The caption type size a frame starts from (before fitting)."""
    return max(MIN_FONT_PX, int(min(width, height) / (11 + 3 * (languages - 1))))


def _metrics(size: int) -> tuple[int, int]:
    return max(2, size // 5), int(size * 1.3)  # padding, line height


def _lay(texts: list[str], size: int, inner: float) -> list[tuple[ImageFont.FreeTypeFont, list[str]]]:
    return [(font_for(_script_key(t), size), wrap(t, font_for(_script_key(t), size), inner)) for t in texts]


def _draw(blocks: list[tuple[ImageFont.FreeTypeFont, list[str], tuple]], size: int, width: int, height: int
          ) -> tuple[Image.Image, int, int]:
    left, top, right, bottom = safe_box(width, height)
    pad, line_h = _metrics(size)
    total = sum(len(lines) for _, lines, _ in blocks) * line_h + 2 * pad
    img = Image.new("RGBA", (right - left, min(total, bottom - top)), BOX)
    draw = ImageDraw.Draw(img)
    y = pad
    for font, lines, colour in blocks:
        for line in lines:
            draw.text(((img.width - draw.textlength(line, font=font)) / 2, y), line, font=font, fill=colour)
            y += line_h
    return img, left, bottom - img.height


def caption_pages(texts: list[str], width: int, height: int) -> list[CaptionPage]:
    """The caption pictures for one sentence in every language (texts[0] first, at the bottom of the stack).

    All languages stacked when they fit in a third of the frame (at most MAX_LINES lines each, type no smaller
    than MIN_FONT_PX); otherwise the languages take turns, and a sentence too long for one picture is shown as
    consecutive pages of whole lines, each for a share of the time proportional to its length.
    """
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        return []
    left, _, right, _ = safe_box(width, height)
    max_h = int(height * CAPTION_SHARE)
    max_lines = MAX_LINES if width >= height else 2 * MAX_LINES

    def fitted(group: list[int]) -> tuple[int, list] | None:
        size = start_font_px(width, height, len(group))
        while True:
            pad, line_h = _metrics(size)
            budget = (max_h - 2 * pad) // line_h  # lines that fit in the caption share at this size
            blocks = []
            for i in group:
                font = font_for(_script_key(texts[i]), size)
                # Wrapping stops once a text needs more lines than it may have: a size that does not fit
                # is given up on after a few measurements.
                lines = wrap(texts[i], font, right - left - 2 * pad, min(max_lines, budget))
                budget -= len(lines)
                if len(lines) > max_lines or budget < 0:
                    break
                blocks.append((font, lines))
            else:
                return size, blocks
            if size <= MIN_FONT_PX:
                return None
            size = max(MIN_FONT_PX, int(size * 0.9))

    stacked = fitted(list(range(len(texts))))
    if stacked:
        size, blocks = stacked
        img, x, y = _draw([(f, ls, COLOURS[i % 3]) for i, (f, ls) in enumerate(blocks)], size, width, height)
        return [CaptionPage(img, x, y, size, 1.0)]
    pages: list[CaptionPage] = []
    for i, text in enumerate(texts):
        alone = fitted([i])
        colour = COLOURS[i % 3]
        if alone:
            size, blocks = alone
            img, x, y = _draw([(blocks[0][0], blocks[0][1], colour)], size, width, height)
            pages.append(CaptionPage(img, x, y, size, 1.0 / len(texts)))
            continue
        size = MIN_FONT_PX
        pad, line_h = _metrics(size)
        font, lines = _lay([text], size, right - left - 2 * pad)[0]
        per_page = max(1, min(max_lines, (max_h - 2 * pad) // line_h))
        chunks = [lines[k:k + per_page] for k in range(0, len(lines), per_page)]
        weights = [max(1, sum(len(ln) for ln in c)) for c in chunks]
        for chunk, weight in zip(chunks, weights):
            img, x, y = _draw([(font, chunk, colour)], size, width, height)
            pages.append(CaptionPage(img, x, y, size, weight / sum(weights) / len(texts)))
    return pages


def caption_zone_height(width: int, height: int) -> int:
    """The height at the bottom of the frame that captions may use (title cards keep clear of it)."""
    return int(height * CAPTION_SHARE) + (height - safe_box(width, height)[3])
