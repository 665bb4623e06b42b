"""The narration of a work in one language, shared by every channel render of it.

A narration is either the uploaded recording, aligned with the sentences (Whisper's word timings where Whisper
knows the language, else the recording's pauses), or speech synthesized sentence by sentence and checked by
Whisper against the text (the speech check). Both are kept in the object store under a key over what shapes
them (`narrations/<key>.wav`, `.json` for the cues, `.check.json` for the check), so the loudspeaker, border
screen and web renders of a language synthesize and check once: rendering queues a `narrate` job before them
when two or more audio renders of a language are queued together, and each render then only mixes and encodes.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import render, tools
from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError
from media_pipeline.tts import Engine
from storage.models import Asset, Work
from storage.objectstore import ObjectStore
from studio.services import voices
from studio.services.transcripts import Whisper

log = logging.getLogger(__name__)
VERSION = "3"  # the rendering pipeline's version, part of every narration key


def key(parts: dict) -> str:
    """A SHA-256 over everything that shapes an output (narrations and renditions alike)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Narrated:
    """A narration ready to mix: the audio and cues, what identifies it, and the speech check's result."""

    narration: render.Narration
    ident: dict
    speech_check: dict = field(default_factory=dict)


def narrate(session: Session, store: ObjectStore, engines: dict[str, Engine], whisper: Whisper, work: Work,
            language: str, sentences: list[str], workdir: Path, progress: Callable[[int, str], None],
            emergency: bool = False) -> Narrated:
    """The work's narration in `language`: the recording if one was uploaded, else synthesis; from the store
    when an earlier job made it."""
    rec = session.scalar(select(Asset).where(Asset.work_id == work.id, Asset.role == "narration",
                                             Asset.language == language).order_by(Asset.id.desc()))
    if rec is not None:
        return _recorded(store, whisper, rec, language, sentences, workdir, progress, emergency)
    choice = voices.choose(session, language, engines)
    engine = engines[choice.engine]
    rules = voices.reading_rules(session)
    spoken = [render.spoken_form(x, choice.language, rules) for x in sentences]
    ident = {"spoken": spoken, "voice": choice.__dict__, "engine": engine.version(), "v": VERSION}
    base = f"narrations/{key(ident)}"
    wav, cues_key, check_key = f"{base}.wav", f"{base}.json", f"{base}.check.json"
    if store.exists(cues_key):
        store.download(wav, workdir / "narration.wav")
        cues = [Cue(**c) for c in json.loads(store.get_bytes(cues_key))]
        progress(60, "reused the synthesized narration")
        check = json.loads(store.get_bytes(check_key)) if store.exists(check_key) else {}
        return Narrated(render.Narration(workdir / "narration.wav", cues, engine.name, choice.approximate), ident,
                        check)
    narration = render.synthesize(sentences, choice, engines, workdir, progress, rules)
    check = {} if emergency else check_speech(whisper, narration, spoken, choice.language, progress)
    store.put_file(wav, narration.wav, content_type="audio/wav")
    store.put_bytes(cues_key, json.dumps([c.__dict__ for c in narration.cues]).encode(), "application/json")
    if check:
        store.put_bytes(check_key, json.dumps(check, ensure_ascii=False).encode(), "application/json")
    return Narrated(narration, ident, check)


def _recorded(store: ObjectStore, whisper: Whisper, rec: Asset, language: str, sentences: list[str],
              workdir: Path, progress: Callable[[int, str], None], emergency: bool) -> Narrated:
    """The uploaded recording with each sentence's timing; the alignment is kept in the store too."""
    local = workdir / f"uploaded-narration.{rec.safe_name.rsplit('.', 1)[-1]}"
    store.download(rec.object_key, local)
    progress(20, f"using the recorded narration {rec.safe_name}")
    recognise = None if emergency else word_timings(whisper, language, progress)
    ident = {"recording": rec.sha256, "v": VERSION}
    cues_key = f"narrations/{key({**ident, 'sentences': sentences, 'words': recognise is not None})}.json"
    if store.exists(cues_key):
        saved = json.loads(store.get_bytes(cues_key))
        narration = render.from_recording(local, sentences, workdir, None)
        narration.cues, narration.engine = [Cue(**c) for c in saved["cues"]], saved["engine"]
        progress(30, "reused the recording's alignment")
    else:
        narration = render.from_recording(local, sentences, workdir, recognise)
        store.put_bytes(cues_key, json.dumps({"cues": [c.__dict__ for c in narration.cues],
                                              "engine": narration.engine}).encode(), "application/json")
    return Narrated(narration, {**ident, "aligned": narration.engine})


def word_timings(whisper: Whisper, language: str, progress: Callable[[int, str], None]):
    """Whisper's word timings for a recording in `language`, or None where Whisper does not know it or is off
    (the recording's pauses place the captions then)."""
    from media_pipeline import asr
    if not whisper.model or language not in asr.languages():
        return None

    def recognise(wav: Path) -> list:
        progress(25, "aligning the captions with the recording's words (Whisper)")
        try:
            model = asr.load_model(whisper.model, Path(whisper.cache))
            return asr.transcribe(wav, model, language, whisper.beam, _reporting(progress, 25, 55, "aligning"),
                                  word_timestamps=True, speech_known=True).words
        except EngineError as exc:  # alignment by pauses still places every caption
            log.warning("word alignment skipped: %s", exc)
            return []
    return recognise


def check_speech(whisper: Whisper, narration: render.Narration, spoken: list[str], language: str,
                 progress: Callable[[int, str], None]) -> dict:
    """Transcribe synthesized speech and compare it, sentence by sentence along the cues, with the text that
    was synthesized; the threshold is the one measured for the engine and language unless configured."""
    if not whisper.model:
        return {}
    from media_pipeline import asr
    progress(62, "checking the synthesized speech with Whisper")
    try:
        model = asr.load_model(whisper.model, Path(whisper.cache))
        heard = asr.transcribe(narration.wav, model, language, whisper.beam,
                               _reporting(progress, 62, 94, "checking the synthesized speech"),
                               word_timestamps=True, speech_known=True)
    except EngineError as exc:  # the check is advice: a missing model must not stop the render
        log.warning("speech check skipped: %s", exc)
        return {"error": str(exc)}
    threshold = whisper.cer_threshold
    if threshold is None:
        threshold = asr.calibrated_threshold(narration.engine, language)
    return {**asr.check_sentences(spoken, narration.cues, heard.words, language, threshold),
            "transcript": heard.text}


def _reporting(progress: Callable[[int, str], None], start: int, end: int, what: str) -> Callable[[float], None]:
    """Whisper's fraction done as the job's progress between `start` and `end` (whole percents only)."""
    last = [start]

    def report(fraction: float) -> None:
        tools.check_stopped()
        pct = start + int((end - start) * max(0.0, min(1.0, fraction)))
        if pct > last[0]:
            last[0] = pct
            progress(pct, f"{what}: {round(100 * fraction)} %")
    return report
