"""Render jobs: one job per (work, language, profile); cached by a key over everything that shapes the output."""
from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from media_pipeline import render, tools
from media_pipeline import profiles as registry
from media_pipeline.profiles import Profile
from media_pipeline.tts import Engine
from storage.models import Job, Rendition, Translation, Work
from storage.objectstore import ObjectStore
from studio.errors import N_, ValidationError
from studio import jobs
from studio.services import Caller, assets, audit, cap_out, editions, narration, translations, works
from studio.services import channels as channel_service
from studio.services.accounts import require_role
from studio.services.transcripts import Whisper

log = logging.getLogger(__name__)
# 2: captions and title cards composed as stills; 3: Mandarin read as Mandarin (espeak)
PIPELINE_VERSION = narration.VERSION
MAX_SENTENCES = 5000  # hours of speech; longer texts are refused before any work starts
READING_CHARS_PER_S = 14.0  # a calm announcer, Vietnamese; used to refuse over-long texts before synthesis


@dataclass
class RenderConfig:
    """Speech engines and paths a worker renders with."""

    engines: dict[str, Engine]
    workdir: str
    public_url: str = ""             # where readers find published items; QR codes on screens point there


def language_text(session: Session, work: Work, language: str) -> tuple[str, list[str]]:
    """Title and sentences of the work in a language: the source, or an approved translation."""
    if language == work.source_language:
        return work.title, translations.source_sentences(work)
    tr = session.scalar(select(Translation).where(Translation.work_id == work.id, Translation.language == language))
    if tr is None or tr.state != "approved":
        raise ValidationError(N_("There is no approved translation into %(lang)s; translate and approve it first."),
                              field="language", lang=language)
    return tr.title or work.title, [s["target"] for s in tr.segments if s.get("target", "").strip()]


def queue(session: Session, caller: Caller, work: Work, channels: list[str] | None = None,
          languages: list[str] | None = None, revision: int | None = None,
          needs: list[channel_service.Need] | None = None) -> list[Job]:
    """Create render jobs at the work's priority; workers start after commit.

    Without `needs`, renders what the channels need (the work's channels when none are named): their default
    profiles, and the profile of every endpoint's display in the work's areas, in the given languages (the
    source language when none are named). `revision` pins the text (publishing renders the approved revision
    even if a new draft is saved meanwhile). Audio comes first, so a loudspeaker gets its bulletin before the
    screens get theirs.
    """
    require_role(caller, "editor", "approver")
    for ch in channels or []:
        if ch not in registry.CHANNELS:
            raise ValidationError(N_("Channel %(c)s has no media to render."), field="channels", c=ch)
    channels = channels or [c for c in work.channels if c in registry.CHANNELS] or list(registry.CHANNELS)
    languages = languages or [work.source_language]
    revision = revision or work.current_revision
    pinned = works.as_of(session, work, revision)
    for lang in languages:
        language_text(session, pinned, lang)  # refuse early: missing translation
    table = channel_service.profiles(session)
    if needs is None:
        wanted = {(lang, p.name): p for ch in channels for p in registry.channel_profiles(table, ch)
                  for lang in languages}
        needs = [n for n in channel_service.needs(session, pinned, languages) if n.channel in channels]
    else:
        wanted = {}
    for n in needs:
        wanted.setdefault((n.language, n.profile), registry.resolve(table, n.profile))
    pairs = sorted(wanted, key=lambda k: (wanted[k].kind != "audio", k[0] != work.source_language, k[0], k[1]))
    # Two or more renders that speak a language share one narration: a narrate job makes it (synthesis and
    # speech check, or a recording's alignment) and they wait for it, then find it in the store.
    spoken = [lang for lang, name in pairs if wanted[(lang, name)].audio]
    narrate = {lang: jobs.create(session, "narrate", priority=work.priority, work_id=work.id, language=lang,
                                 revision=revision, created_by_id=caller.user.id, msg="narration queued")
               for lang in sorted(set(spoken), key=spoken.index) if spoken.count(lang) > 1}
    out = [jobs.create(session, "render", priority=work.priority, work_id=work.id, language=lang,
                       profile=name, revision=revision, created_by_id=caller.user.id,
                       **({"after": [narrate[lang].id], "after_any_outcome": True}
                          if wanted[(lang, name)].audio and lang in narrate else {}))
           for lang, name in pairs]
    audit.record(session, caller, "render.queue", "work", work.id, jobs=[j.id for j in out],
                 languages=languages, channels=channels)
    return out


_FFMPEG_VERSION: str | None = None


def ffmpeg_version() -> str:
    """ffmpeg's version line: part of every rendition key, so an upgrade re-renders."""
    global _FFMPEG_VERSION
    if _FFMPEG_VERSION is None:
        _FFMPEG_VERSION = tools.run("ffmpeg", ["-version"]).stdout.decode().splitlines()[0]
    return _FFMPEG_VERSION


