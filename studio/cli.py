"""The `studio` command: serve, worker, db upgrade, create-user, render, demo, transcribe, normalize, models,
endpoint."""
from __future__ import annotations

import argparse
import logging
from contextlib import contextmanager
import os
import signal
import sys
import threading
import time
from pathlib import Path

from studio import cli_endpoint, cli_models

log = logging.getLogger(__name__)


OWN_LOGGERS = ("studio", "media_pipeline", "storage")


def _setup_logging(verbose: bool) -> None:
    """The studio's own messages at INFO; libraries' (Alembic, uvicorn, faster-whisper...) only with -v."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def prepare(app) -> str | None:
    """Apply migrations and create the first admin; returns a generated admin password to print once."""
    from flask_migrate import upgrade

    from studio.extensions import db
    from studio.services import accounts
    with app.app_context():
        upgrade()
        return accounts.ensure_admin(db.session, os.environ.get("STUDIO_ADMIN_PASSWORD"))


def open_object_store(cfg: dict, quiet: bool = False):
    """STUDIO_S3_URL if set; otherwise start the embedded SeaweedFS. Returns (app overrides, seaweed or None)."""
    if cfg["S3_URL"]:
        return {}, None
    from storage.errors import StorageUnavailable
    from storage.seaweed import EmbeddedSeaweed, running_url
    running = running_url(Path(cfg["INSTANCE"]) / "objectstore")
    if running:  # `studio serve` runs the instance's store: use it rather than start a second one
        return {"S3_URL": running}, None
    try:
        seaweed = EmbeddedSeaweed(Path(cfg["INSTANCE"]) / "objectstore").start()
    except StorageUnavailable as exc:
        raise SystemExit(f"error: {exc}\nIf `studio serve` is running on this instance, stop it first, "
                         "or pass --queue to let its worker do the work.") from exc
    if not quiet:
        print(f"Object store: embedded SeaweedFS on {seaweed.endpoint} (data in {seaweed.root})", flush=True)
    return {"S3_URL": seaweed.url}, seaweed


@contextmanager
def running_studio(cfg: dict, with_store: bool = True, quiet: bool = False):
    """The app, migrated, with its object store (embedded SeaweedFS started and stopped here when needed).

    Yields (app, generated admin password or None).
    """
    from studio import create_app
    overrides, seaweed = open_object_store(cfg, quiet) if with_store else ({}, None)
    try:
        app = create_app(overrides or None)
        yield app, prepare(app)
    finally:
        if seaweed:
            seaweed.stop()


def cmd_serve(args) -> int:
    """Run the web app, an embedded worker pool and (without STUDIO_S3_URL) an embedded SeaweedFS.

    SIGTERM or Ctrl+C: stop taking requests and jobs, stop running programs, put running jobs back in the
    queue, stop the object store, exit (within 30 s); the next start takes the jobs back.
    """
    from studio.config import load_config
    from studio.watchdog import Notifier
    from studio.web.serving import bind, make_server
    from studio.worker import WorkerPool

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
    from studio.worker import WorkerPool
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


def cmd_db_upgrade(args) -> int:
    """Apply database migrations and create the first admin if there is none."""
    from studio import create_app
    password = prepare(create_app())
    if password:
        print(f"Created user 'admin' with password '{password}'")
    print("Database is up to date.")
    return 0


def cmd_create_user(args) -> int:
    """Create a user from the command line (for scripted setups)."""
    import getpass

    from studio import create_app
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import Caller, accounts
    app = create_app()
    password = os.environ.get("STUDIO_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    with app.app_context():
        try:
            accounts.create_user(db.session, Caller(None, "cli"), args.username, password, args.roles.split(","),
                                 args.name or args.username, system=True)
            db.session.commit()
        except StudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"Created {args.username} ({args.roles}).")
    return 0


def _run_jobs_here(app, job_ids: list[int], quiet: bool) -> list[str]:
    """Be the worker for these jobs (and what they release) in this process, printing progress."""
    from storage.models import Job
    from studio.extensions import db
    from studio.services import jobs
    from studio.worker import resources
    states = []
    with app.app_context():
        get = resources(app)
        todo, done = list(job_ids), set()
        while todo:
            job_id = todo.pop(0)
            job = db.session.get(Job, job_id)
            if not quiet:
                print(f"job {job.id}: {job.kind} {job.profile} [{job.language}] ...", flush=True)
            if job.state == "waiting":
                db.session.refresh(job)
                # What it waits for runs first here, even when the caller did not list it (a narrate job).
                first = [d for d in job.depends_on or [] if d not in todo and d not in done
                         and db.session.get(Job, d).state in ("queued", "waiting")]
                if first:
                    todo[:0] = [*first, job_id]
                    continue
                released = jobs.resolve_waiting(db.session)
                db.session.commit()
                if job.id not in released:
                    todo.append(job_id)  # its dependencies are further down the list, or run elsewhere
                    time.sleep(0.2)
                    continue
            jobs.run_here(db.session, job_id, get)
            db.session.refresh(job)
            done.add(job_id)
            if job_id in job_ids:
                states.append(job.state)
            if not quiet:
                extra = " (reused)" if job.cached else (f": {job.error}" if job.error else "")
                print(f"job {job.id}: {job.state}{extra}", flush=True)
    return states


def _wait_for_queue(app, job_ids: list[int]) -> list[str]:
    """Wait for another process's worker to finish the jobs, printing progress."""
    import time

    from storage.models import Job
    from studio.extensions import db
    seen: dict[int, tuple] = {}
    while True:
        with app.app_context():
            jobs = [db.session.get(Job, i) for i in job_ids]
            for j in jobs:
                now = (j.state, j.progress)
                if seen.get(j.id) != now:
                    seen[j.id] = now
                    print(f"job {j.id}: {j.profile} [{j.language}] {j.state} {j.progress}%"
                          + (f" {j.error}" if j.error else ""), flush=True)
            if all(j.state in ("succeeded", "failed", "cancelled") for j in jobs):
                return [j.state for j in jobs]
        time.sleep(1)


