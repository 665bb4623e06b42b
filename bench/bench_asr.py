"""Whisper real-time factor (processing time / audio length) at int8 on the CPU, beam 1 against beam 5.

The audio is the three Vietnamese samples in ../shared/samples/speech joined and repeated to about a minute.
Run: .venv/bin/python bench/bench_asr.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media_pipeline import asr  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples" / "speech"
NAMES = ("vi_north_male_1", "vi_north_female_1", "vi_north_male_2")


def main() -> None:
    if not SAMPLES.exists():
        sys.exit(f"{SAMPLES} is missing")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        inputs = sum((["-i", str(SAMPLES / f"{n}.wav")] for n in NAMES * 6), [])
        audio = tmp / "minute.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex",
                        f"concat=n={len(NAMES) * 6}:v=0:a=1", str(audio)], check=True)
        t = time.perf_counter()
        model = asr.load_model("packaged:base", tmp / "models")
        print(f"model load (assemble + load): {time.perf_counter() - t:.2f} s")
        reference = " ".join((SAMPLES / f"{n}.txt").read_text(encoding="utf-8").strip() for n in NAMES * 6)
        asr.transcribe(audio, model, "vi", 1)  # warm-up
        results = {}
        for beam in (1, 5, 1, 5):
            t = time.perf_counter()
            out = asr.transcribe(audio, model, "vi", beam)
            elapsed = time.perf_counter() - t
            results.setdefault(beam, []).append((elapsed, out))
        for beam, runs in sorted(results.items()):
            elapsed = min(e for e, _ in runs)
            out = runs[0][1]
            cer = asr.character_error_rate(reference, out.text)
            print(f"beam {beam}: real-time factor {elapsed / out.duration_s:.3f} "
                  f"({elapsed:.2f} s for {out.duration_s:.1f} s of speech), CER {cer:.3f}")
        b1, b5 = min(e for e, _ in results[1]), min(e for e, _ in results[5])
        print(f"beam 5 / beam 1 time ratio: {b5 / b1:.2f}")


if __name__ == "__main__":
    main()
