"""Feeds: what each endpoint's feed lists, the feed document it receives, and the static feeds per area.

Object layout (see docs/ARCHITECTURE.md):
  feeds/<endpoint kind>/<area code|all>.json   static feeds, rewritten after every publish and retraction

`feed_query` is the one feed query. A process keeps the feeds it computed in one `FeedCache` (the web app's is
`app.extensions["feeds"]`), keyed by the feeds generation (`counters` row `feeds`, moved on by every publish
and retraction), the programme generation (row `programme`, moved on by every change of a commune's
programme, studio/services/programme.py) and the minute, so an unchanged poll costs one indexed read. A
programme change does not query the packages again, and keeps the programmes of the communes it did not touch
(occurrences.Book).

Static feeds list packages only; the programme reaches endpoints through the live feed and schedule.ics.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, bindparam, case, exists, or_, select, update
from sqlalchemy.orm import Session

from media_pipeline import profiles as registry
from storage.models import Area, Counter, Endpoint, Job, Package, PackageArea, PackageFile, utcnow
from storage.objectstore import ObjectStore
from studio import jobs
from studio.services import areas, audience, clock, occurrences

PRIORITY_ORDER = {"emergency": 0, "priority": 1, "normal": 2}
FEED_WINDOW = timedelta(hours=24)  # packages starting within this window are sent ahead
FEED_URL_TTL = timedelta(hours=1)  # how long the presigned URLs in a feed document are valid


def _iso(dt: datetime | None) -> str | None:
    return clock.iso(dt)


def playback(priority: str) -> dict:
    """How players treat the item: the normal / priority / emergency levels of Circular 39/2020 on commune
    radio. An emergency interrupts whatever plays and plays at once, outside the time slots."""
    emergency = priority == "emergency"
    return {"level": priority, "interrupt": emergency, "play_immediately": emergency,
            "ignore_time_slots": emergency}


@jobs.handler("feeds", needs=("store",), timeout=lambda _s, _j: 600)
def run_feeds(ctx: jobs.Context, store: ObjectStore) -> None:
    """The static feeds job after a publish or a retraction."""
    rewrite_feeds_job(ctx.session, store, ctx.job, ctx.progress)


def live(session: Session, now: datetime) -> list[Package]:
    """Published packages valid now or starting within the window, emergencies first."""
    return list(session.scalars(select(Package).where(*live_clauses(now)).order_by(*_feed_order())))


def live_clauses(now: datetime) -> list:
    """What makes a package live: published, not expired, starting within the feed's window."""
    return [Package.state == "published",
            or_(Package.valid_until.is_(None), Package.valid_until > now),
            or_(Package.valid_from.is_(None), Package.valid_from <= now + FEED_WINDOW)]


def _feed_order() -> list:
    rank = case(*((Package.priority == p, n) for p, n in PRIORITY_ORDER.items()), else_=9)
    return [rank, Package.published_at.desc(), Package.id]


def feed_query(session: Session, kind: str, area: Area | None, display: str = "",
               languages: list[str] | None = None, now: datetime | None = None) -> list[tuple[Package, list[dict]]]:
    """The one feed query, in SQL, for the live feed, the static feeds and the endpoint status page alike.

    Live packages (published, not expired, starting within the window) sent to the area, to an area above
    it, or everywhere (an endpoint without an area takes every package), emergencies first, each with the
    files of the kind's channels that fit: in the endpoint's languages (all when it names none) and, for an
    endpoint with a display, only pictures and videos of exactly that size. A package with no fitting file
    is left out, except on portals, which also publish the text.
    """
    spec = registry.ENDPOINT_KINDS[kind]
    fits = [PackageFile.package_id == Package.id, *audience.file_fits(kind, display, languages)]
    listed = [PackageFile.package_id == Package.id, audience.feed_file_fits(kind, display, languages)]
    where = live_clauses(now or utcnow())
    if area is not None:
        sent_somewhere = exists().where(PackageArea.package_id == Package.id)
        sent_here = exists().where(PackageArea.package_id == Package.id, PackageArea.code.in_(areas.chain(area)))
        where.append(or_(~sent_somewhere, sent_here))
    if not spec.text_items:
        where.append(select(PackageFile.id).where(*fits).correlate(Package).exists())
    rows = session.execute(select(Package, PackageFile).outerjoin(PackageFile, and_(*listed)).where(*where)
                           .order_by(*_feed_order(), PackageFile.position))
    out: list[tuple[Package, list[dict]]] = []
    for package, file in rows:
        if not out or out[-1][0].id != package.id:
            out.append((package, []))
        if file is not None:
            out[-1][1].append(file.entry)
    return out