class _Runner:
    """The steps of one render job; progress and cancellation go through the job's context."""

    def __init__(self, ctx: jobs.Context, store: ObjectStore, cfg: RenderConfig, whisper: Whisper):
        self.s, self.store, self.cfg, self.whisper, self.job = ctx.session, store, cfg, whisper, ctx.job
        self.progress = ctx.progress

    def run(self) -> Rendition:
        job, s = self.job, self.s
        work = works.as_of(s, works.get(s, job.work_id), job.revision)
        profile = channel_service.profile(s, job.profile)
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
            narrated = (narration.narrate(s, self.store, self.cfg.engines, self.whisper, work, job.language,
                                          sentences, workdir, self.progress, job.priority == "emergency")
                        if profile.audio else None)
            voice, ident = (narrated.narration, narrated.ident) if narrated else (None, {})
            qr_url = f"{self.cfg.public_url.rstrip('/')}/p/{work.id}" if self.cfg.public_url and profile.qr else None
            # The title card's second line is the summary, which only the source language has; an emergency's
            # is its instruction (the CAP alert's), in every language.
            subtitle = (work.summary or "") if job.language == work.source_language else ""
            if work.priority == "emergency" and profile.kind == "video":
                said = cap_out.alert_text(s, work, job.language)
                title, subtitle = said["headline"] or title, said["instruction"] or subtitle
            key = narration.key({"pipeline": PIPELINE_VERSION, "profile": profile.to_dict(), "language": job.language,
                        "title": title, "subtitle": subtitle, "tracks": tracks, "narration": ident, "qr": qr_url,
                        "pictures": [a.sha256 for a in pictures], "ffmpeg": ffmpeg_version(),
                        **({"book": {"layout": editions.layout(work), "meta": work.meta, "cover": work.cover_asset_id,
                                     "revision": work.current_revision}}
                           if profile.kind in ("epub", "pdf") else {})})
            cached = self._cached(work, key)
            if cached is not None:
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
            result = render.render(profile, title, subtitle, tracks, voice, local_pics, workdir,
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
                                  approximate=bool(voice and voice.approximate),
                                  engine=voice.engine if voice else "",
                                  speech_check=narrated.speech_check if narrated else {})
            return self._store_record(rendition)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _cached(self, work: Work, key: str) -> Rendition | None:
        """This work's record of a rendition with `key`, made from any work's with the same content whose files
        are all still stored (a repeated notice publishes like any other), or None: render it."""
        rows = list(self.s.scalars(select(Rendition).where(Rendition.key == key).order_by(Rendition.id.desc())))
        own = next((r for r in rows if r.work_id == work.id and r.revision == work.current_revision), None)
        source = own or next((r for r in rows if all(self.store.exists(f["key"]) for f in r.files)), None)
        if source is None or (own is not None and not all(self.store.exists(f["key"]) for f in own.files)):
            return None
        if own is not None:
            return own
        copy = Rendition(work_id=work.id, revision=work.current_revision, language=source.language,
                         channel=source.channel, profile=source.profile, key=key, files=list(source.files),
                         cues=list(source.cues), duration_s=source.duration_s, lufs=source.lufs,
                         true_peak=source.true_peak, approximate=source.approximate, engine=source.engine,
                         speech_check=dict(source.speech_check or {}))
        return self._store_record(copy)

    def _store_record(self, rendition: Rendition) -> Rendition:
        """Commit the record; when another worker stored the same one for this work first, use theirs."""
        self.s.add(rendition)
        try:
            self.s.commit()
        except IntegrityError:  # same key, work and revision: same content
            self.s.rollback()
            rendition = self.s.scalar(select(Rendition).where(
                Rendition.key == rendition.key, Rendition.work_id == rendition.work_id,
                Rendition.revision == rendition.revision))
        return rendition

    def _caption_languages(self, work: Work, profile: Profile) -> list[str]:
        """Further caption languages for multilingual screens: approved translations, zh and en first."""
        if profile.caption_languages <= 1:
            return []
        approved = [t.language for t in self.s.scalars(select(Translation).where(
            Translation.work_id == work.id, Translation.state == "approved"))]
        ordered = sorted((lang for lang in approved if lang != self.job.language),
                         key=lambda x: (x not in ("zh", "en"), x))
        return ordered[:profile.caption_languages - 1]


def _timeout(session: Session, job: Job) -> float:
    """A render may take twice its profile's longest output, plus two minutes, and a day at most."""
    profile = channel_service.profile(session, job.profile)
    return min(86400.0, 120 + 2 * (profile.max_duration_s if profile else 1800))


def _narrate_timeout(session: Session, job: Job) -> float:
    """Synthesis and the speech check of the longest text a profile takes, and a day at most."""
    longest = max((p.max_duration_s for p in channel_service.profiles(session).values() if p.audio), default=1800)
    return min(86400.0, 120 + 2 * longest)


@jobs.handler("narrate", needs=("store", "render", "whisper"), timeout=_narrate_timeout)
def run_narrate(ctx: jobs.Context, store: ObjectStore, render: RenderConfig, whisper: Whisper) -> None:
    """The narrate job: the narration the audio renders of one language share, left in the store for them."""
    job, s = ctx.job, ctx.session
    work = works.as_of(s, works.get(s, job.work_id), job.revision)
    _, sentences = language_text(s, work, job.language)
    if not sentences:
        raise ValidationError(N_("The work has no text to render."), field="body")
    workdir = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=render.workdir))
    try:
        narrated = narration.narrate(s, store, render.engines, whisper, work, job.language, sentences, workdir,
                                     ctx.progress, job.priority == "emergency")
        ctx.progress(95, f"narration ready: {narrated.narration.engine}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@jobs.handler("render", needs=("store", "render", "whisper"), timeout=_timeout)
def run_render(ctx: jobs.Context, store: ObjectStore, render: RenderConfig, whisper: Whisper) -> int:
    """The render job: one (language, profile) of a work, reused from the cache when nothing changed."""
    return _Runner(ctx, store, render, whisper).run().id
