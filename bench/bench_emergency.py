"""The emergency path, measured side by side in one run against a real `studio serve` (uvicorn, worker pool,
espeak-ng, ffmpeg) and a real SeaweedFS, on this machine's cores.

1. From the approver's publish of an emergency (API) to a verified MP3 (sha256, ffprobe) in a loudspeaker's
   folder, synced with the reference client's long poll: with an idle queue, and while routine renders of a
   five-minute bulletin (1080p board video, web video, loudspeaker) keep every general worker busy.
   Target: median of 5 under load <= 30 s.
2. 1,000 simulated endpoints long-polling their feed (`wait=60`) and 200 more polling once a second, on
   loopback (one asyncio connection each, bounded in count and time): from the publish until every long
   poller has the emergency in a 200 answer (target <= 60 s). Beside it, editors' requests through the API
   and the works page (list works, create a work, open the works page), p50 and p99: alone, while the fleet
   waits, and while it wakes (target p99 <= 1 s).
3. Cancel: from the API call to the running ffmpeg gone (target <= 5 s). SIGTERM during a render: from the
   signal to the process's exit, object store stopped (target <= 30 s).

Run: .venv/bin/python bench/bench_emergency.py [--rounds 5] [--endpoints 1000] [--fast 200]
Traffic goes to 127.0.0.1 only; every loop is bounded by count and time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.seaweed import EmbeddedSeaweed  # noqa: E402

EMERGENCY = ("Cảnh báo lũ quét khẩn cấp. Mưa lớn kéo dài gây lũ quét trên suối Nậm Mu trong đêm nay. "
             "Người dân ven suối di chuyển ngay lên chỗ cao và không qua ngầm tràn.")
ROUTINE = " ".join(f"Mục {i}: xã tổ chức tiêm chủng cho trẻ em dưới năm tuổi tại trạm y tế, bà con mang theo sổ "
                   "tiêm chủng và đến đúng giờ hẹn." for i in range(1, 45))  # about five minutes read aloud


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_with(marker: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def seed(instance: Path, s3_url: str, n_endpoints: int, n_fast: int = 0) -> dict:
    """Users, their API tokens, one real loudspeaker and n simulated endpoints (tokens kept for the load)."""
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts, endpoints
    app = create_app({"QUEUE_URL": ""}, environ={"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url})
    with app.app_context():
        upgrade()
        s = db.session
        ed = accounts.create_user(s, Caller(None), "bientap", "bench-password-1", ["editor"], system=True)
        ap = accounts.create_user(s, Caller(None), "duyet", "bench-password-1", ["approver", "admin"], system=True)
        s.commit()
        out = {"editor": accounts.create_token(s, Caller(ed), "bench")[1],
               "approver": accounts.create_token(s, Caller(ap), "bench")[1]}
        out["loudspeaker"] = endpoints.create(s, Caller(ap), {"name": "Loa xã", "kind": "loudspeaker",
                                                              "languages": "vi"})[1]
        out["fleet"] = [endpoints.create(s, Caller(ap), {"name": f"Loa {i}", "kind": "loudspeaker"})[1]
                        for i in range(n_endpoints)]
        out["fast"] = [endpoints.create(s, Caller(ap), {"name": f"Bảng {i}", "kind": "loudspeaker"})[1]
                       for i in range(n_fast)]
        s.commit()
    return out


class Studio:
    """`studio serve` in a subprocess on a loopback port, with an API helper."""

    def __init__(self, instance: Path, s3_url: str, extra_env: dict | None = None):
        self.instance, self.port = instance, free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env.update({"STUDIO_INSTANCE": str(instance), "STUDIO_S3_URL": s3_url, "STUDIO_TTS_ENGINES": "espeak"})
        env.update({k: v.format(port=self.port) for k, v in (extra_env or {}).items()})  # "{port}": this one's
        self.proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            if "Studio running at" in line:
                break
        else:
            raise RuntimeError("studio serve did not start")
        # Keep reading its log: a pipe nobody reads fills up (64 KiB) and then blocks every thread that logs.
        self.log = instance.parent / "serve.log"
        threading.Thread(target=self._drain, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()

    def _drain(self) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            for line in self.proc.stdout:
                f.write(line)

    def api(self, method: str, path: str, token: str, body: dict | None = None) -> dict:
        r = self.http.request(method, self.base + path, json=body, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def stop(self) -> float:
        """SIGTERM; seconds until the process exited."""
        t = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return float("inf")
        return time.perf_counter() - t


def approved_work(studio: Studio, tokens: dict, title: str, body: str, priority: str, channels: list[str]) -> int:
    wid = studio.api("POST", "/api/v1/works", tokens["editor"], {"kind": "radio_bulletin", "title": title,
                                                                 "body": body, "priority": priority,
                                                                 "channels": channels})["id"]
    studio.api("POST", f"/api/v1/works/{wid}/transitions", tokens["editor"], {"action": "submit"})
    studio.api("POST", f"/api/v1/works/{wid}/transitions", tokens["approver"], {"action": "approve"})
    return wid


def emergency_round(studio: Studio, tokens: dict, box: Path, n: int) -> float:
    """Seconds from the publish call to a verified MP3 of this emergency in the loudspeaker's folder."""
    from endpoint_client import SyncClient
    client = SyncClient(studio.base, tokens["loudspeaker"], box)
    client.sync()  # in step before the emergency
    wid = approved_work(studio, tokens, f"Khẩn cấp {n}", EMERGENCY, "emergency", ["loudspeaker"])
    t = time.perf_counter()
    studio.api("POST", f"/api/v1/works/{wid}/transitions", tokens["approver"], {"action": "publish"})
    deadline = t + 300
    while time.perf_counter() < deadline:
        client.sync(wait=60)
        state = json.loads((box / "state.json").read_text())
        item = next((i for i in state["items"] if i["work_id"] == wid), None)
        if item:
            mp3 = client.media_path(item["files"][0]["sha256"])
            probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "json",
                                    str(mp3)], capture_output=True, text=True, check=True)
            if json.loads(probe.stdout)["streams"][0]["codec_name"] != "mp3":
                raise RuntimeError("the file is not an MP3")
            return time.perf_counter() - t
    jobs = studio.api("GET", f"/api/v1/works/{wid}/jobs", tokens["editor"])["items"]
    raise RuntimeError(f"the emergency never reached the loudspeaker: {json.dumps(jobs, ensure_ascii=False)}")


