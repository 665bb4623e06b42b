"""Starting programs from a process full of threads: nothing runs between fork and exec, so nothing hangs.

The studio serves requests, runs workers and heartbeats on threads; `studio serve` once froze because a program
was started with a Python `preexec_fn` while other threads held locks (imports, logging). These tests start
real programs through `tools.run` from many threads while other threads import modules, log and serve HTTP.
"""
from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from media_pipeline import tools

ROUNDS = 100         # programs started per thread
STARTERS = 8         # threads starting programs
HANG_GUARD_S = 300   # only keeps a deadlocked run from hanging the suite; not a speed check


def test_no_python_code_runs_between_fork_and_exec():
    source = Path(tools.__file__).read_text()
    assert "preexec_fn" not in source.replace("no `preexec_fn`", "")
    prefix = tools.launch_prefix(10)
    assert prefix[-3:] == [prefix[-3], "-n", "10"] and prefix[-3].endswith("nice")
    assert any(p.endswith("setpriv") for p in prefix) and "--pdeathsig" in prefix


def test_programs_get_the_scopes_niceness_and_die_with_their_thread(tmp_path):
    marker = tmp_path / "nice.txt"
    with tools.Scope(nice=10):
        tools.run("sh", ["-c", f"nice > {marker}; grep -c . /proc/self/status > /dev/null"])
    assert marker.read_text().strip() == "10"

    pids: list[int] = []

    def start():  # a thread that starts a long program and ends: PR_SET_PDEATHSIG kills the program
        proc = subprocess.Popen([*tools.launch_prefix(), "sleep", "300"], start_new_session=True)
        pids.append(proc.pid)
        # The death signal is set by setpriv before it runs the program: end the thread only after that (a
        # thread ending in between is the prefix's one race; the server's threads live far longer).
        for _ in range(600):
            if Path(f"/proc/{proc.pid}/cmdline").read_bytes().startswith(b"sleep"):
                break
            threading.Event().wait(0.01)
    t = threading.Thread(target=start)
    t.start()
    t.join()
    for _ in range(100):
        if proc_state(pids[0]) in (None, "Z"):
            break
        threading.Event().wait(0.05)
    assert proc_state(pids[0]) in (None, "Z"), "the program outlived the thread that started it"


def proc_state(pid: int) -> str | None:
    """The process's state letter from /proc, None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        logging.getLogger("stress").debug("request")


def test_many_threads_start_programs_while_others_import_and_serve(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    stop = threading.Event()
    errors: list[BaseException] = []
    done = {"programs": 0, "imports": 0, "requests": 0}
    lock = threading.Lock()
    # Modules to import again and again: written here, so each import takes the import lock for real.
    pkg = tmp_path / "stress_mods"
    pkg.mkdir()
    for i in range(40):
        (pkg / f"m{i}.py").write_text(f"import logging\nVALUE = {i}\nlogging.getLogger(__name__).debug('x')\n")
    sys.path.insert(0, str(tmp_path))

    def count(key):
        with lock:
            done[key] += 1

    def starter(n):
        try:
            for i in range(ROUNDS):
                with tools.Scope(nice=10 if i % 2 else 0):
                    out = tools.run("sh", ["-c", f"echo {n}-{i}"], timeout=60)
                assert out.stdout.strip() == f"{n}-{i}".encode()
                count("programs")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def importer(first):  # each importer its own 20 modules, so two never remove each other's
        try:
            i = 0
            while not stop.is_set():
                n = first + i % 20
                sys.modules.pop(f"m{n}", None)
                assert importlib.import_module(f"m{n}").VALUE == n
                logging.getLogger("stress").info("imported m%s", n)
                count("imports")
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def requester():
        try:
            while not stop.is_set():
                with urllib.request.urlopen(url, timeout=30) as r:
                    assert r.read() == b"ok"
                count("requests")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    starters = [threading.Thread(target=starter, args=(n,), daemon=True) for n in range(STARTERS)]
    others = [threading.Thread(target=importer, args=(0,), daemon=True),
              threading.Thread(target=importer, args=(20,), daemon=True),
              threading.Thread(target=requester, daemon=True), threading.Thread(target=requester, daemon=True)]
    sys.path.insert(0, str(pkg))
    try:
        for t in others + starters:
            t.start()
        for t in starters:
            t.join(HANG_GUARD_S)
        hung = [t.name for t in starters if t.is_alive()]
    finally:
        stop.set()
        for t in others:
            t.join(30)
        server.shutdown()
        sys.path.remove(str(pkg))
        sys.path.remove(str(tmp_path))
    assert not hung, f"threads hung starting programs: {hung}"
    assert not errors, errors
    assert done["programs"] == STARTERS * ROUNDS
    assert done["imports"] > 0 and done["requests"] > 0