def cmd_render(args) -> int:
    """Queue renders of a work and wait, printing progress (this process renders unless --queue)."""
    from sqlalchemy import select

    from storage.models import User
    from studio.config import load_config
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import Caller, rendering

    with running_studio(load_config(), with_store=not args.queue) as (app, _password):
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == args.user))
            if user is None:
                print(f"error: no user {args.user!r} (use --user)", file=sys.stderr)
                return 2
            try:
                jobs = rendering.queue(db.session, Caller(user, "cli"), args.work_id, args.channel or None,
                                       args.language or None)
                db.session.commit()
            except StudioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            ids = [j.id for j in jobs]
        if args.queue:
            states = _wait_for_queue(app, ids)  # a running studio's workers take them from the database
        else:
            states = _run_jobs_here(app, ids, quiet=False)
        return 0 if all(s == "succeeded" for s in states) else 1


def cmd_demo(args) -> int:
    """Create the sample work, render it offline for all channels, print a summary."""
    import json
    import tempfile

    from sqlalchemy import select

    from storage.models import User, Work
    from studio import demo
    from studio.config import load_config
    from studio.extensions import db
    from studio.services import Caller, rendering
    from studio.services import channels as channel_service

    cfg = load_config()
    with running_studio(cfg, quiet=args.json) as (app, password):
        store = app.extensions["objectstore"]
        with app.app_context(), tempfile.TemporaryDirectory() as tmp:
            work_id = demo.create(db.session, store, Path(tmp), app.config["MAX_CONTENT_LENGTH"],
                                  app.config["MAX_IMAGE_PIXELS"])
            endpoints = demo.register_endpoints(db.session)
            demo.approve(db.session, work_id)
            editor = db.session.scalar(select(User).where(User.username == "demo-editor"))
            work = db.session.get(Work, work_id)
            needs = channel_service.needs(db.session, work)  # the channels' defaults and every endpoint's files
            jobs = rendering.queue(db.session, Caller(editor, "demo"), work_id,
                                   languages=sorted({n.language for n in needs}), needs=needs)
            db.session.commit()
            ids = [j.id for j in jobs]
        states = _run_jobs_here(app, ids, quiet=args.json)
        with app.app_context():
            publish_ids = demo.publish(db.session, work_id)
        states += _run_jobs_here(app, publish_ids, quiet=args.json)
        ids += publish_ids
        with app.app_context():
            book_id = demo.create_publication(db.session)
            editor = db.session.scalar(select(User).where(User.username == "demo-editor"))
            book_jobs = [j.id for j in rendering.queue(db.session, Caller(editor, "demo"), book_id, ["epub"], ["vi"])]
            db.session.commit()
        states += _run_jobs_here(app, book_jobs, quiet=args.json)
        ids += book_jobs
        out_dir = Path(cfg["INSTANCE"]) / "demo" / f"work-{work_id}"
        with app.app_context():
            entries = demo.collect(db.session, store, work_id, out_dir)
            books = demo.collect_publications(db.session, store, book_id, out_dir)
        base = (cfg["PUBLIC_URL"] or "http://127.0.0.1:5000").rstrip("/")
        summary = {"work_id": work_id, "jobs": dict(zip(ids, states)), "renditions": entries,
                   "output_dir": str(out_dir.resolve()), "feed_url": f"{base}/api/v1/feed",
                   "endpoint_token": endpoints[0]["token"], "endpoints": endpoints,
                   "publications": books}
        if password:
            summary["admin_password"] = password
        if args.json:
            print(json.dumps(summary, ensure_ascii=False))
        else:
            print(f"\nDemo work {work_id}: {len(entries)} renditions in {out_dir}, published")
            for e in entries:
                loud = f"  {e['lufs']:.1f} LUFS" if "lufs" in e else ""
                print(f"  {e['channel']:<14} {e['profile']:<20} {e['language']}  {e['duration_s']:6.1f} s{loud}  "
                      f"{e['file']}")
            print(f"\nSample publication {book_id}:")
            for b in books:
                print(f"  {b['format']:<14} {b['language']}  {b['file']}")
            print("\nEndpoints registered (each fetches files made for its display and languages):")
            for e in endpoints:
                print(f"  {e['kind']:<14} {e['display'] or '-':<10} {','.join(e['languages']) or 'all':<9} {e['name']}")
            print(f"\nWith `studio serve` running, the loudspeaker fetches its feed with:\n"
                  f"  curl -H 'Authorization: Bearer {endpoints[0]['token']}' {summary['feed_url']}")
        return 0 if all(s == "succeeded" for s in states) else 1


