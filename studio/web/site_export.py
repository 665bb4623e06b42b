"""The commune sites written as static files to the object store, under `sites/<code>/` (issue #26).

Each page is rendered by the site's own views (through the app's test client, with the export header: the
same HTML as /x/<code>/ serves, with the search form and the questions form pointing at the studio, media at
the studio's address) and stored as `sites/<code>/<path>index.html` (files as themselves). A site's
`manifest.json` keeps each page's SHA-256: a rebuild renders the site again and writes only the pages whose
bytes changed, and deletes the pages it no longer has (a retracted item's page, a list that emptied).

What to rebuild: a publish or a retraction rebuilds the sites of the package's areas and of every area below
them (`affected`); an expiry or a scheduled start, the sites of the packages that ended or started since the
last look (the `sites` job with no work queues itself for the next such moment). The manifest says until when
the copy holds (`until`): past it, the studio renders the pages itself until the job has caught up. The job
lives in the web layer because it renders templates.
"""
from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from storage.objectstore import ObjectStore
from studio import jobs
from studio.services import site_changes, sites
from studio.web.site_files import EXPORT_HEADER, FILES, STAMP, key_for, manifest, mime_of
from studio.web.sites import manifests, site_paths

log = logging.getLogger(__name__)


@dataclass
class Written:
    """What one export did."""

    sites: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    bytes: int = 0

    def add(self, other: "Written") -> None:
        for k in ("sites", "written", "unchanged", "deleted", "bytes"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def export_site(app: Flask, store: ObjectStore, session: Session, code: str) -> Written:
    """Render one site and write what changed."""
    return _upload(app, store, _plan(app, store, session, code))


@dataclass
class _Plan:
    code: str
    generation: str
    put: list[tuple[str, bytes]]
    delete: list[str]
    pages: dict[str, str]
    unchanged: int
    until: str  # UTC: when an item of the copy ends or a scheduled one starts (the copy is stale from then)


def _upload(app: Flask, store: ObjectStore, plan: _Plan) -> Written:
    for path, data in plan.put:
        store.put_bytes(key_for(plan.code, path), data, mime_of(path))
    for path in plan.delete:
        store.delete(key_for(plan.code, path))
    written = {"generation": plan.generation, "until": plan.until, "pages": plan.pages}
    store.put_bytes(f"sites/{plan.code}/manifest.json", json.dumps(written, sort_keys=True).encode(),
                    "application/json")
    manifests(app).remember(plan.code, written)  # this process serves the new copy at once
    return Written(sites=1, written=len(plan.put), unchanged=plan.unchanged, deleted=len(plan.delete),
                   bytes=sum(len(d) for _, d in plan.put))


def _plan(app: Flask, store: ObjectStore, session: Session, code: str) -> _Plan:
    """Render one site; what to write and delete."""
    cache = app.extensions.setdefault("site_items", sites.ItemCache())
    info, found, until = cache.read(session, code)
    cache.pinned[code] = (info, found)
    owned = [i.work_id for i in found if i.owner(info.chain) == info.area.code]
    pictures = {wid: sites.pictures(session, wid) for wid in owned}
    paths = site_paths(info, found, pictures) + list(FILES) + (["logo"] if info.logo else [])
    generation = sites.generation(session)
    before = manifest(store, code)["pages"]
    after: dict[str, str] = {}
    put, unchanged = [], 0
    try:
        rendered = _render(app, code, paths)
    finally:
        cache.pinned.pop(code, None)
    for path, status, data in rendered:
        if status != 200:
            log.warning("site %s: /%s answered %s; left out", code, path, status)
            continue
        digest = after[path] = hashlib.sha256(data).hexdigest()
        if before.get(path) == digest:
            unchanged += 1
        else:
            put.append((path, data))
    return _Plan(code, generation, put, sorted(set(before) - set(after)), after, unchanged,
                 until.strftime(STAMP))


def _render(app: Flask, code: str, paths: list[str]) -> list[tuple[str, int, bytes]]:
    """The pages as the site's views answer them, requested through the app's test client in a thread of its
    own: a fresh application context and database session, never the caller's (a job may run inside a
    request's commit, whose session must not be touched)."""
    def run() -> list[tuple[str, int, bytes]]:
        client = app.test_client()
        out = []
        for path in paths:
            resp = client.get(f"/x/{code}/{path}", headers={EXPORT_HEADER: "1"})
            out.append((path, resp.status_code, resp.get_data()))
        return out
    with ThreadPoolExecutor(1, thread_name_prefix="site-export") as pool:
        return pool.submit(run).result()


CHILD_CONFIG = ("SQLALCHEMY_DATABASE_URI", "S3_URL", "PUBLIC_URL", "SITE_TITLE", "SECRET_KEY", "TIMEZONE",
                "FEEDBACK_PHONE_DAYS", "INSTANCE")
_child: dict = {}


def _child_start(config: dict) -> None:
    """A process of a parallel export: its own app on the same database and store."""
    from studio import create_app
    _child["app"] = create_app({**config, "QUEUE_URL": "memory://"}, environ={"STUDIO_INSTANCE": config["INSTANCE"]})


def _child_export(codes: list[str]) -> Written:
    from studio.extensions import db
    app = _child["app"]
    with app.app_context():
        return export(app, app.extensions["objectstore"], db.session, codes, workers=2)


def export_parallel(app: Flask, codes: list[str], processes: int) -> Written:
    """A full build over `processes` processes (rendering is bound to one core per process), each taking every
    n-th site; each writes through its own connections."""
    import multiprocessing
    import multiprocessing.resource_tracker
    from concurrent.futures import ProcessPoolExecutor
    config = {k: app.config[k] for k in CHILD_CONFIG}
    chunks = [codes[i::processes] for i in range(processes)]
    total = Written()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"), initializer=_child_start,
                             initargs=(config,)) as pool:
        for done in pool.map(_child_export, [c for c in chunks if c]):
            total.add(done)
    # Spawning started multiprocessing's resource tracker, a process of its own that would live as long as
    # this one (a server's): stop it now; multiprocessing starts it again when it needs it.
    stop = getattr(multiprocessing.resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()
    return total


def export(app: Flask, store: ObjectStore, session: Session, codes: list[str], workers: int = 1) -> Written:
    """Export these sites (`workers` at a time: the object store's writes overlap the next site's rendering)."""
    total = Written()
    if workers <= 1:
        for code in codes:
            total.add(export_site(app, store, session, code))
        return total
    with ThreadPoolExecutor(workers, thread_name_prefix="site-upload") as pool:
        for done in [pool.submit(_upload, app, store, plan)
                     for plan in (_plan(app, store, session, c) for c in codes)]:
            total.add(done.result())
    return total


@jobs.handler("sites", needs=("store", "app"), timeout=lambda _s, _j: 3600)
def run_sites(ctx: jobs.Context, store: ObjectStore, app: Flask) -> None:
    """Rebuild the sites a publish or retraction changed (a job with a work), one site whose settings changed
    (its code in `profile`), or those of expired items (neither)."""
    session, job = ctx.session, ctx.job
    if job.work_id is not None:
        codes = site_changes.affected(session, site_changes.package_codes(session, job.work_id))
    elif job.profile:  # one site's settings changed
        codes = [job.profile]
    else:
        codes = site_changes.expired(session)
    done = export(app, store, session, codes)
    site_changes.queue_expiry(session)
    ctx.progress(99, f"{done.sites} sites: {done.written} pages written, {done.unchanged} unchanged, "
                     f"{done.deleted} removed")
