"""`play --schedule`: play the synced programme at its times, as a commune's loudspeaker does.

- The programme is what the last sync wrote (state.json), read again whenever a sync rewrites it, so a
  device that lost the studio keeps playing the last programme it had; reports wait in the outbox.
- An occurrence plays when its time comes (up to LATE_S late: a device switched on at 7:20 still plays the
  7:00 bulletin, not yesterday's); occurrences due at once play in the programme's order (emergencies first,
  then priority, then normal, each in the operator's order).
- A published emergency the feed lists plays at once even when no programme names it (as `play` does).
- An emergency interrupts whatever plays: the player is stopped, the emergency plays, and the interrupted
  item resumes where it stopped (the player command's {start} stands for the second to start at; without
  it, the item starts again).
- A relay plays its stream URL for its slot and is stopped at the slot's end; when the stream fails (the
  player ends early or cannot start) the slot's stored fallback files play instead.
- Each play is reported with its occurrence (scheduled_at, item); what has been played is kept in
  played.json, so a restart does not play an occurrence twice.

Written by hand: no scheduler library knows interrupting and resuming a child player; the loop is a tick
that looks at the clock and the player process, nothing more.
"""
from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from endpoint_client.client import SyncClient, _now, _write_json

log = logging.getLogger(__name__)
LATE_S = 900
RANK = {"emergency": 0, "priority": 1, "normal": 2}
PLAYED = ("audio", "video", "still")


def _key(occ: dict) -> str:
    """What makes a play once: a programme occurrence, or a published emergency (by its package)."""
    return occ["item_id"] if occ.get("feed") else f"{occ['item_id']}@{occ['at']}#{occ.get('play', 0)}"


@dataclass
class Playing:
    """What the player process is playing now."""

    occ: dict
    proc: subprocess.Popen | None
    started: float          # monotonic time the process started
    first_start: str        # the play's first start (a resumed play keeps it)
    offset: float = 0.0     # where in the file it started (s)
    relay: bool = False
    until: float = 0.0      # a relay's slot end (monotonic)
    file: dict | None = None
    interrupted: bool = False


