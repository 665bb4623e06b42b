"""Processes the tests start (studio serve, studio worker, SeaweedFS, Redis, PostgreSQL, mosquitto): stopping
them for sure, and finding any that live on.

At the start of the run the pytest process becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so a program
whose parent died is re-parented to pytest rather than to init: every process the run started, however deep,
stays a descendant of pytest and can be found at the end. conftest.py fails a test that leaves one behind, and
the run when any lives on at its end.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); False where that is not possible."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def stop(proc: subprocess.Popen, grace: float = 30.0, sig: int = signal.SIGTERM) -> int | None:
    """Send `sig` (to its process group when it leads one), wait `grace` s, then SIGKILL the group and wait.

    Returns the exit code, or None when it only ended by SIGKILL after the grace period.
    """
    if proc.poll() is not None:
        return proc.returncode
    _signal(proc.pid, sig)
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return None


def _signal(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def descendants(root: int | None = None) -> dict[int, list[int]]:
    """Living (not zombie) descendants of `root` (this process): {pid: its ancestors up to root, nearest first}."""
    root = os.getpid() if root is None else root
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[1] not in ("Z", "X"):
                parents[int(entry.name)] = st[0]
    found: dict[int, list[int]] = {}
    for pid in parents:
        chain, p = [], parents[pid]
        while p in parents and p != root and len(chain) < 64:
            chain.append(p)
            p = parents[p]
        if p == root:
            found[pid] = chain
    return found


def command_line(pid: int) -> str:
    """A process's command line, as ps shows it."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def reap() -> None:
    """Collect the exit status of orphans re-parented to us (they would stay zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def left_behind(before: set[int], settle_s: float = 10.0) -> dict[int, str]:
    """Processes started since `before` that are not children of one already there then (a browser's renderers,
    SeaweedFS's own helpers), after giving exiting ones `settle_s` to finish: {pid: command line}."""
    deadline = time.monotonic() + settle_s
    while True:
        new = {pid: command_line(pid) for pid, chain in descendants().items()
               if pid not in before and not before.intersection(chain)}
        if not new or time.monotonic() >= deadline:
            return new
        time.sleep(0.2)


def kill_all(pids) -> None:
    """SIGKILL each process (and the group it leads)."""
    for pid in pids:
        _signal(pid, signal.SIGKILL)
