"""Soak: the studio under a province's load for half an hour (configurable), on loopback, bounded in count and
time, with one standalone worker SIGKILLed and the object store restarted once along the way.

The load, all at once, against a real `studio serve` (embedded workers) plus a standalone `studio worker`, a
real SeaweedFS, espeak-ng, ffmpeg and Whisper base:
- an editor writing and saving drafts through the API, and an editor and approver publishing a bulletin
  about once a minute (create, save, submit, approve, publish: the publish renders it);
- random API calls generated from the OpenAPI document (schemathesis, short runs one after another);
- transcriptions of real Vietnamese speech (../shared/samples) every few minutes;
- 1,000 endpoints long-polling their feed (`wait=60`) and 200 polling once a second;
- at a third of the time the standalone worker is SIGKILLed (and started again), at two thirds the object
  store is stopped and started again.
/healthz is sampled every second. At the end, with the load stopped: every job must have ended, every feed
file must be fetchable, every work created must exist and every work published must be in the feed.

Targets (printed with each figure): no answer slower than 5 s (editors, /healthz, the once-a-second polls);
editors' p99 <= 1 s while the fleet waits and while it wakes; every long poller that lists a new item has it
<= 60 s after the publish, render included; every job ends (succeeded, failed with a code, or cancelled); no
feed names a missing object; nothing lost.
Run: .venv/bin/python bench/bench_soak.py [--minutes 30] [--endpoints 1000] [--fast 200]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_emergency import Studio, _get, pct, seed  # noqa: E402
from storage.seaweed import EmbeddedSeaweed  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "samples" / "speech"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
BULLETIN = ("Thông báo số {n}: UBND xã đề nghị bà con theo dõi mực nước suối, không qua ngầm tràn khi trời mưa "
            "lớn, và đưa trẻ em đến trạm y tế tiêm chủng vào sáng thứ bảy.")


class Record:
    """What the load saw, shared by its threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.editor: list[tuple[float, float, str]] = []  # (when, seconds, request)
        self.health: list[tuple[float, float, int]] = []  # (when, seconds, status)
        self.fast: list[float] = []
        self.errors: list[str] = []
        self.created: list[int] = []
        self.published: dict[int, float] = {}            # work id -> when the publish call returned
        self.first_seen: dict[int, list[float]] = {}     # work id -> when each long poller first listed it
        self.fuzz: list[int] = []
        self.transcribed: list[int] = []
        self.events: list[str] = []

    def note(self, attr: str, value) -> None:
        with self.lock:
            getattr(self, attr).append(value)


def timed(rec: Record, fn, *args, **kw):
    t = time.perf_counter()
    r = fn(*args, **kw)
    rec.note("editor", (t, time.perf_counter() - t, f"{r.request.method} {r.request.path_url}"))
    if r.status_code >= 400:
        rec.note("errors", f"{r.request.method} {r.request.path_url}: {r.status_code} {r.text[:200]}")
    return r


