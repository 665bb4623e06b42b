"""Speech recognition, side by side in one run on the same minute of speech and the same model (Whisper base,
int8, CPU): the studio's `asr.transcribe` (chunks, VAD, temperature 0) at beam 1 and 5, raw faster-whisper
with the same decoding, and raw faster-whisper with its defaults (the temperature fallback wave 1 used).
Real-time factor (processing time / audio length) and character error rate against the samples' transcripts.

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
        duration = asr.probe.probe(str(audio)).duration_s

        def raw(beam: int, defaults: bool = False) -> str:
            options = {} if defaults else {"temperature": 0.0, "condition_on_previous_text": False,
                                           "vad_filter": True}
            segments, _info = model.transcribe(str(audio), language="vi", beam_size=beam, **options)
            return " ".join(x.text.strip() for x in segments)
        runs = {
            "studio, beam 1": lambda: asr.transcribe(audio, model, "vi", 1).text,
            "raw faster-whisper, same decoding, beam 1": lambda: raw(1),
            "studio, beam 5": lambda: asr.transcribe(audio, model, "vi", 5).text,
            "raw faster-whisper, same decoding, beam 5": lambda: raw(5),
            "raw faster-whisper defaults (fallback), beam 5": lambda: raw(5, defaults=True),
            "raw faster-whisper defaults (fallback), beam 1": lambda: raw(1, defaults=True),
        }
        results = {}
        for _round in range(2):
            for name, fn in runs.items():
                t = time.perf_counter()
                text = fn()
                results.setdefault(name, []).append((time.perf_counter() - t, text))
        print(f"\n{'':48}{'RTF':>7}{'CER':>8}{'CER 2nd run':>13}{'time / studio':>15}")
        base = {1: min(e for e, _ in results["studio, beam 1"]), 5: min(e for e, _ in results["studio, beam 5"])}
        for name, rs in results.items():
            elapsed = min(e for e, _ in rs)
            cers = [asr.character_error_rate(reference, text) for _, text in rs]
            beam = 5 if "beam 5" in name else 1
            print(f"{name:48}{elapsed / duration:>7.3f}{cers[0]:>8.3f}{cers[1]:>13.3f}{elapsed / base[beam]:>15.2f}")

if __name__ == "__main__":
    main()
