"""Video composition: title card, picture slides and captions composed as stills, encoded with x264.

Each caption state (a slide with the captions shown over it) is composed once as a PNG with Pillow
(`media_pipeline/layout.py` lays the text out for every script), and ffmpeg encodes the concat of those
stills, converting colours once per still and repeating frames to the frame rate. Measured on a 1080p
slideshow this runs several times faster than burning captions in with libass frame by frame over looped
pictures (`bench/bench_render.py` prints both side by side), and the text on screen is exactly what the layout
measured.
"""
from __future__ import annotations

import bisect
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageOps

from media_pipeline import layout, tools
from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError
from media_pipeline.profiles import Profile, audio_codec_args

log = logging.getLogger(__name__)
BACKGROUND = (16, 40, 64)
SAVE_THREADS = 2  # stills written to PNG at once (the machines have 2 cores; encoding waits for all of them)
# x264 for slides that do not move (see encode_args): constant quantizer, no B-frames, no lookahead or scene-cut
# analysis, the cheapest motion search; almost every frame repeats the one before and is coded as skips.
STILL_X264 = ("bframes=0:rc-lookahead=0:sync-lookahead=0:mbtree=0:scenecut=0:weightp=0:subme=0:me=dia:ref=1:"
              "partitions=none:trellis=0")


def qr_image(url: str, side: int) -> Image.Image:
    """A QR code of `url`, `side` pixels square, dark on white with its quiet zone."""
    import qrcode
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB").resize(
        (side, side), Image.NEAREST)


