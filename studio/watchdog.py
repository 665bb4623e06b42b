"""The process's watchdog: the parts that must keep running beat, and a part that stops is named.

The event loop (studio/web/serving.py), every worker thread, the sweeper and the wake-up listener
(studio/jobs/worker.py) call `beat(name)`; a worker inside a job also beats whenever the job reports progress or
starts or ends a program (tools.Scope's activity hook). `stalled()` lists the parts that have not beaten within
their limit; `/healthz` reads it without touching the parts themselves (no lock a stuck thread could hold:
beats are single dictionary stores).

Under systemd (`Type=notify`, `WatchdogSec=`), `Notifier` tells the service manager READY=1 once the process
serves, then WATCHDOG=1 at half the watchdog interval while no part is stalled; when one is, it stops, and
systemd restarts the process, whose jobs the next start takes back. The sd_notify protocol is one datagram on
the Unix socket named by $NOTIFY_SOCKET (sd_notify(3)); it is written here rather than taken from a package:
the `systemd` bindings need libsystemd's headers to build, and the small `sdnotify` package has not been
released since 2017, for a dozen lines.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Part:
    limit_s: float
    last: float


class Watchdog:
    """Beats by part name, each with the longest silence it may keep."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._parts: dict[str, _Part] = {}

    def register(self, name: str, limit_s: float) -> None:
        """Watch a part from now on (again, with a new limit, when it is already watched)."""
        self._parts[name] = _Part(limit_s, self.clock())

    def beat(self, name: str, limit_s: float | None = None) -> None:
        """The part is alive; `limit_s` changes how long it may now stay silent (a worker entering a job)."""
        part = self._parts.get(name)
        if part is None:
            self._parts[name] = _Part(limit_s or 30.0, self.clock())
            return
        part.last = self.clock()
        if limit_s is not None:
            part.limit_s = limit_s

    def unregister(self, name: str) -> None:
        """Stop watching a part (a thread that ended on purpose)."""
        self._parts.pop(name, None)

    def stalled(self) -> dict[str, float]:
        """{part: seconds since its last beat} for the parts silent for longer than their limit."""
        now = self.clock()
        return {name: round(now - p.last, 1) for name, p in list(self._parts.items())
                if now - p.last > p.limit_s}

    def parts(self) -> dict[str, float]:
        """{part: seconds since its last beat} for every watched part."""
        now = self.clock()
        return {name: round(now - p.last, 1) for name, p in list(self._parts.items())}


def sd_notify(message: str, environ: dict | None = None) -> bool:
    """Send one notification to the service manager; False when not run by systemd (no $NOTIFY_SOCKET)."""
    path = (environ or os.environ).get("NOTIFY_SOCKET", "")
    if not path:
        return False
    if path.startswith("@"):  # an abstract socket
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(path)
            s.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", message.split("=")[0], exc)
        return False


class Notifier(threading.Thread):
    """READY=1 now, then WATCHDOG=1 every half watchdog interval while no part is stalled ($WATCHDOG_USEC)."""

    def __init__(self, watchdog: Watchdog, environ: dict | None = None):
        super().__init__(name="systemd-watchdog", daemon=True)
        self.watchdog, self.environ = watchdog, dict(environ or os.environ)
        usec = self.environ.get("WATCHDOG_USEC", "")
        pid = self.environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.interval_s = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self.stopping = threading.Event()
        self.reported: set[str] = set()

    def ready(self) -> None:
        """Tell systemd the process serves, and start pinging its watchdog if it has one."""
        sd_notify("READY=1", self.environ)
        if self.interval_s:
            self.start()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            stalled = self.watchdog.stalled()
            if stalled:
                if set(stalled) != self.reported:
                    log.error("stalled: %s; no longer reassuring systemd's watchdog", stalled)
                    sd_notify("STATUS=stalled: " + ", ".join(sorted(stalled)), self.environ)
                self.reported = set(stalled)
                continue
            if self.reported:
                sd_notify("STATUS=serving", self.environ)
                self.reported = set()
            sd_notify("WATCHDOG=1", self.environ)

    def stop(self) -> None:
        """Tell systemd the process is stopping, and stop pinging."""
        self.stopping.set()
        sd_notify("STOPPING=1", self.environ)
