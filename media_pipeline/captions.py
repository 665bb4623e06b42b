"""Captions from sentence timings: SRT and WebVTT sidecars (burned-in captions are composed in layout.py)."""
from __future__ import annotations

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
