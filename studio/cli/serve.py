"""`studio serve` (the web app, an embedded worker pool and object store) and `studio worker`."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from studio.cli.common import running_studio

log = logging.getLogger(__name__)


def cmd_serve(args) -> int:
    """Run the web app, an embedded worker pool and (without STUDIO_S3_URL) an embedded SeaweedFS.

    SIGTERM or Ctrl+C: stop taking requests and jobs, stop running programs, put running jobs back in the
    queue, stop the object store, exit (within 30 s); the next start takes the jobs back.
    """
    from studio.config import load_config
    from studio.watchdog import Notifier
    from studio.web.serving import bind, make_server
    from studio.jobs.worker import WorkerPool

    pool = broker = None
    cfg = load_config()
    with running_studio(cfg) as (app, password):
        if cfg["MQTT_URL"] == "embedded":
            from studio.mqtt import EmbeddedMosquitto
            broker = EmbeddedMosquitto(Path(cfg["INSTANCE"]) / "mqtt").start()
            app.config["MQTT_URL"] = broker.url("studio")
            print(f"MQTT: embedded mosquitto on 127.0.0.1:{broker.port}; endpoints subscribe as user 'endpoint' "
                  f"(password in {broker.root / 'credentials.json'})", flush=True)
        if password:
            print(f"Created the first account: user 'admin', password '{password}' "
                  "(shown only now; change it after logging in)", flush=True)
        try:
            if not args.no_worker:
                pool = WorkerPool(app, workers=args.workers, reserved=args.urgent_workers)
                recover_jobs(pool)
                pool.start()
            sock = bind(args.host, args.port)
            port = sock.getsockname()[1]
            server = make_server(app, args.host, port, on_exit=pool.stop_async if pool else None, only=args.only)
            _stop_on_signals(server)
            side = f" ({args.only} only)" if args.only else ""
            print(f"Studio running at http://{args.host}:{port}/{side}  (Ctrl+C stops it)", flush=True)
            notifier = Notifier(app.extensions["watchdog"])
            threading.Thread(target=_ready_when_serving, args=(server, notifier), daemon=True).start()
            server.run(sockets=[sock])
            notifier.stop()
        finally:
            if pool:
                back = pool.stop()
                if back:
                    print(f"Jobs back in the queue for the next start: {back}", flush=True)
            if broker:
                broker.stop()
    _exit_if_stuck(pool)
    return 0


def _ready_when_serving(server, notifier) -> None:
    """Tell systemd READY=1 (and start its watchdog pings) once the server accepts requests."""
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        notifier.ready()


def _exit_if_stuck(pool) -> None:
    """Jobs are back in the queue and the store is stopped; a thread still inside a native library (Whisper,
    CTranslate2) would crash the interpreter's finalisation, so leave at once instead."""
    if pool is not None and pool.stuck():
        log.warning("a job thread did not stop in time; exiting without waiting for it")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _stop_on_signals(server) -> None:
    """SIGTERM/SIGINT before the server takes over its own handlers (or re-raised by it once it stopped) ask it
    to stop, rather than ending the process before the workers and the object store are stopped."""
    def stop(signum, frame):
        log.info("signal %s: stopping", signum)
        server.handle_exit(signum, frame)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def cmd_worker(args) -> int:
    """Run a standalone worker pool against the database (woken over Redis when STUDIO_QUEUE_URL is set)."""
    from studio import create_app
    from studio.config import load_config
    from studio.jobs.worker import WorkerPool
    cfg = load_config()
    overrides = {}
    if not cfg["S3_URL"]:
        from storage.seaweed import running_url
        url = running_url(Path(cfg["INSTANCE"]) / "objectstore")
        if url is None:
            raise SystemExit("error: no object store for the worker. Set STUDIO_S3_URL (s3://KEY:SECRET@HOST:PORT/"
                             "BUCKET or http://...), or start `studio serve` on this instance first "
                             f"(STUDIO_INSTANCE={cfg['INSTANCE']}): the worker then uses its embedded store.")
        overrides["S3_URL"] = url
        print("Object store: the embedded SeaweedFS of `studio serve` on this instance", flush=True)
    app = create_app(overrides or None)
    pool = WorkerPool(app, workers=args.workers, reserved=args.urgent_workers)
    recover_jobs(pool)
    stop = threading.Event()

    def _shutdown(signum, _frame):
        log.info("signal %s: stopping", signum)
        stop.set()
    signal.signal(signal.SIGTERM, _shutdown)
    signal.signal(signal.SIGINT, _shutdown)
    pool.start()
    print(f"Worker running ({args.workers} threads, {args.urgent_workers} reserved for emergencies and "
          "deliveries)", flush=True)
    from studio.watchdog import Notifier
    notifier = Notifier(app.extensions["watchdog"])
    notifier.ready()
    stop.wait()
    notifier.stop()
    back = pool.stop()
    if back:
        print(f"Jobs back in the queue for the next start: {back}", flush=True)
    _exit_if_stuck(pool)
    return 0


def recover_jobs(pool) -> None:
    """On start, take back jobs whose worker died (no heartbeat for STUDIO_JOB_STALE_SECONDS)."""
    ids = pool.recover()
    if ids:
        print(f"Re-queued jobs left by a stopped worker: {ids}", flush=True)
