"""Publishing: immutable, versioned packages in the object store, feeds per endpoint and static feeds per area.

Object layout (see docs/ARCHITECTURE.md):
  media/<sha256>                           content-addressed media, shared between packages
  packages/<work id>/<version>/manifest.json   written last: a package exists once its manifest does
  feeds/<endpoint kind>/<area code|all>.json   static feeds, rewritten after every publish and retraction
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
from storage.models import (Area, Endpoint, Job, Package, PackageArea, PackageFile, Rendition, Setting, Translation,
                            Work, utcnow)
from storage.objectstore import ObjectStore
from studio.errors import N_, Conflict, ValidationError
from studio import jobs
from studio.services import Caller, areas, audit, channels, clock, rendering, works

SCHEMA_VERSION = 1
SCHEMA_URL = "https://studio.invalid/schemas/manifest-1.json"  # docs/manifest.schema.json
PRIORITY_ORDER = {"emergency": 0, "priority": 1, "normal": 2}
FEED_WINDOW = timedelta(hours=24)  # packages starting within this window are sent ahead
FEED_URL_TTL = timedelta(hours=1)  # how long the presigned URLs in a feed document are valid
URGENCY = {"emergency": 1, "priority": 3, "normal": 5}  # NINJS urgency


def _iso(dt: datetime | None) -> str | None:
    return clock.iso(dt)


def _renditions(session: Session, work: Work) -> list[Rendition]:
    """The newest rendition per (language, profile) of the approved revision, in approved languages only."""
    approved = {work.source_language} | set(session.scalars(select(Translation.language).where(
        Translation.work_id == work.id, Translation.state == "approved")))
    latest: dict[tuple, Rendition] = {}
    for r in session.scalars(select(Rendition).where(Rendition.work_id == work.id,
                                                     Rendition.revision == work.approved_revision)
                             .order_by(Rendition.id.desc())):
        if r.language in approved:
            latest.setdefault((r.language, r.profile), r)
    return sorted(latest.values(), key=lambda r: (r.language != work.source_language, r.language, r.profile))


def prepare(session: Session, caller: Caller, work: Work) -> Package:
    """Create the next package of an approved work: render what its channels and endpoints lack, then deliver.

    The delivery job waits for the render jobs (on the work's lane: an emergency renders before anything
    else) and lists the package only with its channels' default files; files for endpoints' displays and
    languages go in when they were made (the work page lists the endpoints still lacking one).
    """
    have = {(r.language, r.profile) for r in _renditions(session, work)}
    approved = works.as_of(session, work, work.approved_revision)
    missing = [n for n in channels.needs(session, approved) if (n.language, n.profile) not in have]
    render_jobs = rendering.queue(session, caller, work.id, languages=sorted({n.language for n in missing}),
                                  revision=work.approved_revision, needs=missing) if missing else []
    version = (session.scalar(select(Package.version).where(Package.work_id == work.id)
                              .order_by(Package.version.desc()).limit(1)) or 0) + 1
    package = Package(work_id=work.id, version=version, revision=work.approved_revision, state="queued",
                      priority=work.priority, valid_from=work.valid_from, valid_until=work.valid_until,
                      area_codes=sorted(a.code for a in work.areas), channels=[], published_by_id=caller.user.id,
                      manifest={})
    session.add(package)
    session.flush()
    jobs.create(session, "publish", priority=work.priority, work_id=work.id, package_id=package.id, max_attempts=6,
                created_by_id=caller.user.id, after=[j.id for j in render_jobs], after_any_outcome=True,
                msg=f"package v{version}: waiting for {len(render_jobs)} renders" if render_jobs
                else f"package v{version} queued")
    return package


def playback(priority: str) -> dict:
    """How players treat the item: the normal / priority / emergency levels of Circular 39/2020 on commune
    radio. An emergency interrupts whatever plays and plays at once, outside the time slots."""
    emergency = priority == "emergency"
    return {"level": priority, "interrupt": emergency, "play_immediately": emergency,
            "ignore_time_slots": emergency}


def approved_texts(session: Session, work: Work) -> dict[str, dict]:
    """Every approved translation's title and sentences (aligned with the source's), frozen into the package:
    readers see what was approved, never a translator's later draft."""
    out = {}
    for tr in session.scalars(select(Translation).where(Translation.work_id == work.id,
                                                        Translation.state == "approved")):
        if tr.language != work.source_language:
            out[tr.language] = {"title": tr.title or work.title,
                                "sentences": [s.get("target", "") for s in tr.segments]}
    return out


