"""Where a commune site's exported files live in the object store, and how they are served (shared by the
pages, studio/web/sites.py, and the export, studio/web/site_export.py)."""
from __future__ import annotations

import json

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
