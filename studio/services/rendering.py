"""Render jobs: one job per (work, language, profile); cached by a key over everything that shapes the output."""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from media_pipeline import render, tools
from media_pipeline.asr import ModelMissing
from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError, InvalidMedia, ToolMissing
from media_pipeline.profiles import CHANNEL_PROFILES, Profile, ProfileInvalid
from media_pipeline.publication import PublicationError
from media_pipeline.translate import Router
from media_pipeline.tts import Engine, NoVoice
from media_pipeline.validate import RenditionInvalid
from storage.errors import StorageError
from storage.models import Asset, Job, Rendition, Translation, Work, utcnow
from storage.objectstore import ObjectStore
from studio.errors import N_, Conflict, StudioError, ValidationError
from studio.services import Caller, assets, audit, editions, fetch, publishing, transcripts, translations, voices, works
from studio.services.accounts import require_role

log = logging.getLogger(__name__)
PIPELINE_VERSION = "1"
PERMANENT = (InvalidMedia, NoVoice, RenditionInvalid, ToolMissing, ProfileInvalid, StudioError, ModelMissing,
             PublicationError)
MAX_SENTENCES = 5000  # hours of speech; longer texts are refused before any work starts
READING_CHARS_PER_S = 14.0  # a calm announcer, Vietnamese; used to refuse over-long texts before synthesis


class Cancelled(Exception):
    """The editor cancelled the job."""


@dataclass
class RenderConfig:
    """Engines and paths a worker renders with."""

    engines: dict[str, Engine]
    workdir: str
    rules_file: str | None = None
    whisper_model: str = ""          # empty: no speech check
    model_cache: str = ""
    whisper_beam: int = 1
    cer_threshold: float = 0.35
    public_url: str = ""             # where readers find published items; QR codes on screens point there
    translator: Router | None = None  # machine translation engines (translate jobs)
    backoff_s: list[int] = field(default_factory=lambda: [10, 60, 300])


@dataclass
class Outcome:
    """How a job run ended; `retry_in` seconds when it should be tried again."""

    state: str
    retry_in: int | None = None


def language_text(session: Session, work: Work, language: str) -> tuple[str, list[str]]:
    """Title and sentences of the work in a language: the source, or an approved translation."""
    if language == work.source_language:
        return work.title, translations.source_sentences(work)
    tr = session.scalar(select(Translation).where(Translation.work_id == work.id, Translation.language == language))
    if tr is None or tr.state != "approved":
        raise ValidationError(N_("There is no approved translation into %(lang)s; translate and approve it first."),
                              field="language", lang=language)
    return tr.title or work.title, [s["target"] for s in tr.segments if s.get("target", "").strip()]


def profiles_for(session: Session, channels: list[str]) -> list[Profile]:
    """The profiles each channel renders."""
    table = voices.profiles(session)
    out = []
    for ch in channels:
        if ch not in CHANNEL_PROFILES:
            raise ValidationError(N_("Channel %(c)s has no media to render."), field="channel", c=ch)
        out += [table[name] for name in CHANNEL_PROFILES[ch]]
    return out


def queue(session: Session, caller: Caller, work_id: int, channels: list[str] | None = None,
          languages: list[str] | None = None) -> list[Job]:
    """Create queued jobs for each language and profile; the caller hands their ids to the queue."""
    require_role(caller, "editor")
    work = works.get(session, work_id)
    channels = channels or [c for c in work.channels if c in CHANNEL_PROFILES] or list(CHANNEL_PROFILES)
    languages = languages or [work.source_language]
    for lang in languages:
        language_text(session, work, lang)  # refuse early: missing translation
    jobs = []
    for lang in languages:
        for prof in profiles_for(session, channels):
            job = Job(kind="render", work_id=work.id, language=lang, profile=prof.name, created_by_id=caller.user.id,
                      log=[{"at": utcnow().isoformat(timespec="seconds"), "msg": "queued"}])
            session.add(job)
            jobs.append(job)
    session.flush()
    audit.record(session, caller, "render.queue", "work", work.id, jobs=[j.id for j in jobs],
                 languages=languages, channels=channels)
    return jobs


def _claim(session: Session, job_id: int, worker: str) -> Job | None:
    """Take a queued job atomically; None if another worker has it or it was cancelled."""
    now = utcnow()
    res = session.execute(update(Job).where(Job.id == job_id, Job.state == "queued").values(
        state="running", worker=worker, attempts=Job.attempts + 1, started_at=now, heartbeat_at=now, error=""))
    session.commit()
    return session.get(Job, job_id) if res.rowcount == 1 else None


_FFMPEG_VERSION: str | None = None