def editors(studio: Studio, tokens: dict, rec: Record, stop: threading.Event) -> None:
    """One editor saving drafts every few seconds."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {tokens['editor']}"
    n = 0
    while not stop.is_set():
        r = timed(rec, s.post, f"{studio.base}/api/v1/works", timeout=60,
                  json={"title": f"Bản nháp {n}", "body": BULLETIN.format(n=n)})
        if r.status_code == 201:
            work = r.json()
            rec.note("created", work["id"])
            timed(rec, s.put, f"{studio.base}/api/v1/works/{work['id']}", timeout=60,
                  json={"title": f"Bản nháp {n} (sửa)", "body": BULLETIN.format(n=n) + " Xin cảm ơn.",
                        "version": work["version"]})
        timed(rec, s.get, f"{studio.base}/api/v1/works", timeout=60)
        n += 1
        stop.wait(random.uniform(2, 5))


def publisher(studio: Studio, tokens: dict, rec: Record, stop: threading.Event) -> None:
    """An editor and an approver publishing a new bulletin about once a minute."""
    ed, ap = requests.Session(), requests.Session()
    ed.headers["Authorization"] = f"Bearer {tokens['editor']}"
    ap.headers["Authorization"] = f"Bearer {tokens['approver']}"
    n = 0
    while not stop.is_set():
        channels = ["loudspeaker", "border_screen"] if n % 3 == 2 else ["loudspeaker"]
        r = timed(rec, ed.post, f"{studio.base}/api/v1/works", timeout=60, json={
            "title": f"Bản tin {n}", "kind": "radio_bulletin", "body": BULLETIN.format(n=1000 + n),
            "channels": channels})
        if r.status_code == 201:
            wid = r.json()["id"]
            rec.note("created", wid)
            ok = all(timed(rec, sess.post, f"{studio.base}/api/v1/works/{wid}/transitions", timeout=60,
                           json={"action": action}).status_code < 300
                     for sess, action in ((ed, "submit"), (ap, "approve"), (ap, "publish")))
            if ok:
                with rec.lock:
                    rec.published[wid] = time.perf_counter()
        n += 1
        stop.wait(60)


def fuzzer(studio: Studio, tokens: dict, rec: Record, stop: threading.Event, tmp: Path) -> None:
    """Short schemathesis runs over the staff API, one after another; their exit codes are kept."""
    seed_n = 1
    while not stop.is_set():
        proc = subprocess.Popen(
            [str(SCHEMATHESIS), "run", f"{studio.base}/api/v1/openapi.json", "-H",
             f"Authorization: Bearer {tokens['approver']}", "--checks", "not_a_server_error",
             # Not the endpoints' paths, and not cancel or transitions: with an approver's token the fuzzer would
             # rightly cancel or retract the publisher's bulletins, and "nothing lost" would count them.
             "--exclude-path-regex", "^/api/v1/(feed|reports|jobs/.*/cancel|works/.*/transitions)$",
             "--max-examples", "5", "--seed", str(seed_n),
             "--phases", "fuzzing", "--no-color"], stdout=open(tmp / "fuzz.log", "w"), stderr=subprocess.STDOUT,
            cwd=tmp)  # a file, not a pipe: nobody reads while it runs
        ended = time.perf_counter() + 600
        while proc.poll() is None and not stop.is_set() and time.perf_counter() < ended:
            time.sleep(0.5)
        if proc.poll() is None:  # the load is over (or the run took 600 s): not counted
            proc.kill()
            proc.wait()
            if not stop.is_set():
                rec.note("errors", "schemathesis run over 600 s")
            break
        out = (tmp / "fuzz.log").read_text(errors="replace")
        rec.note("fuzz", proc.returncode)
        if proc.returncode != 0:
            rec.note("errors", "schemathesis: " + out[-1500:])
        seed_n += 1
        stop.wait(5)


def transcriber(studio: Studio, tokens: dict, rec: Record, stop: threading.Event) -> None:
    """Every few minutes: a recording uploaded (API) and its transcription queued (the work page's form)."""
    samples = sorted(SAMPLES.glob("*.wav"))
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {tokens['editor']}"
    page = requests.Session()
    form = page.get(f"{studio.base}/login", timeout=60).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page.post(f"{studio.base}/login", data={"username": "bientap", "password": "bench-password-1",
                                            "csrf_token": csrf}, timeout=60)
    n = 0
    while not stop.is_set() and samples:
        r = timed(rec, api.post, f"{studio.base}/api/v1/works", timeout=60,
                  json={"title": f"Ghi âm {n}", "body": "Bản ghi âm của xã."})
        wid = r.json()["id"]
        with open(samples[n % len(samples)], "rb") as f:
            up = timed(rec, api.post, f"{studio.base}/api/v1/works/{wid}/assets", timeout=120,
                       files={"file": (samples[n % len(samples)].name, f, "audio/wav")})
        if up.status_code < 300:
            view = page.get(f"{studio.base}/works/{wid}", timeout=60).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', view).group(1)
            done = page.post(f"{studio.base}/assets/{up.json()['id']}/transcribe",
                             data={"csrf_token": token, "language": "vi"}, timeout=60, allow_redirects=False)
            if done.status_code == 302:
                rec.note("transcribed", wid)
        n += 1
        stop.wait(180)


def health(studio: Studio, rec: Record, stop: threading.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        try:
            status = requests.get(f"{studio.base}/healthz", timeout=30).status_code
        except requests.RequestException:
            status = 0
        rec.note("health", (t, time.perf_counter() - t, status))
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - t)))


