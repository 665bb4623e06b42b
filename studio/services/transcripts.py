"""Transcripts of uploaded narrations and videos: Whisper in a background job, corrected by editors,
served as SRT and WebVTT captions in the recording's language."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from media_pipeline import asr, captions
from media_pipeline.audio import Cue
from storage.models import Asset, Job
from storage.objectstore import ObjectStore
from studio.errors import N_, ValidationError
from studio import jobs
from studio.services import Caller, audit, fetch, languages
from studio.services.accounts import require_role

MAX_SEGMENT = 2000


@dataclass
class Whisper:
    """Speech recognition settings: a model spec ("" turns recognition off), its cache and the beam size."""

    model: str = ""
    cache: str = ""
    beam: int = 1
    cer_threshold: float | None = None  # the speech check's flag; None: as measured per engine and language
    workdir: str = ""


def _asset(session: Session, asset_id: int) -> Asset:
    return fetch(session, Asset, asset_id, N_("File %(id)s does not exist."))


def queue(session: Session, caller: Caller, asset_id: int, language: str) -> Job:
    """Queue a transcription of an audio or video asset; the caller hands the job id to the queue."""
    require_role(caller, "editor", "translator")
    asset = _asset(session, asset_id)
    if asset.kind not in ("audio", "video"):
        raise ValidationError(N_("Only audio and video can be transcribed."), field="asset")
    if language:
        languages.get(session, language, field="language")
    job = jobs.create(session, "transcribe", work_id=asset.work_id, asset_id=asset.id, language=language or "",
                      created_by_id=caller.user.id, max_attempts=2)
    audit.record(session, caller, "transcript.queue", "asset", asset.id, job=job.id, language=language)
    return job


def _timeout(session: Session, job: Job) -> float:
    """Recognition may take as long as the recording plays, plus five minutes to load the model."""
    asset = session.get(Asset, job.asset_id)
    return 300 + ((asset.duration_s if asset else None) or 3600)


@jobs.handler("transcribe", needs=("store", "whisper"), timeout=_timeout)
def run(ctx: jobs.Context, store: ObjectStore, whisper: Whisper) -> None:
    """The job's work: download, recognise chunk by chunk with progress, store the timed segments on the asset."""
    session, job, progress = ctx.session, ctx.job, ctx.progress
    model_spec, model_cache, beam, workdir = whisper.model, whisper.cache, whisper.beam, whisper.workdir
    if not model_spec:
        raise ValidationError(N_("Speech recognition is off on this studio (STUDIO_WHISPER_MODEL is empty)."))
    asset = _asset(session, job.asset_id)
    tmp = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=workdir))
    try:
        local = tmp / f"recording.{asset.safe_name.rsplit('.', 1)[-1]}"
        store.download(asset.object_key, local)
        progress(5, "loading the speech recognition model")
        model = asr.load_model(model_spec, Path(model_cache))
        progress(10, f"recognising speech in {asset.safe_name}")
        result = asr.transcribe(local, model, job.language or None, beam,
                                lambda f: progress(10 + int(85 * f), "recognising speech"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    asset.info = {**(asset.info or {}), "transcript": {**result.to_json(), "edited": False,
                                                       "model": model_spec, "job": job.id}}
    flag_modified(asset, "info")
    progress(98, f"{len(result.segments)} segments recognised")


def transcript(session: Session, asset_id: int) -> dict | None:
    """The asset's transcript (language, text, segments with start/end/text), or None."""
    return (_asset(session, asset_id).info or {}).get("transcript")


def correct(session: Session, caller: Caller, asset_id: int, texts: list[str]) -> dict:
    """Replace the segments' texts (one per segment, timings kept); an emptied segment is dropped."""
    require_role(caller, "editor", "translator")
    asset = _asset(session, asset_id)
    current = (asset.info or {}).get("transcript")
    if not current:
        raise ValidationError(N_("This file has no transcript yet; transcribe it first."), field="asset")
    if len(texts) != len(current["segments"]):
        raise ValidationError(N_("The transcript changed while you edited it; reload the page."), field="segments")
    if any(len(t) > MAX_SEGMENT for t in texts):
        raise ValidationError(N_("A segment can hold at most %(n)s characters."), field="segments", n=MAX_SEGMENT)
    segments = [{**seg, "text": t.strip()} for seg, t in zip(current["segments"], texts) if t.strip()]
    new = {**current, "segments": segments, "text": " ".join(s["text"] for s in segments), "edited": True}
    asset.info = {**asset.info, "transcript": new}
    flag_modified(asset, "info")
    audit.record(session, caller, "transcript.correct", "asset", asset.id, segments=len(segments))
    return new


def as_captions(session: Session, asset_id: int, fmt: str) -> str:
    """The transcript as SRT or WebVTT text."""
    t = transcript(session, asset_id)
    if not t:
        raise ValidationError(N_("This file has no transcript yet; transcribe it first."), field="asset")
    cues = [Cue(s["start"], s["end"], s["text"]) for s in t["segments"]]
    return captions.to_srt(cues) if fmt == "srt" else captions.to_vtt(cues, t.get("language", ""))