def ffmpeg_version() -> str:
    """ffmpeg's version line: part of every rendition key, so an upgrade re-renders."""
    global _FFMPEG_VERSION
    if _FFMPEG_VERSION is None:
        _FFMPEG_VERSION = tools.run("ffmpeg", ["-version"]).stdout.decode().splitlines()[0]
    return _FFMPEG_VERSION


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class _Runner:
    """The steps of one job, with progress, heartbeat and cancellation written to the job row."""

    def __init__(self, session: Session, store: ObjectStore, cfg: RenderConfig, job: Job):
        self.s, self.store, self.cfg, self.job = session, store, cfg, job
        self.speech_check: dict = {}

    def progress(self, pct: int, msg: str) -> None:
        self.s.refresh(self.job, ["cancel_requested"])
        if self.job.cancel_requested:
            raise Cancelled()
        self.job.progress = max(self.job.progress, min(99, pct))
        self.job.log = [*self.job.log[-200:], {"at": utcnow().isoformat(timespec="seconds"), "msg": msg}]
        self.job.heartbeat_at = utcnow()
        self.s.commit()

    def narration(self, work: Work, sentences: list[str], workdir: Path) -> tuple[render.Narration, dict]:
        """A recorded narration for the language if one was uploaded, else synthesis (cached in the store)."""
        rec = self.s.scalar(select(Asset).where(Asset.work_id == work.id, Asset.role == "narration",
                                                Asset.language == self.job.language).order_by(Asset.id.desc()))
        if rec is not None:
            local = workdir / f"uploaded-narration.{rec.safe_name.rsplit('.', 1)[-1]}"
            self.store.download(rec.object_key, local)
            self.progress(20, f"using the recorded narration {rec.safe_name}")
            return render.from_recording(local, sentences, workdir), {"recording": rec.sha256}
        choice = voices.choose(self.s, self.job.language, self.cfg.engines)
        engine = self.cfg.engines[choice.engine]
        spoken = [render.spoken_form(x, choice.language, self.cfg.rules_file) for x in sentences]
        ident = {"spoken": spoken, "voice": choice.__dict__, "engine": engine.version(), "v": PIPELINE_VERSION}
        nkey = _key(ident)
        wav, cues_key = f"narrations/{nkey}.wav", f"narrations/{nkey}.json"
        check_key = f"narrations/{nkey}.check.json"
        if self.store.exists(cues_key):
            self.store.download(wav, workdir / "narration.wav")
            cues = [Cue(**c) for c in json.loads(self.store.get_bytes(cues_key))]
            self.progress(60, "reused the synthesized narration")
            narration = render.Narration(workdir / "narration.wav", cues, engine.name, choice.approximate)
            self.speech_check = (json.loads(self.store.get_bytes(check_key)) if self.store.exists(check_key)
                                 else {})
            return narration, ident
        narration = render.synthesize(sentences, choice, self.cfg.engines, workdir, self.progress,
                                      self.cfg.rules_file)
        self.speech_check = self.check_speech(narration.wav, " ".join(spoken), choice.language)
        self.store.put_file(wav, narration.wav, content_type="audio/wav")
        self.store.put_bytes(cues_key, json.dumps([c.__dict__ for c in narration.cues]).encode(), "application/json")
        if self.speech_check:
            self.store.put_bytes(check_key, json.dumps(self.speech_check, ensure_ascii=False).encode(),
                                 "application/json")
        return narration, ident

    def check_speech(self, wav: Path, spoken: str, language: str) -> dict:
        """Transcribe synthesized speech and compare it with the text that was synthesized."""
        if not self.cfg.whisper_model:
            return {}
        from media_pipeline import asr
        self.progress(62, "checking the synthesized speech with Whisper")
        try:
            model = asr.load_model(self.cfg.whisper_model, Path(self.cfg.model_cache))
            heard = asr.transcribe(wav, model, language, self.cfg.whisper_beam)
        except EngineError as exc:  # the check is advice: a missing model must not stop the render
            log.warning("speech check skipped: %s", exc)
            return {"error": str(exc)}
        cer = asr.character_error_rate(spoken, heard.text)
        return {"cer": round(cer, 3), "threshold": self.cfg.cer_threshold, "flagged": cer > self.cfg.cer_threshold,
                "transcript": heard.text, "passages": asr.differing_passages(spoken, heard.text)[:20]}

    def run(self) -> Rendition:
        job, s = self.job, self.s
        work = works.get(s, job.work_id)
        profile = voices.profiles(s).get(job.profile)
        if profile is None:
            raise ValidationError(N_("Unknown channel profile %(p)s."), p=job.profile)
        title, sentences = language_text(s, work, job.language)
        if not sentences:
            raise ValidationError(N_("The work has no text to render."), field="body")
        if len(sentences) > MAX_SENTENCES:
            raise ValidationError(N_("The text has %(n)s sentences; the most one rendition takes is %(max)s. "
                                     "Split it into several works."), n=len(sentences), max=MAX_SENTENCES)
        estimate = sum(len(x) for x in sentences) / READING_CHARS_PER_S
        if estimate > profile.max_duration_s * 1.2:
            raise ValidationError(N_("Read aloud, the text would last about %(est)s minutes; %(profile)s plays at "
                                     "most %(max)s minutes. Shorten it or split it into several works."),
                                  est=round(estimate / 60), profile=profile.name,
                                  max=round(profile.max_duration_s / 60))
        tracks = [sentences] + [language_text(s, work, lang)[1] for lang in self._caption_languages(work, profile)]
        pictures = [a for a in work.assets if a.kind == "image" and a.role == "attachment"]
        workdir = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=self.cfg.workdir))
        try:
            narration, ident = (self.narration(work, sentences, workdir) if profile.audio else (None, {}))
            qr_url = f"{self.cfg.public_url.rstrip('/')}/p/{work.id}" if self.cfg.public_url and profile.qr else None
            key = _key({"pipeline": PIPELINE_VERSION, "profile": profile.to_dict(), "language": job.language,
                        "title": title, "tracks": tracks, "narration": ident, "qr": qr_url,
                        "pictures": [a.sha256 for a in pictures], "ffmpeg": ffmpeg_version(),
                        **({"book": {"layout": editions.layout(work), "meta": work.meta, "cover": work.cover_asset_id,
                                     "revision": work.current_revision}}
                           if profile.kind in ("epub", "pdf") else {})})
            cached = s.scalar(select(Rendition).where(Rendition.key == key))
            if cached is not None and all(self.store.exists(f["key"]) for f in cached.files):
                job.cached = True
                self.progress(95, "unchanged since the last render: reusing the stored rendition")
                return cached
            local_pics = []
            for a in pictures:
                local_pics.append(workdir / f"picture-{a.id}.{a.safe_name.rsplit('.', 1)[-1]}")
                self.store.download(a.object_key, local_pics[-1])
            jingles = {}
            for which in ("intro", "outro"):
                key_ = getattr(profile, which)
                if key_ and profile.audio:
                    jingles[which] = workdir / f"jingle-{which}{Path(key_).suffix}"
                    self.store.download(key_, jingles[which])
            book = None
            if profile.kind in ("epub", "pdf"):
                cover = next((p for a, p in zip(pictures, local_pics) if a.id == work.cover_asset_id), None)
                book = editions.book_for(work, job.language, title, sentences,
                                         [p for p in local_pics if p != cover], cover, str(work.current_revision))
            result = render.render(profile, title, work.summary or "", tracks, narration, local_pics, workdir,
                                   self.progress, qr_url, jingles.get("intro"), jingles.get("outro"), book)
            self.progress(95, "storing the checked files")
            files = []
            for i, out in enumerate(result.outputs):
                ext = out.path.suffix
                obj = f"renditions/{key}/{out.role}-{i:02d}{ext}"
                self.store.put_file(obj, out.path, content_type=out.mime)
                files.append({"role": out.role, "key": obj, "mime": out.mime, "size": out.path.stat().st_size,
                              "sha256": assets.sha256_file(out.path)})
            rendition = Rendition(work_id=work.id, revision=work.current_revision, language=job.language,
                                  channel=profile.channel, profile=profile.name, key=key, files=files,
                                  cues=[c.__dict__ for c in result.cues], duration_s=result.duration_s,
                                  lufs=result.lufs, true_peak=result.true_peak,
                                  approximate=bool(narration and narration.approximate),
                                  engine=narration.engine if narration else "", speech_check=self.speech_check)
            s.add(rendition)
            try:
                s.commit()
            except IntegrityError:  # another worker stored the same key first: same content, use theirs
                s.rollback()
                rendition = s.scalar(select(Rendition).where(Rendition.key == key))
            return rendition
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _caption_languages(self, work: Work, profile: Profile) -> list[str]:
        """Further caption languages for multilingual screens: approved translations, zh and en first."""
        if profile.caption_languages <= 1:
            return []
        approved = [t.language for t in self.s.scalars(select(Translation).where(
            Translation.work_id == work.id, Translation.state == "approved"))]
        ordered = sorted((lang for lang in approved if lang != self.job.language),
                         key=lambda x: (x not in ("zh", "en"), x))
        return ordered[:profile.caption_languages - 1]