def title_card(title: str, subtitle: str, size: tuple[int, int], out: Path, qr_url: str | None = None,
               keep_clear: int = 0) -> Path:
    """A slide with the title (and a smaller line under it) centred and wrapped inside the safe area.

    `keep_clear`: pixels at the bottom left free for captions. The QR code, when asked for, sits in the top
    right corner of the safe area, the title below it.
    """
    w, h = size
    img = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = layout.safe_box(w, h)
    bottom = min(bottom, h - keep_clear)
    if qr_url:  # the title goes below it
        side = min(w, h) // 4
        img.paste(qr_image(qr_url, side), (right - side, top))
        top += side
    fsize = max(layout.MIN_FONT_PX, int(min(w, h) / 9))
    while True:
        font = layout.font_for(title, fsize, bold=True)
        lines = layout.wrap(title, font, right - left)[:4]
        sub_size = max(layout.MIN_FONT_PX, fsize // 2)
        sub_font = layout.font_for(subtitle or "x", sub_size)
        sub_lines = layout.wrap(subtitle, sub_font, right - left)[:2] if subtitle else []
        total = len(lines) * int(fsize * 1.25) + len(sub_lines) * int(sub_size * 1.3) + \
            (fsize // 4 if sub_lines else 0)
        if total <= bottom - top or fsize <= layout.MIN_FONT_PX:
            break
        fsize = max(layout.MIN_FONT_PX, int(fsize * 0.9))
    y = top + max(0, (bottom - top - total) // 2)
    for line in lines:
        draw.text(((w - draw.textlength(line, font=font)) / 2, y), line, font=font, fill=(255, 255, 255))
        y += int(fsize * 1.25)
    y += fsize // 4
    for line in sub_lines:
        draw.text(((w - draw.textlength(line, font=sub_font)) / 2, y), line, font=sub_font, fill=(255, 214, 102))
        y += int(sub_size * 1.3)
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


@dataclass
class Still:
    """A composed frame and how long it stays on screen."""

    path: Path
    duration: float


def _frames(t: float, fps: int) -> int:
    return int(round(t * fps))


def _active(cues: list[Cue], starts: list[float], t: float) -> str:
    """The text of the cue showing at time t ("" between cues); `starts`: the cues' start times, sorted."""
    i = bisect.bisect_right(starts, t) - 1
    return cues[i].text if i >= 0 and cues[i].start <= t < cues[i].end else ""


def caption_timeline(tracks: list[list[Cue]], size: tuple[int, int]) -> list[tuple[float, float, object]]:
    """(start, end, CaptionPage or None) covering the cues: every language's text of a moment, laid out once."""
    starts = [[c.start for c in t] for t in tracks]
    bounds = sorted({0.0} | {c.start for t in tracks for c in t} | {c.end for t in tracks for c in t})
    spans: list[tuple[float, float, tuple]] = []
    for a, b in zip(bounds, bounds[1:]):
        texts = tuple(_active(t, st, (a + b) / 2) for t, st in zip(tracks, starts))
        if spans and spans[-1][2] == texts:
            spans[-1] = (spans[-1][0], b, texts)
        else:
            spans.append((a, b, texts))
    out: list[tuple[float, float, object]] = []
    for a, b, texts in spans:
        pages = layout.caption_pages(list(texts), *size) if any(t.strip() for t in texts) else []
        if not pages:
            out.append((a, b, None))
            continue
        t = a
        for page in pages:
            end = t + (b - a) * page.share
            out.append((t, end, page))
            t = end
        out[-1] = (out[-1][0], b, out[-1][2])
    return out


def compose_stills(slides: list[Path], durations: list[float], tracks: list[list[Cue]], size: tuple[int, int],
                   fps: int, workdir: Path) -> list[Still]:
    """Every distinct screen (slide × caption page) composed once; the list plays them in order.

    Boundaries fall on whole frames, so the stills add up to the slides' total length exactly.
    """
    slide_starts = [0.0]
    for d in durations[:-1]:
        slide_starts.append(slide_starts[-1] + d)
    total = slide_starts[-1] + durations[-1]
    captions = caption_timeline(tracks, size) if tracks else []
    caption_starts = [a for a, _, _ in captions]
    last = _frames(total, fps)
    cuts = sorted({_frames(x, fps) for x in slide_starts} | {last} |
                  {_frames(x, fps) for a, b, _ in captions for x in (a, b) if x < total})
    cuts = [c for c in cuts if c <= last]
    stills: list[Still] = []
    made: dict[tuple, Path] = {}
    base: tuple[int, Image.Image] | None = None  # slides come in order: one decoded at a time
    saving: list[Future] = []
    with ThreadPoolExecutor(SAVE_THREADS) as pool:
        for f0, f1 in zip(cuts, cuts[1:]):
            mid = (f0 + f1) / 2 / fps
            slide = bisect.bisect_right(slide_starts, mid) - 1
            i = bisect.bisect_right(caption_starts, mid) - 1
            page = captions[i][2] if i >= 0 and mid < captions[i][1] else None
            key = (slide, id(page))
            if key not in made:
                if base is None or base[0] != slide:
                    base = (slide, Image.open(slides[slide]).convert("RGBA"))
                frame = base[1].copy()
                if page is not None:
                    frame.alpha_composite(page.image, (page.x, page.y))
                made[key] = workdir / f"still-{len(made):04d}.png"
                # Pillow's PNG encoder lets go of the GIL: the next still is composed while this one is
                # written. At most a few frames wait in memory.
                if len(saving) >= 2 * SAVE_THREADS:
                    saving.pop(0).result()
                saving.append(pool.submit(frame.convert("RGB").save, made[key], "PNG", compress_level=1))
            duration = (f1 - f0) / fps
            if stills and stills[-1].path == made[key]:
                stills[-1].duration += duration
            else:
                stills.append(Still(made[key], duration))
        for future in saving:
            future.result()
    return stills


def encode(stills: list[Still], profile: Profile, out: Path, audio: Path | None = None, preset: str = "veryfast",
           progress: Callable[[float], None] | None = None) -> Path:
    """The stills for their durations, with the optional narration; H.264 MP4 per the profile.

    `progress(fraction)` follows the encode (ffmpeg's -progress), so a long encode is never silent.
    """
    listing = out.with_suffix(".stills.txt")
    tools.run("ffmpeg", encode_args(stills, profile, out, listing, audio, preset), progress=progress,
              duration=sum(s.duration for s in stills))
    return out


def _concat_line(path: Path) -> str:
    return "file '" + str(path).replace("'", "'\\''") + "'\n"


def encode_args(stills: list[Still], profile: Profile, out: Path, listing: Path, audio: Path | None = None,
                preset: str = "veryfast") -> list[str]:
    """The ffmpeg arguments encode() runs (writes the concat list to `listing`; benchmarks run it raw too)."""
    if not stills:
        raise EngineError("nothing to encode")
    text = "ffconcat version 1.0\n"
    starts, at = [], 0.0
    for s in stills:
        text += _concat_line(s.path) + f"duration {s.duration:.6f}\n"
        starts.append(at)
        at += s.duration
    text += _concat_line(stills[-1].path)  # the concat demuxer needs the last file again to keep its duration
    listing.write_text(text, encoding="utf-8")
    total = at
    args = ["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    with_audio = audio is not None and profile.audio
    if with_audio:
        args += ["-i", str(audio)]
    args += ["-map", "0:v", "-vf", f"format={profile.pix_fmt},fps={profile.fps}", "-t", f"{total:.3f}"]
    if with_audio:
        # The narration is already mastered: copy AAC as it is, re-encode only if the codec differs.
        args += ["-map", "1:a", "-c:a", "copy"] if str(audio).endswith(".m4a") and profile.audio_codec == "aac" \
            else ["-map", "1:a", *audio_codec_args(profile), "-ar", str(profile.sample_rate),
                  "-ac", str(profile.channels)]
    else:
        args += ["-an"]
    # Slides do not move: motion search, B-frames and the lookahead only cost time, and with a constant
    # quantizer (the profile's quality number, on the same scale as x264's CRF) x264 skips the half-size
    # analysis of every frame that CRF's rate control needs. Every still starts with a key frame, so the
    # frames repeating it are pure skips (and a player can seek to any caption). Measured side by side on the
    # stills of bench/bench_render.py's 73 s 1080p slideshow here (raw ffmpeg, median of 3): 17.5x real time,
    # against 9.9x for the CRF settings of before and 6.9x for x264's veryfast defaults; SSIM against the stills
    # 0.9990 (before 0.9982, defaults 0.9978); 2.6 MB (before 2.3, defaults 2.1).
    args += ["-c:v", "libx264", "-preset", preset, "-tune", "stillimage", "-qp", str(profile.video_crf),
             "-x264-params", STILL_X264, "-force_key_frames", ",".join(f"{t:.3f}" for t in starts),
             "-pix_fmt", profile.pix_fmt, "-r", str(profile.fps), "-movflags", "+faststart", str(out)]
    return args
