"""`studio areas import` and `studio endpoints import`: a province's areas and endpoints from CSV files."""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from studio.cli.common import cli_caller, running_studio


def add_parser(sub) -> None:
    a = sub.add_parser("areas", help="the administrative areas")
    asub = a.add_subparsers(dest="areas_command", required=True)
    ai = asub.add_parser("import", help="create or update areas from a CSV file: code,name,level,parent_code "
                                        "(the official administrative-unit codes); running it again changes "
                                        "nothing")
    ai.add_argument("file")
    ai.add_argument("--user", default="admin", help="the admin account the audit log names (default admin)")
    ai.set_defaults(func=cmd_areas_import)
    e = sub.add_parser("endpoints", help="the distribution endpoints")
    esub = e.add_subparsers(dest="endpoints_command", required=True)
    ei = esub.add_parser("import", help="register endpoints from a CSV file: name,kind,area_code,display,"
                                        "languages,zone; their tokens go to a file only this account can read")
    ei.add_argument("file")
    ei.add_argument("--tokens", help="where to write the new tokens (default: FILE's name + .tokens.csv); "
                                     "never overwritten")
    ei.add_argument("--user", default="admin", help="the admin account the audit log names (default admin)")
    ei.set_defaults(func=cmd_endpoints_import)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}",
              file=sys.stderr)
        return None


def _run(args, columns, work) -> int:
    """Parse the file, run `work(session, caller, rows)` as the admin in one transaction, print errors."""
    from studio.config import load_config
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import areas
    text = _read(args.file)
    if text is None:
        return 2
    with running_studio(load_config(), with_store=False, quiet=True) as (app, password):
        if password:  # a fresh instance: its first admin was created just now
            print(f"Created user 'admin' with password '{password}'")
        with app.app_context():
            caller = cli_caller(args.user)
            if caller is None:
                return 2
            try:
                out = work(db.session, caller, areas.read_csv(text, columns))
                db.session.commit()
            except StudioError as exc:
                db.session.rollback()
                print(f"error: {args.file}: {exc}", file=sys.stderr)
                return 2
    return out


def cmd_areas_import(args) -> int:
    from studio.services import areas

    def work(session, caller, rows):
        counts = areas.import_rows(session, caller, rows)
        print(f"{counts['created']} areas created, {counts['updated']} renamed, {counts['unchanged']} unchanged")
        return 0
    return _run(args, areas.CSV_COLUMNS, work)


def cmd_endpoints_import(args) -> int:
    from studio.services import endpoints
    out = Path(args.tokens or f"{args.file}.tokens.csv")
    if out.exists():
        print(f"error: {out} exists; move it away or name another with --tokens", file=sys.stderr)
        return 2

    def work(session, caller, rows):
        created, existing = endpoints.import_rows(session, caller, rows)
        session.flush()
        if created:  # written before the commit: a token never exists that nobody could read
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["id", "name", "kind", "area_code", "zone", "token"])
                for ep, token in created:
                    w.writerow([ep.id, ep.name, ep.kind, ep.area.code if ep.area else "", ep.zone, token])
        print(f"{len(created)} endpoints registered, {existing} already registered"
              + (f"; their tokens are in {out} (readable by this account only)" if created else ""))
        return 0
    return _run(args, endpoints.CSV_COLUMNS, work)
