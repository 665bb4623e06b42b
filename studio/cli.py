"""The `studio` command: serve, worker, db upgrade, create-user."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def prepare(app) -> str | None:
    """Apply migrations and create the first admin; returns a generated admin password to print once."""
    from flask_migrate import upgrade

    from studio.extensions import db
    from studio.services import accounts
    with app.app_context():
        upgrade()
        return accounts.ensure_admin(db.session, os.environ.get("STUDIO_ADMIN_PASSWORD"))


def cmd_serve(args) -> int:
    """Run the web app, an embedded worker and (without STUDIO_S3_URL) an embedded SeaweedFS."""
    from waitress import create_server

    from studio import create_app
    from studio.config import load_config
    from studio.queue import EmbeddedWorker

    cfg = load_config()
    seaweed = None
    overrides = {}
    if not cfg["S3_URL"]:
        from storage.seaweed import EmbeddedSeaweed
        seaweed = EmbeddedSeaweed(Path(cfg["INSTANCE"]) / "objectstore").start()
        overrides["S3_URL"] = seaweed.url
        print(f"Object store: embedded SeaweedFS on {seaweed.endpoint} (data in {seaweed.root})", flush=True)
    worker = None
    try:
        app = create_app(overrides or None)
        password = prepare(app)
        if password:
            print(f"Created the first account: user 'admin', password '{password}' "
                  "(shown only now; change it after logging in)", flush=True)
        if not args.no_worker:
            worker = EmbeddedWorker(app.extensions["huey"], workers=args.workers)
            worker.start()
        server = create_server(app, host=args.host, port=args.port, threads=8)
        stop = threading.Event()

        def _shutdown(signum, _frame):
            log.info("signal %s: stopping", signum)
            stop.set()
            server.close()
        signal.signal(signal.SIGTERM, _shutdown)
        signal.signal(signal.SIGINT, _shutdown)
        print(f"Studio running at http://{args.host}:{server.effective_port}/  (Ctrl+C stops it)", flush=True)
        try:
            server.run()
        except OSError:
            if not stop.is_set():
                raise
        return 0
    finally:
        if worker:
            worker.stop()
        if seaweed:
            seaweed.stop()


def cmd_worker(args) -> int:
    """Run a standalone job worker against STUDIO_QUEUE_URL."""
    from studio import create_app
    app = create_app()
    consumer = app.extensions["huey"].create_consumer(workers=args.workers, worker_type="thread")
    consumer.run()
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    p = argparse.ArgumentParser(prog="studio", description="Multilingual content studio")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the web app with an embedded worker and object store")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--workers", type=int, default=2, help="embedded job worker threads")
    s.add_argument("--no-worker", action="store_true", help="run no embedded worker (use `studio worker`)")
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="run a standalone job worker")
    w.add_argument("--workers", type=int, default=2)
    w.set_defaults(func=cmd_worker)
    d = sub.add_parser("db", help="database maintenance")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    u = sub.add_parser("create-user", help="create an account (password from STUDIO_NEW_USER_PASSWORD or prompt)")
    u.add_argument("username")
    u.add_argument("--roles", default="editor", help="comma-separated: admin, editor, translator, approver")
    u.add_argument("--name", default="")
    u.set_defaults(func=cmd_create_user)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `studio` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
