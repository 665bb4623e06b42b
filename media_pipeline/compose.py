"""Video composition: a title card and picture slides, captions burned in with libass, encoded with x264."""
from __future__ import annotations

import logging
import re
import subprocess
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont, ImageOps

from media_pipeline import tools
from media_pipeline.errors import EngineError, ToolMissing
from media_pipeline.profiles import Profile, audio_codec_args

log = logging.getLogger(__name__)
BACKGROUND = (16, 40, 64)
CJK = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]")


@lru_cache(maxsize=8)
def font_file(pattern: str) -> str:
    """A font file for a fontconfig pattern (Noto Sans carries Vietnamese, Noto Sans CJK Chinese)."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10)
    except FileNotFoundError as exc:
        raise ToolMissing("fc-match (fontconfig) is not installed; apt-get install fontconfig") from exc
    if out.returncode or not out.stdout:
        raise EngineError(f"no font matches {pattern!r}; install fonts-noto-core and fonts-noto-cjk")
    return out.stdout


def _font_for(text: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    family = "Noto Sans CJK SC" if CJK.search(text) else "Noto Sans"
    return ImageFont.truetype(font_file(f"{family}:{'bold' if bold else 'regular'}"), size)


def qr_image(url: str, side: int) -> Image.Image:
    """A QR code of `url`, `side` pixels square, dark on white with its quiet zone."""
    import qrcode
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB").resize(
        (side, side), Image.NEAREST)


def title_card(title: str, subtitle: str, size: tuple[int, int], out: Path, qr_url: str | None = None) -> Path:
    """A slide with the title (and a smaller line under it) centred, wrapped to the frame; optional QR code."""
    w, h = size
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    fsize = max(12, int(min(w, h) / 9))
    font = _font_for(title, fsize, bold=True)
    chars = max(8, int(w / (fsize * 0.55)))
    lines = textwrap.wrap(title, chars)[:4]
    sub_font = _font_for(subtitle or "x", max(10, fsize // 2))
    total = len(lines) * int(fsize * 1.25) + (int(fsize * 0.9) if subtitle else 0)
    y = (h - total) // 2
    for line in lines:
        tw = draw.textlength(line, font=font)
        draw.text(((w - tw) / 2, y), line, font=font, fill=(255, 255, 255))
        y += int(fsize * 1.25)
    if subtitle:
        tw = draw.textlength(subtitle, font=sub_font)
        draw.text(((w - tw) / 2, y + fsize // 4), subtitle, font=sub_font, fill=(255, 214, 102))
    if qr_url:
        side = min(w, h) // 4
        margin = max(4, side // 10)
        img.paste(qr_image(qr_url, side), (w - side - margin, h - side - margin))
    img.save(out, "PNG")
    return out


def picture_slide(picture: Path, size: tuple[int, int], out: Path) -> Path:
    """A picture fitted inside the frame on the house background (never cropped, never stretched)."""
    with Image.open(picture) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        fitted = ImageOps.contain(im, size)
    canvas = Image.new("RGB", size, BACKGROUND)
    canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    canvas.save(out, "PNG")
    return out


def _filter_path(path: Path) -> str:
    """Escape a path for use inside an ffmpeg filter argument."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'").replace(",", "\\,")


def encode(slides: list[Path], durations: list[float], profile: Profile, out: Path, audio: Path | None = None,
           ass: Path | None = None, preset: str = "veryfast",
           progress: Callable[[float], None] | None = None) -> Path:
    """Slides shown for their durations, captions burned in, optional narration; H.264 MP4 per the profile.

    `progress(fraction)` follows the encode (ffmpeg's -progress), so a long encode is never silent.
    """
    tools.run("ffmpeg", encode_args(slides, durations, profile, out, audio, ass, preset), progress=progress,
              duration=sum(durations))
    return out


def encode_args(slides: list[Path], durations: list[float], profile: Profile, out: Path, audio: Path | None = None,
                ass: Path | None = None, preset: str = "veryfast") -> list[str]:
    """The ffmpeg arguments encode() runs (kept separate so benchmarks can run the same command raw)."""
    if len(slides) != len(durations) or not slides:
        raise EngineError("each slide needs a duration")
    args = ["-v", "error", "-y"]
    for slide, d in zip(slides, durations):
        args += ["-loop", "1", "-framerate", str(profile.fps), "-t", f"{max(d, 0.5):.3f}", "-i", str(slide)]
    with_audio = audio is not None and profile.audio
    if with_audio:
        args += ["-i", str(audio)]
    chain = "".join(f"[{i}:v]" for i in range(len(slides))) + f"concat=n={len(slides)}:v=1:a=0"
    chain += f",fps={profile.fps},format={profile.pix_fmt}"
    if ass is not None:
        chain += f",ass='{_filter_path(ass)}'"
    args += ["-filter_complex", chain + "[v]", "-map", "[v]"]
    if with_audio:
        # The narration is already mastered: copy AAC as it is, re-encode only if the codec differs.
        args += ["-map", f"{len(slides)}:a", "-c:a", "copy"] if str(audio).endswith(".m4a") and \
            profile.audio_codec == "aac" else ["-map", f"{len(slides)}:a", *audio_codec_args(profile),
                                               "-ar", str(profile.sample_rate), "-ac", str(profile.channels)]
    else:
        args += ["-an"]
    args += ["-c:v", "libx264", "-preset", preset, "-tune", "stillimage", "-crf", str(profile.video_crf),
             "-pix_fmt", profile.pix_fmt, "-r", str(profile.fps), "-movflags", "+faststart", str(out)]
    return args