async def fleet(port: int, long_tokens: list[str], fast_tokens: list[str], rec: Record, stop: asyncio.Event):
    """Long pollers noting when each work first appears in their feed; fast pollers timing their answers."""
    async def long_poller(token: str, offset: float) -> None:
        await asyncio.sleep(offset)
        etag, seen = "", set()
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(1)
                continue
            try:
                while not stop.is_set():
                    status, headers, body = await asyncio.wait_for(
                        _get(reader, writer, "/api/v1/feed?wait=60" if etag else "/api/v1/feed", token, etag), 90)
                    if status == 200:
                        etag = headers["etag"]
                        now = time.perf_counter()
                        for item in json.loads(body)["items"]:
                            if item["work_id"] not in seen:
                                seen.add(item["work_id"])
                                rec.first_seen.setdefault(item["work_id"], []).append(now)
                    elif status != 304:
                        await asyncio.sleep(1)
                        break
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
                await asyncio.sleep(1)
            finally:
                writer.close()

    async def fast_poller(token: str, offset: float) -> None:
        await asyncio.sleep(offset)
        etag = ""
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    while not stop.is_set():
                        t = time.perf_counter()
                        status, headers, _ = await asyncio.wait_for(_get(reader, writer, "/api/v1/feed", token,
                                                                         etag), 60)
                        rec.fast.append(time.perf_counter() - t)
                        etag = headers.get("etag", etag)
                        await asyncio.sleep(1.0)
                finally:
                    writer.close()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
                rec.fast.append(60.0)
                await asyncio.sleep(1)
    await asyncio.gather(*(long_poller(t, i / 50) for i, t in enumerate(long_tokens)),
                         *(fast_poller(t, i / max(1, len(fast_tokens))) for i, t in enumerate(fast_tokens)))


def start_worker(instance: Path, s3_url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url, "STUDIO_TTS_ENGINES": "espeak"})
    return subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                            stdout=open(log, "a"), stderr=subprocess.STDOUT)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--endpoints", type=int, default=1000)
    ap.add_argument("--fast", type=int, default=200)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * (args.endpoints + args.fast) + 2048)),
                                                hard))
    rec, stop = Record(), threading.Event()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        studio = worker = None
        try:
            tokens = seed(tmp / "instance", weed.url, args.endpoints + 1, args.fast)
            probe_token = tokens["fleet"].pop()
            studio = Studio(tmp / "instance", weed.url)
            worker = start_worker(tmp / "instance", weed.url, tmp / "worker.log")
            print(f"soak: {args.minutes:g} min against {studio.base}: {args.endpoints} long pollers, {args.fast} "
                  f"fast pollers, editors, a publisher, schemathesis, transcriptions; {os.cpu_count()} cores",
                  flush=True)
            start = time.perf_counter()
            loop = asyncio.new_event_loop()
            astop = asyncio.Event()

            def run_fleet():
                asyncio.set_event_loop(loop)
                loop.run_until_complete(fleet(studio.port, tokens["fleet"], tokens["fast"], rec, astop))
            threads = [threading.Thread(target=run_fleet, daemon=True)]
            threads += [threading.Thread(target=f, args=(studio, tokens, rec, stop), daemon=True)
                        for f in (editors, publisher, transcriber)]
            threads += [threading.Thread(target=health, args=(studio, rec, stop), daemon=True),
                        threading.Thread(target=fuzzer, args=(studio, tokens, rec, stop, tmp), daemon=True)]
            for t in threads:
                t.start()
            end = start + args.minutes * 60
            killed = restarted = False
            while time.perf_counter() < end:
                elapsed = time.perf_counter() - start
                if not killed and elapsed > args.minutes * 20:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    rec.note("events", f"{elapsed:.0f} s: standalone worker SIGKILLed, started again")
                    worker = start_worker(tmp / "instance", weed.url, tmp / "worker.log")
                    killed = True
                if not restarted and elapsed > args.minutes * 40:
                    weed.stop()
                    time.sleep(3)
                    weed.start()
                    rec.note("events", f"{elapsed:.0f} s: object store stopped for 3 s and started again")
                    restarted = True
                time.sleep(1)
            stop.set()
            loop.call_soon_threadsafe(astop.set)
            for t in threads:
                t.join(timeout=120)
            print(f"load stopped after {time.perf_counter() - start:.0f} s; events: {rec.events}", flush=True)
            return report(studio, tokens, probe_token, rec)
        finally:
            stop.set()
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
            if studio is not None:
                studio.stop()
            weed.stop()


