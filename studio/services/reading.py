"""What readers see without logging in: the published version of a work in each of its languages, its media,
an RSS 2.0 feed with enclosures for portals and podcast apps, and the NINJS document."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Asset, Package, Revision, Translation, Work, utcnow
from studio.errors import N_, NotFound
from studio.services import editions, feeds, works
from studio.services.markup import render as markdown


def published(session: Session, work_id: int) -> tuple[Work, Package]:
    """The work and its live package, or NotFound (never published, retracted, or expired)."""
    work = session.get(Work, work_id)
    package = session.scalar(select(Package).where(Package.work_id == work_id, Package.state == "published")
                             .order_by(Package.version.desc())) if work else None
    if package is None or (package.valid_until and package.valid_until < utcnow()):
        raise NotFound(N_("This item is not published."))
    return work, package


def languages(package: Package) -> list[str]:
    """The languages the package carries, its source language first."""
    titles = package.manifest.get("title", {})
    source = package.manifest.get("source_language", "")
    return sorted(titles, key=lambda code: (code != source, code))


def edition(session: Session, work: Work, package: Package, language: str) -> dict:
    """Title, summary and chapters (each with HTML or paragraphs) of the published version in a language."""
    if language not in languages(package):
        raise NotFound(N_("This item is not published in %(lang)s."), lang=language)
    if language == package.manifest.get("source_language"):
        snap = session.scalar(select(Revision).where(Revision.work_id == work.id,
                                                     Revision.number == package.revision)).snapshot
        chapters = [{"title": c.get("title", ""), "html": markdown(c.get("body", ""))} for c in snap.get("chapters", [])]
        return {"language": language, "title": snap["title"], "summary": snap.get("summary", ""),
                "html": markdown(snap.get("body", "")), "chapters": chapters}
    text = package.manifest.get("texts", {}).get(language)
    if text is None:  # packages published before translations were frozen into them
        tr = session.scalar(select(Translation).where(Translation.work_id == work.id,
                                                      Translation.language == language))
        if tr is None or tr.state != "approved":
            raise NotFound(N_("This item is not published in %(lang)s."), lang=language)
        text = {"sentences": [s.get("target", "") for s in tr.segments]}
    title = package.manifest["title"][language]
    book = editions.book_for(works.as_of(session, work, package.revision), language, title, text["sentences"],
                             [], None)
    # An article's text is one chapter named after the work: the page's heading already says it.
    chapters = [{"title": "" if c.title == title else c.title,
                 "paragraphs": [" ".join(t for _, t in b.sentences) for b in c.blocks if b.kind == "p"]}
                for c in book.chapters]
    return {"language": language, "title": title, "summary": "", "html": "", "chapters": chapters}


def media(package: Package, language: str) -> dict:
    """The web files in that language: audio, video and its captions; for publications epub, epub-narrated, pdf."""
    return media_of(package.manifest.get("files", []), language)


def media_of(files: list[dict], language: str) -> dict:
    """media() of a manifest's file list."""
    files = [f for f in files if f["language"] == language]
    pick = {}
    for f in files:
        if f["channel"] == "web":
            pick.setdefault(f["role"], f)
        elif f["channel"] == "epub":  # publications: the e-book editions and the PDF to download
            pick.setdefault(f["profile"], f)
    for f in files:  # no web rendition: any audio will do for the player
        if f["role"] == "audio":
            pick.setdefault("audio", f)
    return pick


def media_file(session: Session, work_id: int, sha256: str) -> dict:
    """A file of the work's live package, or NotFound (readers never reach anything else in the store)."""
    _, package = published(session, work_id)
    for f in package.manifest.get("files", []):
        if f["sha256"] == sha256:
            return f
    raise NotFound(N_("No such file."))


def pictures(work: Work) -> list[Asset]:
    """The work's pictures (shown on its public page)."""
    return [a for a in work.assets if a.kind == "image" and a.role == "attachment"]


def rss(session: Session, base_url: str, title: str, language: str | None = None, limit: int = 50) -> bytes:
    """RSS 2.0 of live packages, newest first, with the audio as enclosure (podcast apps play it)."""
    rss_el = Element("rss", version="2.0")
    ch = SubElement(rss_el, "channel")
    SubElement(ch, "title").text = title
    SubElement(ch, "link").text = base_url + "/"
    SubElement(ch, "description").text = title
    if language:
        SubElement(ch, "language").text = language
    live = sorted(feeds.live(session, utcnow()), key=lambda p: p.published_at or datetime.min,
                  reverse=True)
    for p in live[:limit]:
        langs = languages(p)
        lang = language if language in langs else (langs[0] if langs else "")
        if language and lang != language:
            continue
        item = SubElement(ch, "item")
        SubElement(item, "title").text = p.manifest.get("title", {}).get(lang, "")
        link = f"{base_url}/p/{p.work_id}" + (f"?lang={lang}" if lang != p.manifest.get("source_language") else "")
        SubElement(item, "link").text = link
        SubElement(item, "guid", isPermaLink="false").text = f"urn:studio:work:{p.work_id}:v{p.version}:{lang}"
        if p.published_at:
            SubElement(item, "pubDate").text = format_datetime(p.published_at.replace(tzinfo=timezone.utc), usegmt=True)
        SubElement(item, "description").text = p.manifest.get("summary", "") if lang == p.manifest.get(
            "source_language") else ""
        audio = media(p, lang).get("audio")
        if audio:
            SubElement(item, "enclosure", url=f"{base_url}/p/{p.work_id}/media/{audio['sha256']}",
                       length=str(audio["size"]), type=audio["mime"])
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(rss_el, encoding="utf-8")