def run_job(session: Session, store: ObjectStore, cfg: RenderConfig, job_id: int, worker: str = "") -> Outcome:
    """Run one job (render, transcribe, translate, publish, feeds) to its end; failures are recorded, and transient ones come back with a retry delay."""
    job = _claim(session, job_id, worker)
    if job is None:
        return Outcome("skipped")
    runner = _Runner(session, store, cfg, job)
    try:
        rendition = None
        if job.kind == "transcribe":
            transcripts.run(session, store, cfg.whisper_model, cfg.model_cache, cfg.whisper_beam, cfg.workdir, job,
                            runner.progress)
        elif job.kind == "translate":
            translations.fill_by_machine(session, job.work_id, job.language, cfg.translator, runner.progress)
        elif job.kind == "publish":
            publishing.deliver(session, store, job, runner.progress)
        elif job.kind == "feeds":
            publishing.rewrite_feeds_job(session, store, job, runner.progress)
        else:
            rendition = runner.run()
    except Cancelled:
        session.rollback()
        job.state, job.finished_at = "cancelled", utcnow()
        job.log = [*job.log, {"at": utcnow().isoformat(timespec="seconds"), "msg": "cancelled"}]
        session.commit()
        return Outcome("cancelled")
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job, none is lost
        session.rollback()
        session.refresh(job)
        message = _describe(exc)
        log.warning("job %s failed (attempt %s): %s", job.id, job.attempts, message)
        job.error = message
        job.log = [*job.log, {"at": utcnow().isoformat(timespec="seconds"), "msg": f"error: {message}"}]
        transient = not isinstance(exc, PERMANENT)
        if transient and job.attempts < job.max_attempts:
            job.state = "queued"
            delay = cfg.backoff_s[min(job.attempts - 1, len(cfg.backoff_s) - 1)]
            session.commit()
            return Outcome("queued", retry_in=delay)
        job.state, job.finished_at = "failed", utcnow()
        session.commit()
        return Outcome("failed")
    job.state, job.progress, job.finished_at = "succeeded", 100, utcnow()
    job.rendition_id = rendition.id if rendition else None
    job.log = [*job.log, {"at": utcnow().isoformat(timespec="seconds"),
                          "msg": "done (reused)" if job.cached else "done"}]
    session.commit()
    return Outcome("succeeded")


