"""One place that finds external programs and runs them, with their stderr on failure.

Every program runs in its own process group, dies with the thread that started it (PR_SET_PDEATHSIG, so a
worker killed with SIGKILL leaves no ffmpeg running on), and belongs to the calling thread's `Scope` when one
is active: another thread (a job's heartbeat, a shutdown) can stop every program of that scope at once.

No Python code runs between fork and exec (no `preexec_fn`): in a process with threads (requests, workers,
heartbeats) a fork can copy a lock another thread holds, and the child, or the parent waiting for it, hangs for
good; that froze `studio serve` once. So the child's set-up is done by programs instead, as a prefix of the
command: util-linux's `setpriv --pdeathsig KILL` (the death signal survives the exec that follows) and
coreutils' `nice -n N`. The process group comes from `start_new_session`, which CPython sets up in C.
ffmpeg reports its position through `-progress`, parsed here so long encodes are never silent (the idea of
ffmpeg-progress-yield, which reads stderr statistics and cannot be combined with our stop and stdin handling).
"""
from __future__ import annotations

import functools
import logging
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Callable

from media_pipeline.errors import EngineError, ToolMissing

log = logging.getLogger(__name__)
_local = threading.local()


class Stopped(Exception):
    """The scope was stopped from another thread (cancel, timeout, shutdown); `reason` says which."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Scope:
    """The programs one job runs; `stop(reason)` ends them all (SIGTERM, then SIGKILL after `grace` s)."""

    def __init__(self, nice: int = 0, on_activity: Callable[[], None] | None = None):
        self.nice = nice
        self.on_activity = on_activity  # called as programs start, report progress and end (a watchdog's beat)
        self.reason: str | None = None
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> "Scope":
        self._outer = getattr(_local, "scope", None)
        _local.scope = self
        return self

    def __exit__(self, *exc) -> None:
        _local.scope = self._outer

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)
            stopped = self.reason is not None
        if stopped:
            _kill_group(proc, signal.SIGKILL)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def check(self) -> None:
        """Raise Stopped if the scope was stopped (for long work done in Python, between steps)."""
        self.activity()
        if self.reason is not None:
            raise Stopped(self.reason)

    def activity(self) -> None:
        """The scope's work moved on (a program started, reported progress or ended)."""
        if self.on_activity is not None:
            self.on_activity()

    def stop(self, reason: str, grace: float = 2.0) -> None:
        """Mark the scope stopped and end its programs; returns once they are gone or killed."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            procs = list(self._procs)
        for p in procs:
            _kill_group(p, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _kill_group(p, signal.SIGKILL)


def current_scope() -> Scope | None:
    """The calling thread's scope, if any."""
    return getattr(_local, "scope", None)


def check_stopped() -> None:
    """Raise Stopped when the calling thread's scope was stopped (no-op outside a scope)."""
    scope = current_scope()
    if scope is not None:
        scope.check()


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@functools.lru_cache(maxsize=None)
def _setpriv() -> str | None:
    """util-linux's setpriv (Debian's util-linux is essential), or None: programs then lack the death signal."""
    path = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")
    if path is None:
        log.warning("setpriv (util-linux) is not installed: a worker killed with SIGKILL may leave its "
                    "programs running")
    return path


def launch_prefix(nice: int = 0) -> list[str]:
    """What runs before a program to set it up without Python between fork and exec (see the docstring)."""
    prefix: list[str] = []
    setpriv = _setpriv()
    if setpriv:
        prefix += [setpriv, "--pdeathsig", "KILL", "--"]
    if nice:
        prefix += [shutil.which("nice") or "/usr/bin/nice", "-n", str(int(nice))]
    return prefix


_BINARIES: dict[str, str] = {}


def configure(binaries: dict[str, str]) -> None:
    """Where programs are when not on PATH, by name (the studio's TOOL_BINARIES, from STUDIO_<TOOL>_BIN)."""
    _BINARIES.clear()
    _BINARIES.update({k: v for k, v in binaries.items() if v})


def find(tool: str) -> str:
    """Path of `tool`: the configured binary first (`configure`), then PATH, else ToolMissing."""
    env = _BINARIES.get(tool)
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise ToolMissing(f"{tool}: STUDIO_{tool.upper().replace('-', '_')}_BIN={env} is not an executable")
        return env
    path = shutil.which(tool)
    if not path:
        raise ToolMissing(f"{tool} is not installed; on Debian: apt-get install "
                          f"{'ffmpeg' if tool.startswith('ff') else tool}")
    return path


def ffmpeg(stream, **kwargs) -> subprocess.CompletedProcess:
    """Run an ffmpeg-python graph (`ffmpeg.input(...).filter(...).output(...)`): the library builds the argument
    list, `run` starts it (process group, scope, timeout, errors), never the library's own runner."""
    return run("ffmpeg", stream.compile(cmd="ffmpeg")[1:], **kwargs)


def run(tool: str, args: list[str], timeout: float | None = None, input: bytes | None = None,
        progress: Callable[[float], None] | None = None, duration: float | None = None
        ) -> subprocess.CompletedProcess:
    """Run a tool, logging the exact command; raise EngineError with its stderr on failure.

    For ffmpeg, `progress(fraction)` is called as the output advances through `duration` seconds.
    Raises Stopped when the calling thread's scope is stopped while the tool runs.
    """
    scope = current_scope()
    if scope is not None:
        scope.check()
    cmd = [find(tool), *args]
    watch = progress is not None and duration and tool == "ffmpeg"
    if watch:
        cmd[1:1] = ["-progress", "pipe:1", "-nostats"]
    log.debug("run: %s", shlex.join(cmd))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*launch_prefix(scope.nice if scope else 0), *cmd],
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        if scope is not None:
            scope.add(proc)
            scope.activity()
        try:
            if watch:
                out = _follow(proc, progress, duration, timeout)
            else:
                try:
                    out, _ = proc.communicate(input, timeout=timeout)
                except subprocess.TimeoutExpired as exc:
                    _kill_group(proc, signal.SIGKILL)
                    proc.wait()
                    raise EngineError(f"{tool} did not finish in {timeout:.0f}s") from exc
        finally:
            if proc.poll() is None:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
            if scope is not None:
                scope.discard(proc)
        if scope is not None:
            scope.check()  # a tool ended by stop() failed because of it, not on its own
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise EngineError(f"{tool} failed ({proc.returncode}): " + " | ".join(lines))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, stderr)


def _follow(proc: subprocess.Popen, progress: Callable[[float], None], duration: float,
            timeout: float | None) -> bytes:
    """Read ffmpeg's `-progress` key=value lines, reporting the fraction of `duration` done."""
    timer = None
    if timeout:
        timer = threading.Timer(timeout, _kill_group, (proc, signal.SIGKILL))
        timer.daemon = True
        timer.start()
    last = -1.0
    try:
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
                fraction = min(1.0, max(0.0, int(value) / 1e6 / duration))
                if fraction - last >= 0.01:
                    last = fraction
                    progress(fraction)
                    scope = current_scope()
                    if scope is not None:  # an encode that advances is alive: the job's watchdog beat
                        scope.activity()
        proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
    return b""
