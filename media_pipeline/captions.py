"""Captions from sentence timings: SRT, WebVTT, and ASS for burning in (several languages stacked)."""
from __future__ import annotations

from dataclasses import dataclass

from media_pipeline.audio import Cue


def _ts(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip text."""
    return "\n".join(f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n" for i, c in enumerate(cues, 1))


def to_vtt(cues: list[Cue], language: str = "") -> str:
    """WebVTT text."""
    head = "WEBVTT" + (f"\nLanguage: {language}" if language else "") + "\n\n"
    return head + "\n".join(f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{c.text}\n" for c in cues)


@dataclass
class CaptionStyle:
    """Caption size and placement chosen for a frame size."""

    font_size: int
    margin_v: int
    margin_h: int
    outline: int

    @classmethod
    def for_frame(cls, width: int, height: int, lines: int = 1) -> "CaptionStyle":
        """Readable on a 384x192 LED board and on a 1920x1080 screen alike (lines: languages stacked)."""
        short = min(width, height)
        size = max(12, int(short / (11 + 4 * (lines - 1))))
        return cls(font_size=size, margin_v=max(4, int(height * 0.04)), margin_h=max(4, int(width * 0.03)),
                   outline=max(1, size // 14))


def _ass_time(t: float) -> str:
    cs = int(round(t * 100))
    h, cs = divmod(cs, 360000)
    m, cs = divmod(cs, 6000)
    s, cs = divmod(cs, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _ass_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", "\\N")


def to_ass(tracks: list[list[Cue]], width: int, height: int, font: str = "Noto Sans") -> str:
    """ASS script: the first track at the bottom, each further language stacked above it."""
    style = CaptionStyle.for_frame(width, height, lines=len(tracks))
    lines = [
        "[Script Info]", "ScriptType: v4.00+", f"PlayResX: {width}", f"PlayResY: {height}",
        "WrapStyle: 0", "ScaledBorderAndShadow: yes", "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
    ]
    colours = ["&H00FFFFFF", "&H0000E6FF", "&H00B4FFB4"]
    for i in range(len(tracks)):
        lines.append(f"Style: L{i},{font},{style.font_size},{colours[i % 3]},&H000000FF,&H00000000,&H80000000,"
                     f"-1,0,0,0,100,100,0,0,3,{style.outline},0,2,{style.margin_h},{style.margin_h},"
                     f"{style.margin_v},1")
    lines += ["", "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
    block = int(style.font_size * 2.6)  # room for two wrapped lines per language
    for i, cues in enumerate(tracks):
        margin = style.margin_v + i * block
        for c in cues:
            lines.append(f"Dialogue: 0,{_ass_time(c.start)},{_ass_time(c.end)},L{i},,0,0,{margin},,"
                         f"{_ass_escape(c.text)}")
    return "\n".join(lines) + "\n"
