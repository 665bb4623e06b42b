"""Distribution benchmarks, measured side by side in one run, against a real SeaweedFS and `studio serve`.

1. Feed requests per second with p50/p99 latency: the 304 path, the 200 path (presigned URLs for every file),
   and the same feed JSON served statically by the object store (what a large deployment polls instead).
   Sizing: ~10,500 communes x a few endpoints polling once a minute is ~500-1,000 requests/s nationally.
2. Publishing a 200 MB video: our store.put_file (how renditions enter the store) and the publish step
   (server-side copy to media/<sha256>, manifest, feeds) against a raw minio fput_object of the same file.
3. Syncing 100 packages to an empty endpoint with the reference client.

Run: .venv/bin/python bench/bench_distribution.py [--seconds 5] [--clients 8] [--video-mb 200]
Load is bounded by time and count and goes to loopback only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.objectstore import PART_SIZE, ObjectStore  # noqa: E402
from storage.seaweed import EmbeddedSeaweed  # noqa: E402


def load(url: str, headers: dict, seconds: float, clients: int, max_requests: int = 200_000) -> dict:
    """Hammer one URL from `clients` threads for `seconds`; requests per second and latency percentiles."""
    stop = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker():
        s = requests.Session()
        mine, codes = [], {}
        while time.perf_counter() < stop and len(mine) < max_requests // clients:
            t = time.perf_counter()
            r = s.get(url, headers=headers, timeout=30)
            mine.append(time.perf_counter() - t)
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(worker)
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1], "statuses": statuses, "n": len(latencies)}


def seed(instance: Path, s3_url: str, packages: int, file_kb: int) -> dict:
    """Publish `packages` works directly through the services (media are small stand-in objects)."""
    import hashlib

    from flask_migrate import upgrade

    from storage.models import Job, Rendition, User
    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, endpoints, feeds, packages, works
    app = create_app({"QUEUE_URL": "memory://",
                      "WHISPER_MODEL": ""}, environ={"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url})
    store = app.extensions["objectstore"]
    with app.app_context():
        upgrade()
        s = db.session
        ed = accounts.create_user(s, Caller(None), "bench-editor", "bench-password-1", ["editor"], system=True)
        ap = accounts.create_user(s, Caller(None), "bench-approver", "bench-password-1", ["approver", "admin"],
                                  system=True)
        s.commit()
        for i in range(packages):
            w = works.create(s, Caller(ed), {"kind": "radio_bulletin", "title": f"Bản tin {i}", "body": "Nội dung.",
                                             "channels": ["loudspeaker"]})
            s.flush()
            w.state, w.approved_revision, w.approved_by_id = "approved", w.current_revision, ap.id
            data = os.urandom(file_kb * 1024)
            sha = hashlib.sha256(data).hexdigest()
            store.put_bytes(f"renditions/bench-{i}/audio-00.mp3", data, "audio/mpeg")
            s.add(Rendition(work_id=w.id, revision=w.current_revision, language="vi", channel="loudspeaker",
                            profile="loudspeaker", key=f"bench-{i}", duration_s=60.0,
                            files=[{"role": "audio", "key": f"renditions/bench-{i}/audio-00.mp3", "mime": "audio/mpeg",
                                    "size": len(data), "sha256": sha}]))
            s.flush()
            packages.prepare(s, Caller(ap), w)
            s.flush()
        s.commit()
        for kind, step in (("publish", packages.deliver), ("feeds", feeds.rewrite_feeds_job)):
            for job in s.scalars(__import__("sqlalchemy").select(Job).where(Job.kind == kind)).all():
                step(s, store, job, lambda pct, msg: None)
                job.state = "succeeded"
                s.commit()
        ep, token = endpoints.create(s, Caller(s.get(User, ap.id)), {"name": "bench", "kind": "loudspeaker"})
        ids = {"editor": ed.id, "approver": ap.id}
        s.commit()
    return {"token": token, "store": store, "app": app, **ids}


def publish_video(seeded: dict, video: Path, n: int) -> float:
    """Store a video as a rendition, then time the real publish step (copy, manifest, feeds) on it."""
    import hashlib

    from sqlalchemy import select

    from storage.models import Job, Rendition, User
    from studio.extensions import db
    from studio.services import Caller, feeds, packages, works
    app, store = seeded["app"], seeded["store"]
    h = hashlib.sha256()
    with open(video, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    with app.app_context():
        s = db.session
        store.put_file(f"renditions/video-{n}/video-00.mp4", video, "video/mp4")
        w = works.create(s, Caller(s.get(User, seeded["editor"])), {"kind": "video_report", "title": f"Video {n}",
                                                                     "body": "x", "channels": ["border_screen"]})
        s.flush()
        w.state, w.approved_revision = "approved", w.current_revision
        s.add(Rendition(work_id=w.id, revision=w.current_revision, language="vi", channel="border_screen",
                        profile="border-screen", key=f"video-{n}", duration_s=60.0,
                        files=[{"role": "video", "key": f"renditions/video-{n}/video-00.mp4", "mime": "video/mp4",
                                "size": video.stat().st_size, "sha256": h.hexdigest()}]))
        s.flush()
        pkg = packages.prepare(s, Caller(s.get(User, seeded["approver"])), w)
        s.commit()
        job = s.scalar(select(Job).where(Job.package_id == pkg.id))
        t = time.perf_counter()
        packages.deliver(s, store, job, lambda pct, msg: None)
        s.commit()
        feeds = s.scalar(select(Job).where(Job.kind == "feeds", Job.work_id == w.id))
        feeds.rewrite_feeds_job(s, store, feeds, lambda pct, msg: None)  # the static feeds, in their own job
        s.commit()
        return time.perf_counter() - t


def serve(instance: Path, s3_url: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url, "STUDIO_WHISPER_MODEL": ""})
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(port), "--no-worker"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "Studio running at" in line:
            return proc
    raise RuntimeError("studio serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--video-mb", type=int, default=200)
    ap.add_argument("--packages", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        proc = None
        try:
            t = time.perf_counter()
            seeded = seed(tmp / "instance", weed.url, args.packages, 100)
            print(f"seeded {args.packages} published packages in {time.perf_counter() - t:.1f} s")
            store: ObjectStore = seeded["store"]
            import socket
            with socket.socket() as sck:
                sck.bind(("127.0.0.1", 0))
                port = sck.getsockname()[1]
            proc = serve(tmp / "instance", weed.url, port)
            base = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {seeded['token']}"}
            first = requests.get(f"{base}/api/v1/feed", headers=auth, timeout=60)
            etag = first.headers["ETag"]
            static_url = store.presign_get("feeds/loudspeaker/all.json")
            print(f"feed: {len(first.json()['items'])} items, {len(first.content) / 1024:.0f} KiB; "
                  f"{args.clients} clients, {args.seconds:.0f} s each")
            results = {
                "304 (If-None-Match)": load(f"{base}/api/v1/feed", {**auth, "If-None-Match": etag}, args.seconds,
                                            args.clients),
                "200 (presigned URLs)": load(f"{base}/api/v1/feed", auth, args.seconds, args.clients),
                "static from object store": load(static_url, {}, args.seconds, args.clients),
            }
            static = results["static from object store"]["rps"]
            for name, r in results.items():
                print(f"  {name:<26} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                      f"({r['n']} requests, {r['statuses']})  ratio to static {r['rps'] / static:.2f}")

            # 3. sync 100 packages to an empty client
            from endpoint_client import SyncClient
            t = time.perf_counter()
            result = SyncClient(base, seeded["token"], tmp / "box").sync()
            took = time.perf_counter() - t
            print(f"sync of {len(result.holds)} packages ({len(result.downloaded)} files) to an empty client: "
                  f"{took:.2f} s ({len(result.holds) / took:.1f} packages/s); a second sync: ", end="")
            t = time.perf_counter()
            again = SyncClient(base, seeded["token"], tmp / "box").sync()
            print(f"{time.perf_counter() - t:.3f} s (not modified: {again.not_modified})")

            # 2. a 200 MB video
            video = tmp / "video.mp4"
            with open(video, "wb") as f:
                for _ in range(args.video_mb):
                    f.write(os.urandom(1024 * 1024))
            size = video.stat().st_size
            timings = {"raw fput_object": [], "store.put_file": [], "publish (copy, manifest, feeds)": []}
            for i in range(2):
                t = time.perf_counter()
                store.client.fput_object(store.bucket, f"bench/raw-{i}.mp4", str(video), part_size=PART_SIZE)
                timings["raw fput_object"].append(time.perf_counter() - t)
                t = time.perf_counter()
                store.put_file(f"bench/ours-{i}.mp4", video, "video/mp4")
                timings["store.put_file"].append(time.perf_counter() - t)
                with open(video, "r+b") as f:  # a different video each round, so nothing is reused
                    f.write(os.urandom(16))
                timings["publish (copy, manifest, feeds)"].append(publish_video(seeded, video, i))
            raw = min(timings["raw fput_object"])
            print(f"{size / 2**20:.0f} MB video:")
            for name, ts in timings.items():
                best = min(ts)
                print(f"  {name:<34} {best:6.2f} s  {size / 2**20 / best:7.1f} MB/s  throughput ratio to raw "
                      f"{raw / best:.2f}")
            print("  (publishing copies inside the object store: the bytes entered it once, when the rendition "
                  "was stored with store.put_file)")
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
            weed.stop()


if __name__ == "__main__":
    main()