def keep_busy(studio: Studio, tokens: dict, state: dict) -> None:
    """Make sure routine renders are queued or running (a new five-minute bulletin when the last is done)."""
    busy = any(j["state"] in ("queued", "running") for wid in state.setdefault("works", [])
               for j in studio.api("GET", f"/api/v1/works/{wid}/jobs", tokens["editor"])["items"])
    if not busy:
        wid = approved_work(studio, tokens, f"Bản tin định kỳ {len(state['works'])}", ROUTINE, "normal",
                            ["loudspeaker", "eboard", "web"])
        studio.api("POST", f"/api/v1/works/{wid}/renders", tokens["editor"],
                   {"channels": ["eboard", "web", "loudspeaker"]})
        state["works"].append(wid)
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        jobs = [j for wid in state["works"] for j in studio.api("GET", f"/api/v1/works/{wid}/jobs",
                                                                tokens["editor"])["items"]]
        if sum(j["state"] == "running" for j in jobs) >= 2:  # every general worker renders
            return
        time.sleep(0.3)


async def _get(reader, writer, path: str, token: str, etag: str = "") -> tuple[int, dict, bytes]:
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if etag:
        head += f"If-None-Match: {etag}\r\n"
    writer.write((head + "\r\n").encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def fleet(port: int, tokens: list[str], ready: asyncio.Event, published: dict, work: dict) -> list[float]:
    """Each endpoint: fetch its feed, then long-poll until a 200 lists the emergency; seconds after the publish."""
    waiting = 0
    done: list[float] = []

    async def one(token: str) -> None:
        nonlocal waiting
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            _, headers, _ = await _get(reader, writer, "/api/v1/feed", token)
            etag = headers["etag"]
            waiting += 1
            if waiting == len(tokens):
                ready.set()
            for _ in range(5):
                status, headers, body = await _get(reader, writer, "/api/v1/feed?wait=60", token, etag)
                if status == 200:
                    etag = headers["etag"]
                    if any(i["work_id"] == work.get("id") for i in json.loads(body)["items"]):
                        done.append(time.perf_counter() - published["at"])
                        return
        finally:
            writer.close()
    await asyncio.wait_for(asyncio.gather(*(one(t) for t in tokens)), timeout=300)
    return done


class Editors:
    """An editor at work: list works (API), create a work (API), open the works page (HTML, logged in)."""

    def __init__(self, base: str, token: str):
        import re
        self.base, self.api = base, requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"
        self.page = requests.Session()
        form = self.page.get(f"{base}/login", timeout=60).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        self.page.post(f"{base}/login", data={"username": "bientap", "password": "bench-password-1",
                                              "csrf_token": csrf}, timeout=60).raise_for_status()
        self.n = 0

    def one_round(self) -> list[float]:
        """Seconds of each of the three requests."""
        out = []
        for call in (lambda: self.api.get(f"{self.base}/api/v1/works", timeout=60),
                     lambda: self.api.post(f"{self.base}/api/v1/works", timeout=60,
                                           json={"title": f"Tin {self.n}", "body": "Xã thông báo lịch họp."}),
                     lambda: self.page.get(f"{self.base}/works", timeout=60)):
            t = time.perf_counter()
            r = call()
            out.append(time.perf_counter() - t)
            if r.status_code >= 400:
                raise RuntimeError(f"editor's request failed: {r.status_code}")
        self.n += 1
        return out

    def measure(self, rounds: int = 0, until: Callable[[], bool] | None = None, most: int = 400) -> list[float]:
        """Request times over `rounds` rounds, or until `until()` is true (at least 10 rounds, at most `most`)."""
        times: list[float] = []
        for i in range(most):
            if (rounds and i >= rounds) or (until is not None and i >= 10 and until()):
                break
            times += self.one_round()
        return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p * len(ordered))) - 1))]


