"""A province's year, side by side in one run: the annual report over 3,000 works, 500 endpoints and 2 million
play reports (synthetic), and play reports ingested through the API (`POST /api/v1/reports` on a real
`studio serve`, batches of 1,000 from 4 endpoints at once) against the same rows inserted by SQLAlchemy alone.

Targets: the report in <= 10 s, ingestion >= 2,000 reports per second, on SQLite and on PostgreSQL.
Run: .venv/bin/python bench/bench_report.py [--plays 2000000] [--postgres [--no-sqlite]]
(--postgres starts a throwaway PostgreSQL cluster, as tests/services/test_postgresql.py does.)
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
YEAR = 2026


def start_postgres() -> tuple[str, callable]:
    """A throwaway cluster on a free port; returns its URL and a stop function."""
    pg = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    base.chmod(0o755)
    data = base / "data"
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    subprocess.run([*run_as, str(pg / "initdb"), "-D", str(data), "-U", "studio", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8"], check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([*run_as, str(pg / "postgres"), "-D", str(data), "-p", str(port), "-k", str(base),
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        if subprocess.run([str(pg / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    subprocess.run([*run_as, str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "studio", "studio"],
                   check=True, capture_output=True)

    def stop():
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
    return f"postgresql+psycopg://studio@127.0.0.1:{port}/studio", stop


def seed(session, plays: int, rng: random.Random) -> dict:
    """Works, packages with files, endpoints with tokens, renditions, feedback, translations and play reports."""
    from sqlalchemy import insert

    from storage.models import (Area, EndpointReport, Feedback, Package, PackageFile, Rendition,
                                Translation, Work)
    from studio.services import Caller, accounts, endpoints
    admin = accounts.create_user(session, Caller(None), "bench", "bench-password-1", ["admin"], system=True)
    province = Area(code="20", name="Lạng Sơn", level="province")
    session.add(province)
    session.flush()
    communes = []
    for i in range(200):
        communes.append(Area(code=f"20.{i:03d}", name=f"Xã {i}", level="commune", parent_id=province.id))
    session.add_all(communes)
    session.flush()
    start = datetime(YEAR, 1, 1)
    kinds = ["article", "radio_bulletin", "video_report", "eboard_notice", "publication"]
    works = [{"kind": kinds[i % 5], "title": f"Bản tin {i}", "body": "", "source_language": "vi",
              "channels": ["loudspeaker", "web"], "author_id": admin.id, "state": "published",
              "created_at": start + timedelta(minutes=170 * i), "search_text": ""} for i in range(3000)]
    session.execute(insert(Work), works)
    work_ids = [w.id for w in session.query(Work.id).order_by(Work.id)]
    session.execute(insert(Package), [{"work_id": w, "version": 1, "revision": 1, "state": "published",
                                       "published_at": start + timedelta(minutes=170 * i + 60), "channels": [],
                                       "area_codes": [], "manifest": {}} for i, w in enumerate(work_ids)])
    packages = [p.id for p in session.query(Package.id).order_by(Package.id)]
    files = {}
    rows = []
    for p in packages:
        sha = hashlib.sha256(str(p).encode()).hexdigest()
        files[p] = sha
        rows.append({"package_id": p, "channel": "loudspeaker", "profile": "loudspeaker", "language": "vi",
                     "role": "audio", "entry": {"sha256": sha}})
    session.execute(insert(PackageFile), rows)
    session.execute(insert(Rendition), [{"work_id": w, "revision": 1, "language": "vi", "channel": "loudspeaker",
                                         "profile": "loudspeaker", "key": f"k{w}", "files": [{"role": "audio"}],
                                         "cues": [], "duration_s": 60.0 + w % 240, "created_at": start}
                                        for w in work_ids])
    session.execute(insert(Translation), [{"work_id": w, "language": "tyz", "state": "approved", "segments": [],
                                           "approved_at": start + timedelta(days=w % 300), "title": "",
                                           "version": 1} for w in work_ids[:500]])
    tokens = []
    for i in range(500):
        ep, token = endpoints.create(session, Caller(admin), {"name": f"Loa {i}", "kind": "loudspeaker",
                                                              "area_id": communes[i % 200].id})
        tokens.append((ep.id, token))
    session.execute(insert(Feedback), [{"work_id": work_ids[i % 3000], "message": f"Hỏi {i}", "source": "page",
                                        "name": "", "phone": "", "language": "vi", "publish": False,
                                        "state": "answered", "answer": "Đáp", "sender_hash": "",
                                        "created_at": start + timedelta(hours=3 * i),
                                        "answered_at": start + timedelta(hours=3 * i + i % 48)} for i in range(2000)])
    session.commit()
    t = time.perf_counter()
    chunk = []
    for n in range(plays):
        p = packages[n % len(packages)]
        begin = start + timedelta(seconds=n * 15 % (300 * 86400))
        chunk.append({"endpoint_id": tokens[n % 500][0], "client_id": f"p{n}", "type": "play", "package_id": p,
                      "file_sha256": files[p], "started_at": begin, "ended_at": begin + timedelta(seconds=90),
                      "outcome": "played", "data": {}, "received_at": begin + timedelta(seconds=91)})
        if len(chunk) == 20000:
            session.execute(insert(EndpointReport), chunk)
            chunk = []
    if chunk:
        session.execute(insert(EndpointReport), chunk)
    session.commit()
    return {"tokens": tokens, "packages": packages, "files": files, "insert_s": time.perf_counter() - t}


def ingest(url: str, tokens, packages, files, per_endpoint: int, batch: int = 1000) -> float:
    """Reports per second through the API, 4 endpoints posting at once."""
    def post(ep_token: str, offset: int, out: list):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {ep_token}"
        sent = 0
        while sent < per_endpoint:
            reports = []
            for k in range(batch):
                p = packages[(offset + sent + k) % len(packages)]
                begin = datetime(YEAR, 11, 1) + timedelta(seconds=sent + k)
                reports.append({"id": f"api-{offset}-{sent + k}", "type": "play", "package": p, "file": files[p],
                                "start": begin.isoformat() + "Z", "end": (begin + timedelta(seconds=60)).isoformat()
                                + "Z", "outcome": "played"})
            r = s.post(f"{url}/api/v1/reports", json={"reports": reports}, timeout=120)
            r.raise_for_status()
            assert r.json()["stored"] == batch, r.json()
            sent += batch
        out.append(sent)
    counts: list[int] = []
    threads = [threading.Thread(target=post, args=(tokens[i][1], i * 10**7, counts)) for i in range(4)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(counts) / (time.perf_counter() - t)


def run(database: str, plays: int, ingest_n: int, label: str) -> None:
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import report
    from studio.web.serving import serve_in_thread
    with tempfile.TemporaryDirectory() as tmp:
        environ = {"STUDIO_INSTANCE": tmp, "STUDIO_S3_URL": "s3://unused:unused@127.0.0.1:9/unused"}
        if database:
            environ["STUDIO_DATABASE_URL"] = database
        app = create_app({"QUEUE_URL": ""}, environ=environ)
        with app.app_context():
            upgrade()
            data = seed(db.session, plays, random.Random(1))
            print(f"[{label}] seeded 3,000 works, 500 endpoints, {plays:,} plays "
                  f"(plays inserted by SQLAlchemy alone at {plays / data['insert_s']:,.0f}/s)")
            timings = []
            for _ in range(2):
                t = time.perf_counter()
                got = report.annual(db.session, *report.period(YEAR), now=datetime(YEAR + 1, 1, 1))
                timings.append(time.perf_counter() - t)
                db.session.rollback()
            assert got["plays"]["total"] == plays, got["plays"]["total"]
            best = min(timings)
            print(f"[{label}] annual report: {best:.2f} s (runs: {', '.join(f'{x:.2f}' for x in timings)}); "
                  f"target <= 10 s: {'met' if best <= 10 else 'MISSED'}")
        url, server, thread = serve_in_thread(app, threads=4)
        try:
            rate = ingest(url, data["tokens"], data["packages"], data["files"], ingest_n // 4)
        finally:
            server.stop()
            thread.join(timeout=15)
        raw = plays / data["insert_s"]
        print(f"[{label}] ingestion through the API: {rate:,.0f} reports/s; SQLAlchemy alone {raw:,.0f}/s "
              f"(API / raw {rate / raw:.2f}); target >= 2,000/s: {'met' if rate >= 2000 else 'MISSED'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plays", type=int, default=2_000_000)
    ap.add_argument("--ingest", type=int, default=40_000)
    ap.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL cluster")
    ap.add_argument("--no-sqlite", action="store_true", help="with --postgres: PostgreSQL alone")
    args = ap.parse_args()
    if not args.no_sqlite:
        run("", args.plays, args.ingest, "SQLite")
    if args.postgres:
        url, stop = start_postgres()
        try:
            run(url, args.plays, args.ingest, "PostgreSQL")
        finally:
            stop()


if __name__ == "__main__":
    main()