class ScheduledPlayer:
    """Plays a SyncClient folder's programme with the device's player command (see the module's notes)."""

    def __init__(self, client: SyncClient, player: list[str], tick: float = 0.2,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.client, self.player, self.tick, self.clock = client, player, tick, clock
        self.played_path = client.dir / "played.json"
        self.done: set[str] = set(client._load("played.json", []))
        self.current: Playing | None = None
        self.resume: list[Playing] = []
        self.log: list[dict] = []

    # -- what is due ---------------------------------------------------------------------------------
    def due(self) -> list[dict]:
        """Occurrences whose time has come (at most LATE_S ago), not played yet, in playing order; and a
        published emergency the feed lists but no programme names, which plays at once all the same."""
        now = self.clock()
        out, scheduled = [], set()
        for occ in self.client.programme():
            scheduled.add(occ.get("package_id"))
            at = datetime.fromisoformat(occ["at"])
            if at <= now and now - at <= timedelta(seconds=LATE_S) and _key(occ) not in self.done:
                out.append(occ)
        for item in self.client.playable(now):
            if (item.get("playback") or {}).get("play_immediately") and item["package_id"] not in scheduled:
                occ = {"at": now.isoformat(timespec="seconds"), "item_id": f"package-{item['package_id']}",
                       "package_id": item["package_id"], "priority": "emergency", "files": item["files"],
                       "feed": True}
                if _key(occ) not in self.done:
                    out.append(occ)
        return sorted(out, key=lambda o: (o["at"], RANK.get(o.get("priority"), 9)))

    def _files(self, occ: dict) -> list[dict]:
        return [f for f in occ.get("files", []) if f.get("role") in PLAYED and self.client.media_path(f["sha256"]).exists()]

    # -- the player process --------------------------------------------------------------------------
    def _spawn(self, target: str, offset: float) -> subprocess.Popen | None:
        args = [a.replace("{file}", target).replace("{start}", f"{offset:.3f}") for a in self.player]
        if not any("{file}" in a for a in self.player):
            args.append(target)
        try:
            return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            log.warning("the player could not start: %s", exc)
            return None

    def _start(self, occ: dict, resumed: Playing | None = None) -> None:
        if resumed is not None:
            if resumed.relay and time.monotonic() >= resumed.until:  # the slot ended during the emergency
                self._finish(occ, None, "played", resumed.first_start, detail="interrupted by an emergency")
                return
            target = occ["relay"]["url"] if resumed.relay else str(self.client.media_path(resumed.file["sha256"]))
            resumed.proc = self._spawn(target, 0.0 if resumed.relay else resumed.offset)
            resumed.started = time.monotonic()
            self.current = resumed
            self._event("resume", occ, offset=round(resumed.offset, 3))
            return
        relay = occ.get("relay")
        if relay:
            until = time.monotonic() + float(occ.get("duration_s") or 0)
            self.current = Playing(occ, self._spawn(relay["url"], 0.0), time.monotonic(), _now(), relay=True,
                                   until=until)
            self._event("relay", occ)
            return
        files = self._files(occ)
        if not files:
            self._finish(occ, None, "failed", _now(), detail="file not held")
            return
        f = files[0]
        self.current = Playing(occ, self._spawn(str(self.client.media_path(f["sha256"])), 0.0), time.monotonic(),
                               _now(), file=f)
        self._event("start", occ)

    def _stop(self, p: Playing) -> None:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.terminate()
            try:
                p.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()

    def _finish(self, occ: dict, file: dict | None, outcome: str, start: str, **extra) -> None:
        self.done.add(_key(occ))
        horizon = self.clock() - timedelta(seconds=LATE_S + 86400)  # older ones can no longer come due
        self.done = {k for k in self.done if "@" not in k or
                     datetime.fromisoformat(k.split("@", 1)[1].rsplit("#", 1)[0]) >= horizon}
        _write_json(self.played_path, sorted(self.done))
        if file is not None and occ.get("feed"):  # a published emergency outside any programme
            self.client.record_play(occ["package_id"], file["sha256"], start, _now(), outcome, **extra)
        elif file is not None:
            self.client.record_play(occ.get("package_id"), file["sha256"], start, _now(), outcome,
                                    scheduled_at=occ["at"], item=occ["item_id"], **extra)
        else:
            self.client.record_play(None, None, start, _now(), outcome, scheduled_at=occ["at"], item=occ["item_id"],
                                    relay=True if occ.get("relay") else None, **extra)
        self._event("end", occ, outcome=outcome)

    def _event(self, what: str, occ: dict, **extra) -> None:
        self.log.append({"event": what, "at": _now(), "item_id": occ["item_id"], "scheduled_at": occ["at"],
                         "priority": occ.get("priority"), **extra})

    # -- one tick ------------------------------------------------------------------------------------
    def step(self) -> None:
        """Look at the clock and the player once: interrupt, finish, resume or start as due."""
        busy = {_key(p.occ) for p in self.resume} | ({_key(self.current.occ)} if self.current else set())
        due = [o for o in self.due() if _key(o) not in busy]
        cur = self.current
        if cur is not None:
            emergency = next((o for o in due if o.get("priority") == "emergency"), None)
            if emergency is not None and cur.occ.get("priority") != "emergency":
                self._stop(cur)
                cur.offset += time.monotonic() - cur.started
                cur.interrupted = True
                self.resume.append(cur)
                self._event("interrupt", cur.occ, offset=round(cur.offset, 3))
                self.current = None
                self._start(emergency)
                return
            code = cur.proc.poll() if cur.proc is not None else 1
            if cur.relay:
                if time.monotonic() >= cur.until:
                    self._stop(cur)
                    extra = {"detail": "interrupted by an emergency"} if cur.interrupted else {}
                    self._finish(cur.occ, None, "played", cur.first_start, **extra)
                    self.current = None
                elif code is not None:  # the stream failed: the slot's stored item instead
                    self._event("relay_failed", cur.occ)
                    files = self._files(cur.occ)
                    if files:
                        f = files[0]
                        self.current = Playing(cur.occ, self._spawn(str(self.client.media_path(f["sha256"])), 0.0),
                                               time.monotonic(), _now(), file=f)
                    else:
                        self._finish(cur.occ, None, "failed", cur.first_start, detail="the stream failed")
                        self.current = None
                return
            if code is None:
                return
            extra = {"detail": "resumed after an emergency"} if cur.interrupted else {}
            self._finish(cur.occ, cur.file, "played" if code == 0 else "failed", cur.first_start, **extra)
            self.current = None
            return  # the next tick looks again: what to resume, what is due
        if self.resume and not any(o.get("priority") == "emergency" for o in due):
            p = self.resume.pop()
            self._start(p.occ, resumed=p)
            return
        if due:
            self._start(due[0])

    def run(self, seconds: float | None = None) -> list[dict]:
        """Play until `seconds` have passed (None: for ever); the log of what happened."""
        end = None if seconds is None else time.monotonic() + seconds
        try:
            while end is None or time.monotonic() < end:
                self.step()
                time.sleep(self.tick)
        finally:
            if self.current is not None:
                self._stop(self.current)
        return self.log