def build_manifest(session: Session, work: Work, package: Package, files: list[dict]) -> dict:
    """The package's manifest (schema version 1, docs/manifest.schema.json) with a NINJS item for portals.

    `work` is the work at the package's revision; `texts` carries the approved translations' text."""
    texts = approved_texts(session, work)
    titles = {work.source_language: work.title, **{lang: t["title"] for lang, t in texts.items()}}
    approver = work.approved_by_id
    item = {
        "schema": SCHEMA_URL, "schema_version": SCHEMA_VERSION,
        "package": {"id": package.id, "work_id": work.id, "version": package.version, "revision": package.revision},
        "kind": work.kind, "title": titles, "summary": work.summary or "",
        "source_language": work.source_language, "priority": package.priority,
        "valid_from": _iso(package.valid_from), "valid_until": _iso(package.valid_until),
        "time_slots": list(work.time_slots or []), "time_zone": clock.zone().key, "areas": package.area_codes,
        "channels": package.channels,
        "playback": playback(package.priority), "texts": texts,
        "approved_by": approver, "published_by": package.published_by_id, "published_at": _iso(package.published_at),
        "files": files,
    }
    item["ninjs"] = {
        "uri": f"urn:studio:work:{work.id}:v{package.version}", "type": "composite", "version": str(package.version),
        "versioncreated": _iso(package.published_at), "pubstatus": "usable", "urgency": URGENCY[package.priority],
        "language": work.source_language, "headline": work.title, "description_text": work.summary or "",
        "body_text": work.body or "", "subject": [{"name": t} for t in work.topics or []],
        "place": [{"code": c} for c in package.area_codes],
        "renditions": {f"{f['profile']}-{f['language']}-{f['role']}-{i}": {
            "href": f["key"], "mimetype": f["mime"], "sizeinbytes": f["size"],
            **({"duration": f["duration_s"]} if f.get("duration_s") else {}),
            **({"width": f["width"], "height": f["height"]} if f.get("width") else {})}
            for i, f in enumerate(files)},
    }
    return item


@jobs.handler("publish", needs=("store",), timeout=lambda _s, _j: 1800)
def run_publish(ctx: jobs.Context, store: ObjectStore) -> None:
    """The publish job."""
    deliver(ctx.session, store, ctx.job, ctx.progress)


@jobs.handler("feeds", needs=("store",), timeout=lambda _s, _j: 600)
def run_feeds(ctx: jobs.Context, store: ObjectStore) -> None:
    """The static feeds job after a publish or a retraction."""
    rewrite_feeds_job(ctx.session, store, ctx.job, ctx.progress)


def deliver(session: Session, store: ObjectStore, job: Job, report: Callable[[int, str], None]) -> None:
    """The publish job: copy media to content addresses, write the manifest last, then the feeds."""
    package = session.get(Package, job.package_id)
    if package is None or package.state != "queued":
        report(99, f"package is {package.state if package else 'gone'}: nothing to deliver")
        return
    work = session.get(Work, package.work_id)
    table = channels.profiles(session)
    renditions = _renditions(session, work)
    have = {(r.language, r.profile) for r in renditions}
    at_revision = works.as_of(session, work, package.revision)
    lacking = [(n.language, n.profile) for n in channels.needs(session, at_revision)
               if n.endpoint_id is None and (n.language, n.profile) not in have]
    for lang, p in lacking:  # never list a package without its channels' default files
        raise ValidationError(N_("The %(profile)s file in %(language)s could not be made, so the package was "
                              "not published; see the render jobs on the work's page and retry them."),
                              profile=p, language=lang)
    package.channels = sorted({r.channel for r in renditions})
    files = []
    total = sum(len(r.files) for r in renditions) or 1
    for r in renditions:
        prof = registry.resolve(table, r.profile)
        for f in r.files:
            key = f"media/{f['sha256']}"
            if not store.exists(key):
                store.copy(f["key"], key)
            if store.stat(key).size != f["size"]:  # never list an object that is not what we say
                store.delete(key)
                raise Conflict(N_("The object store returned a different size for %(key)s."), key=key)
            entry = {"key": key, "sha256": f["sha256"], "size": f["size"], "mime": f["mime"], "role": f["role"],
                     "language": r.language, "channel": r.channel, "profile": r.profile}
            if f["role"] in ("audio", "video"):
                entry["duration_s"] = round(r.duration_s, 3)
            if prof is not None and prof.kind == "video":
                entry["width"], entry["height"] = prof.width, prof.height
            files.append(entry)
            report(5 + int(80 * len(files) / total), f"media {len(files)} of {total} in place")
    for i, f in enumerate(files):
        session.add(PackageFile(package_id=package.id, position=i, channel=f["channel"], profile=f["profile"],
                                language=f["language"], role=f["role"], width=f.get("width"),
                                height=f.get("height"), entry=f))
    for code in package.area_codes or []:
        session.add(PackageArea(package_id=package.id, code=code))
    package.published_at = utcnow()
    manifest = build_manifest(session, at_revision, package, files)
    data = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode()
    key = f"packages/{work.id}/{package.version}/manifest.json"
    store.put_bytes(key, data, "application/json")
    package.manifest, package.manifest_key = {**manifest, "renditions": [r.id for r in renditions]}, key
    package.manifest_sha256 = hashlib.sha256(data).hexdigest()
    package.state = "published"
    replaced = list(session.scalars(select(Package).where(
        Package.work_id == work.id, Package.state == "published", Package.id != package.id)))
    for old in replaced:
        old.state = "superseded"  # its manifest and media stay readable until they expire
    session.flush()
    report(90, f"manifest written: {key}")
    # The live feed lists it as soon as this job commits; the static feeds (one per area with endpoints below
    # the package's areas: many for a package sent everywhere) are rewritten by a job of their own after it.
    _changed(session, work, package.published_by_id)
    report(99, "published; static feeds queued")


