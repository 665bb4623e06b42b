"""The commune's programme at a province's scale (issue #24), measured side by side in one run.

The province: 2,000 communes under 20 districts and 20,000 loudspeaker endpoints (10 per commune, in 5 zones
of 2). Its programme, about 14,000 items: 2 priority works scheduled daily for the province with a replay, 2
normal works offered and accepted by every commune at its own minute (so their rules differ), and 3 items of
each commune's own (two daily, in a zone; one weekly), about 8.7 plays a day per endpoint.

1. Every endpoint's 7-day programme. Ours: `occurrences.Book` (one query, each rule expanded once, then per
   audience) as the feed builds it. Beside it, the same work done directly with the library: per endpoint, its
   items read from the database and each rule expanded with dateutil's rrulestr. Target: ours <= 10 s.
2. One endpoint's feed with its programme from `studio serve` (real HTTP, real object store for the URLs), for
   2,000 endpoints in turn (each a new audience: the feed query and the programme are built), then again (the
   cache): p50/p99. Target: p99 <= 20 ms. Beside it, /healthz from the same server (the HTTP floor).
3. The as-run of a province-month: every occurrence of 30 days on every endpoint (about 5 M), 90 % reported
   played. Ours: `asrun.totals` (played, missed, pending). Beside it, only reading the month's play reports
   with the database's own driver (sqlite3), the part any as-run must do. Target: ours <= 10 s.

Run: .venv/bin/python bench/bench_programme.py [--communes 2000] [--per-commune 10] [--requests 2000]
     [--no-asrun | --only-asrun]
Everything stays on loopback; the database is SQLite in a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_distribution import serve  # noqa: E402 - `studio serve` on an instance, started the same way
from storage.seaweed import EmbeddedSeaweed  # noqa: E402


def seed(instance: Path, s3_url: str, communes: int, per_commune: int) -> dict:
    """The province, its endpoints and programme, written in bulk (the services' rules are tested elsewhere)."""
    import hashlib

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from storage.models import (Area, Endpoint, Package, PackageArea, PackageFile, ProgrammeItem, Work,
                                utcnow)
    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, clock, feeds
    app = create_app({"QUEUE_URL": "memory://", "WHISPER_MODEL": ""},
                     environ={"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url})
    store = app.extensions["objectstore"]
    rng = random.Random(24)
    with app.app_context():
        upgrade()
        s = db.session
        admin = accounts.create_user(s, Caller(None), "bench-admin", "bench-password-1", ["admin"], system=True)
        s.commit()
        s.execute(insert(Area), [{"id": 1, "code": "02", "name": "Tỉnh", "level": "province", "parent_id": None}])
        districts = 20
        s.execute(insert(Area), [{"id": 2 + d, "code": f"02.{d:03d}", "name": f"Huyện {d}", "level": "district",
                                  "parent_id": 1} for d in range(districts)])
        first = 2 + districts
        s.execute(insert(Area), [{"id": first + c, "code": f"{c:05d}", "name": f"Xã {c}", "level": "commune",
                                  "parent_id": 2 + c % districts} for c in range(communes)])
        zones = [f"Thôn {z}" for z in range(5)]
        s.execute(insert(Endpoint), [
            {"name": f"Loa {c}-{i}", "kind": "loudspeaker", "area_id": first + c, "zone": zones[i % 5],
             "languages": ["vi"], "token_prefix": "", "token_hash": hashlib.sha256(f"{c}-{i}".encode()).hexdigest(),
             "active": True, "display": "", "contact": "", "last_heartbeat": {},
             "created_at": utcnow() - timedelta(days=60)} for c in range(communes) for i in range(per_commune)])
        works = []
        for n, priority in enumerate(("priority", "priority", "normal", "normal", "normal")):
            data = os.urandom(32 * 1024)
            sha = hashlib.sha256(data).hexdigest()
            store.put_bytes(f"media/{sha}", data, "audio/mpeg")
            w = Work(kind="radio_bulletin", title=f"Bản tin {n}", body="b", author_id=admin.id, priority=priority,
                     state="published", published_at=utcnow(), source_language="vi")
            s.add(w)
            s.flush()
            f = {"key": f"media/{sha}", "sha256": sha, "size": len(data), "mime": "audio/mpeg", "role": "audio",
                 "language": "vi", "channel": "loudspeaker", "profile": "loudspeaker", "duration_s": 120.0 + 60 * n}
            p = Package(work_id=w.id, version=1, revision=1, state="published", priority=priority,
                        area_codes=["02"], channels=["loudspeaker"], published_by_id=admin.id, published_at=utcnow(),
                        manifest={"files": [f]}, manifest_key=f"packages/{w.id}/1/manifest.json",
                        manifest_sha256="0" * 64)
            s.add(p)
            s.flush()
            s.add(PackageFile(package_id=p.id, position=0, channel="loudspeaker", profile="loudspeaker",
                              language="vi", role="audio", entry=f))
            s.add(PackageArea(package_id=p.id, code="02"))
            works.append(w.id)
        s.flush()
        start_day = clock.to_utc(clock.local(utcnow() - timedelta(days=35)).replace(
            hour=0, minute=0, second=0, microsecond=0, tzinfo=None), "start")
        rows = []

        def item(area, work, priority, hour, minute, rrule, zone="", replays=0, state="scheduled", origin="province"):
            rows.append({"work_id": work, "area_id": area, "zone": zone, "origin": origin, "priority": priority,
                         "state": state, "start_at": start_day + timedelta(hours=hour, minutes=minute),
                         "rrule": rrule, "replays": replays, "replay_gap_s": 300, "position": 0, "relay_url": "",
                         "duration_s": 0, "title": "", "reason": "", "created_at": utcnow(), "updated_at": utcnow()})
        for c in range(communes):
            a = first + c
            item(a, works[0], "priority", 6, 0, "FREQ=DAILY", replays=1)
            item(a, works[1], "priority", 17, 0, "FREQ=DAILY", replays=1)
            item(a, works[2], "normal", 11, c % 60, "FREQ=DAILY", replays=1, state="accepted")  # each at its minute
            item(a, works[3], "normal", 19, (7 * c) % 60, "FREQ=DAILY", replays=1, state="accepted")
            item(a, works[4], "normal", 12, 0, "FREQ=DAILY", zone=zones[c % 5], origin="commune")
            item(a, works[4], "normal", 20, 30, "FREQ=DAILY", zone=zones[(c + 1) % 5], origin="commune")
            item(a, works[4], "normal", 9, rng.randrange(60), "FREQ=WEEKLY;BYDAY=MO,TH", origin="commune")
        s.execute(insert(ProgrammeItem), rows)
        feeds.bump(s)
        s.commit()
        return {"app": app, "store": store, "items": len(rows), "first": first}


def build_all_ours(app) -> tuple[float, int]:
    """Every endpoint's 7-day programme as the feed builds it (a Book per generation and day, per audience)."""
    from sqlalchemy import select

    from storage.models import Endpoint
    from studio.extensions import db
    from studio.services import feeds
    with app.app_context():
        s = db.session
        eps = list(s.execute(select(Endpoint.id, Endpoint.area_id, Endpoint.zone, Endpoint.kind, Endpoint.display,
                                    Endpoint.languages)))
        t = time.perf_counter()
        cache = feeds.FeedCache()
        book = cache.book(s)
        n = sum(len(book.programme(s, e.area_id, e.zone, e.kind, e.display, tuple(e.languages or ()))[1])
                for e in eps)
        return time.perf_counter() - t, n


def build_all_direct(app, limit: int | None = None) -> tuple[float, int, int]:
    """The same, directly with the library: per endpoint, its items read and each rule expanded by dateutil."""
    from dateutil.rrule import rrulestr
    from sqlalchemy import or_, select

    from storage.models import Area, Endpoint, ProgrammeItem, utcnow
    from studio.extensions import db
    from studio.services import clock, occurrences
    with app.app_context():
        s = db.session
        eps = list(s.execute(select(Endpoint.id, Endpoint.area_id, Endpoint.zone)))[:limit]
        parents = dict(s.execute(select(Area.id, Area.parent_id)).all())
        w0, w1 = occurrences.window(utcnow())
        a, b = clock.local(w0).replace(tzinfo=None), clock.local(w1).replace(tzinfo=None)
        t = time.perf_counter()
        n = 0
        for e in eps:
            chain = [e.area_id, parents.get(e.area_id), parents.get(parents.get(e.area_id))]
            for it in s.scalars(select(ProgrammeItem).where(
                    ProgrammeItem.area_id.in_([c for c in chain if c]),
                    ProgrammeItem.state.in_(("accepted", "scheduled")),
                    or_(ProgrammeItem.zone == "", ProgrammeItem.zone == e.zone))):
                start = clock.local(it.start_at).replace(tzinfo=None)
                for x in rrulestr(it.rrule, dtstart=start).between(a, b, inc=True):
                    n += 1 + it.replays
        return time.perf_counter() - t, n, len(eps)


def tokens(app, n: int) -> list[str]:
    """Give n endpoints, each of another commune and zone (a new audience), a token we know."""
    from sqlalchemy import select, update

    from storage.models import Endpoint
    from studio.extensions import db
    from studio.services.accounts import hash_token
    with app.app_context():
        s = db.session
        ids = list(s.scalars(select(Endpoint.id).order_by(Endpoint.id)))
        chosen = ids[:: max(1, len(ids) // n)][:n]
        out = []
        for i in chosen:
            token = f"ep_bench{i:08d}"
            s.execute(update(Endpoint).where(Endpoint.id == i).values(token_hash=hash_token(token)))
            out.append(token)
        s.commit()
        return out


def timed_gets(url: str, headers_list: list[dict]) -> list[float]:
    http = requests.Session()
    out = []
    for h in headers_list:
        t = time.perf_counter()
        r = http.get(url, headers=h, timeout=30)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
    return out


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return 1000 * v[min(len(v) - 1, int(len(v) * q))]


def asrun_month(app, db_path: Path) -> None:
    """Write a month of play reports for 90 % of the occurrences, then time the as-run against reading them."""
    from sqlalchemy import select

    from storage.models import Endpoint, utcnow
    from studio.extensions import db
    from studio.services import asrun, clock, occurrences
    rng = random.Random(5)
    with app.app_context():
        s = db.session
        end = clock.to_utc(clock.local(utcnow()).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None),
                           "end")
        start = end - timedelta(days=30)
        book = occurrences.Book(s, start, end)
        eps = list(s.execute(select(Endpoint.id, Endpoint.area_id, Endpoint.zone)))
        t = time.perf_counter()
        rows, total = [], 0
        for e in eps:
            for o, _p in book.applicable(s, e.area_id, e.zone, "loudspeaker", "", ("vi",)):
                if o.at >= end:
                    continue
                total += 1
                if rng.random() < 0.9:
                    at = o.at.strftime("%Y-%m-%d %H:%M:%S.000000")
                    rows.append((e.id, f"r{total}", "play", at, at, "played", "{}", at, at, o.item_id))
        db.session.remove()
    con = sqlite3.connect(db_path)
    con.executemany("INSERT INTO endpoint_reports (endpoint_id, client_id, type, started_at, ended_at, outcome, data,"
                    " received_at, scheduled_at, item_id, file_sha256) VALUES (?,?,?,?,?,?,?,?,?,?,'')", rows)
    con.commit()
    con.close()
    print(f"as-run: {total:,} occurrences in 30 days, {len(rows):,} play reports written in "
          f"{time.perf_counter() - t:.0f} s")
    # Beside ours: only reading the columns the as-run reads, with the database's own driver (sqlite3, no
    # SQLAlchemy), the part any as-run must do.
    con = sqlite3.connect(db_path)
    t = time.perf_counter()
    n = len(con.execute("SELECT endpoint_id, scheduled_at, item_id, outcome FROM endpoint_reports "
                        "WHERE scheduled_at >= ? AND scheduled_at < ?",
                        (start.strftime("%Y-%m-%d %H:%M:%S"), (end + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"))
                        ).fetchall())
    read = time.perf_counter() - t
    con.close()
    with app.app_context():
        s = db.session
        t = time.perf_counter()
        counts = asrun.totals(s, asrun.Query(start, end, None))
        ours = time.perf_counter() - t
    print(f"  reading the month's {n:,} play reports only, with sqlite3: {read:.2f} s")
    print(f"  ours, asrun.totals: {ours:.2f} s (target <= 10 s) {counts}; ratio to reading alone {ours / read:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--communes", type=int, default=2000)
    ap.add_argument("--per-commune", type=int, default=10)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--no-asrun", action="store_true")
    ap.add_argument("--only-asrun", action="store_true", help="skip parts 1 and 2")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        proc = None
        try:
            t = time.perf_counter()
            seeded = seed(tmp / "instance", weed.url, args.communes, args.per_commune)
            app = seeded["app"]
            print(f"seeded {args.communes:,} communes, {args.communes * args.per_commune:,} endpoints, "
                  f"{seeded['items']:,} programme items in {time.perf_counter() - t:.0f} s")
            if args.only_asrun:
                asrun_month(app, tmp / "instance" / "studio.db")
                return
            ours, n = build_all_ours(app)
            direct, n_direct, eps = build_all_direct(app)
            print(f"1. every endpoint's 7-day programme: ours {ours:.2f} s ({n:,} plays; target <= 10 s); "
                  f"directly with dateutil per endpoint {direct:.2f} s ({n_direct:,} plays, {eps:,} endpoints); "
                  f"ratio {direct / ours:.1f}x")
            with socket.socket() as sck:
                sck.bind(("127.0.0.1", 0))
                port = sck.getsockname()[1]
            known = tokens(app, args.requests)
            proc = serve(tmp / "instance", weed.url, port)
            base = f"http://127.0.0.1:{port}"
            headers = [{"Authorization": f"Bearer {tok}"} for tok in known]
            first = timed_gets(f"{base}/api/v1/feed", headers)
            again = timed_gets(f"{base}/api/v1/feed", headers)
            health = timed_gets(f"{base}/healthz", [{}] * len(headers))
            body = requests.get(f"{base}/api/v1/feed", headers=headers[0], timeout=30).json()
            print(f"2. one endpoint's feed ({len(body['programme'])} programme plays): first poll of each audience "
                  f"p50 {pct(first, .5):.1f} ms p99 {pct(first, .99):.1f} ms; again p50 {pct(again, .5):.1f} ms "
                  f"p99 {pct(again, .99):.1f} ms (target p99 <= 20 ms); /healthz p50 {pct(health, .5):.1f} ms "
                  f"p99 {pct(health, .99):.1f} ms; ratio of p99s {pct(first, .99) / pct(health, .99):.1f}x")
            proc.terminate()
            proc.wait(timeout=30)
            proc = None
            if not args.no_asrun:
                print("3. ", end="")
                asrun_month(app, tmp / "instance" / "studio.db")
        finally:
            if proc is not None:
                proc.kill()
            weed.stop()


if __name__ == "__main__":
    main()
