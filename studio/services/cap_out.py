"""CAP out: every published emergency carries a CAP 1.2 document, and live alerts are listed in Atom.

The document is written when the package is delivered (packages.deliver), stored content-addressed like the
media, listed in the manifest and in every feed item of the emergency (role `cap`, `application/cap+xml`), and
served at /p/<work>/cap.xml while the package is live. A package after the work's first is an `Update`
referring to the one before; a retraction is a `Cancel` (written when asked for: /cap/alerts.atom lists it for
a day). One `<info>` per approved language, with the text of that language, its audio as a `<resource>`
(SHA-1 `digest`, as CAP 1.2 defines it) and the package's areas as `VN-ADMIN` geocodes. The levels' urgency and
severity are docs/CAP.md's table.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import cap
from media_pipeline.text.sentences import split_sentences
from storage.models import Area, CapAlert, Package, Translation, Work, utcnow
from storage.objectstore import ObjectStore
from studio.errors import N_, NotFound
from studio.services import clock, reading
from studio.services.translations import source_sentences

# Circular 39/2020/TT-BTTTT's levels as CAP urgency, severity and certainty (docs/CAP.md).
LEVELS = {"emergency": ("Immediate", "Severe", "Likely"), "priority": ("Expected", "Moderate", "Likely"),
          "normal": ("Future", "Minor", "Possible")}
LANGUAGE_TAGS = {"vi": "vi-VN", "en": "en-US", "zh": "zh-CN", "lo": "lo-LA", "km": "km-KH", "fr": "fr-FR"}
EVENT = {"vi": "Thông báo khẩn cấp", "en": "Emergency notice"}
CANCELS_LISTED = timedelta(days=1)
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
              "CBRNE", "Other")


@dataclass(frozen=True)
class Settings:
    """Who the studio says it is in CAP (`sender`) and where readers fetch files (`public_url`)."""

    sender: str = ""
    public_url: str = ""

    def sender_id(self) -> str:
        """The CAP sender: the configured one, else studio@ the public address's host."""
        return self.sender or f"studio@{urlsplit(self.public_url).hostname or 'localhost'}"

    def url(self, path: str) -> str:
        """An address devices can fetch (relative to the studio when no public address is configured)."""
        return self.public_url.rstrip("/") + path


def _tag(code: str) -> str:
    return LANGUAGE_TAGS.get(code, code)


def _sent(dt: datetime | None) -> datetime:
    return (dt or utcnow()).replace(tzinfo=timezone.utc).astimezone(clock.zone())


def origin(session: Session, work_id: int) -> CapAlert | None:
    """The newest alert that made or changed the work, if it came in as CAP."""
    return session.scalar(select(CapAlert).where(CapAlert.work_id == work_id, CapAlert.msg_type != "Cancel")
                          .order_by(CapAlert.id.desc()).limit(1))


def _parts(work: Work, alert: CapAlert | None) -> tuple[int, list[int], list[int]]:
    """The work's segments as (title sentences, description indices, instruction indices): an alert's work
    ends with its instruction; any other emergency's summary is what to do, its body what happened."""
    t, m = len(split_sentences(work.title)), len(split_sentences(work.summary or ""))
    b = len(split_sentences(work.body or ""))
    body = list(range(t + m, t + m + b))
    if alert is not None:
        src = alert.info.get("texts", {}).get(work.source_language, {})
        n = len(split_sentences(src.get("instruction", "")))
        return t, body[:len(body) - n] if n else body, body[len(body) - n:] if n else []
    return t, body, list(range(t, t + m))


def texts(work: Work, approved: dict[str, dict], alert: CapAlert | None = None) -> dict[str, dict]:
    """Headline, description and instruction per language: the source's from the work at the package's
    revision, the others from the approved translations frozen into the package (`approved`, as in the
    manifest's `texts`)."""
    n, desc, instr = _parts(work, alert)
    out = {}
    langs = {work.source_language: {"title": work.title, "sentences": source_sentences(work)}, **approved}
    for lang, t in langs.items():
        sentences = t.get("sentences", [])

        def join(idx: list[int]) -> str:
            return " ".join(sentences[i] for i in idx if i < len(sentences) and sentences[i]).strip()
        out[lang] = {"headline": t.get("title") or join(list(range(n))), "description": join(desc),
                     "instruction": join(instr)}
    return out


