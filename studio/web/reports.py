"""The annual report to the ministry: a page with charts, and the same figures as JSON, XLSX or PDF."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from studio.extensions import db
from studio.services import report as report_service
from studio.services import report_files, targets
from studio.web.helpers import caller, form_errors, role_required
from studio.web.labels import label

bp = Blueprint("reports", __name__, url_prefix="/reports")
MIMES = {"json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def chart_labels() -> dict[str, str]:
    """Chart titles and units in the reader's language."""
    return {"works_by_month": _("Works published by month"), "works_by_language": _("Works published by language"),
            "plays_by_channel": _("Broadcast plays by channel"),
            "audio_hours_by_language": _("Hours of audio rendered by language"),
            "works": _("works"), "plays": _("plays"), "hours": _("hours")}


def render_file(report: dict, fmt: str, base_url: str) -> bytes:
    """The report in one of MIMES' formats (HTML templates need an app and request context)."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "xlsx":
        return report_files.xlsx(report, _, label)
    html = render_template("reports/annual_print.html", report=report,
                           charts=report_files.charts(report, chart_labels(), label),
                           summary=report_files.summary_rows(report), tables=report_files.TABLES)
    return report_files.pdf(html, base_url)


@bp.get("/annual")
@role_required("admin", "editor", "approver")
def annual():
    """?year=YYYY or ?from=YYYY-MM-DD&to=YYYY-MM-DD; &format=json|xlsx|pdf for a file."""
    first, last = report_service.period(request.args.get("year"), request.args.get("from"), request.args.get("to"))
    report = report_service.annual(db.session, first, last)
    fmt = request.args.get("format", "")
    if fmt in MIMES:
        name = f"bao-cao-{report['year'] or report['from'] + '_' + report['to']}.{fmt}"
        return Response(render_file(report, fmt, request.url_root), mimetype=MIMES[fmt],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render_template("reports/annual.html", report=report,
                           charts=report_files.charts(report, chart_labels(), label),
                           summary=report_files.summary_rows(report), tables=report_files.TABLES)


@bp.post("/targets")
@role_required("admin")
def set_targets():
    """The plan's required values for a year."""
    year = request.form.get("year", type=int) or 0
    with form_errors():
        targets.set_required(db.session, caller(), year, request.form)
        db.session.commit()
        flash(_("Targets saved."), "info")
    return redirect(url_for("reports.annual", year=year or None))
