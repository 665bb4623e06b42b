"""The `studio` command, one module per command group: serve.py (serve, worker), admin.py (db upgrade,
create-user), render.py, demo.py, media.py (transcribe, normalize), report.py, models.py, endpoint.py
(endpoint sync/play/add, token create), network.py (areas import, endpoints import); common.py holds what they
share. This module holds the grammar."""
from __future__ import annotations

import argparse
import logging
import os

from studio.cli import admin, demo, endpoint, media, models, network, render, report, serve, sites

OWN_LOGGERS = ("studio", "media_pipeline", "storage")


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
    s.set_defaults(func=serve.cmd_serve)
    w = sub.add_parser("worker", help="run a standalone job worker")
    w.add_argument("--workers", type=int, default=2)
    w.add_argument("--urgent-workers", type=int, default=1,
                   help="further threads kept free for emergencies and deliveries")
    w.set_defaults(func=serve.cmd_worker)
    d = sub.add_parser("db", help="database maintenance")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply migrations").set_defaults(func=admin.cmd_db_upgrade)
    r = sub.add_parser("render", help="render a work for channels and languages, printing progress")
    r.add_argument("work_id", type=int)
    from media_pipeline.profiles import CHANNELS
    r.add_argument("--channel", action="append", choices=list(CHANNELS),
                   help="a channel to render (repeatable; default: the work's channels), with the files its "
                        "endpoints' displays and languages need")
    r.add_argument("--language", action="append", help="language code (repeatable); default: the source")
    r.add_argument("--user", default="admin", help="the account the jobs are queued as")
    r.add_argument("--queue", action="store_true", help="leave the work to a running studio's workers")
    r.set_defaults(func=render.cmd_render)
    dm = sub.add_parser("demo", help="create and render a sample work offline for all channels")
    dm.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    dm.set_defaults(func=demo.cmd_demo)
    t = sub.add_parser("transcribe", help="speech recognition (faster-whisper) of an audio or video file")
    t.add_argument("file")
    t.add_argument("--language", help="force the language (recommended for short Vietnamese clips)")
    t.add_argument("--format", choices=["json", "srt", "vtt"], default="json")
    t.add_argument("--beam", type=int, default=1, help="beam size: 1 is fastest, 5 a little more accurate")
    t.add_argument("--model", help="override STUDIO_WHISPER_MODEL")
    t.add_argument("--progress", action="store_true", help="print progress to stderr")
    t.set_defaults(func=media.cmd_transcribe)
    nm = sub.add_parser("normalize", help="print what the voice reads for each line of standard input")
    nm.add_argument("--language", default="vi", help="the text's language (default vi); languages a Vietnamese "
                                                     "voice does not read are printed as written")
    nm.set_defaults(func=media.cmd_normalize)
    rp = sub.add_parser("report", help="reports to the ministry")
    rsub = rp.add_subparsers(dest="report_command", required=True)
    ra = rsub.add_parser("annual", help="the annual report as .json, .xlsx or .pdf")
    ra.add_argument("--year", type=int, help="a calendar year (default: this one)")
    ra.add_argument("--from", dest="start", help="first day YYYY-MM-DD (instead of --year)")
    ra.add_argument("--to", dest="end", help="last day YYYY-MM-DD, included")
    ra.add_argument("--out", required=True, help="FILE.json, FILE.xlsx or FILE.pdf")
    ra.set_defaults(func=report.cmd_report)
    models.add_parser(sub)
    endpoint.add_parser(sub)
    network.add_parser(sub)
    sites.add_parser(sub)
    u = sub.add_parser("create-user", help="create an account (password from STUDIO_NEW_USER_PASSWORD or prompt)")
    u.add_argument("username")
    u.add_argument("--roles", default="editor",
                   help="comma-separated: admin, editor, translator, approver, operator")
    u.add_argument("--areas", default="", help="comma-separated area codes the user is bound to (an operator's "
                                               "communes)")
    u.add_argument("--name", default="")
    u.set_defaults(func=admin.cmd_create_user)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `studio` console script."""
    os.umask(0o077)  # whatever the studio writes (database, media, logs, models) is this account's alone
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    return args.func(args)


def _setup_logging(verbose: bool) -> None:
    """The studio's own messages at INFO; libraries' (Alembic, uvicorn, faster-whisper...) only with -v."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