def _areas(session: Session, codes: list[str]) -> list[cap.Area]:
    rows = list(session.scalars(select(Area).where(Area.code.in_(codes)).order_by(Area.code))) if codes else \
        list(session.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.code)))
    return [cap.Area(a.name, [("VN-ADMIN", a.code)]) for a in rows] or [cap.Area("Toàn tỉnh")]


def _sha1(store: ObjectStore, key: str) -> str:
    h = hashlib.sha1()  # CAP 1.2's <digest> is SHA-1 of the resource, by definition
    for chunk in store.get(key):
        h.update(chunk)
    return h.hexdigest()


def _audio(files: list[dict], lang: str) -> dict | None:
    mp3 = [f for f in files if f["language"] == lang and f["role"] == "audio" and f["mime"] == "audio/mpeg"]
    return next((f for f in mp3 if f["channel"] == "loudspeaker"), mp3[0] if mp3 else None)


def _previous(session: Session, package: Package) -> dict | None:
    """The CAP summary of the work's last package before this one that carried a document."""
    for p in session.scalars(select(Package).where(Package.work_id == package.work_id, Package.id != package.id,
                                                   Package.version < package.version)
                             .order_by(Package.version.desc())):
        if p.manifest.get("cap"):
            return p.manifest["cap"]
    return None


def identifier(work_id: int, version: int, cancel: bool = False) -> str:
    """The CAP identifier of a package's document."""
    return f"studio-work-{work_id}-v{version}" + ("-cancel" if cancel else "")


def document(session: Session, store: ObjectStore, settings: Settings, work: Work, package: Package,
             files: list[dict], approved: dict[str, dict]) -> tuple[bytes, dict]:
    """The package's CAP document and its summary for the manifest ({identifier, sender, sent, msg_type})."""
    alert = origin(session, work.id)
    info = alert.info if alert is not None else {}
    urgency, severity, certainty = LEVELS[package.priority]
    prev = _previous(session, package)
    sent = _sent(package.published_at)
    summary = {"identifier": identifier(work.id, package.version), "sender": settings.sender_id(),
               "sent": sent.isoformat(timespec="seconds"), "msg_type": "Update" if prev else "Alert"}
    doc = cap.Alert(identifier=summary["identifier"], sender=summary["sender"], sent=sent, status="Actual",
                    msg_type=summary["msg_type"], scope="Public",
                    references=[(prev["sender"], prev["identifier"], prev["sent"])] if prev else [])
    areas = _areas(session, package.area_codes or [])
    by_lang = texts(work, approved, alert)
    for lang in sorted(by_lang, key=lambda c: (c != work.source_language, c)):
        t = by_lang[lang]
        res = []
        audio = _audio(files, lang)
        if audio is not None:
            res.append(cap.Resource("Audio", "audio/mpeg", settings.url(f"/p/{work.id}/media/{audio['sha256']}"),
                                    audio["size"], _sha1(store, audio["key"])))
        categories = info.get("categories") or ["Safety"]
        doc.infos.append(cap.Info(
            language=_tag(lang), categories=[c for c in categories if c in CATEGORIES] or ["Other"],
            event=(info.get("event") or EVENT.get(lang) or EVENT["vi"])[:300],
            urgency=info.get("urgency") or urgency, severity=info.get("severity") or severity,
            certainty=info.get("certainty") or certainty,
            expires=package.valid_until.replace(tzinfo=timezone.utc) if package.valid_until else None,
            sender_name=info.get("sender_name", ""), headline=t["headline"][:160],
            description=t["description"], instruction=t["instruction"], web=settings.url(f"/p/{work.id}")
            if settings.public_url else "", resources=res, areas=areas))
    summary["texts"] = {lang: {"headline": t["headline"], "instruction": t["instruction"]}
                        for lang, t in by_lang.items()}
    return cap.build(doc), summary


def alert_text(session: Session, work: Work, language: str) -> dict:
    """An emergency's headline and instruction in a language, as its title card on screens shows them: from
    the work as it is, or its translation's current text."""
    trs = []
    if language != work.source_language:
        tr = session.scalar(select(Translation).where(Translation.work_id == work.id,
                                                      Translation.language == language))
        if tr is None:
            return {"headline": "", "instruction": ""}
        trs.append(tr)
    t = draft_texts(session, work, trs).get(language, {})
    return {"headline": t.get("headline", ""), "instruction": t.get("instruction", "")}


