"""Check a rendition against its profile with ffprobe and ebur128, independently of how it was made."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from media_pipeline import audio as audio_mod
from media_pipeline import probe
from media_pipeline.errors import EngineError
from media_pipeline.profiles import Profile

CODECS = {"mp3": "mp3", "aac": "aac", "h264": "h264"}


class RenditionInvalid(EngineError):
    """The output misses its profile; `problems` lists each reason."""

    def __init__(self, profile: str, problems: list[str]):
        super().__init__(f"{profile}: " + "; ".join(problems))
        self.problems = problems


@dataclass
class Report:
    """What was measured."""

    duration_s: float
    lufs: float | None = None
    true_peak: float | None = None
    streams: list[dict] = field(default_factory=list)


def check(path: Path, profile: Profile, expected_duration: float | None = None) -> Report:
    """Raise RenditionInvalid listing every mismatch; return the measurements otherwise."""
    info = probe.probe(str(path))
    problems: list[str] = []
    fmt = info.format_name
    if profile.container == "mp3" and fmt != "mp3":
        problems.append(f"container is {fmt}, expected mp3")
    if profile.container == "mp4" and "mp4" not in fmt:
        problems.append(f"container is {fmt}, expected mp4")
    if profile.kind == "video":
        if len(info.video) != 1:
            problems.append(f"{len(info.video)} video streams, expected 1")
        else:
            v = info.video[0]
            if v.get("codec_name") != CODECS[profile.video_codec]:
                problems.append(f"video codec {v.get('codec_name')}, expected {profile.video_codec}")
            if (v.get("width"), v.get("height")) != (profile.width, profile.height):
                problems.append(f"resolution {v.get('width')}x{v.get('height')}, expected "
                                f"{profile.width}x{profile.height}")
            if v.get("pix_fmt") != profile.pix_fmt:
                problems.append(f"pixel format {v.get('pix_fmt')}, expected {profile.pix_fmt}")
            rate = Fraction(v.get("r_frame_rate", "0/1"))
            if abs(float(rate) - profile.fps) > 0.01:
                problems.append(f"frame rate {float(rate):.2f}, expected {profile.fps}")
    if profile.audio:
        if len(info.audio) != 1:
            problems.append(f"{len(info.audio)} audio streams, expected 1")
        else:
            a = info.audio[0]
            if a.get("codec_name") != CODECS[profile.audio_codec]:
                problems.append(f"audio codec {a.get('codec_name')}, expected {profile.audio_codec}")
            if int(a.get("sample_rate", 0)) != profile.sample_rate:
                problems.append(f"sample rate {a.get('sample_rate')}, expected {profile.sample_rate}")
            if int(a.get("channels", 0)) != profile.channels:
                problems.append(f"{a.get('channels')} channels, expected {profile.channels}")
            br = int(a.get("bit_rate") or 0)
            if br and abs(br - profile.audio_bitrate) > profile.audio_bitrate * 0.15:
                problems.append(f"audio bitrate {br // 1000} kbit/s, expected {profile.audio_bitrate // 1000}")
    elif info.audio:
        problems.append("has an audio stream; this profile is silent")
    if info.duration_s > profile.max_duration_s:
        problems.append(f"lasts {info.duration_s:.0f} s, longer than the channel's maximum of "
                        f"{profile.max_duration_s:.0f} s")
    if expected_duration and abs(info.duration_s - expected_duration) > max(1.0, expected_duration * 0.05):
        problems.append(f"lasts {info.duration_s:.1f} s, expected about {expected_duration:.1f} s")
    report = Report(duration_s=info.duration_s, streams=info.streams)
    if profile.audio and info.audio:
        loud = audio_mod.measure(path)
        report.lufs, report.true_peak = loud.integrated, loud.true_peak
        if abs(loud.integrated - profile.lufs) > 1.0:
            problems.append(f"loudness {loud.integrated:.1f} LUFS, expected {profile.lufs:.1f} ± 1")
        if loud.true_peak > profile.true_peak + 0.5:
            problems.append(f"true peak {loud.true_peak:.1f} dBTP above {profile.true_peak:.1f}")
    if problems:
        raise RenditionInvalid(profile.name, problems)
    return report
