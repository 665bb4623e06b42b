"""The annual report as files: charts (Matplotlib, drawn on the server as SVG), a workbook with one sheet per
table (openpyxl) and a PDF (WeasyPrint, from the report page's HTML, charts included)."""
from __future__ import annotations

import io
import re
from typing import Callable

from studio.errors import N_

# Sheet name -> (report path, column titles, the label table of its keys or None). Every table of the report,
# each on its own sheet.
TABLES = {
    N_("Works produced by kind"): (("works", "produced_by_kind"), (N_("Kind"), N_("Works produced")), "work_kind"),
    N_("Works by kind"): (("works", "by_kind"), (N_("Kind"), N_("Works published")), "work_kind"),
    N_("Works by language"): (("works", "by_language"), (N_("Language"), N_("Works published")), None),
    N_("Works by channel"): (("works", "by_channel"), (N_("Channel"), N_("Works published")), "channel"),
    N_("Works by area"): (("works", "by_area"), (N_("Area"), N_("Works published")), None),
    N_("Works by month"): (("works", "by_month"), (N_("Month"), N_("Works published")), None),
    N_("Audio hours by language"): (("rendered", "audio_hours_by_language"), (N_("Language"), N_("Hours")), None),
    N_("Video hours by language"): (("rendered", "video_hours_by_language"), (N_("Language"), N_("Hours")), None),
    N_("Audio hours by channel"): (("rendered", "audio_hours_by_channel"), (N_("Channel"), N_("Hours")), "channel"),
    N_("Video hours by channel"): (("rendered", "video_hours_by_channel"), (N_("Channel"), N_("Hours")), "channel"),
    N_("Plays by channel"): (("plays", "by_channel"), (N_("Channel"), N_("Plays")), "channel"),
    N_("Play hours by channel"): (("plays", "hours_by_channel"), (N_("Channel"), N_("Hours")), "channel"),
    N_("Plays by area"): (("plays", "by_area"), (N_("Area"), N_("Plays")), None),
    N_("Endpoints by kind"): (("endpoints", "by_kind"), (N_("Kind"), N_("Endpoints")), "endpoint_kind"),
    N_("Endpoints by area"): (("endpoints", "by_area"), (N_("Area"), N_("Endpoints")), None),
}


def _get(report: dict, path: tuple[str, ...]):
    for key in path:
        report = report.get(key) or {}
    return report


def summary_rows(report: dict) -> list[tuple[str, object]]:
    """The headline figures, in the order the ministry reads them."""
    w, p, f, e, r = report["works"], report["plays"], report["feedback"], report["endpoints"], report["rendered"]
    return [(N_("Period"), f"{report['from']} – {report['to']}"), (N_("Works produced"), w["produced"]),
            (N_("Works published"), w["published"]), (N_("Publications"), report["publications"]),
            (N_("Audio hours rendered"), r["audio_hours"]), (N_("Video hours rendered"), r["video_hours"]),
            (N_("Broadcast plays"), p["total"]), (N_("Broadcast hours"), p["hours"]), (N_("Endpoints"), e["total"]),
            (N_("Mean endpoint uptime"), e["mean_uptime"]), (N_("Feedback received"), f["received"]),
            (N_("Feedback answered"), f["answered"]), (N_("Median hours to answer"), f["median_hours_to_answer"]),
            (N_("Scheduled plays"), report["programme"]["scheduled"]),
            (N_("Scheduled plays played"), report["programme"]["played"]),
            (N_("Share of scheduled plays played"), report["programme"]["share"])]


