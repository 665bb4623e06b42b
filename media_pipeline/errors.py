"""Exceptions raised by media engines."""
from __future__ import annotations


class EngineError(Exception):
    """An engine failed; the message says what to do."""


class ToolMissing(EngineError):
    """A required program (ffmpeg, ffprobe, espeak-ng) is not installed."""


class InvalidMedia(EngineError):
    """The input is not media we can read."""


class MediaTooLarge(InvalidMedia):
    """The input exceeds a size or pixel limit."""