def fmt(times: list[float]) -> str:
    return f"p50 {1000 * statistics.median(times):7.1f} ms  p99 {1000 * pct(times, 0.99):7.1f} ms  ({len(times)})"


async def fast_pollers(port: int, tokens: list[str], stop: asyncio.Event) -> dict:
    """Endpoints polling once a second (no wait) until `stop`; counts their answers."""
    counts = {"304": 0, "200": 0, "other": 0}

    async def one(token: str, offset: float) -> None:
        await asyncio.sleep(offset)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        etag = ""
        try:
            while not stop.is_set():
                status, headers, _ = await _get(reader, writer, "/api/v1/feed", token, etag)
                counts[str(status) if status in (200, 304) else "other"] += 1
                etag = headers.get("etag", etag)
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
        finally:
            writer.close()
    await asyncio.gather(*(one(t, i / max(1, len(tokens))) for i, t in enumerate(tokens)))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--endpoints", type=int, default=1000)
    ap.add_argument("--fast", type=int, default=200, help="endpoints polling once a second, without waiting")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * (args.endpoints + args.fast) + 1024)),
                                                hard))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        weed = EmbeddedSeaweed(tmp / "weed").start()
        studio = None
        try:
            tokens = seed(tmp / "instance", weed.url, args.endpoints, args.fast)
            studio = Studio(tmp / "instance", weed.url)
            print(f"studio serve on {studio.base} (2 workers + 1 reserved), {os.cpu_count()} cores")
            idle = [emergency_round(studio, tokens, tmp / "box", n) for n in range(3)]
            state: dict = {}
            loaded = []
            for n in range(args.rounds):
                keep_busy(studio, tokens, state)
                loaded.append(emergency_round(studio, tokens, tmp / "box", 100 + n))
            print("1. approver's publish -> verified MP3 in the loudspeaker's folder (long poll):")
            print(f"   idle queue           median {statistics.median(idle):6.2f} s  "
                  f"({', '.join(f'{x:.1f}' for x in idle)})")
            print(f"   routine renders busy median {statistics.median(loaded):6.2f} s  "
                  f"({', '.join(f'{x:.1f}' for x in loaded)})  target <= 30 s; "
                  f"ratio busy/idle {statistics.median(loaded) / statistics.median(idle):.2f}")

            editors = Editors(studio.base, tokens["editor"])
            alone = editors.measure(rounds=40)

            async def phase2():
                ready, published, work, stop = asyncio.Event(), {}, {}, asyncio.Event()
                task = asyncio.create_task(fleet(studio.port, tokens["fleet"], ready, published, work))
                fast = asyncio.create_task(fast_pollers(studio.port, tokens["fast"], stop))
                await asyncio.wait_for(ready.wait(), 300)
                await asyncio.sleep(2)  # every endpoint's long poll is in the server's hands
                loop = asyncio.get_running_loop()
                waiting = await loop.run_in_executor(None, lambda: editors.measure(rounds=40))
                wid = await loop.run_in_executor(None, approved_work, studio, tokens, "Khẩn cấp toàn tỉnh",
                                                 EMERGENCY, "emergency", ["loudspeaker"])
                work["id"] = wid
                published["at"] = time.perf_counter()
                await loop.run_in_executor(None, lambda: studio.api(
                    "POST", f"/api/v1/works/{wid}/transitions", tokens["approver"], {"action": "publish"}))
                waking = await loop.run_in_executor(None, lambda: editors.measure(until=task.done))
                seen = await task
                stop.set()
                return seen, waiting, waking, await fast
            seen, waiting, waking, counts = asyncio.run(phase2())
            print(f"2. {args.endpoints} endpoints long-polling and {args.fast} polling each second: "
                  f"{len(seen)} long pollers saw the emergency; the last after {max(seen):.2f} s "
                  f"(median {statistics.median(seen):.2f} s), target <= 60 s; fast polls answered: {counts}")
            print("   editors' requests (list works, create a work, the works page), target p99 <= 1 s:")
            print(f"     alone              {fmt(alone)}")
            print(f"     while the fleet waits {fmt(waiting)}  p99 ratio {pct(waiting, .99) / pct(alone, .99):.2f}")
            print(f"     while the fleet wakes {fmt(waking)}  p99 ratio {pct(waking, .99) / pct(alone, .99):.2f}")

            target, deadline = None, time.perf_counter() + 300
            while target is None and time.perf_counter() < deadline:  # a render whose ffmpeg is encoding
                keep_busy(studio, tokens, state)
                for wid in state["works"]:
                    for j in studio.api("GET", f"/api/v1/works/{wid}/jobs", tokens["editor"])["items"]:
                        if j["state"] == "running" and processes_with(f"/job-{j['id']}-"):
                            target = j
                time.sleep(0.2)
            marker = f"/job-{target['id']}-"
            t = time.perf_counter()
            studio.api("POST", f"/api/v1/jobs/{target['id']}/cancel", tokens["editor"])
            gone = ended = None
            while time.perf_counter() - t < 120 and not (gone and ended):
                if gone is None and not processes_with(marker):
                    gone = time.perf_counter() - t
                job = studio.api("GET", f"/api/v1/jobs/{target['id']}", tokens["editor"])
                if ended is None and job["state"] not in ("queued", "running"):
                    ended = time.perf_counter() - t
                time.sleep(0.05)
            print(f"3. cancel of a running render ({target['profile']}, {target['progress']}%): its programs gone "
                  f"after {gone:.2f} s, job {job['state']} after {ended:.2f} s (target <= 5 s)")
            keep_busy(studio, tokens, state)
            exit_s = studio.stop()
            left = processes_with(str(tmp / "instance" / "tmp"))
            print(f"   SIGTERM during renders: exited after {exit_s:.2f} s with code {studio.proc.returncode} "
                  f"(target <= 30 s); programs left behind: {len(left)}")
            studio = None
        finally:
            if studio is not None:
                studio.stop()
            weed.stop()


if __name__ == "__main__":
    main()
