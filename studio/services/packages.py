"""Packages: publishing makes immutable, versioned packages of an approved work in the object store.

Object layout (see docs/ARCHITECTURE.md):
  media/<sha256>                           content-addressed media, shared between packages
  packages/<work id>/<version>/manifest.json   written last: a package exists once its manifest does

A publish or a retraction moves the feeds generation on and queues the static feeds (services/feeds.py).
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import profiles as registry
from storage.models import Job, Package, PackageArea, PackageFile, Rendition, Translation, Work, utcnow
from storage.objectstore import ObjectStore
from studio.errors import N_, Conflict, ValidationError
from studio import jobs
from studio.services import Caller, audit, cap_out, channels, clock, feeds, programme, rendering, works

SCHEMA_VERSION = 1
SCHEMA_URL = "https://studio.invalid/schemas/manifest-1.json"  # docs/manifest.schema.json
URGENCY = {"emergency": 1, "priority": 3, "normal": 5}  # NINJS urgency


def _iso(dt: datetime | None) -> str | None:
    return clock.iso(dt)


def _renditions(session: Session, work: Work) -> list[Rendition]:
    """The newest rendition per (language, profile) of the approved revision, in approved languages only."""
    approved = set(channels.approved_languages(session, work))
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
    render_jobs = rendering.queue(session, caller, work, languages=sorted({n.language for n in missing}),
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


def build_manifest(session: Session, work: Work, package: Package, files: list[dict],
                   texts: dict[str, dict] | None = None, cap: dict | None = None) -> dict:
    """The package's manifest (schema version 1, docs/manifest.schema.json) with a NINJS item for portals.

    `work` is the work at the package's revision; `texts` carries the approved translations' text, `cap` an
    emergency's CAP document (cap_out.attach)."""
    texts = approved_texts(session, work) if texts is None else texts
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
        "playback": feeds.playback(package.priority), "texts": texts,
        "approved_by": approver, "published_by": package.published_by_id, "published_at": _iso(package.published_at),
        "files": files, **({"cap": cap} if cap else {}),
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


@jobs.handler("publish", needs=("store", "cap"), timeout=lambda _s, _j: 1800)
def run_publish(ctx: jobs.Context, store: ObjectStore, cap: cap_out.Settings) -> None:
    """The publish job."""
    deliver(ctx.session, store, ctx.job, ctx.progress, cap)


def deliver(session: Session, store: ObjectStore, job: Job, report: Callable[[int, str], None],
            cap: cap_out.Settings | None = None) -> None:
    """The publish job: copy media to content addresses (and an emergency's CAP document), write the manifest
    last, then the feeds."""
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
               if n.endpoint_id is None and not n.optional and (n.language, n.profile) not in have]
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
    package.published_at = utcnow()
    texts, alert = approved_texts(session, at_revision), None
    if package.priority == "emergency":
        entry, alert = cap_out.attach(session, store, cap or cap_out.Settings(), at_revision, package, files, texts)
        files.append(entry)
        report(88, f"CAP document written: {entry['key']}")
    for i, f in enumerate(files):
        session.add(PackageFile(package_id=package.id, position=i, channel=f["channel"], profile=f["profile"],
                                language=f["language"], role=f["role"], width=f.get("width"),
                                height=f.get("height"), entry=f))
    for code in package.area_codes or []:
        session.add(PackageArea(package_id=package.id, code=code))
    manifest = build_manifest(session, at_revision, package, files, texts, alert)
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
    """What feeds list changed: move the generation on (every live feed at once) and queue the static feeds and
    the commune sites."""
    feeds.bump(session)
    jobs.create(session, "feeds", priority=work.priority, work_id=work.id, created_by_id=user_id, max_attempts=6,
                msg="static feeds to rewrite")
    # The commune sites that show it (studio/web/site_export.py), after the feeds.
    jobs.create(session, "sites", priority=work.priority, work_id=work.id, created_by_id=user_id, max_attempts=3,
                msg="commune sites to rebuild")


def retract(session: Session, caller: Caller, work: Work, reason: str) -> list[Package]:
    """Withdraw every live package of a work from all feeds at once, and the work from every commune's programme;
    static feeds follow in a job."""
    withdrawn = list(session.scalars(select(Package).where(
        Package.work_id == work.id, Package.state.in_(("queued", "published", "superseded")))))
    for p in withdrawn:
        p.state, p.retracted_at, p.retracted_by_id, p.retract_reason = "retracted", utcnow(), caller.user.id, reason
    if withdrawn:
        _changed(session, work, caller.user.id)  # every live feed drops them at once
        audit.record(session, caller, "package.retract", "work", work.id, packages=[p.id for p in withdrawn],
                     reason=reason, items=programme.cancel_for_work(session, work.id))
    return withdrawn
