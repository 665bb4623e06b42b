"""Calibrating the speech check: per-sentence CER of correct synthesized speech, per language and engine.

Each language's sentences are synthesized by the engine (espeak-ng here), joined with the studio's pauses,
recognised by Whisper base with word timings, and compared sentence by sentence (`asr.check_sentences`), as a
render does. The check must flag a sentence that was read wrong, not one the engine and Whisper merely handle
poorly, so the threshold of a language is set above what correct renditions score: the 95th percentile,
rounded up to 0.05. Vietnamese sentences are the spoken forms of the normaliser's corpus (what the voice is
given); English and Chinese are bulletin sentences written for this.
Writes nothing; prints the distributions and the thresholds to put in media_pipeline/data/speech_check.json.
Run: .venv/bin/python bench/bench_speech_check.py [--per-language 120]
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media_pipeline import asr, audio  # noqa: E402
from media_pipeline.tts import SynthesisRequest, make_engines  # noqa: E402

ENGLISH = [
    "Heavy rain is expected in the mountain districts tonight.", "Residents near the stream should move to high ground.",
    "Do not cross flooded roads or spillways.", "The commune health station offers free check-ups on Friday.",
    "Children under five years old will be vaccinated next week.", "Bring your identity card and health insurance card.",
    "The border gate will close for two hours for road repairs.", "Farmers are advised to harvest rice before the storm.",
    "Keep livestock warm during the cold spell.", "The market will open as usual on Sunday morning.",
    "Call the hotline if you see a landslide.", "Schools will stay closed until the water recedes.",
    "Clean water will be delivered to every village.", "Please listen to the loudspeaker for further notices.",
    "The province has opened three new evacuation centres.", "Travellers should carry their passports at all times.",
    "The bridge is closed to heavy vehicles.", "Wind gusts may reach level nine near the coast.",
    "Boats must return to shelter before dark.", "The vaccination campaign ends on the thirtieth of November.",
]
CHINESE = [
    "今晚山区有大雨。", "居民请不要过河。", "请听从村干部的安排。", "口岸明天上午八点开放。", "请携带护照和通行证。",
    "道路维修期间口岸暂停通关两小时。", "市场星期天照常营业。", "请注意防寒保暖。", "学校明天停课。",
    "请勿在河边停留。", "发现山体滑坡请立即报告。", "货车请按指定车道排队。", "出入境人员请配合检查。",
    "天气预报显示未来三天有暴雨。", "请保管好个人财物。", "边境贸易区今天下午关闭。", "请遵守交通规则。",
    "卫生站提供免费体检。", "儿童疫苗接种在下周进行。", "请收听广播获取最新消息。",
]


def vietnamese(n: int) -> list[str]:
    from media_pipeline.text.normalize_vi import normalize
    corpus = ROOT / "tests" / "media_pipeline" / "data" / "normalize_vi_corpus.tsv"
    lines = [x.split("\t") for x in corpus.read_text(encoding="utf-8").splitlines() if x and not x.startswith("#")]
    spoken = [normalize(w) for w, _ in lines]
    return [s for s in spoken if len(s.split()) >= 4][:n]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-language", type=int, default=120)
    args = ap.parse_args()
    engine = make_engines(["espeak"])[0]
    voices = {"vi": "vi", "en": "en", "zh": None}
    texts = {"vi": vietnamese(args.per_language), "en": ENGLISH, "zh": CHINESE}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = asr.load_model("packaged:base", tmp / "models")
        print(f"{'':6}{'n':>5}{'median':>8}{'p90':>7}{'p95':>7}{'max':>7}{'narration CER':>15}"
              f"{'threshold':>11}{'RTF':>7}")
        out = {}
        for language, sentences in texts.items():
            parts = []
            for i, text in enumerate(sentences):
                wav = tmp / f"{language}-{i}.wav"
                engine.synthesize(SynthesisRequest(text, language, voices[language], 1.0), wav)
                parts.append((wav, text))
            joined = tmp / f"{language}.wav"
            cues = audio.join_sentences(parts, joined)
            t = time.perf_counter()
            heard = asr.transcribe(joined, model, language, 1, word_timestamps=True, speech_known=True)
            rtf = (time.perf_counter() - t) / heard.duration_s
            check = asr.check_sentences(sentences, cues, heard.words, language, threshold=1e9)
            rates = []
            for cue, text in zip(cues, sentences):
                said = [w.text for w in heard.words if cue.start <= (w.start + w.end) / 2 <= cue.end + 0.35]
                rates.append(asr.character_error_rate(text, ("" if language == "zh" else " ").join(said), language))
            threshold = math.ceil(percentile(rates, 0.95) * 20) / 20
            out[language] = threshold
            print(f"{language:6}{len(rates):>5}{statistics.median(rates):>8.3f}{percentile(rates, 0.9):>7.3f}"
                  f"{percentile(rates, 0.95):>7.3f}{max(rates):>7.3f}{check['cer']:>15.3f}{threshold:>11.2f}"
                  f"{rtf:>7.3f}")
        print(f"\nthresholds for espeak-ng {engine.version()}: {out}")


if __name__ == "__main__":
    main()
