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


def test_pictures_come_in_responsive_sizes_as_webp_and_jpeg_with_their_dimensions(app, web, store, province,
                                                                                   db_session):
    import hashlib
    import io
    import re

    from PIL import Image

    from storage.models import Asset
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    work = live_item(db_session, admin, "Khánh thành cầu treo Nậm Ty", ["00961"])
    buf = io.BytesIO()
    Image.new("RGB", (1500, 1000), (30, 120, 200)).save(buf, "PNG")
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    store.put_bytes(f"assets/{digest}.png", data, "image/png")
    db_session.add(Asset(work_id=work.id, kind="image", original_name="cau.png", safe_name=f"{digest}.png",
                         mime="image/png", size=len(data), sha256=digest, object_key=f"assets/{digest}.png",
                         width=1500, height=1000, uploaded_by_id=admin.id))
    db_session.commit()
    page = web.get(f"/x/00961/items/{work.id}/").get_data(as_text=True)
    assert '<source type="image/webp"' in page and 'width="640" height="427"' in page
    srcset = re.search(r'<source type="image/webp" sizes="[^"]+" srcset="([^"]+)"', page).group(1)
    urls = [part.strip().split()[0] for part in srcset.split(",")]
    assert [u.rsplit("-", 1)[1] for u in urls] == ["320.webp", "640.webp", "1024.webp"]
    for url, width in zip(urls, (320, 640, 1024)):
        im = Image.open(io.BytesIO(web.get(url).get_data()))
        assert (im.format, im.size) == ("WEBP", (width, round(1000 * width / 1500)))
    jpg = Image.open(io.BytesIO(web.get(urls[1].replace(".webp", ".jpg")).get_data()))
    assert (jpg.format, jpg.size) == ("JPEG", (640, 427))
    assert web.get(urls[0].replace("-320.", "-333.")).status_code == 404  # only the listed widths
    _export(app, store, db_session, ["00961"])
    stored = Image.open(io.BytesIO(store.get_bytes(f"sites/00961/img/{work.id}/{urls[0].rsplit('/', 1)[1]}")))
    assert stored.format == "WEBP" and stored.width == 320


def test_an_item_that_ends_or_starts_is_rebuilt_on_time_and_never_served_stale(app, web, store, province,
                                                                               db_session):
    """An item ending and one starting a few seconds from now: the expiry job is queued for that moment (moved
    forward from a later one), the studio stops serving the stored copy at that moment, and the job rewrites
    it (time passes for real here: a sleep of a few seconds, no wall-clock limit)."""
    import json
    import time
    from datetime import timedelta

    from storage.models import Job, utcnow
    from studio.extensions import db
    from studio.services import feeds, site_changes
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    now = utcnow()
    fair = live_item(db_session, admin, "Hội chợ nông sản cuối tuần", ["00961"], valid_until=now + timedelta(days=3))
    feeds.bump(db_session)
    db_session.commit()
    with app.app_context():
        later = site_changes.queue_expiry(db.session)
        db.session.commit()
        ends = db.session.scalar(select(Package.valid_until).where(Package.work_id == fair.id))
        assert later.run_after == ends + timedelta(seconds=1)
        later_id = later.id
    moment = now + timedelta(seconds=8)  # room for a slow machine to export before that moment
    ending = live_item(db_session, admin, "Thông báo cắt điện sáng nay", ["00961"], valid_until=moment)
    starting = live_item(db_session, admin, "Lịch tiêm phòng dại cho chó mèo", ["00961"], valid_from=moment)
    feeds.bump(db_session)
    db_session.commit()
    with app.app_context():
        job = site_changes.queue_expiry(db.session)
        db.session.commit()
        assert job.id == later_id and job.run_after == moment + timedelta(seconds=1)  # moved forward, not doubled
    _export(app, store, db_session, ["00961"])
    stored = store.get_bytes("sites/00961/index.html")
    assert ending.title in stored.decode() and starting.title not in stored.decode()
    until = json.loads(store.get_bytes("sites/00961/manifest.json"))["until"]
    assert until == moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    served = web.get("/x/00961/")
    assert served.get_data() == stored  # the studio serves the stored copy while it holds
    time.sleep(max(0.0, (moment - utcnow()).total_seconds()) + 1.5)
    live = web.get("/x/00961/").get_data(as_text=True)
    assert ending.title not in live and starting.title in live and fair.title in live  # rendered, not the copy
    with app.app_context():
        app.extensions["jobs"].drain()  # the worker's loop, in this thread: the expiry job is due
        assert db.session.get(Job, later_id).state == "succeeded"
    rebuilt = store.get_bytes("sites/00961/index.html").decode()
    assert ending.title not in rebuilt and starting.title in rebuilt and fair.title in rebuilt
    assert not any(f"/items/{ending.id}/" in o.key for o in store.list("sites/00961/"))
    assert web.get("/x/00961/").get_data(as_text=True) == rebuilt  # the copy again


def test_a_copy_another_process_exported_is_served_again_soon_after(app, web, store, province, db_session):
    """A standalone worker (here: the parallel export's own spawned process, with its own app) brings the copy
    up to date after a publish: the studio, which rendered the page meanwhile, serves the stored copy again
    once it looks at the manifest again (at most Manifests.RECHECK_S later), not only at the next publish."""
    import time

    from studio.services import feeds
    from studio.web import site_export
    from studio.web.site_files import Manifests
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    live_item(db_session, admin, "Thông báo họp dân thôn Khuổi Luông", ["00961"])
    db_session.commit()
    stored = lambda: store.get_bytes("sites/00961/index.html")  # noqa: E731
    with app.app_context():
        site_export.export_parallel(app, ["00961"], processes=1)
    assert web.get("/x/00961/").get_data() == stored()  # the copy (it says data-local: written for it)
    assert b"data-local=" in stored()
    live_item(db_session, admin, "Lịch tiêm phòng dại cho chó mèo", ["00961"])
    feeds.bump(db_session)
    db_session.commit()
    page = web.get("/x/00961/").get_data(as_text=True)
    assert "phòng dại" in page and "data-local=" not in page  # not exported yet: rendered by the studio
    with app.app_context():
        site_export.export_parallel(app, ["00961"], processes=1)
    assert "phòng dại".encode() in stored()
    time.sleep(Manifests.RECHECK_S)
    assert web.get("/x/00961/").get_data() == stored()  # the copy again
