"""Where a commune site's exported files live in the object store, and how they are served (shared by the
pages, studio/web/sites.py, and the export, studio/web/site_export.py)."""
from __future__ import annotations

import json
import threading
import time

from storage.models import utcnow
from storage.objectstore import ObjectNotFound, ObjectStore

EXPORT_HEADER = "X-Studio-Export"  # a page rendered for the static copy
STAMP = "%Y-%m-%dT%H:%M:%S.%f"  # the manifest's `until`, UTC: compared as text
FILES = {"rss.xml": "application/rss+xml", "sitemap.xml": "application/xml", "search.json": "application/json",
         "assets/site.css": "text/css", "assets/site-search.js": "text/javascript"}


def key_for(code: str, path: str) -> str:
    """The object key of a site's page or file."""
    return f"sites/{code}/{path}index.html" if path == "" or path.endswith("/") else f"sites/{code}/{path}"


def mime_of(path: str) -> str:
    """The Content-Type a site's page or file is stored and served with."""
    if path in FILES:
        return FILES[path]
    if path == "logo":
        return "image/png"
    if path.startswith("img/"):
        return "image/webp" if path.endswith(".webp") else "image/jpeg"
    return "text/html; charset=utf-8"


def manifest(store: ObjectStore, code: str) -> dict:
    """A site's export manifest: {"generation": the feeds generation it was written at, "until": the UTC moment
    an item of it ends or a scheduled one starts, "pages": {path: sha256}}."""
    try:
        return json.loads(store.get_bytes(f"sites/{code}/manifest.json"))
    except ObjectNotFound:
        return {"generation": None, "until": None, "pages": {}}


def holds(m: dict, generation: str) -> bool:
    """Whether an export manifest is current: written at this generation, and no item of it has ended or
    (scheduled) started since."""
    return m.get("generation") == generation and bool(m.get("until")) and utcnow().strftime(STAMP) < m["until"]


class Manifests:
    """The sites' export manifests as this process last saw them (app.extensions["site_manifests"]), so a page
    served from the stored copy costs one read of the store, not two. An export in this process tells it what
    it wrote (`remember`); one that does not hold is read again at most every RECHECK_S seconds, so a copy an
    export in another process (a standalone worker) brought up to date is served again soon after."""

    RECHECK_S = 2.0

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, dict, float]] = {}  # code: (generation asked at, manifest, when read)
        self._lock = threading.Lock()

    def current(self, store: ObjectStore, code: str, generation: str) -> dict | None:
        """The site's manifest when its copy holds now, else None (StorageError when the store is down)."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(code)
        if seen is None or seen[0] != generation or (not holds(seen[1], generation)
                                                     and now - seen[2] >= self.RECHECK_S):
            seen = (generation, manifest(store, code), now)
            with self._lock:
                self._seen[code] = seen
        return seen[1] if holds(seen[1], generation) else None

    def remember(self, code: str, m: dict) -> None:
        """What an export just wrote for a site."""
        with self._lock:
            self._seen[code] = (m.get("generation"), m, time.monotonic())
