"""SyncClient: one sync of an endpoint's folder with its feed, and its reports (see the package's notes)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import requests

log = logging.getLogger(__name__)
SOFTWARE = "studio-endpoint/1"


class SyncError(Exception):
    """The server refused us (bad or revoked token) or answered nonsense; the message says which."""


@dataclass
class SyncResult:
    """What one sync did."""

    offline: bool = False
    not_modified: bool = False
    downloaded: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    holds: list[int] = field(default_factory=list)
    reports_sent: int = 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False))
    os.replace(tmp, path)


class SyncClient:
    """Keeps DIR in step with the endpoint's feed."""

    def __init__(self, url: str, token: str, directory: Path, timeout: float = 30):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.dir = Path(directory)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["User-Agent"] = SOFTWARE
        for sub in ("media", "manifests", "partial"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)

    # -- state -----------------------------------------------------------------------------------------
    def _load(self, name: str, default):
        try:
            return json.loads((self.dir / name).read_text())
        except (FileNotFoundError, ValueError):
            return default

    def media_path(self, sha256: str) -> Path:
        """Where a verified file lives."""
        return self.dir / "media" / sha256

    def record_play(self, package: int | None, sha256: str | None, start: str, end: str, outcome: str = "played",
                    **occurrence) -> None:
        """Queue a playback report (the player calls this); it is sent with the next sync. A play of a programme
        occurrence names it: scheduled_at (its `at`) and item (its `item_id`); a relay's play, relay=True."""
        report = {"id": str(uuid.uuid4()), "type": "play", "start": start, "end": end, "outcome": outcome,
                  **{k: v for k, v in occurrence.items() if v is not None}}
        if package is not None:
            report.update(package=package, file=sha256)
        self._queue(report)

    def programme(self) -> list[dict]:
        """The programme as last synced (kept when the studio is unreachable)."""
        return self._load("state.json", {}).get("programme", [])

    def play(self, player: list[str], now: datetime | None = None,
             roles: tuple[str, ...] = ("audio", "video", "still")) -> list[dict]:
        """Play what is playable now with the device's player, a command whose arguments may hold {file}
        (e.g. `mpv --no-video {file}`, `ffplay -nodisp -autoexit {file}`): each media file once, in feed order;
        a play report is queued for each with its real start, end and outcome (the player's exit status)."""
        import shlex
        import subprocess
        done = []
        for item in self.playable(now):
            for f in item["files"]:
                if f.get("role") not in roles:
                    continue  # captions and manifests are not played on their own
                path = self.media_path(f["sha256"])
                if not path.exists():
                    continue
                args = [a.replace("{file}", str(path)) for a in player]
                if not any("{file}" in a for a in player):
                    args.append(str(path))
                start = _now()
                try:
                    outcome = "played" if subprocess.run(args, capture_output=True).returncode == 0 else "failed"
                except OSError as exc:
                    log.warning("the player %s could not start: %s", shlex.join(player), exc)
                    outcome = "failed"
                self.record_play(item["package_id"], f["sha256"], start, _now(), outcome)
                done.append({"package_id": item["package_id"], "file": f["sha256"], "outcome": outcome})
        return done

    def _queue(self, report: dict) -> None:
        outbox = self._load("outbox.json", [])
        outbox.append(report)
        _write_json(self.dir / "outbox.json", outbox)

    def playable(self, now: datetime | None = None) -> list[dict]:
        """The held items to play now, most urgent first: valid at `now`, and inside one of their time slots,
        which are wall-clock times in the studio's time zone (an emergency ignores its slots)."""
        from zoneinfo import ZoneInfo
        state = self._load("state.json", {"items": []})
        zone = ZoneInfo(state.get("time_zone") or "UTC")
        now = (now or datetime.now(timezone.utc)).astimezone(zone)
        wall = now.strftime("%H:%M")
        out = []
        for item in state["items"]:
            start, end = (datetime.fromisoformat(item[k].replace("Z", "+00:00")) if item.get(k) else None
                          for k in ("valid_from", "valid_until"))
            if (start and now < start) or (end and now >= end):
                continue
            slots = [s.split("-") for s in item.get("time_slots") or []]
            if slots and not (item.get("playback") or {}).get("ignore_time_slots") and not any(
                    (a <= wall < b) if a <= b else (wall >= a or wall < b) for a, b in slots):
                continue
            out.append(item)
        return out

    # -- sync ------------------------------------------------------------------------------------------
    def sync(self, wait: int = 0) -> SyncResult:
        """One round: feed, downloads, clean-up, reports.

        With `wait` (1-60 s) the studio holds the request until this endpoint's feed changes (long poll), so
        an emergency arrives at once instead of at the next poll.
        """
        result = SyncResult()
        state = self._load("state.json", {"etag": "", "items": []})
        complete = all(self.media_path(f["sha256"]).exists()
                       for i in state["items"] + state.get("programme", []) for f in i["files"])
        try:
            feed = self._fetch_feed(state["etag"] if complete else "", wait)
        except requests.RequestException as exc:
            log.warning("feed unreachable, keeping the last good state: %s", exc)
            result.offline = True
            result.holds = [i["package_id"] for i in state["items"]]
            return result
        if feed is None:
            result.not_modified = True
            result.holds = [i["package_id"] for i in state["items"]]
        else:
            etag, body = feed
            good = []
            for item in body["items"]:
                if self._fetch_item(item, result):
                    good.append({k: v for k, v in item.items() if k != "manifest_url"} |
                                {"files": [{k: v for k, v in f.items() if k != "url"} for f in item["files"]]})
            # The programme's occurrences (played at their times by schedule.py), their files fetched too; one
            # whose files are not all here yet is kept, and the next sync fetches the rest.
            programme, whole = [], True
            for occ in body.get("programme", []):
                whole = self._fetch_files(occ["files"], occ.get("package_id"), result) and whole
                programme.append(occ | {"files": [{k: v for k, v in f.items() if k != "url"} for f in occ["files"]]})
            keep = {f["sha256"] for i in good + programme for f in i["files"]}
            self._clean(keep, {i["package_id"] for i in good}, result)
            complete_now = len(good) == len(body["items"]) and whole
            _write_json(self.dir / "state.json", {"etag": etag if complete_now else "", "items": good,
                                                  "programme": programme, "synced_at": _now(),
                                                  "time_zone": body.get("time_zone", "UTC")})
            result.holds = [i["package_id"] for i in good]
        self._send_reports(result)
        return result

    def _fetch_feed(self, etag: str, wait: int = 0):
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        wait = max(0, min(60, wait)) if etag else 0
        resp = self.http.get(f"{self.url}/api/v1/feed", headers=headers, params={"wait": wait} if wait else None,
                             timeout=self.timeout + wait)
        if resp.status_code == 304:
            return None
        if resp.status_code in (401, 403):
            raise SyncError(f"the studio refused this endpoint's token ({resp.status_code}); ask for a new one")
        if resp.status_code >= 500:
            raise requests.ConnectionError(f"server error {resp.status_code}")
        if resp.status_code != 200:
            raise SyncError(f"unexpected answer {resp.status_code} from the feed")
        return resp.headers.get("ETag", "").strip('"'), resp.json()

    def _fetch_files(self, files: list[dict], package_id: int | None, result: SyncResult) -> bool:
        """Download and verify files not held yet; False if any is missing or refused."""
        ok = True
        for f in files:
            target = self.media_path(f["sha256"])
            if target.exists():
                continue
            try:
                self._download(f["url"], f["sha256"], f["size"], target)
                result.downloaded.append(f["sha256"])
            except ValueError as exc:  # checksum mismatch: never used, reported
                result.rejected.append(f["sha256"])
                if package_id is not None:
                    self._queue({"id": str(uuid.uuid4()), "type": "play", "package": package_id,
                                 "file": f["sha256"], "start": _now(), "end": _now(), "outcome": "rejected",
                                 "detail": str(exc)})
                ok = False
            except requests.RequestException as exc:
                log.warning("download of %s failed (will resume): %s", f["sha256"][:12], exc)
                result.failed.append(f["sha256"])
                ok = False
        return ok

    def _fetch_item(self, item: dict, result: SyncResult) -> bool:
        """Download and verify the item's manifest and files; False if any is missing or refused."""
        ok = self._fetch_files(item["files"], item["package_id"], result)
        manifest = self.dir / "manifests" / f"{item['package_id']}.json"
        if ok and item.get("manifest_url") and not manifest.exists():
            try:
                resp = self.http.get(item["manifest_url"], timeout=self.timeout)
                resp.raise_for_status()
            except requests.RequestException as exc:
                log.warning("manifest of package %s not fetched (next time): %s", item["package_id"], exc)
                result.failed.append(item["manifest_sha256"])
                return False
            data = resp.content
            if hashlib.sha256(data).hexdigest() != item["manifest_sha256"]:
                result.rejected.append(item["manifest_sha256"])
                return False
            manifest.write_bytes(data)
        return ok

    def _download(self, url: str, sha256: str, size: int, target: Path) -> None:
        """Resume into partial/, check size and sha256, then move into media/."""
        part = self.dir / "partial" / f"{sha256}.part"
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        if have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            with self.http.get(url, headers=headers, stream=True, timeout=self.timeout) as resp:
                if resp.status_code == 200:  # the server ignored the range: start again
                    have, mode = 0, "wb"
                elif resp.status_code == 206:
                    mode = "ab"
                else:
                    raise requests.HTTPError(f"download answered {resp.status_code}")
                with open(part, mode) as out:
                    for chunk in resp.iter_content(1 << 20):
                        out.write(chunk)
        actual = _sha256(part)
        if part.stat().st_size != size or actual != sha256:
            part.unlink()
            raise ValueError(f"sha256 mismatch: expected {sha256}, got {actual}")
        os.replace(part, target)

    def _clean(self, keep: set[str], packages: set[int], result: SyncResult) -> None:
        """Delete media and manifests no longer listed (expired or retracted)."""
        for path in (self.dir / "media").iterdir():
            if path.name not in keep:
                path.unlink()
                result.removed.append(path.name)
        for path in (self.dir / "manifests").glob("*.json"):
            if path.stem.isdigit() and int(path.stem) not in packages:
                path.unlink()

    def send_reports(self) -> int:
        """Send the queued reports now (with a heartbeat listing what is held); returns how many were taken."""
        result = SyncResult()
        result.holds = [i["package_id"] for i in self._load("state.json", {"items": []})["items"]]
        self._send_reports(result)
        return result.reports_sent

    def _send_reports(self, result: SyncResult) -> None:
        outbox = self._load("outbox.json", [])
        heartbeat = {"id": str(uuid.uuid4()), "type": "heartbeat", "holds": result.holds,
                     "free_bytes": shutil.disk_usage(self.dir).free, "software": SOFTWARE}
        batch = outbox + [heartbeat]
        try:
            resp = self.http.post(f"{self.url}/api/v1/reports", json={"reports": batch}, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("reports not sent, kept for next time: %s", exc)
            return
        if resp.status_code == 200:
            _write_json(self.dir / "outbox.json", [])
            result.reports_sent = len(batch)
        else:
            log.warning("reports refused (%s): %s", resp.status_code, resp.text[:200])
