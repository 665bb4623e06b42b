"""`studio sites export`: write the commune sites to the object store as static files (the first full build;
afterwards every publish, retraction and expiry rebuilds the sites it changed)."""
from __future__ import annotations

import os
import sys
import time

from studio.cli.common import running_studio

PER_PROCESS = 50  # fewer sites than this a core are exported in this process: spawning costs seconds


def add_parser(sub) -> None:
    s = sub.add_parser("sites", help="the commune websites")
    ssub = s.add_subparsers(dest="sites_command", required=True)
    e = ssub.add_parser("export", help="render sites to sites/<code>/ in the object store, writing only the pages "
                                       "that changed (every area's site when no code is given)")
    e.add_argument("codes", nargs="*", help="area codes")
    e.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from studio.config import load_config
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import site_changes
    from studio.web import site_export
    with running_studio(load_config(), quiet=True) as (app, _password):
        with app.app_context():
            codes = args.codes or site_changes.affected(db.session, [])
            t = time.perf_counter()
            processes = min(os.cpu_count() or 1, len(codes) // PER_PROCESS)
            try:
                if processes > 1:  # rendering is bound to one core per process
                    done = site_export.export_parallel(app, codes, processes)
                else:
                    done = site_export.export(app, app.extensions["objectstore"], db.session, codes)
            except StudioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            sites = f"{done.sites} site{'' if done.sites == 1 else 's'}"
            procs = f"{processes} processes" if processes > 1 else "1 process"
            print(f"{sites} in {time.perf_counter() - t:.1f} s ({procs}): {done.written} pages written "
                  f"({done.bytes / 1e6:.1f} MB), {done.unchanged} unchanged, {done.deleted} removed")
    return 0
