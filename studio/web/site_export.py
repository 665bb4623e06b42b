"""The commune sites written as static files to the object store, under `sites/<code>/` (issue #26).

Each page is rendered by the site's own views (through the app's test client, with the export header: the
same HTML as /x/<code>/ serves, with the search form and the questions form pointing at the studio, media at
the studio's address) and stored as `sites/<code>/<path>index.html` (files as themselves). A site's
`manifest.json` keeps each page's SHA-256: a rebuild renders the site again and writes only the pages whose
bytes changed, and deletes the pages it no longer has (a retracted item's page, a list that emptied).

What to rebuild: a publish or a retraction rebuilds the sites of the package's areas and of every area below
them (`affected`); an expiry, the sites of the packages that expired since the last look (the `sites` job with
no work queues itself for the next expiry). The job lives in the web layer because it renders templates.
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
from studio.services import feeds, site_changes, sites
from studio.web.site_files import EXPORT_HEADER, FILES, key_for, manifest, mime_of
from studio.web.sites import site_paths

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
    out = Written(sites=1)
    info = sites.site(session, code)
    cache = app.extensions.setdefault("site_items", sites.ItemCache())
    found = cache.items(session, info)
    paths = site_paths(info, found) + list(FILES) + (["logo"] if info.logo else [])
    generation = feeds.generation(session)
    before = manifest(store, code)["pages"]
    after: dict[str, str] = {}
    for path, status, data in _render(app, code, paths):
        if status != 200:
            log.warning("site %s: /%s answered %s; left out", code, path, status)
            continue
        digest = after[path] = hashlib.sha256(data).hexdigest()
        if before.get(path) == digest:
            out.unchanged += 1
            continue
        store.put_bytes(key_for(code, path), data, mime_of(path))
        out.written += 1
        out.bytes += len(data)
    for path in set(before) - set(after):
        store.delete(key_for(code, path))
        out.deleted += 1
    store.put_bytes(f"sites/{code}/manifest.json", json.dumps({"generation": generation, "pages": after},
                                                              sort_keys=True).encode(), "application/json")
    return out


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


def export(app: Flask, store: ObjectStore, session: Session, codes: list[str]) -> Written:
    """Export these sites."""
    total = Written()
    for code in codes:
        total.add(export_site(app, store, session, code))
    return total


@jobs.handler("sites", needs=("store", "app"), timeout=lambda _s, _j: 3600)
def run_sites(ctx: jobs.Context, store: ObjectStore, app: Flask) -> None:
    """Rebuild the sites a publish or retraction changed (a job with a work), or those of expired items."""
    session, job = ctx.session, ctx.job
    if job.work_id is not None:
        codes = site_changes.affected(session, site_changes.package_codes(session, job.work_id))
    else:
        codes = site_changes.expired(session)
    done = export(app, store, session, codes)
    site_changes.queue_expiry(session)
    ctx.progress(99, f"{done.sites} sites: {done.written} pages written, {done.unchanged} unchanged, "
                     f"{done.deleted} removed")