def _changed(session: Session, work: Work, user_id: int | None) -> None:
    """What feeds list changed: move the generation on (every live feed at once) and queue the static feeds."""
    _bump(session)
    jobs.create(session, "feeds", priority=work.priority, work_id=work.id, created_by_id=user_id, max_attempts=6,
                msg="static feeds to rewrite")


def retract(session: Session, caller: Caller, work: Work, reason: str) -> list[Package]:
    """Withdraw every live package of a work from all feeds at once; static feeds follow in a job."""
    withdrawn = list(session.scalars(select(Package).where(
        Package.work_id == work.id, Package.state.in_(("queued", "published", "superseded")))))
    for p in withdrawn:
        p.state, p.retracted_at, p.retracted_by_id, p.retract_reason = "retracted", utcnow(), caller.user.id, reason
    if withdrawn:
        _changed(session, work, caller.user.id)  # every live feed drops them at once
        audit.record(session, caller, "package.retract", "work", work.id, packages=[p.id for p in withdrawn],
                     reason=reason)
    return withdrawn


# ---- feeds -----------------------------------------------------------------------------------------------

def live(session: Session, now: datetime) -> list[Package]:
    """Published packages valid now or starting within the window, emergencies first."""
    return list(session.scalars(select(Package).where(*_live_clauses(now)).order_by(*_feed_order())))


