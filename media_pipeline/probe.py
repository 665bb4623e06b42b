"""ffprobe: what an audio or video file really contains."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from media_pipeline import tools
from media_pipeline.errors import EngineError, InvalidMedia

# Demuxers that ffprobe will happily "detect" in arbitrary bytes but that are not media to us.
_NOT_MEDIA_FORMATS = {"tty", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "svg_pipe", "bin",
                      "txt", "srt", "webvtt", "ass", "subviewer", "lrc", "sami", "data"}
_IMAGE_CODECS = {"png", "mjpeg", "gif", "webp", "bmp", "tiff", "ansi"}


@dataclass
class MediaInfo:
    """The parts of ffprobe's report the studio uses."""

    format_name: str
    duration_s: float
    bit_rate: int
    streams: list[dict] = field(default_factory=list)

    @property
    def audio(self) -> list[dict]:
        return [s for s in self.streams if s.get("codec_type") == "audio"]

    @property
    def video(self) -> list[dict]:
        """Video streams that are moving pictures (cover art and still images excluded)."""
        return [s for s in self.streams if s.get("codec_type") == "video"
                and s.get("codec_name") not in _IMAGE_CODECS
                and not (s.get("disposition") or {}).get("attached_pic")]

    @property
    def kind(self) -> str:
        return "video" if self.video else "audio"


def probe(path: str, timeout: float = 60) -> MediaInfo:
    """Run ffprobe on a file; InvalidMedia if it holds no playable audio or video."""
    try:
        proc = tools.run("ffprobe", ["-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                                     str(path)], timeout=timeout)
    except EngineError as exc:
        if "failed" in str(exc):
            raise InvalidMedia(f"not a readable audio or video file ({exc})") from exc
        raise
    data = json.loads(proc.stdout or b"{}")
    fmt = data.get("format") or {}
    info = MediaInfo(format_name=fmt.get("format_name", ""), duration_s=float(fmt.get("duration") or 0),
                     bit_rate=int(fmt.get("bit_rate") or 0), streams=data.get("streams") or [])
    if set(info.format_name.split(",")) & _NOT_MEDIA_FORMATS or not (info.audio or info.video):
        raise InvalidMedia(f"no audio or video stream found (format: {info.format_name or 'unknown'})")
    if info.duration_s <= 0:
        raise InvalidMedia("the file has no duration; it may be truncated")
    return info
