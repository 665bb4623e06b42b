"""What a work's page shows besides its text: jobs, renditions, packages, the languages it can be rendered and
narrated in, and what the Vietnamese voice will read (the reading rules applied), per language."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.profiles import CHANNELS
from storage.models import Package, Rendition, Translation, Work
from studio import jobs
from studio.errors import StudioError
from studio.services import channels, languages, rendering, voices


def latest_renditions(session: Session, work: Work) -> list[Rendition]:
    """The newest rendition per (language, profile), newest first."""
    latest: dict[tuple, Rendition] = {}
    for r in session.scalars(select(Rendition).where(Rendition.work_id == work.id).order_by(Rendition.id.desc())):
        latest.setdefault((r.language, r.profile), r)
    return list(latest.values())


def reading(session: Session, work: Work, langs: list[str]) -> list[dict]:
    """Per language a Vietnamese voice reads: each sentence beside what the voice will say."""
    out = []
    for language in langs:
        if voices.reads_as(session, language) != "vi":
            continue
        try:
            sentences = rendering.language_text(session, work, language)[1]
        except StudioError:
            continue  # no text in this language yet: nothing to read
        said = voices.spoken(session, language, sentences)
        out.append({"language": language, "pairs": list(zip(sentences, said)),
                    "changed": sum(1 for a, b in zip(sentences, said) if a != b)})
    return out


def media(session: Session, work: Work) -> dict:
    """The rendering part of the work page."""
    approved = channels.approved_languages(session, work)
    return {"jobs": jobs.for_work(session, work.id), "renditions": latest_renditions(session, work),
            "render_languages": approved, "reading": reading(session, work, approved),
            "narration_languages": sorted(session.scalars(select(Translation.language).where(
                Translation.work_id == work.id))),  # what a translator may record
            "render_channels": list(CHANNELS), "coverage": channels.coverage(session, work),
            "language_registry": languages.all_languages(session),
            "packages": list(session.scalars(select(Package).where(Package.work_id == work.id)
                                             .order_by(Package.version.desc())))}
