"""The commune sites as static files in the object store (issue #26): the changed pages written, nothing stale
after a retraction, the exported home served by the object store itself (SeaweedFS, a presigned GET) and by
the studio's /x/ routes, and the pages' weight."""
from __future__ import annotations

import gzip

import requests
from sqlalchemy import select

from storage.models import Package, User
from tests.web.site_cases import live_item
from tests.web.test_sites import province  # noqa: F401 (fixture)


def _export(app, store, db_session, codes):
    from studio.web import site_export
    with app.app_context():
        return site_export.export(app, store, db_session, codes)


def test_the_export_writes_what_changed_and_nothing_stale_after_a_retraction(app, store, province, db_session):
    from studio.services import feeds
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    own = live_item(db_session, admin, "Lịch tiêm chủng tháng Mười Hai", ["00961"], topics=["Y tế"])
    prov = live_item(db_session, admin, "Tỉnh hướng dẫn phòng chống rét", ["02"])
    other = live_item(db_session, admin, "Tin của xã Phương Tiến", ["00962"])
    db_session.commit()
    first = _export(app, store, db_session, ["00961", "02"])
    keys = {o.key for o in store.list("sites/")}
    assert f"sites/00961/items/{own.id}/index.html" in keys and "sites/00961/index.html" in keys
    assert f"sites/02/items/{prov.id}/index.html" in keys  # the province's item lives on the province's site
    assert f"sites/00961/items/{prov.id}/index.html" not in keys
    assert not any(f"/items/{other.id}/" in k for k in keys)
    home = store.get_bytes("sites/00961/index.html").decode()
    assert own.title in home and prov.title in home and other.title not in home
    assert f'href="/x/02/items/{prov.id}/"' in home  # linked where it lives
    for name in ("rss.xml", "sitemap.xml", "search.json", "assets/site.css", "assets/site-search.js"):
        assert f"sites/00961/{name}" in keys
    assert first.unchanged == 0 and first.deleted == 0 and first.written == len(keys) - 2  # - the manifests

    # Unchanged: nothing is written again.
    again = _export(app, store, db_session, ["00961"])
    assert again.written == 0 and again.unchanged > 5

    # Retracted: its page goes, the home and lists no longer list it, and only what changed is written.
    pk = db_session.scalar(select(Package).where(Package.work_id == own.id))
    pk.state = "retracted"
    feeds.bump(db_session)
    db_session.commit()
    after = _export(app, store, db_session, ["00961"])
    keys = {o.key for o in store.list("sites/00961/")}
    assert f"sites/00961/items/{own.id}/index.html" not in keys
    assert not any("chu-de/Y" in k for k in keys)  # the topic emptied
    assert own.title not in store.get_bytes("sites/00961/index.html").decode()
    assert own.title not in store.get_bytes("sites/00961/search.json").decode()
    assert after.deleted >= 2 and 0 < after.written < again.unchanged


def test_the_object_store_and_the_studio_serve_the_exported_home(app, store, province, db_session, live_server):
    from datetime import timedelta
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    live_item(db_session, admin, "Thông báo họp dân thôn Khuổi Luông", ["00961"])
    db_session.commit()
    _export(app, store, db_session, ["00961"])
    stored = store.get_bytes("sites/00961/index.html")
    url = store.presign_get("sites/00961/index.html", timedelta(minutes=5))
    direct = requests.get(url, timeout=30)
    assert direct.status_code == 200 and direct.content == stored
    assert direct.headers["Content-Type"].startswith("text/html")
    assert requests.get(url.split("?")[0], timeout=30).status_code == 403  # never to anonymous requests
    served = requests.get(f"{live_server}/x/00961/", timeout=30)
    assert served.status_code == 200 and served.content == stored  # the studio serves the same file
    assert served.headers["ETag"].strip('"') and "Khuổi Luông" in served.text
    # Light enough for a cheap phone on 3G.
    assert len(gzip.compress(stored)) < 30 * 1024
    assert "preload=\"auto\"" not in stored.decode() and "@font-face" not in store.get_bytes(
        "sites/00961/assets/site.css").decode()
