"""`studio render`: queue a work's renders and run them here (or leave them to a running studio's workers)."""
from __future__ import annotations

import sys

from studio.cli.common import cli_caller, running_studio, run_jobs_here, wait_for_queue


def cmd_render(args) -> int:
    """Queue renders of a work and wait, printing progress (this process renders unless --queue)."""

    from studio.config import load_config
    from studio.errors import StudioError
    from studio.extensions import db
    from studio.services import rendering, works

    with running_studio(load_config(), with_store=not args.queue) as (app, _password):
        with app.app_context():
            caller = cli_caller(args.user)
            if caller is None:
                return 2
            try:
                jobs = rendering.queue(db.session, caller, works.get(db.session, args.work_id), args.channel or None,
                                       args.language or None)
                db.session.commit()
            except StudioError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            ids = [j.id for j in jobs]
        if args.queue:
            states = wait_for_queue(app, ids)  # a running studio's workers take them from the database
        else:
            states = run_jobs_here(app, ids, quiet=False)
        return 0 if all(s == "succeeded" for s in states) else 1
