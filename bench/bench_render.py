"""Benchmarks for a 60-second bulletin, measured side by side in one run.

1. our transcode (compose.encode and the loudspeaker MP3 encode through media_pipeline.tools) against the same
   ffmpeg command line run raw with subprocess            target: ratio <= 1.10
2. a cached re-render of an unchanged work against its first render      target: < 5 %
3. video encoding speed against real time, per profile

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

from media_pipeline import audio, compose, render, tools  # noqa: E402
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
        if audio.duration(narr.wav) >= 60:
            return narr


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        narr = bulletin(tmp)
        length = audio.duration(narr.wav)
        print(f"bulletin: {length:.1f} s of speech, {len(narr.cues)} sentences")

        # 1a. Loudspeaker MP3 encode: our tools.run vs raw subprocess, same arguments.
        prof = DEFAULTS["loudspeaker"]
        mp3_args = ["-v", "error", "-y", "-i", str(narr.wav), *audio_codec_args(prof), "-ar", "44100", "-ac", "1"]
        ours, raw = side_by_side(lambda: tools.run("ffmpeg", [*mp3_args, str(tmp / "ours.mp3")]),
                                 lambda: subprocess.run(["ffmpeg", *mp3_args, str(tmp / "raw.mp3")], check=True), 7)
        print(f"mp3 encode      ours {ours:.3f} s  raw {raw:.3f} s  ratio {ours / raw:.3f}  (target <= 1.10)")

        # 1b. Border-screen video: compose.encode vs the same command raw.
        prof = DEFAULTS["border-screen"]
        size = (prof.width, prof.height)
        slides = [compose.title_card("Tiêm chủng mở rộng", "Xã Đồng Đăng", size, tmp / "s0.png")]
        ass = tmp / "c.ass"
        from media_pipeline import captions
        ass.write_text(captions.to_ass([narr.cues], *size), encoding="utf-8")
        m4a = tmp / "n.m4a"
        audio.master(narr.wav, m4a, prof.lufs, prof.true_peak, prof.sample_rate, prof.channels,
                     audio_codec_args(prof))
        durations = [length + 0.6]
        args = compose.encode_args(slides, durations, prof, tmp / "raw.mp4", m4a, ass)
        ours, raw = side_by_side(lambda: compose.encode(slides, durations, prof, tmp / "ours.mp4", m4a, ass),
                                 lambda: subprocess.run(["ffmpeg", *args], check=True), 2)
        print(f"1080p encode    ours {ours:.3f} s  raw {raw:.3f} s  ratio {ours / raw:.3f}  (target <= 1.10)")

        # 3. Encoding speed against real time, per video profile (captions burned in).
        for name in ("border-screen", "eboard-1080p", "eboard-led-384x192", "web-video"):
            p = DEFAULTS[name]
            sz = (p.width, p.height)
            sl = [compose.title_card("Tiêm chủng mở rộng", "Xã Đồng Đăng", sz, tmp / f"{name}.png")]
            a = tmp / f"{name}.ass"
            a.write_text(captions.to_ass([narr.cues], *sz), encoding="utf-8")
            t = timed(lambda: compose.encode(sl, durations, p, tmp / f"{name}.mp4", m4a if p.audio else None, a), 1)
            print(f"speed {name:<20} {durations[0] / t:6.1f}x real time ({t:.2f} s for {durations[0]:.0f} s)")

    cached_ratio()


def cached_ratio() -> None:
    """2. First render of a 60-second bulletin (loudspeaker + e-board) against re-rendering it unchanged."""
    from flask_migrate import upgrade

    from storage.seaweed import EmbeddedSeaweed
    from studio import create_app
    from studio.extensions import db
    from studio.jobs import render_config
    from studio.services import Caller, accounts, rendering, works
    with tempfile.TemporaryDirectory() as d, EmbeddedSeaweed(Path(d) / "s3") as sw:
        app = create_app({"ENVIRON": {"STUDIO_INSTANCE": str(Path(d) / "i")}, "S3_URL": sw.url,
                          "QUEUE_URL": "memory://", "TTS_ENGINES": "espeak"})
        with app.app_context():
            upgrade()
            user = accounts.create_user(db.session, Caller(None), "bench", "bench password", ["editor"], system=True)
            work = works.create(db.session, Caller(user), {"title": "Bản tin", "body": " ".join([SENTENCE] * 9)})
            db.session.commit()

            def run() -> float:
                jobs = rendering.queue(db.session, Caller(user), work.id, ["loudspeaker", "eboard"])
                db.session.commit()
                t = time.perf_counter()
                for j in jobs:
                    rendering.run_job(db.session, app.extensions["objectstore"], render_config(app), j.id)
                return time.perf_counter() - t
            first = run()
            again = statistics.median(run() for _ in range(3))
        print(f"cached re-render {again:.3f} s vs first render {first:.2f} s: {100 * again / first:.2f} % "
              "(target < 5 %)")


if __name__ == "__main__":
    main()