def xlsx(report: dict, tr: Callable[[str], str] = lambda s: s,
         key_label: Callable[[str, str], str] = lambda group, key: key) -> bytes:
    """The report as a workbook: a summary sheet, then one sheet per table, endpoints and translations.

    `tr` translates the headings (the web layer's gettext) and `key_label` the stored codes among the rows
    (kinds, channels), so the ministry's copy reads in the reader's language.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    book = Workbook()
    sheet = book.active
    sheet.title = tr("Summary")
    for label, value in summary_rows(report):
        sheet.append([tr(label), value])
    for title, (path, columns, group) in TABLES.items():
        ws = book.create_sheet(_sheet_title(tr(title)))
        ws.append([tr(c) for c in columns])
        for key, value in sorted(_get(report, path).items()):
            ws.append([key_label(group, key) if group else key, value])
    ws = book.create_sheet(_sheet_title(tr("Endpoints")))
    ws.append([tr(c) for c in (N_("Name"), N_("Kind"), N_("Area"), N_("Active"), N_("Uptime"), N_("Plays"))])
    for ep in report["endpoints"]["list"]:
        ws.append([ep["name"], key_label("endpoint_kind", ep["kind"]), ep["area"], ep["active"], ep["uptime"],
                   ep["plays"]])
    ws = book.create_sheet(_sheet_title(tr("Translations")))
    ws.append([tr(c) for c in (N_("Language"), N_("By people"), N_("With machine translation"))])
    for language, counts in report["translations"].items():
        ws.append([language, counts["human"], counts["machine"]])
    ws = book.create_sheet(_sheet_title(tr("Scheduled plays by area")))
    ws.append([tr(c) for c in (N_("Area"), N_("Scheduled plays"), N_("Played"), N_("Share played"))])
    for code, row in sorted(report["programme"]["by_area"].items()):
        ws.append([code, row["scheduled"], row["played"], row["share"]])
    t = report["targets"]
    ws = book.create_sheet(_sheet_title(tr("Targets")))
    ws.append([tr(c) for c in (N_("Target"), N_("Required"), N_("Reached"), N_("Met"))])
    ws.append([tr(N_("Share of communes with a connected IP radio")), t["ip_radio_communes"]["required_pct"],
               t["ip_radio_communes"]["reached_pct"], t["ip_radio_communes"]["met"]])
    ws.append([tr(N_("Share of district e-boards connected")), t["district_eboards_connected"]["required_pct"],
               t["district_eboards_connected"]["reached_pct"], t["district_eboards_connected"]["met"]])
    for d in t["eboards_by_district"]["areas"]:
        ws.append([tr(N_("E-boards in %(district)s: wards or towns, communes")) % {"district": d["name"]},
                   f'{t["eboards_by_district"]["required_wards"]}, {t["eboards_by_district"]["required_communes"]}',
                   f'{d["wards"]}, {d["communes"]}', d["met"]])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    """Excel's sheet names: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31]


def _bar(title: str, data: dict, ylabel: str, prefix: str) -> str:
    """A bar chart as inline SVG for the report's HTML and PDF. Matplotlib names its groups figure_1, axes_1...
    in every chart, and no option changes that: the ids (and what points at them) get the chart's `prefix`, so
    several charts on one page keep their ids unique, as HTML requires. No RDF metadata either (HTML has no
    place for it)."""
    import matplotlib
    matplotlib.use("Agg")  # no display on a server
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 2.8), dpi=100)
    ax = fig.subplots()
    keys = list(data)
    ax.bar(range(len(keys)), [data[k] for k in keys], color="#2f6f4f")
    ax.set_xticks(range(len(keys)), keys, rotation=30 if len(keys) > 6 else 0, ha="right" if len(keys) > 6 else
                  "center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    fig.tight_layout()
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text: no glyph ids repeated across charts
        fig.savefig(out, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    svg = out.getvalue()
    svg = re.sub(r'(\bid="|url\(#|href="#)', lambda m: m.group(1) + prefix, svg[svg.index("<svg"):])
    return svg


def charts(report: dict, labels: dict[str, str],
           key_label: Callable[[str, str], str] = lambda group, key: key) -> list[str]:
    """SVG charts of the report (titles in the reader's language through `labels`, channels by `key_label`)."""
    out = []
    for key, path, unit, group in (("works_by_month", ("works", "by_month"), "works", None),
                                   ("works_by_language", ("works", "by_language"), "works", None),
                                   ("plays_by_channel", ("plays", "by_channel"), "plays", "channel"),
                                   ("audio_hours_by_language", ("rendered", "audio_hours_by_language"), "hours",
                                    None)):
        data = {key_label(group, k) if group else k: v for k, v in sorted(_get(report, path).items())}
        if data:
            out.append(_bar(labels.get(key, key), data, labels.get(unit, unit), prefix=f"{key}-"))
    return out


def pdf(html: str, base_url: str) -> bytes:
    """The report page's HTML as a PDF."""
    from weasyprint import HTML
    return HTML(string=html, base_url=base_url).write_pdf()