def cmd_transcribe(args) -> int:
    """Print a recording's transcript as JSON (text and timed segments), SRT or WebVTT."""
    import json

    from media_pipeline import asr, captions
    from media_pipeline.errors import EngineError, InvalidMedia
    from studio.config import load_config
    cfg = load_config()
    spec = args.model or cfg["WHISPER_MODEL"]
    if not spec:
        print("error: speech recognition is off (STUDIO_WHISPER_MODEL is empty)", file=sys.stderr)
        return 2
    path = Path(args.file)
    if not path.exists():
        print(f"error: {path} does not exist", file=sys.stderr)
        return 2
    try:
        model = asr.load_model(spec, Path(cfg["MODEL_CACHE"]))

        def progress(fraction: float) -> None:
            if args.progress:
                print(f"{fraction * 100:5.1f}%", file=sys.stderr, flush=True)
        result = asr.transcribe(path, model, args.language, args.beam, progress)
    except InvalidMedia as exc:
        print(f"error: {path.name} is not a recording the studio can read: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "srt":
        print(captions.to_srt(result.segments))
    elif args.format == "vtt":
        print(captions.to_vtt(result.segments, result.language))
    else:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


def cmd_normalize(args) -> int:
    """Print, line for line, exactly what the voice reads for each line of standard input (the packaged rules
    and the province's own, from the database)."""
    from studio.config import load_config
    from studio.extensions import db
    from studio.services import voices
    lines = sys.stdin.read().splitlines()
    with running_studio(load_config(), with_store=False, quiet=True) as (app, _password):
        with app.app_context():
            spoken = voices.spoken(db.session, args.language, [x for x in lines if x.strip()])
    said = iter(spoken)
    for line in lines:
        print(next(said) if line.strip() else "")
    return 0


def cmd_report(args) -> int:
    """Write the annual report for a year or period to a .json, .xlsx or .pdf file."""
    from studio.config import load_config
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import report
    from studio.web.reports import render_file
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("json", "xlsx", "pdf"):
        print("error: --out must end in .json, .xlsx or .pdf", file=sys.stderr)
        return 2
    with running_studio(load_config(), with_store=False, quiet=True) as (app, _password):
        with app.app_context(), app.test_request_context("/reports/annual"):
            try:
                first, last = report.period(args.year, args.start, args.end)
                data = render_file(report.annual(db.session, first, last), fmt, "http://localhost/")
            except StudioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"{out} ({len(data)} bytes)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    p = argparse.ArgumentParser(prog="studio", description="Multilingual content studio")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print the libraries' log messages (Alembic, uvicorn, faster-whisper, ...)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the web app with an embedded worker and object store")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--workers", type=int, default=2, help="embedded job worker threads")
    s.add_argument("--urgent-workers", type=int, default=1,
                   help="further threads kept free for emergencies and deliveries")
    s.add_argument("--no-worker", action="store_true", help="run no embedded worker (use `studio worker`)")
    s.add_argument("--only", choices=["staff", "endpoints"],
                   help="serve one side only: the staff's pages and API, or the endpoints' feed and reports "
                        "(a deployment with each side in processes of its own behind nginx; docs/DEPLOYMENT.md)")
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="run a standalone job worker")
    w.add_argument("--workers", type=int, default=2)
    w.add_argument("--urgent-workers", type=int, default=1,
                   help="further threads kept free for emergencies and deliveries")
    w.set_defaults(func=cmd_worker)
    d = sub.add_parser("db", help="database maintenance")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    r = sub.add_parser("render", help="render a work for channels and languages, printing progress")
    r.add_argument("work_id", type=int)
    from media_pipeline.profiles import CHANNELS
    r.add_argument("--channel", action="append", choices=list(CHANNELS),
                   help="a channel to render (repeatable; default: the work's channels), with the files its "
                        "endpoints' displays and languages need")
    r.add_argument("--language", action="append", help="language code (repeatable); default: the source")
    r.add_argument("--user", default="admin", help="the account the jobs are queued as")
    r.add_argument("--queue", action="store_true", help="leave the work to a running studio's workers")
    r.set_defaults(func=cmd_render)
    dm = sub.add_parser("demo", help="create and render a sample work offline for all channels")
    dm.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    dm.set_defaults(func=cmd_demo)
    t = sub.add_parser("transcribe", help="speech recognition (faster-whisper) of an audio or video file")
    t.add_argument("file")
    t.add_argument("--language", help="force the language (recommended for short Vietnamese clips)")
    t.add_argument("--format", choices=["json", "srt", "vtt"], default="json")
    t.add_argument("--beam", type=int, default=1, help="beam size: 1 is fastest, 5 a little more accurate")
    t.add_argument("--model", help="override STUDIO_WHISPER_MODEL")
    t.add_argument("--progress", action="store_true", help="print progress to stderr")
    t.set_defaults(func=cmd_transcribe)
    nm = sub.add_parser("normalize", help="print what the voice reads for each line of standard input")
    nm.add_argument("--language", default="vi", help="the text's language (default vi); languages a Vietnamese "
                                                     "voice does not read are printed as written")
    nm.set_defaults(func=cmd_normalize)
    rp = sub.add_parser("report", help="reports to the ministry")
    rsub = rp.add_subparsers(dest="report_command", required=True)
    ra = rsub.add_parser("annual", help="the annual report as .json, .xlsx or .pdf")
    ra.add_argument("--year", type=int, help="a calendar year (default: this one)")
    ra.add_argument("--from", dest="start", help="first day YYYY-MM-DD (instead of --year)")
    ra.add_argument("--to", dest="end", help="last day YYYY-MM-DD, included")
    ra.add_argument("--out", required=True, help="FILE.json, FILE.xlsx or FILE.pdf")
    ra.set_defaults(func=cmd_report)
    cli_models.add_parser(sub)
    cli_endpoint.add_parser(sub)
    u = sub.add_parser("create-user", help="create an account (password from STUDIO_NEW_USER_PASSWORD or prompt)")
    u.add_argument("username")
    u.add_argument("--roles", default="editor", help="comma-separated: admin, editor, translator, approver")
    u.add_argument("--name", default="")
    u.set_defaults(func=cmd_create_user)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `studio` console script."""
    os.umask(0o077)  # whatever the studio writes (database, media, logs, models) is this account's alone
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