def draft_texts(session: Session, work: Work, trs: list[Translation]) -> dict[str, dict]:
    """Headline, description and instruction of each of these translations as they stand (the emergency
    screen shows them as the CAP document will carry them)."""
    current = {t.language: {"title": t.title, "sentences": [s.get("target", "") for s in t.segments]} for t in trs}
    return texts(work, current, origin(session, work.id))


def attach(session: Session, store: ObjectStore, settings: Settings, work: Work, package: Package,
           files: list[dict], approved: dict[str, dict]) -> tuple[dict, dict]:
    """Write the package's CAP document to the store; (its file entry for the manifest and feeds, summary)."""
    data, summary = document(session, store, settings, work, package, files, approved)
    sha = hashlib.sha256(data).hexdigest()
    key = f"media/{sha}"
    store.put_bytes(key, data, cap.MIME)
    entry = {"key": key, "sha256": sha, "size": len(data), "mime": cap.MIME, "role": "cap",
             "language": work.source_language, "channel": "cap", "profile": "cap"}
    return entry, {**summary, "key": key, "sha256": sha, "size": len(data)}


def cancel_document(settings: Settings, package: Package) -> bytes:
    """The Cancel of a retracted package's alert."""
    prev = package.manifest.get("cap") or {}
    doc = cap.Alert(identifier=identifier(package.work_id, package.version, cancel=True),
                    sender=prev.get("sender") or settings.sender_id(), sent=_sent(package.retracted_at),
                    status="Actual", msg_type="Cancel", scope="Public", note="Đã thu hồi",
                    references=[(prev["sender"], prev["identifier"], prev["sent"])] if prev else [])
    return cap.build(doc)


def atom(session: Session, settings: Settings, base: str, title: str, now: datetime | None = None) -> bytes:
    """Atom (RFC 4287) of the live alerts' CAP documents, newest first, and the cancels of the last day."""
    now = now or utcnow()
    feed = Element("feed", xmlns="http://www.w3.org/2005/Atom")
    SubElement(feed, "id").text = f"urn:studio:cap:{settings.sender_id()}"
    SubElement(feed, "title").text = title
    SubElement(feed, "link", rel="self", href=f"{base}/cap/alerts.atom")
    SubElement(feed, "updated").text = _sent(now).isoformat(timespec="seconds")
    rows = session.scalars(select(Package).where(Package.priority == "emergency", Package.state.in_(
        ("published", "retracted"))).order_by(Package.published_at.desc()))
    for p in rows:
        summary = p.manifest.get("cap")
        if not summary:
            continue
        live = p.state == "published" and (p.valid_until is None or p.valid_until > now)
        cancelled = p.state == "retracted" and p.retracted_at and p.retracted_at > now - CANCELS_LISTED
        if not (live or cancelled):
            continue
        entry = SubElement(feed, "entry")
        src = p.manifest.get("source_language", "")
        headline = p.manifest.get("title", {}).get(src, "")
        if live:
            SubElement(entry, "id").text = f"urn:studio:cap:{summary['identifier']}"
            SubElement(entry, "title").text = headline
            SubElement(entry, "updated").text = summary["sent"]
            SubElement(entry, "link", rel="alternate", type=cap.MIME, href=f"{base}/p/{p.work_id}/cap.xml")
            SubElement(entry, "link", rel="related", type="text/html", href=f"{base}/p/{p.work_id}")
        else:
            SubElement(entry, "id").text = f"urn:studio:cap:{identifier(p.work_id, p.version, cancel=True)}"
            SubElement(entry, "title").text = f"Đã thu hồi: {headline}"
            SubElement(entry, "updated").text = _sent(p.retracted_at).isoformat(timespec="seconds")
            SubElement(entry, "link", rel="alternate", type=cap.MIME, href=f"{base}/cap/cancel/{p.id}.xml")
        author = SubElement(entry, "author")
        SubElement(author, "name").text = settings.sender_id()
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(feed, encoding="utf-8")


def live_document(session: Session, work_id: int) -> tuple[str, int]:
    """The object key and size of the live package's CAP document, or NotFound (not live, or not an
    emergency)."""
    _, package = reading.published(session, work_id)
    summary = package.manifest.get("cap")
    if not summary:
        raise NotFound(N_("This item carries no CAP alert."))
    return summary["key"], summary["size"]


def retracted(session: Session, package_id: int) -> Package:
    """A retracted emergency package that carried a CAP document (for its Cancel), or NotFound."""
    p = session.get(Package, package_id)
    if p is None or p.state != "retracted" or not p.manifest.get("cap"):
        raise NotFound(N_("No such cancelled alert."))
    return p