def report(studio: Studio, tokens: dict, probe_token: str, rec: Record) -> int:
    """Wait for the jobs to end, check what must hold, print every figure beside its target; 0 when all hold."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {tokens['approver']}"
    works = sorted(set(rec.created))
    deadline, unfinished = time.perf_counter() + 900, None
    while time.perf_counter() < deadline:
        jobs = [j for w in works for j in api.get(f"{studio.base}/api/v1/works/{w}/jobs", timeout=60).json()["items"]]
        unfinished = [j for j in jobs if j["state"] not in ("succeeded", "failed", "cancelled")]
        if not unfinished:
            break
        time.sleep(5)
    failed = [j for j in jobs if j["state"] == "failed"]
    codes = sorted({(j["error"] or {}).get("code", "?") for j in failed})
    lost = [w for w in works if api.get(f"{studio.base}/api/v1/works/{w}", timeout=60).status_code != 200]
    feed = requests.get(f"{studio.base}/api/v1/feed", timeout=60,
                        headers={"Authorization": f"Bearer {probe_token}"}).json()["items"]
    in_feed = {i["work_id"] for i in feed}
    def fetchable(url: str) -> bool:
        try:
            return requests.get(url, headers={"Range": "bytes=0-0"}, timeout=60).status_code in (200, 206)
        except requests.RequestException:
            return False
    missing_objects = [f["key"] for i in feed for f in i["files"] if not fetchable(f["url"])]
    unpublished = [w for w in rec.published if w not in in_feed]
    delays = []
    for wid, at in rec.published.items():
        delays += [t - at for t in rec.first_seen.get(wid, [])]
    reached = {wid: len(rec.first_seen.get(wid, [])) for wid in rec.published}
    # The fleet wakes from a publish until the last long poller listed the item (60 s when none did).
    wakes = [(at, max(rec.first_seen.get(wid, []), default=at + 60)) for wid, at in rec.published.items()]

    def phase(when: float) -> str:
        return "wakes" if any(a <= when <= b for a, b in wakes) else "waits"
    by_phase: dict[str, list[float]] = {"waits": [], "wakes": []}
    for when, took, _ in rec.editor:
        by_phase[phase(when)].append(took)
    slowest_health = max((h[1] for h in rec.health), default=0.0)
    unhealthy = sum(1 for h in rec.health if h[2] != 200)
    slowest = max([slowest_health, *(t for _, t, _ in rec.editor), *rec.fast], default=0.0)
    t0 = min((w for w, _, _ in rec.editor), default=0.0)
    for when, took, what in sorted(rec.editor, key=lambda e: -e[1])[:3]:
        print(f"     slow editor request: {took:.2f} s at {when - t0:.0f} s: {what}")
    checks = [
        ("no answer slower than 5 s (editors, /healthz, fast polls)", f"slowest {slowest:.2f} s", slowest <= 5),
        ("/healthz", f"{len(rec.health)} samples, slowest {slowest_health:.3f} s, {unhealthy} not 200", True),
        *((f"editors' p99 while the fleet {name} <= 1 s",
           f"p50 {1000 * statistics.median(v):.0f} ms, p99 {1000 * pct(v, .99):.0f} ms ({len(v)} requests)",
           pct(v, .99) <= 1.0) for name, v in by_phase.items() if v),
        ("every long poller has a new item <= 60 s after its publish, render included",
         f"{len(rec.published)} publishes, slowest {max(delays, default=0):.1f} s, median "
         f"{statistics.median(delays) if delays else 0:.1f} s, reached {min(reached.values(), default=0)}.."
         f"{max(reached.values(), default=0)} pollers", bool(delays) and max(delays) <= 60),
        ("every job ended", f"{len(jobs)} jobs, {len(unfinished or [])} unfinished, {len(failed)} failed {codes}",
         not unfinished and "internal" not in codes and "error" not in codes),
        ("no feed names a missing object", f"{sum(len(i['files']) for i in feed)} files, {len(missing_objects)} "
                                           "missing", not missing_objects),
        ("nothing lost", f"{len(works)} works created, {len(lost)} missing; {len(unpublished)} published works "
                         "not in the feed", not lost and not unpublished),
        ("random API calls", f"{len(rec.fuzz)} schemathesis runs, {sum(1 for x in rec.fuzz if x)} with a failure",
         not any(rec.fuzz)),
        ("transcriptions queued", f"{len(rec.transcribed)}", True),
        ("request errors", f"{len(rec.errors)}" + (f": {rec.errors[:3]}" if rec.errors else ""), not rec.errors),
        ("fast polls", f"{len(rec.fast)} answers, p99 {1000 * pct(rec.fast, .99) if rec.fast else 0:.0f} ms", True),
    ]
    for j in failed:
        print(f"     failed job {j['id']} ({j['kind']} {j['profile']} work {j['work_id']}, attempts {j['attempts']}): "
              f"{(j['error'] or {}).get('message')}")
    for w in unpublished:
        print(f"     published but not in the feed: work {w}: "
              f"{[(j['kind'], j['state']) for j in jobs if j['work_id'] == w]}")
    ok = True
    for name, figure, passed in checks:
        ok &= passed
        print(f"{'ok  ' if passed else 'MISS'} {name}: {figure}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
