"""Commune websites at national scale (issue #26), measured on this machine's cores against a real SeaweedFS.

1. A province of 2,000 communes (30 districts) and 30,000 live items (200 for the province, 60 per district,
   the rest for communes, 14 or 15 each): the first full build of every site into the object store, with the
   pages written and their bytes. Target <= 10 min.
2. An incremental rebuild after one publish (a commune's item): only that commune's site renders again, and
   only its changed pages are written. Target <= 5 s.
3. The object store serving an exported home against any object of the same size (random bytes), each by
   presigned GET over one kept-alive connection, side by side: requests per second and the ratio. Target
   >= 0.9.
4. Page weights: a commune's home, an item page, a list page, raw and gzipped (target < 30 KB gzipped).

Run: .venv/bin/python bench/bench_sites.py [--communes 2000] [--items 30000]
Traffic goes to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.seaweed import EmbeddedSeaweed  # noqa: E402

TOPICS = ["Y tế", "Giáo dục", "Nông nghiệp", "Giao thông", "An ninh"]
KINDS = ["article", "eboard_notice", "radio_bulletin", "article", "eboard_notice"]


def seed(instance: Path, s3_url: str, communes: int, items: int):
    """The province, its areas and its live items, written in bulk (the sites' rules are tested elsewhere)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from media_pipeline.text.unicode import fold
    from storage.models import Area, Package, PackageArea, Revision, Work, utcnow
    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, feeds
    app = create_app({"QUEUE_URL": "memory://", "WHISPER_MODEL": ""},
                     environ={"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url})
    with app.app_context():
        upgrade()
        s = db.session
        admin = accounts.create_user(s, Caller(None), "bench-admin", "bench-password-1", ["admin"], system=True)
        s.commit()
        districts = 30
        s.execute(insert(Area), [{"id": 1, "code": "02", "name": "Hà Giang", "level": "province", "parent_id": None}])
        s.execute(insert(Area), [{"id": 2 + d, "code": f"02.{d:03d}", "name": f"Huyện {d}", "level": "district",
                                  "parent_id": 1} for d in range(districts)])
        first = 2 + districts
        s.execute(insert(Area), [{"id": first + c, "code": f"{c:05d}", "name": f"Xã {c}", "level": "commune",
                                  "parent_id": 2 + c % districts} for c in range(communes)])
        targets = ["02"] * 200 + [f"02.{d:03d}" for d in range(districts) for _ in range(60)]
        targets += [f"{c % communes:05d}" for c in range(items - len(targets))]
        now = utcnow()
        works, revisions, packages, areas_ = [], [], [], []
        for n, code in enumerate(targets, 1):
            title = f"Thông báo số {n} về lịch tiêm chủng và họp dân"
            summary = "Ủy ban nhân dân xã thông báo lịch làm việc trong tuần tới để bà con biết."
            body = "Nội dung thông báo. " * 20
            works.append({"id": n, "kind": KINDS[n % 5], "state": "published", "title": title, "summary": summary,
                          "body": body, "source_language": "vi", "topics": [TOPICS[n % 5]], "channels": ["web"],
                          "priority": "normal", "time_slots": [], "meta": {}, "chapters": [],
                          "search_text": fold(f"{title}\n{summary}\n{body}"), "author_id": admin.id, "version": 1,
                          "current_revision": 1, "published_revision": 1, "published_at": now, "created_at": now,
                          "updated_at": now})
            revisions.append({"work_id": n, "number": 1, "author_id": admin.id, "note": "", "created_at": now,
                              "snapshot": {"title": title, "summary": summary, "body": body, "chapters": []}})
            packages.append({"id": n, "work_id": n, "version": 1, "revision": 1, "state": "published",
                             "priority": "normal", "area_codes": [code], "channels": ["web"], "manifest_key": "",
                             "manifest_sha256": "", "published_by_id": admin.id,
                             "published_at": now - timedelta(seconds=n), "retract_reason": "", "created_at": now,
                             "updated_at": now,
                             "manifest": {"title": {"vi": title}, "summary": summary, "source_language": "vi",
                                          "texts": {}, "files": []}})
            areas_.append({"package_id": n, "code": code})
        for table, rows in ((Work, works), (Revision, revisions), (Package, packages), (PackageArea, areas_)):
            for i in range(0, len(rows), 5000):
                s.execute(insert(table), rows[i:i + 5000])
        feeds.bump(s)
        s.commit()
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--communes", type=int, default=2000)
    ap.add_argument("--items", type=int, default=30000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        try:
            t = time.perf_counter()
            app = seed(tmp / "instance", weed.url, args.communes, args.items)
            print(f"seeded {args.communes} communes and {args.items} live items in {time.perf_counter() - t:.0f} s; "
                  f"{os.cpu_count()} cores")
            from studio.extensions import db
            from studio.services import site_changes
            from studio.web import site_export
            from tests.web.site_cases import live_item
            store = app.extensions["objectstore"]
            with app.app_context():
                codes = site_changes.affected(db.session, [])
                t = time.perf_counter()
                done = site_export.export_parallel(app, codes, processes=os.cpu_count() or 1)
                full = time.perf_counter() - t
                print(f"1. first full build: {done.sites} sites, {done.written} pages and files "
                      f"({done.bytes / 1e6:.0f} MB) in {full:.0f} s ({done.written / full:.0f} a second); "
                      f"target <= 600 s")

                from storage.models import User
                admin = db.session.query(User).filter_by(username="bench-admin").one()
                work = live_item(db.session, admin, "Thông báo mới của xã", ["00007"])
                db.session.commit()
                from studio.services import feeds
                feeds.bump(db.session)
                db.session.commit()
                t = time.perf_counter()
                again = site_export.export(app, store, db.session, site_changes.affected(
                    db.session, site_changes.package_codes(db.session, work.id)))
                inc = time.perf_counter() - t
                print(f"2. after one publish (a commune's item): {again.sites} site(s) rendered again, "
                      f"{again.written} pages written, {again.unchanged} unchanged, in {inc:.2f} s; target <= 5 s")

                home = store.get_bytes("sites/00007/index.html")
                filler = os.urandom(len(home))
                store.put_bytes("bench/same-size.bin", filler, "application/octet-stream")
                http = requests.Session()
                rates = {"exported home": [], "same-size object": []}
                for _ in range(5):  # alternating rounds, side by side
                    for name, key in (("exported home", "sites/00007/index.html"),
                                      ("same-size object", "bench/same-size.bin")):
                        url = store.presign_get(key, timedelta(minutes=10))
                        t = time.perf_counter()
                        for _ in range(300):
                            r = http.get(url, timeout=30)
                            assert r.status_code == 200 and len(r.content) == len(home)
                        rates[name].append(300 / (time.perf_counter() - t))
                a, b = statistics.median(rates["exported home"]), statistics.median(rates["same-size object"])
                print(f"3. the object store serving {len(home)} bytes: the exported home {a:.0f}/s, a same-size object "
                      f"{b:.0f}/s, ratio {a / b:.2f}; target >= 0.9")
                item = next(o.key for o in store.list("sites/00007/items/"))
                listing = store.get_bytes("sites/00007/tin-tuc/index.html")
                print("4. page weights (raw / gzipped):")
                for name, data in (("commune home", home), ("item page", store.get_bytes(item)),
                                   ("list page", listing)):
                    print(f"   {name:13s} {len(data) / 1024:6.1f} KB / {len(gzip.compress(data)) / 1024:5.1f} KB "
                          "(target < 30 KB gzipped)")
                index = store.get_bytes("sites/00007/search.json")  # fetched only when someone searches
                print(f"   {'search index':13s} {len(index) / 1024:6.1f} KB / "
                      f"{len(gzip.compress(index)) / 1024:5.1f} KB (the static copy's search, fetched on a search)")
        finally:
            weed.stop()


if __name__ == "__main__":
    main()
