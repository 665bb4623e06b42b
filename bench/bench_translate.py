"""Batched translation against one call per sentence, on the same CTranslate2 model, in one run.

No real Argos model can be downloaded here, so the package is built like one (SentencePiece trained on a small
corpus, a Transformer of Argos' shape with random int8 weights: d_model 512, 6+6 layers). Random weights never
emit the end token, so every sentence decodes to its length limit in both modes; real models stop earlier,
but the work per token, and so the ratio, is what batching changes.
Run: .venv/bin/python bench/bench_translate.py [--sentences N] [--small]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media_pipeline.translate import argos  # noqa: E402
from tests.media_pipeline.argos_builder import CORPUS, build_package  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=60)
    ap.add_argument("--small", action="store_true", help="a tiny model (d_model 64, 2 layers) for a quick look")
    args = ap.parse_args()
    d_model, layers = (64, 2) if args.small else (512, 6)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = time.perf_counter()
        pkg = build_package(tmp / "pkg", "vi", "en", d_model=d_model, layers=layers)
        print(f"built a {pkg.stat().st_size / 2**20:.1f} MiB package (d_model {d_model}, {layers}+{layers} layers) "
              f"in {time.perf_counter() - t:.1f} s")
        argos.install(pkg, tmp / "models")
        engine = argos.ArgosEngine(tmp / "models")
        vi = [s for s in CORPUS if not s.isascii() and "乡" not in s and "请" not in s]
        segments = [vi[i % len(vi)] for i in range(args.sentences)]
        engine.translate(segments[:4], "vi", "en")  # load the model, warm up
        timings = {}
        for mode in ("batched", "per-sentence", "batched", "per-sentence"):
            t = time.perf_counter()
            out = engine.translate_sentences(segments, "vi", "en", batched=(mode == "batched"))
            timings.setdefault(mode, []).append(time.perf_counter() - t)
            assert len(out) == len(segments)
        b, p = min(timings["batched"]), min(timings["per-sentence"])
        print(f"{len(segments)} sentences: batched {b:.2f} s ({len(segments) / b:.1f} sentences/s), "
              f"one call per sentence {p:.2f} s ({len(segments) / p:.1f} sentences/s)")
        print(f"per-sentence / batched time ratio: {p / b:.2f}")


if __name__ == "__main__":
    main()
