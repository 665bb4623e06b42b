"""An area's public site (/x/<code>/, issue #26): what it shows, and the settings its staff keep.

A site shows the live items sent to its area, to an area above it, or everywhere; never another commune's,
never a draft, a retracted or an expired one (the feed's own condition: feeds.live). A live emergency for the
area comes first. Lists go by kind and topic, newest first, paged; search folds diacritics and case (and
decomposed Unicode, which folding decomposes anyway) on both sides. The questions and answers are the
answered questions whose askers agreed to publication: questions to the site, and those on its items.
Staff of the area (its editors, operators and approvers, the province's, admins) keep its name, contact,
address and logo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import fold, nfc
from storage.models import Area, Feedback, Package, PackageArea, Site, Work, utcnow
from studio.errors import N_, NotFound, PermissionDenied, ValidationError
from studio import jobs
from studio.services import Caller, areas, audit, clock, feeds, occurrences, reading

PER_PAGE = 30
KINDS = ("article", "eboard_notice", "radio_bulletin", "video_report", "publication")
SLUGS = {"article": "tin-tuc", "eboard_notice": "thong-bao", "radio_bulletin": "ban-tin", "video_report": "video",
         "publication": "an-pham"}
KIND_OF_SLUG = {v: k for k, v in SLUGS.items()}
STAFF = ("editor", "operator", "approver")
MAX_TEXT = 2000


@dataclass
class Item:
    """One live item as a site lists it."""

    work_id: int
    package_id: int
    kind: str
    priority: str
    topics: list[str]
    titles: dict[str, str]
    summary: str
    source_language: str
    published_at: datetime | None
    valid_until: datetime | None
    files: list[dict] = field(default_factory=list)
    folded: str = ""
    area_codes: list[str] = field(default_factory=list)  # empty: sent everywhere
    alert: dict[str, dict] = field(default_factory=dict)  # an emergency's CAP headline and instruction by language
    _stamp: tuple[str, str] | None = field(default=None, repr=False)
    _head: str | None = field(default=None, repr=False)
    _index: str | None = field(default=None, repr=False)

    def href(self, chain: list[str], lang: str) -> str:
        """The item's page as a site with this chain links it, in `lang` when the item has it."""
        path = f"/x/{self.owner(chain)}/items/{self.work_id}/"
        return path + f"{lang}/" if lang != self.source_language and lang in self.titles else path

    @property
    def stamp(self) -> tuple[str, str]:
        """(ISO 8601 in UTC, the studio's local label) of its publication, made once."""
        if self._stamp is None:
            self._stamp = (self.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"), clock.label(self.published_at)) \
                if self.published_at else ("", "")
        return self._stamp

    def owner(self, chain: list[str]) -> str:
        """The site whose pages hold this item's page, seen from a site with this chain (its area first): the
        most local of the chain's areas the item was sent to, else the chain's top (an item for everywhere)."""
        return next((c for c in chain if c in self.area_codes), chain[-1])

    def title(self, lang: str) -> str:
        """The title in `lang`, else in the item's own language."""
        return self.titles.get(lang) or self.titles.get(self.source_language, "")

    def media(self, lang: str) -> dict:
        """Its files for the reader in `lang` (else its own language): audio for a bulletin's player in the
        lists, the EPUB and PDF of a publication (reading.media_of)."""
        return reading.media_of(self.files, lang if lang in self.titles else self.source_language)

    def what_to_do(self, lang: str) -> tuple[str, str]:
        """An emergency's instruction (its CAP document's) in `lang`, else in its own language: (text, language),
        ("", "") when it has none."""
        for code in (lang, self.source_language):
            said = (self.alert.get(code) or {}).get("instruction", "")
            if said:
                return said, code
        return "", ""

    @property
    def languages(self) -> list[str]:
        return sorted(self.titles, key=lambda c: (c != self.source_language, c))

    @property
    def head(self) -> str:
        """Its titles and summary, folded (search), made once: an item for the province is on every site."""
        if self._head is None:
            self._head = f"{fold(' '.join(self.titles.values()))} {fold(self.summary)}"
        return self._head

    @property
    def index_words(self) -> str:
        """The words the static site's search index holds for it (index_json), made once."""
        if self._index is None:
            words = f"{self.head} {fold(' '.join(self.topics))} {self.folded[:600]}".split()
            self._index = " ".join(dict.fromkeys(words))
        return self._index


@dataclass(frozen=True)
class AreaRef:
    """An area as the site's pages need it: plain values, so a cached site outlives the session that read it
    (an ORM Area would be detached and expired by then). `row(session)` gives the Area again."""

    id: int
    code: str
    name: str
    level: str

    def row(self, session: Session) -> Area:
        return session.get(Area, self.id)


@dataclass
class SiteInfo:
    """The site's frame: its area, name and contact."""

    area: AreaRef
    name: str
    contact: str
    address: str
    logo: dict | None
    chain: list[str]


def site(session: Session, code: str) -> SiteInfo:
    """The site of the area with this code, or NotFound."""
    area = areas.by_code(session, code)
    if area is None:
        raise NotFound(N_("There is no site for %(code)s."), code=code)
    row = session.scalar(select(Site).where(Site.area_id == area.id))
    chain = [area.code, *(a.code for a in area.ancestors())]
    logo = {"key": row.logo_key, "width": row.logo_width, "height": row.logo_height} if row and row.logo_key else None
    return SiteInfo(AreaRef(area.id, area.code, area.name, area.level), (row.name if row and row.name else area.name), row.contact if row else "",
                    row.address if row else "", logo, chain)


def generation(session: Session) -> str:
    """What the sites' pages depend on, as one value: the feeds generation (publishes, retractions) and the
    sites' own (their settings)."""
    return f"{feeds.generation(session)}.{feeds.generation(session, 'sites')}"


class ItemCache:
    """Each site's items per feeds generation (a publish or a retraction moves it on) until the next moment one
    of them expires or a scheduled one starts: the pages of one site, and an export of thousands of sites, read
    them once, and an expired item is never served from the cache.

    An item is the same on every site that shows it, so each package's `Item` is made once per generation and
    shared: a province's items, on each of its thousands of sites, are decoded and folded once."""

    def __init__(self, max_sites: int = 4096, max_items: int = 100_000):
        self.max_sites, self.max_items = max_sites, max_items
        self._rows: dict[tuple, tuple[SiteInfo, list[Item], datetime]] = {}
        self._items: tuple[tuple, dict[int, Item]] = ((), {})  # (database, generation), {package id: Item}
        self.pinned: dict[str, tuple[SiteInfo, list[Item]]] = {}  # what an export renders, read once per site

    def load(self, session: Session, code: str, now: datetime | None = None) -> tuple[SiteInfo, list[Item]]:
        """The site and its items, from the cache when this generation already read them and nothing expired or
        started since (a site's settings move the generation on too: save_settings)."""
        info, found, _ = self.read(session, code, now)
        return info, found

    def read(self, session: Session, code: str, now: datetime | None = None) -> tuple[SiteInfo, list[Item], datetime]:
        """load(), and until when that holds (the next moment an item ends or a scheduled one starts)."""
        now = now or utcnow()
        key = (str(session.get_bind().url), generation(session), code)
        hit = self._rows.get(key)
        if hit is None or now >= hit[2]:
            if len(self._rows) >= self.max_sites:
                self._rows.clear()
            if self._items[0] != key[:2] or len(self._items[1]) >= self.max_items:
                self._items = (key[:2], {})
            info = site(session, code)
            found, until = _read(session, info, now, self._items[1])
            hit = self._rows[key] = (info, found, until)
        return hit


def items(session: Session, info: SiteInfo, now: datetime | None = None) -> list[Item]:
    """Every live item the site shows, emergencies first, then newest first."""
    return _read(session, info, now or utcnow())[0]


def _read(session: Session, info: SiteInfo, now: datetime,
          made: dict[int, Item] | None = None) -> tuple[list[Item], datetime]:
    """items(), and the next moment the list changes by itself (an item's end or a scheduled item's start).
    `made` holds the Items already made in this generation (ItemCache): only the others are loaded."""
    made = {} if made is None else made
    sent_somewhere = exists().where(PackageArea.package_id == Package.id)
    sent_here = exists().where(PackageArea.package_id == Package.id, PackageArea.code.in_(info.chain))
    rows = session.execute(select(Package.id, Package.valid_from, Package.valid_until)
                           .where(*feeds.live_clauses(now), or_(~sent_somewhere, sent_here))
                           .order_by(Package.published_at.desc(), Package.id.desc())).all()
    shown, changes = [], []
    for pid, valid_from, valid_until in rows:
        if valid_until is not None:
            changes.append(valid_until)
        if valid_from is not None and valid_from > now:
            changes.append(valid_from)
            continue  # in the feeds ahead of time, for endpoints to fetch; not on the site yet
        shown.append(pid)
    missing = [pid for pid in shown if pid not in made]
    for i in range(0, len(missing), 500):
        for p, kind, topics, search_text in session.execute(
                select(Package, Work.kind, Work.topics, Work.search_text).join(Work, Work.id == Package.work_id)
                .where(Package.id.in_(missing[i:i + 500]))):
            made[p.id] = _item(p, kind, topics, search_text)
    out = [made[pid] for pid in shown]
    out.sort(key=lambda i: i.priority != "emergency")  # stable: newest first within each
    # Beyond the feeds' window a scheduled item is not read yet: look again by then.
    return out, min([*changes, now + feeds.FEED_WINDOW])


def _item(p: Package, kind: str, topics: list | None, search_text: str | None) -> Item:
    m = p.manifest
    texts = " ".join(t.get("title", "") + " " + " ".join(t.get("sentences", []))
                     for t in (m.get("texts") or {}).values())
    return Item(p.work_id, p.id, kind, p.priority, list(topics or []), dict(m.get("title") or {}),
                m.get("summary", ""), m.get("source_language", ""), p.published_at, p.valid_until,
                list(m.get("files", [])), folded=f"{search_text or ''} {fold(texts)}",
                area_codes=list(p.area_codes or []), alert=dict((m.get("cap") or {}).get("texts") or {}))


def emergencies(found: list[Item]) -> list[Item]:
    """The live emergencies among them (the home's banner)."""
    return [i for i in found if i.priority == "emergency"]


def page_of(found: list[Item], page: int, per: int = PER_PAGE) -> tuple[list[Item], int]:
    """One page (from 1) and the number of pages; NotFound past the last."""
    pages = max(1, math.ceil(len(found) / per))
    if page < 1 or page > pages:
        raise NotFound(N_("There is no page %(n)s."), n=page)
    return found[(page - 1) * per:page * per], pages


def of_kind(found: list[Item], slug: str) -> list[Item]:
    """The items of a kind, by its slug (tin-tuc, thong-bao, ban-tin, video, an-pham)."""
    if slug not in KIND_OF_SLUG:
        raise NotFound(N_("There is no such list."))
    return [i for i in found if i.kind == KIND_OF_SLUG[slug]]


def of_topic(found: list[Item], topic: str) -> list[Item]:
    """The items of a topic."""
    return [i for i in found if topic in i.topics]


def topics(found: list[Item]) -> list[str]:
    """The topics the site's items have, by how many."""
    count: dict[str, int] = {}
    for i in found:
        for t in i.topics:
            count[t] = count.get(t, 0) + 1
    return sorted(count, key=lambda t: (-count[t], t))


def search(found: list[Item], q: str) -> list[Item]:
    """The items whose text holds every word of `q`, diacritics and case aside."""
    words = fold(nfc(q or "")).split()
    if not words:
        return []
    return [i for i in found if all(w in f"{i.head} {i.folded}" for w in words)]


def index_json(found: list[Item], prefix: str) -> bytes:
    """The prebuilt search index of a site (the static site's search reads it): per item its address, title
    and the folded words of its titles, summary and topics, plus the start of its text."""
    import json
    rows = [{"u": f"{prefix}/items/{i.work_id}/", "t": i.title("vi"), "k": i.kind, "f": i.index_words}
            for i in found]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()


def get_item(found: list[Item], work_id: int) -> Item:
    """One item of the site, or NotFound (not live, or not for this area)."""
    for i in found:
        if i.work_id == work_id:
            return i
    raise NotFound(N_("This item is not published."))


def languages(found: list[Item]) -> list[str]:
    """The languages the site's items have, Vietnamese first."""
    langs = {lang for i in found for lang in i.titles}
    return sorted(langs, key=lambda c: (c != "vi", c))


def answers(session: Session, info: SiteInfo, found: list[Item]) -> list[Feedback]:
    """Answered questions whose askers agreed to publication: to this site, or on its items; newest first."""
    ids = [i.work_id for i in found]
    cond = Feedback.area_id == info.area.id
    if ids:
        cond = or_(cond, Feedback.work_id.in_(ids))
    return list(session.scalars(select(Feedback).where(cond, Feedback.publish.is_(True), Feedback.answer != "",
                                                       Feedback.state.in_(("answered", "closed")))
                                .order_by(Feedback.answered_at.desc()).limit(200)))


def week(session: Session, info: SiteInfo, now: datetime | None = None) -> list[dict]:
    """This week's loudspeaker programme of a commune (from today, 7 days), or [] for a district or province."""
    if info.area.level != "commune":
        return []
    today = clock.local(now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    w0 = clock.to_utc(today, "from")
    return occurrences.area_week(session, info.area.row(session), None, w0, w0 + timedelta(days=7))


IMAGE_WIDTHS = (320, 640, 1024)
IMAGE_FORMATS = {"webp": "image/webp", "jpg": "image/jpeg"}


def pictures(session: Session, work_id: int) -> list[dict]:
    """A live item's pictures with their responsive widths: [{asset_id, widths, width, height}] (width and
    height of the 640-pixel variant, the page's default)."""
    from storage.models import Asset
    out = []
    for a in session.scalars(select(Asset).where(Asset.work_id == work_id, Asset.kind == "image",
                                                 Asset.role == "attachment").order_by(Asset.id)):
        if not a.width or not a.height:
            continue
        widths = [w for w in IMAGE_WIDTHS if w < a.width] + [min(a.width, IMAGE_WIDTHS[-1])]
        shown = min(640, a.width)
        out.append({"asset_id": a.id, "widths": sorted(set(widths)), "width": shown,
                    "height": max(1, round(a.height * shown / a.width))})
    return out


def image_variant(session: Session, store, work_id: int, asset_id: int, width: int, fmt: str) -> tuple[str, int]:
    """The object key and size of a live item's picture at `width` in `fmt` (webp, jpg), made once and kept
    in the store beside the original (`site-images/<sha256>-<width>.<fmt>`)."""
    import os
    import tempfile

    from media_pipeline import images
    from storage.models import Asset
    asset = session.get(Asset, asset_id)
    pics = {p["asset_id"]: p for p in pictures(session, work_id)}
    if asset is None or asset.work_id != work_id or asset_id not in pics or fmt not in IMAGE_FORMATS or \
            width not in pics[asset_id]["widths"]:
        raise NotFound(N_("No such picture."))
    key = f"site-images/{asset.sha256}-{width}.{fmt}"
    if not store.exists(key):
        fd, path = tempfile.mkstemp(prefix="site-image-")
        os.close(fd)
        try:
            store.download(asset.object_key, path)
            store.put_bytes(key, images.resized(path, width, fmt), IMAGE_FORMATS[fmt])
        finally:
            os.unlink(path)
    return key, store.stat(key).size


def may_edit(session: Session, caller: Caller, area: Area) -> bool:
    """Whether the caller keeps this area's site: admins, and staff of this area or an area above it."""
    user = caller.user
    if user is None or not user.has_role(*STAFF):
        return False
    if "admin" in user.role_set or not user.areas:
        return "admin" in user.role_set or user.has_role("editor", "approver")
    mine = {a.id for a in user.areas}
    return area.id in mine or any(a.id in mine for a in area.ancestors())


def store_logo(session: Session, caller: Caller, store, code: str, path: str, max_pixels: int) -> dict:
    """Check an uploaded logo by its content, re-encode it as a small PNG and store it; {key, width, height}."""
    import hashlib

    from media_pipeline import images
    from media_pipeline.errors import InvalidMedia
    info = site(session, code)
    if not may_edit(session, caller, info.area.row(session)):
        raise PermissionDenied(N_("Only the staff of %(area)s keep its site."), area=info.area.name)
    try:
        images.inspect(path, max_pixels)
        data, width, height = images.small_png(path)
    except InvalidMedia:
        raise ValidationError(N_("The logo must be a JPEG, PNG, WebP or GIF picture."), field="logo") from None
    key = f"site-logos/{code}/{hashlib.sha256(data).hexdigest()}.png"
    store.put_bytes(key, data, "image/png")
    return {"key": key, "width": width, "height": height}


def save_settings(session: Session, caller: Caller, code: str, data: dict, logo: dict | None = None) -> Site:
    """Change a site's name, contact and address (and its logo: {key, width, height} already stored)."""
    info = site(session, code)
    if not may_edit(session, caller, info.area.row(session)):
        raise PermissionDenied(N_("Only the staff of %(area)s keep its site."), area=info.area.name)
    values = {k: nfc(str(data.get(k) or "")).strip() for k in ("name", "contact", "address")}
    if len(values["name"]) > 200:
        raise ValidationError(N_("The site's name is longer than 200 characters."), field="name")
    for k in ("contact", "address"):
        if len(values[k]) > MAX_TEXT:
            raise ValidationError(N_("At most 2,000 characters."), field=k)
    row = session.scalar(select(Site).where(Site.area_id == info.area.id))
    if row is None:
        row = Site(area_id=info.area.id)
        session.add(row)
    row.name, row.contact, row.address = values["name"], values["contact"], values["address"]
    if logo:
        row.logo_key, row.logo_width, row.logo_height = logo["key"], logo["width"], logo["height"]
    row.updated_by_id = caller.user.id
    feeds.bump(session, "sites")  # cached pages and exported copies are of an older generation now
    jobs.create(session, "sites", profile=code, max_attempts=3, msg="the site's settings changed")
    session.flush()
    audit.record(session, caller, "site.settings", "area", info.area.id, code=code, logo=bool(logo))
    return row
