"""Benchmarks for a 65-second bulletin, measured side by side in one run.

1. our transcode (the loudspeaker MP3 encode through media_pipeline.tools) against the same ffmpeg command run
   raw with subprocess                                                    target: ratio <= 1.10
2. a 1080p border-screen slideshow (title card, four pictures, captions in three languages, stereo AAC):
   today's pipeline (captions composed as stills, a concat of stills encoded) against wave 1's (libass burning
   captions over looped pictures, kept below as the baseline), against the raw ffmpeg command ours runs and
   against that command with x264's veryfast defaults, each as speed against real time, with each file's size
   and SSIM against the stills                                            target: ours >= 10x real time
3. video encoding speed against real time, per video profile
4. a cached re-render of an unchanged work against its first render      target: < 5 %

Run: .venv/bin/python bench/bench_render.py   (needs ffmpeg, espeak-ng, fonts; starts its own SeaweedFS)
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_pipeline import audio, compose, layout, render, tools  # noqa: E402
from media_pipeline.profiles import DEFAULTS, audio_codec_args  # noqa: E402
from media_pipeline.tts import make_engines  # noqa: E402

SENTENCE = ("Ủy ban nhân dân xã Đồng Đăng thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi, "
            "phụ huynh mang theo sổ tiêm chủng và đến đúng giờ.")


def timed(fn, repeat: int = 3) -> float:
    """Median wall time of fn() over `repeat` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def side_by_side(ours, raw, repeat: int) -> tuple[float, float]:
    """Alternate the two (after one warm-up each) so caches and CPU clocks treat both alike; medians."""
    ours(), raw()
    a, b = [], []
    for _ in range(repeat):
        for fn, acc in ((ours, a), (raw, b)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def bulletin(tmp: Path) -> render.Narration:
    """Synthesize sentences until the narration lasts at least 60 s."""
    engines = {e.name: e for e in make_engines(["espeak"])}
    sentences = []
    while True:
        sentences.append(SENTENCE)
        narr = render.synthesize(sentences, render.VoiceChoice("espeak", "vi", "vi"), engines, tmp,
                                 lambda *_: None)
        if audio.duration(narr.wav) >= 65:
            return narr


# ---- wave 1's video pipeline, kept as the baseline: an ASS script burned in by libass over looped pictures ----

def wave1_ass(tracks: list[list], width: int, height: int, font: str = "Noto Sans") -> str:
    """Wave 1's ASS script: the first track at the bottom, each further language stacked above it."""
    def t(x: float) -> str:
        cs = int(round(x * 100))
        h, cs = divmod(cs, 360000)
        m, cs = divmod(cs, 6000)
        sec, cs = divmod(cs, 100)
        return f"{h}:{m:02d}:{sec:02d}.{cs:02d}"
    size = max(12, int(min(width, height) / (11 + 4 * (len(tracks) - 1))))
    margin_v, margin_h, outline = max(4, int(height * 0.04)), max(4, int(width * 0.03)), max(1, size // 14)
    lines = ["[Script Info]", "ScriptType: v4.00+", f"PlayResX: {width}", f"PlayResY: {height}", "WrapStyle: 0",
             "ScaledBorderAndShadow: yes", "", "[V4+ Styles]",
             "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
             "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
             "Alignment, MarginL, MarginR, MarginV, Encoding"]
    for i in range(len(tracks)):
        lines.append(f"Style: L{i},{font},{size},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,3,"
                     f"{outline},0,2,{margin_h},{margin_h},{margin_v},1")
    lines += ["", "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
    for i, cues in enumerate(tracks):
        for c in cues:
            lines.append(f"Dialogue: 0,{t(c.start)},{t(c.end)},L{i},,0,0,{margin_v + i * int(size * 2.6)},,"
                         + c.text.replace("{", "(").replace("}", ")"))
    return "\n".join(lines) + "\n"


def wave1_args(slides: list[Path], durations: list[float], prof, out: Path, m4a: Path, ass: Path) -> list[str]:
    """Wave 1's ffmpeg command: each slide looped at the frame rate, concatenated, libass per frame."""
    args = ["-v", "error", "-y"]
    for slide, d in zip(slides, durations):
        args += ["-loop", "1", "-framerate", str(prof.fps), "-t", f"{d:.3f}", "-i", str(slide)]
    args += ["-i", str(m4a)]
    path = str(ass).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'").replace(",", "\\,")
    chain = "".join(f"[{i}:v]" for i in range(len(slides))) + f"concat=n={len(slides)}:v=1:a=0"
    chain += f",fps={prof.fps},format={prof.pix_fmt},ass='{path}'"
    return args + ["-filter_complex", chain + "[v]", "-map", "[v]", "-map", f"{len(slides)}:a", "-c:a", "copy",
                   "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", str(prof.video_crf),
                   "-pix_fmt", prof.pix_fmt, "-r", str(prof.fps), "-movflags", "+faststart", str(out)]


def x264_defaults(args: list[str], out: Path) -> list[str]:
    """Our encode command with x264's veryfast defaults instead of our settings for stills (CRF, no tuning)."""
    args = list(args)
    for flag in ("-tune", "-x264-params", "-force_key_frames"):
        i = args.index(flag)
        del args[i:i + 2]
    args[args.index("-qp")] = "-crf"
    return args[:-1] + [str(out)]


def ssim(video: Path, listing: Path, fps: int, total: float) -> float:
    """ffmpeg's SSIM (all planes) of the video's frames against the stills it was made of, frame by frame."""
    out = subprocess.run(["ffmpeg", "-i", str(video), "-f", "concat", "-safe", "0", "-i", str(listing),
                          "-lavfi", f"[1:v]format=yuv420p,fps={fps},trim=duration={total:.3f}[r];"
                          f"[0:v]trim=duration={total:.3f}[d];[d][r]ssim", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    return float(out.rsplit("All:", 1)[1].split()[0])


ZH = "同登社人民委员会通知五岁以下儿童扩大免疫接种时间表，家长请携带疫苗接种本并准时到达。"
EN = ("The Dong Dang commune people's committee announces the expanded vaccination schedule for children under "
      "five; parents bring the vaccination book and arrive on time.")


def main() -> None:
    from PIL import Image
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        narr = bulletin(tmp)
        length = audio.duration(narr.wav)
        print(f"bulletin: {length:.1f} s of speech, {len(narr.cues)} sentences")

        # 1. Loudspeaker MP3 encode: our tools.run vs raw subprocess, same arguments.
        prof = DEFAULTS["loudspeaker"]
        mp3_args = ["-v", "error", "-y", "-i", str(narr.wav), *audio_codec_args(prof), "-ar", "44100", "-ac", "1"]
        ours, raw = side_by_side(lambda: tools.run("ffmpeg", [*mp3_args, str(tmp / "ours.mp3")]),
                                 lambda: subprocess.run(["ffmpeg", *mp3_args, str(tmp / "raw.mp3")], check=True), 7)
        print(f"mp3 encode      ours {ours:.3f} s  raw {raw:.3f} s  ratio {ours / raw:.3f}  (target <= 1.10)")

        # 2. The 1080p border-screen slideshow: ours, wave 1's, and the raw command ours runs.
        prof = DEFAULTS["border-screen"]
        size = (prof.width, prof.height)
        m4a = tmp / "n.m4a"
        audio.master(narr.wav, m4a, prof.lufs, prof.true_peak, prof.sample_rate, prof.channels,
                     audio_codec_args(prof))
        total = length + 0.6
        pictures = []
        for i, colour in enumerate([(180, 40, 40), (40, 140, 60), (200, 160, 40), (60, 90, 170)]):
            pictures.append(tmp / f"p{i}.jpg")
            Image.new("RGB", (1600, 1200), colour).save(pictures[-1], quality=90)
        slides = [compose.title_card("Tiêm chủng mở rộng", "Xã Đồng Đăng", size, tmp / "s0.png",
                                     keep_clear=layout.caption_zone_height(*size))]
        slides += [compose.picture_slide(p, size, tmp / f"s{i + 1}.png") for i, p in enumerate(pictures)]
        durations = render.slide_durations(len(slides), total)
        tracks = [narr.cues, render.align([ZH] * len(narr.cues), narr.cues),
                  render.align([EN] * len(narr.cues), narr.cues)]
        (tmp / "stills").mkdir()

        def ours_run():
            stills = compose.compose_stills(slides, durations, tracks, size, prof.fps, tmp / "stills")
            compose.encode(stills, prof, tmp / "ours.mp4", m4a)
        stills = compose.compose_stills(slides, durations, tracks, size, prof.fps, tmp / "stills")
        raw_args = compose.encode_args(stills, prof, tmp / "raw.mp4", tmp / "raw.txt", m4a)
        ass = tmp / "wave1.ass"
        ass.write_text(wave1_ass(tracks, *size), encoding="utf-8")
        old_args = wave1_args(slides, durations, prof, tmp / "wave1.mp4", m4a, ass)
        plain_args = x264_defaults(raw_args, tmp / "plain.mp4")
        times: dict[str, list[float]] = {"ours": [], "raw": [], "plain": [], "wave1": []}
        for _ in range(2):
            for name, fn in (("ours", ours_run),
                             ("raw", lambda: subprocess.run(["ffmpeg", *raw_args], check=True)),
                             ("plain", lambda: subprocess.run(["ffmpeg", *plain_args], check=True)),
                             ("wave1", lambda: subprocess.run(["ffmpeg", *old_args], check=True))):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"1080p slideshow ({total:.0f} s, 5 slides, 3 caption languages, {len(stills)} stills):")
        print(f"  ours (compose stills + encode) {med['ours']:6.2f} s  {total / med['ours']:5.1f}x real time "
              "(target >= 10x)")
        print(f"  raw ffmpeg, same stills        {med['raw']:6.2f} s  {total / med['raw']:5.1f}x real time  "
              f"ours/raw {med['ours'] / med['raw']:.2f}")
        print(f"  same stills, x264 veryfast     {med['plain']:6.2f} s  {total / med['plain']:5.1f}x real time  "
              "(the stills' concat with x264's own settings)")
        print(f"  wave 1 (libass, looped slides) {med['wave1']:6.2f} s  {total / med['wave1']:5.1f}x real time  "
              f"ours is {med['wave1'] / med['ours']:.1f}x faster")
        for name in ("ours", "plain"):  # wave 1 laid its captions out differently: no like-for-like SSIM
            print(f"  {name:<6} {(tmp / f'{name}.mp4').stat().st_size / 1e6:5.2f} MB, SSIM against the stills "
                  f"{ssim(tmp / f'{name}.mp4', tmp / 'raw.txt', prof.fps, total):.4f}")

        # 3. Encoding speed against real time, per video profile (captions composed in).
        for name in ("eboard-1080p", "eboard-portrait", "eboard-led-384x192", "web-video"):
            p = DEFAULTS[name]
            sz = (p.width, p.height)
            sl = [compose.title_card("Tiêm chủng mở rộng", "Xã Đồng Đăng", sz, tmp / f"{name}.png",
                                     keep_clear=layout.caption_zone_height(*sz))]
            work = tmp / name
            work.mkdir()

            def one():
                st = compose.compose_stills(sl, [total], [narr.cues] if p.burn_captions else [], sz, p.fps, work)
                compose.encode(st, p, tmp / f"{name}.mp4", m4a if p.audio else None)
            t = timed(one, 1)
            print(f"speed {name:<20} {total / t:6.1f}x real time ({t:.2f} s for {total:.0f} s)")

    cached_ratio()


def cached_ratio() -> None:
    """2. First render of a 60-second bulletin (loudspeaker + e-board) against re-rendering it unchanged."""
    from flask_migrate import upgrade

    from storage.seaweed import EmbeddedSeaweed
    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, rendering, works
    with tempfile.TemporaryDirectory() as d, EmbeddedSeaweed(Path(d) / "s3") as sw:
        app = create_app({"S3_URL": sw.url,
                          "QUEUE_URL": "memory://", "TTS_ENGINES": "espeak"},
                         environ={"STUDIO_INSTANCE": str(Path(d) / "i")})
        with app.app_context():
            upgrade()
            user = accounts.create_user(db.session, Caller(None), "bench", "bench password", ["editor"], system=True)
            work = works.create(db.session, Caller(user), {"title": "Bản tin", "body": " ".join([SENTENCE] * 9)})
            db.session.commit()

            def run() -> float:
                t = time.perf_counter()
                rendering.queue(db.session, Caller(user), work, ["loudspeaker", "eboard"])
                db.session.commit()  # QUEUE_URL memory:// runs the jobs inline, here
                return time.perf_counter() - t
            first = run()
            again = statistics.median(run() for _ in range(3))
        print(f"cached re-render {again:.3f} s vs first render {first:.2f} s: {100 * again / first:.2f} % "
              "(target < 5 %)")


if __name__ == "__main__":
    main()
