"""`studio report annual`: the annual report to the ministry as a file."""
from __future__ import annotations

import sys
from pathlib import Path

from studio.cli.common import running_studio


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