def _item(p: Package, files: list[dict]) -> dict:
    m = p.manifest
    return {"package_id": p.id, "work_id": p.work_id, "version": p.version, "priority": p.priority,
            "playback": playback(p.priority),
            "valid_from": m.get("valid_from"), "valid_until": m.get("valid_until"), "time_slots": m.get("time_slots"),
            "title": m.get("title"), "manifest_key": p.manifest_key, "manifest_sha256": p.manifest_sha256,
            "files": files}


def _items_key(db_url: str, generation: int, now: datetime, kind: str, area_id: int | None, display: str,
               languages) -> tuple:
    return (db_url, generation, now.replace(second=0, microsecond=0), kind, area_id, display or "",
            tuple(languages or ()))


def _feed_key(db_url: str, generation: int, programme: int, now: datetime, kind: str, area_id: int | None,
              display: str, languages, zone: str = "") -> tuple:
    return (*_items_key(db_url, generation, now, kind, area_id, display, languages), programme, zone or "")


@dataclass(frozen=True)
class Feed:
    """What one audience's feed lists: the live packages, and the programme (occurrences over the next 7
    days, occurrences.py); `hash` covers both and makes the ETag."""

    hash: str
    items: list
    programme: list


def _etag(endpoint_id: int, items_hash: str) -> str:
    return hashlib.sha256(f"{endpoint_id}:{items_hash}".encode()).hexdigest()[:32]


# An endpoint by its token's hash, with the feeds generation: all an unchanged poll needs, in one read.
_ENDPOINT_AND_GENERATION = select(
    Endpoint.id, Endpoint.kind, Endpoint.area_id, Endpoint.display, Endpoint.languages, Endpoint.active,
    select(Counter.value).where(Counter.name == "feeds").scalar_subquery(), Endpoint.zone,
    select(Counter.value).where(Counter.name == "programme").scalar_subquery(),
).where(Endpoint.token_hash == bindparam("h"))


@dataclass(frozen=True)
class Poller:
    """An active endpoint as a feed poll sees it, with the feeds generation read in the same statement."""

    id: int
    kind: str
    area_id: int | None
    display: str
    languages: tuple
    generation: int
    zone: str = ""
    programme: int = 0

    def feed_key(self, db_url: str, now: datetime) -> tuple:
        """The key of this endpoint's audience (kind, area, display, languages, zone) in the feed cache."""
        return _feed_key(db_url, self.generation, self.programme, now, self.kind, self.area_id, self.display,
                         self.languages, self.zone)


def poller(conn, token_hash: str) -> Poller | None:
    """The active endpoint with this token hash, from one indexed read (no ORM: the poll path runs outside
    the web framework, studio/web/serving.py); None when there is no such active endpoint. `conn` is a
    SQLAlchemy Connection or Session."""
    row = conn.execute(_ENDPOINT_AND_GENERATION, {"h": token_hash}).first()
    if row is None or not row.active:
        return None
    return Poller(row.id, row.kind, row.area_id, row.display or "", tuple(row.languages or ()),
                  int(row[6] or 0), row.zone or "", int(row[8] or 0))