def _describe(exc: Exception) -> str:
    if isinstance(exc, StudioError):
        return exc.message % exc.params if exc.params else exc.message
    if isinstance(exc, (EngineError, StorageError)):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"


def requeue_stale(session: Session, stale_after_s: int = 120) -> list[int]:
    """Jobs whose worker stopped sending heartbeats (it died) go back to the queue, or fail when out of attempts."""
    limit = utcnow() - timedelta(seconds=stale_after_s)
    ids = []
    for job in session.scalars(select(Job).where(Job.state == "running", Job.heartbeat_at < limit)):
        note = f"worker {job.worker or '?'} stopped responding"
        job.log = [*job.log, {"at": utcnow().isoformat(timespec="seconds"), "msg": note}]
        if job.attempts < job.max_attempts:
            job.state = "queued"
            ids.append(job.id)
        else:
            job.state, job.error, job.finished_at = "failed", note, utcnow()
    session.commit()
    return ids


def get_job(session: Session, job_id: int) -> Job:
    """A job by id, or NotFound."""
    return fetch(session, Job, job_id, N_("Job %(id)s does not exist."))


def cancel(session: Session, caller: Caller, job_id: int) -> Job:
    """Ask a job to stop; a queued job stops at once, a running one at its next step."""
    require_role(caller, "editor")
    job = get_job(session, job_id)
    if job.state == "queued":
        job.state, job.finished_at = "cancelled", utcnow()
    elif job.state == "running":
        job.cancel_requested = True
    else:
        raise Conflict(N_("The job has already ended (%(state)s)."), state=job.state)
    audit.record(session, caller, "job.cancel", "job", job.id, work_id=job.work_id)
    return job


def retry(session: Session, caller: Caller, job_id: int) -> Job:
    """Put a failed or cancelled job back in the queue with fresh attempts."""
    require_role(caller, "editor")
    job = get_job(session, job_id)
    if job.state not in ("failed", "cancelled"):
        raise Conflict(N_("Only failed or cancelled jobs can be retried."))
    job.state, job.attempts, job.cancel_requested, job.error, job.progress = "queued", 0, False, "", 0
    job.log = [*job.log, {"at": utcnow().isoformat(timespec="seconds"), "msg": "retry requested"}]
    audit.record(session, caller, "job.retry", "job", job.id, work_id=job.work_id)
    return job