def _live_clauses(now: datetime) -> list:
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
    fits = [PackageFile.package_id == Package.id, PackageFile.channel.in_(spec.channels)]
    if languages:
        fits.append(PackageFile.language.in_(languages))
    size = registry.parse_display(display)
    if size:
        fits.append(or_(PackageFile.width.is_(None), and_(PackageFile.width == size[0],
                                                          PackageFile.height == size[1])))
    where = _live_clauses(now or utcnow())
    if area is not None:
        sent_somewhere = exists().where(PackageArea.package_id == Package.id)
        sent_here = exists().where(PackageArea.package_id == Package.id, PackageArea.code.in_(areas.chain(area)))
        where.append(or_(~sent_somewhere, sent_here))
    if not spec.text_items:
        where.append(select(PackageFile.id).where(*fits).correlate(Package).exists())
    rows = session.execute(select(Package, PackageFile).outerjoin(PackageFile, and_(*fits)).where(*where)
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


_FEED_CACHE: dict[tuple, tuple[str, list[dict]]] = {}


def feed_items(session: Session, endpoint_id: int, kind: str, area: Area | None, display: str = "",
               now: datetime | None = None, languages: list[str] | None = None) -> tuple[str, list[dict]]:
    """The endpoint's feed items (without URLs) and their strong ETag.

    Cached per process by the feeds generation (bumped by every publish and retraction) and the minute, so an
    unchanged feed, the common poll, costs one primary-key read.
    """
    now = now or utcnow()
    key = _feed_key(str(session.get_bind().url), feeds_generation(session), now, kind, area.id if area else None,
                    display, languages)
    hit = _FEED_CACHE.get(key)
    if hit is None:
        items = [_item(p, files) for p, files in feed_query(session, kind, area, display, languages, now)]
        h = hashlib.sha256()
        for i in items:
            h.update(f"|{i['package_id']}:{i['manifest_sha256']}:{','.join(f['sha256'] for f in i['files'])}".encode())
        hit = (h.hexdigest()[:32], items)
        if len(_FEED_CACHE) > 10_000:
            _FEED_CACHE.clear()
        _FEED_CACHE[key] = hit
    return _etag(endpoint_id, hit[0]), hit[1]


def _feed_key(db_url: str, generation: int, now: datetime, kind: str, area_id: int | None, display: str,
              languages) -> tuple:
    return (db_url, generation, now.replace(second=0, microsecond=0), kind, area_id, display or "",
            tuple(languages or ()))


def _etag(endpoint_id: int, items_hash: str) -> str:
    return hashlib.sha256(f"{endpoint_id}:{items_hash}".encode()).hexdigest()[:32]


# An endpoint by its token's hash, with the feeds generation: all an unchanged poll needs, in one read.
_ENDPOINT_AND_GENERATION = select(
    Endpoint.id, Endpoint.kind, Endpoint.area_id, Endpoint.display, Endpoint.languages, Endpoint.active,
    select(Setting.value).where(Setting.key == "feeds").scalar_subquery(),
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

    def feed_key(self, db_url: str, now: datetime) -> tuple:
        """The key of this endpoint's audience (kind, area, display, languages) in the feed cache."""
        return _feed_key(db_url, self.generation, now, self.kind, self.area_id, self.display, self.languages)


def poller(conn, token_hash: str) -> Poller | None:
    """The active endpoint with this token hash, from one indexed read (no ORM: the poll path runs outside
    the web framework, studio/web/serving.py); None when there is no such active endpoint. `conn` is a
    SQLAlchemy Connection or Session."""
    row = conn.execute(_ENDPOINT_AND_GENERATION, {"h": token_hash}).first()
    if row is None or not row.active:
        return None
    return Poller(row.id, row.kind, row.area_id, row.display or "", tuple(row.languages or ()),
                  int((row[-1] or {}).get("gen", 0)))


def cached_feed(db_url: str, who: Poller, now: datetime | None = None) -> tuple[str, list[dict]] | None:
    """(ETag, items) of the endpoint's feed if this process computed its audience's feed for this generation
    and minute, else None (then `feed_items` computes it)."""
    hit = _FEED_CACHE.get(who.feed_key(db_url, now or utcnow()))
    return (_etag(who.id, hit[0]), hit[1]) if hit is not None else None


def unchanged_feed_etag(conn, db_url: str, token_hash: str, now: datetime | None = None) -> str | None:
    """An endpoint's feed ETag from one indexed read and the feed cache (see `poller` and `cached_feed`)."""
    who = poller(conn, token_hash)
    hit = cached_feed(db_url, who, now) if who is not None else None
    return hit[0] if hit is not None else None


_BODY_CACHE: dict[tuple, tuple[list, bytes]] = {}


def feed_body(store: ObjectStore, items: list[dict], ttl: timedelta, now: datetime | None = None) -> bytes:
    """The feed document (JSON bytes) with a presigned, Range-capable URL per file.

    Signing is the costly part of a 200 (an HMAC per file), so a document is built once per item list and
    half URL lifetime and then reused by every endpoint with the same items: URLs are signed for `ttl` at the
    start of their half-lifetime window, so each one handed out stays valid for at least `ttl / 2`
    (`url_ttl_s`).
    """
    now = now or utcnow()
    half = max(1, int(ttl.total_seconds()) // 2)
    window = int(now.timestamp()) // half
    key = (id(items), len(items), window, store.bucket)
    hit = _BODY_CACHE.get(key)
    if hit is not None and hit[0] is items:
        return hit[1]
    out = [{**i, "files": [{**f, "url": store.presign_get(f["key"], ttl)} for f in i["files"]],
            "manifest_url": store.presign_get(i["manifest_key"], ttl)} for i in items]
    body = json.dumps({"generated_at": _iso(now), "time_zone": clock.zone().key, "url_ttl_s": half,
                       "items": out}, ensure_ascii=False).encode()
    if len(_BODY_CACHE) > 1000:
        _BODY_CACHE.clear()
    _BODY_CACHE[key] = (items, body)  # holding `items` keeps its id from being reused by another list
    return body


def feeds_generation(session: Session) -> int:
    """A counter bumped whenever what any feed lists may have changed."""
    row = session.get(Setting, "feeds")
    return int((row.value or {}).get("gen", 0)) if row else 0


def _bump(session: Session) -> None:
    """Take the feed writers' lock (a row update, held until commit) and move the generation on."""
    # Two first publishes at once must not both insert the row: insert it unless it is there (both dialects).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(Setting).values(key="feeds", value={"gen": 0}).on_conflict_do_nothing(
        index_elements=["key"]))
    gen = feeds_generation(session)
    session.execute(update(Setting).where(Setting.key == "feeds").values(value={"gen": gen + 1}))
    session.expire(session.get(Setting, "feeds"))


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
    _bump(session)  # serialises writers: each sees the others' committed packages
    now = utcnow()
    areas = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(area_codes)))}
    keys = []
    for code in sorted(set(area_codes)) or ["all"]:
        if code != "all" and code not in areas:
            continue  # an area deleted since: nobody reads its feed
        for kind in registry.ENDPOINT_KINDS:
            items = [_item(p, files) for p, files in feed_query(session, kind, areas.get(code), now=now)]
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