class FeedCache:
    """This process's computed feeds: the items and programme per audience (kind, area, display, languages,
    zone) per feeds generation and minute, the programme's `Book` per generation and local day, and the signed
    documents per feed and half URL lifetime. Bounded: a full table is emptied and filled again."""

    def __init__(self, max_feeds: int = 10_000, max_documents: int = 1000):
        self.max_feeds, self.max_documents = max_feeds, max_documents
        self._items: dict[tuple, tuple[str, list[dict]]] = {}
        self._feeds: dict[tuple, Feed] = {}
        self._documents: dict[tuple, tuple[Feed, bytes]] = {}
        self._books: dict[tuple, occurrences.Book] = {}

    def book(self, session: Session, now: datetime | None = None) -> occurrences.Book:
        """Every commune's programme for these generations and this local day (built once, then looked up; a
        new Book keeps the last one's work for the areas whose items did not change)."""
        w0, w1 = occurrences.window(now or utcnow())
        key = (str(session.get_bind().url), generation(session), generation(session, "programme"), w0)
        hit = self._books.get(key)
        if hit is None:
            last = next((b for k, b in reversed(self._books.items()) if k[0] == key[0]), None)
            hit = occurrences.Book(session, w0, w1, previous=last)
            if len(self._books) >= 4:
                self._books.clear()
            self._books[key] = hit
        return hit

    def items(self, session: Session, endpoint_id: int, kind: str, area: Area | None, display: str = "",
              now: datetime | None = None, languages: list[str] | None = None, zone: str = "") -> tuple[str, Feed]:
        """The endpoint's feed (without URLs) and its strong ETag, computed once per audience: the packages per
        feeds generation and minute, the programme per programme generation (a programme change does not
        query the packages again)."""
        now = now or utcnow()
        db_url, gen, prog = str(session.get_bind().url), generation(session), generation(session, "programme")
        area_id = area.id if area else None
        key = _feed_key(db_url, gen, prog, now, kind, area_id, display, languages, zone)
        hit = self._feeds.get(key)
        if hit is None:
            items_key = _items_key(db_url, gen, now, kind, area_id, display, languages)
            packaged = self._items.get(items_key)
            if packaged is None:
                items = [_item(p, files) for p, files in feed_query(session, kind, area, display, languages, now)]
                h = hashlib.sha256()
                for i in items:
                    h.update(f"|{i['package_id']}:{i['manifest_sha256']}:"
                             f"{','.join(f['sha256'] for f in i['files'])}".encode())
                packaged = (h.hexdigest(), items)
                if len(self._items) >= self.max_feeds:
                    self._items.clear()
                self._items[items_key] = packaged
            programme_hash, programme = self.book(session, now).programme(session, area_id, zone, kind, display,
                                                                          languages or ())
            digest = hashlib.sha256(f"{packaged[0]}#{programme_hash}".encode()).hexdigest()[:32]
            hit = Feed(digest, packaged[1], programme)
            if len(self._feeds) >= self.max_feeds:
                self._feeds.clear()
            self._feeds[key] = hit
        return _etag(endpoint_id, hit.hash), hit

    def cached(self, db_url: str, who: Poller, now: datetime | None = None) -> tuple[str, Feed] | None:
        """(ETag, feed) of the endpoint if this cache holds its audience's feed for this generation and
        minute, else None (then `items` computes it)."""
        hit = self._feeds.get(who.feed_key(db_url, now or utcnow()))
        return (_etag(who.id, hit.hash), hit) if hit is not None else None

    def unchanged_etag(self, conn, db_url: str, token_hash: str, now: datetime | None = None) -> str | None:
        """An endpoint's feed ETag from one indexed read and this cache (see `poller` and `cached`)."""
        who = poller(conn, token_hash)
        hit = self.cached(db_url, who, now) if who is not None else None
        return hit[0] if hit is not None else None

    def document(self, store: ObjectStore, feed: Feed, ttl: timedelta, now: datetime | None = None) -> bytes:
        """The feed document (JSON bytes) with a presigned, Range-capable URL per file.

        Signing is the costly part of a 200 (an HMAC per file), so a document is built once per feed and half
        URL lifetime and then reused by every endpoint with the same feed: URLs are signed for `ttl` at the
        start of their half-lifetime window, so each one handed out stays valid for at least `ttl / 2`
        (`url_ttl_s`). A file the programme and the items share is signed once.
        """
        now = now or utcnow()
        half = max(1, int(ttl.total_seconds()) // 2)
        window = int(now.timestamp()) // half
        key = (id(feed), window, store.bucket)
        hit = self._documents.get(key)
        if hit is not None and hit[0] is feed:
            return hit[1]
        urls: dict[str, str] = {}

        def url(k: str) -> str:
            if k not in urls:
                urls[k] = store.presign_get(k, ttl)
            return urls[k]

        out = [{**i, "files": [{**f, "url": url(f["key"])} for f in i["files"]],
                "manifest_url": url(i["manifest_key"])} for i in feed.items]
        programme = [{**o, "files": [{**f, "url": url(f["key"])} for f in o["files"]]} for o in feed.programme]
        body = json.dumps({"generated_at": _iso(now), "time_zone": clock.zone().key, "url_ttl_s": half,
                           "items": out, "programme": programme}, ensure_ascii=False).encode()
        if len(self._documents) >= self.max_documents:
            self._documents.clear()
        self._documents[key] = (feed, body)  # holding the feed keeps its id from being reused by another
        return body


def generation(session: Session, counter: str = "feeds") -> int:
    """The feeds generation (`feeds`: moved on whenever the packages any feed lists may have changed), or the
    programme generation (`programme`: whenever any commune's programme did)."""
    row = session.get(Counter, counter)
    return row.value if row else 0


def bump(session: Session, counter: str = "feeds") -> None:
    """Take the writers' lock of that counter (a row update, held until commit) and move it on."""
    # Two first publishes at once must not both insert the row: insert it unless it is there (both dialects).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(Counter).values(name=counter, value=0).on_conflict_do_nothing(index_elements=["name"]))
    session.execute(update(Counter).where(Counter.name == counter).values(value=Counter.value + 1))
    session.expire(session.get(Counter, counter))


def changed_areas(session: Session, since: datetime) -> tuple[list[str], str]:
    """Static-feed codes of packages published or retracted since `since` (a few seconds' overlap is harmless:
    an endpoint told twice gets a 304), and the most urgent priority among them."""
    since = since - timedelta(seconds=5)
    changed = list(session.scalars(select(Package).where(
        (Package.published_at >= since) | (Package.retracted_at >= since))))
    if not changed:
        return [], ""
    top = min((p.priority for p in changed), key=lambda x: PRIORITY_ORDER.get(x, 9))
    return feed_codes(changed), top


def feed_codes(packages: list[Package]) -> list[str]:
    """The MQTT topics to announce these packages on: their area codes, "all" for packages sent everywhere
    (an endpoint listens to its area, the areas above it and "all")."""
    return sorted({code for p in packages for code in (p.area_codes or ["all"])})


def static_feed_codes(session: Session, packages: list[Package]) -> list[str]:
    """The static feeds that may list these packages: their areas, the areas below them where endpoints are
    registered (their feeds take the packages of the areas above), and `all` (every live package)."""
    codes = {code for p in packages for code in p.area_codes or []}
    everywhere = any(not p.area_codes for p in packages)
    for ep in session.scalars(select(Endpoint).where(Endpoint.active.is_(True), Endpoint.area_id.is_not(None))):
        if everywhere or areas.chain(ep.area) & codes:
            codes.add(ep.area.code)
    return sorted(codes | {"all"})


def write_feeds(session: Session, store: ObjectStore, area_codes: list[str]) -> list[str]:
    """Rewrite the static feeds for these area codes, every endpoint kind: what the live feed gives an endpoint
    of that kind in that area with no display or language set (`all`: an endpoint without an area)."""
    bump(session)  # serialises writers: each sees the others' committed packages
    now = utcnow()
    by_code = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(area_codes)))}
    keys = []
    for code in sorted(set(area_codes)) or ["all"]:
        if code != "all" and code not in by_code:
            continue  # an area deleted since: nobody reads its feed
        for kind in registry.ENDPOINT_KINDS:
            items = [_item(p, files) for p, files in feed_query(session, kind, by_code.get(code), now=now)]
            body = {"area": code, "kind": kind, "generated_at": _iso(now), "time_zone": clock.zone().key,
                    "items": items}
            key = f"feeds/{kind}/{code}.json"
            store.put_bytes(key, json.dumps(body, ensure_ascii=False, sort_keys=True).encode(), "application/json")
            keys.append(key)
    return keys


def rewrite_feeds_job(session: Session, store: ObjectStore, job: Job, report: Callable[[int, str], None]) -> None:
    """The feeds job after a publish or a retraction: rewrite every static feed that lists or listed the work's
    packages (a new version's areas, the areas its predecessors were sent to, retracted ones)."""
    packages = list(session.scalars(select(Package).where(
        Package.work_id == job.work_id, Package.state.in_(("published", "superseded", "retracted")))))
    write_feeds(session, store, static_feed_codes(session, packages))
    report(99, "feeds updated")
