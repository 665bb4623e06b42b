"""The annual report on data made here: every figure checked against a count made another way (plain Python over
the rows this test wrote), and the page, JSON, XLSX (openpyxl reads it back) and PDF (pypdf reads its text)."""
from __future__ import annotations

import io
import json
import os
import random
import statistics
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

from storage.models import (Area, Endpoint, EndpointReport, Feedback, Package, PackageFile, Rendition,
                            Translation, User, Work)
from tests.helpers import ROOT

pytestmark = pytest.mark.slow
YEAR = 2026


def seed(session, users) -> dict:
    """A small province's year, with a few rows outside it that must not count."""
    rng = random.Random(25)
    editor = session.get(User, users["editor"])
    province = Area(code="20", name="Lạng Sơn", level="province")
    communes = [Area(code=f"20.{i}", name=f"Xã {i}", level="commune", parent=province) for i in range(3)]
    session.add_all([province, *communes])
    session.flush()
    kinds = ["article", "radio_bulletin", "video_report", "publication"]
    truth = {"published": [], "produced": 0, "plays": [], "feedback": [], "renditions": []}
    for i in range(40):
        created = datetime(YEAR, 1 + i % 12, 1 + i % 27, 3)
        if i % 10 == 9:
            created = datetime(YEAR - 1, 12, 30)  # made last year
        w = Work(kind=kinds[i % 4], title=f"Tin {i}", body="Nội dung.", source_language="vi",
                 channels=["loudspeaker", "web"] if i % 2 else ["eboard"], author_id=editor.id,
                 created_at=created, areas=[communes[i % 3]] if i % 5 else [])
        session.add(w)
        session.flush()
        truth["produced"] += created.year == YEAR
        if i % 4 == 3:
            continue  # never published
        when = created + timedelta(days=2) if created.year == YEAR else datetime(YEAR, 1, 2)
        pkg = Package(work_id=w.id, version=1, revision=1, state="published", published_at=when)
        session.add(pkg)
        session.flush()
        langs = ["vi", "tyz"] if i % 3 == 0 else ["vi"]
        for lang in langs:
            session.add(PackageFile(package_id=pkg.id, channel="loudspeaker", profile="loudspeaker", language=lang,
                                    role="audio"))
        if i % 6 == 0:
            session.add(Translation(work_id=w.id, language="en", state="approved", segments=[
                {"source": "x", "target": "y", "status": "approved", "engine": "argos vi→en"}],
                approved_at=when))
            langs = langs + ["en"]
        truth["published"].append({"kind": w.kind, "channels": w.channels, "langs": set(langs),
                                   "area": f"{communes[i % 3].name} ({communes[i % 3].code})" if i % 5 else "*",
                                   "month": when.strftime("%Y-%m")})
        seconds = 30.0 + i
        session.add(Rendition(work_id=w.id, revision=1, language="vi", channel="loudspeaker", profile="loudspeaker",
                              key=f"k{i}", files=[{"role": "audio"}], duration_s=seconds, created_at=when))
        truth["renditions"].append(seconds)
    session.add(Translation(work_id=1, language="zh", state="approved", approved_at=datetime(YEAR, 5, 5),
                            segments=[{"source": "x", "target": "y", "status": "approved"}]))
    truth["published"][0]["langs"].add("zh")  # work 1 was published: an approved translation counts
    endpoints = [Endpoint(name=f"Loa {i}", kind="loudspeaker" if i < 3 else "eboard", area_id=communes[i % 3].id,
                          token_hash=f"h{i}", created_at=datetime(YEAR, 1, 1)) for i in range(5)]
    session.add_all(endpoints)
    session.flush()
    truth["endpoint_ids"] = [ep.id for ep in endpoints]
    for n in range(300):
        ep = endpoints[n % 5]
        start = datetime(YEAR, 1 + n % 10, 1 + n % 28, n % 24, 5)  # before today (23 November)
        length = rng.randint(20, 200)
        session.add(EndpointReport(endpoint_id=ep.id, client_id=f"p{n}", type="play", started_at=start,
                                   ended_at=start + timedelta(seconds=length), outcome="played",
                                   received_at=start + timedelta(seconds=length)))
        truth["plays"].append((ep, length))
    session.add(EndpointReport(endpoint_id=endpoints[0].id, client_id="old", type="play",  # another year
                               started_at=datetime(YEAR - 1, 6, 1), ended_at=datetime(YEAR - 1, 6, 1, 0, 1),
                               outcome="played", received_at=datetime(YEAR - 1, 6, 1)))
    for n in range(12):
        created = datetime(YEAR, 2 + n % 10, 3, 8)
        answered = created + timedelta(hours=n * 5) if n % 3 else None
        session.add(Feedback(work_id=1, message=f"Câu hỏi {n}", created_at=created, answered_at=answered,
                             answer="Trả lời" if answered else "", state="answered" if answered else "new"))
        truth["feedback"].append(answered and (answered - created).total_seconds() / 3600)
    session.commit()
    return truth


def test_annual_report_figures_agree_with_the_rows(app, users, make_web, tmp_path):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from studio.extensions import db
    from studio.services import report
    with app.app_context():
        truth = seed(db.session, users)
        got = report.annual(db.session, *report.period(YEAR), now=datetime(YEAR + 1, 1, 1))
    pub = truth["published"]
    w = got["works"]
    assert got["year"] == YEAR and w["produced"] == truth["produced"] == 36
    assert w["published"] == len(pub) == 30
    kinds = ["article", "radio_bulletin", "video_report", "publication"]
    assert w["produced_by_kind"] == dict(Counter(kinds[i % 4] for i in range(40) if i % 10 != 9))  # as seeded
    assert w["by_kind"] == dict(Counter(p["kind"] for p in pub))
    assert w["by_channel"] == dict(Counter(c for p in pub for c in p["channels"]))
    assert w["by_language"] == dict(Counter(lang for p in pub for lang in p["langs"]))
    assert w["by_area"] == dict(Counter(p["area"] for p in pub))
    assert w["by_month"] == dict(Counter(p["month"] for p in pub))
    assert got["publications"] == sum(1 for p in pub if p["kind"] == "publication")
    assert got["rendered"]["audio_hours"] == round(sum(truth["renditions"]) / 3600, 2)
    plays = got["plays"]
    assert plays["total"] == len(truth["plays"]) == 300
    assert plays["hours"] == round(sum(s for _, s in truth["plays"]) / 3600, 2)
    assert plays["by_channel"] == dict(Counter("loudspeaker" if ep.kind == "loudspeaker" else "eboard"
                                               for ep, _ in truth["plays"]))
    assert sum(plays["by_area"].values()) == 300 and plays["by_endpoint"][f"Loa 0 (#{truth['endpoint_ids'][0]})"]["plays"] == 60
    e = got["endpoints"]
    assert e["total"] == 5 and e["by_kind"] == {"loudspeaker": 3, "eboard": 2}
    # Each endpoint reported in 60 distinct hours of the 8,753 between its registration (1 January 00:00 UTC)
    # and the year's end in Vietnam (31 December 17:00 UTC).
    assert [x["uptime"] for x in e["list"]] == [round(60 / 8753, 4)] * 5
    answered = [h for h in truth["feedback"] if h is not None]
    assert got["feedback"] == {"received": 12, "answered": len(answered),
                               "median_hours_to_answer": round(statistics.median(answered), 2)}
    english = sum(1 for p in pub if "en" in p["langs"])
    assert got["translations"] == {"en": {"human": 0, "machine": english}, "zh": {"human": 1, "machine": 0}}

    # The page with its charts, and the three files from the page and from the command.
    web = make_web()
    web.login("approver")
    page = web.get(f"/reports/annual?year={YEAR}").get_data(as_text=True)
    assert page.count("<svg") == 4 and "Báo cáo năm" in page
    as_json = json.loads(web.get(f"/reports/annual?year={YEAR}&format=json").data)
    assert as_json["works"]["published"] == 30 and as_json["plays"]["total"] == 300
    book = load_workbook(io.BytesIO(web.get(f"/reports/annual?year={YEAR}&format=xlsx").data))
    # The workbook reads in the reader's language: sheet names, headings and the kinds in its rows.
    assert "Tác phẩm theo loại" in book.sheetnames and "Điểm phát" in book.sheetnames
    rows = {r[0]: r[1] for r in book["Tác phẩm theo loại"].iter_rows(min_row=2, values_only=True)}
    with app.test_request_context(headers={"Accept-Language": "vi"}):
        from studio.web.labels import label
        assert rows == {label("work_kind", k): v for k, v in w["by_kind"].items()}
    assert not set(rows) & set(w["by_kind"]), rows  # no stored codes such as radio_bulletin
    summary = {r[0]: r[1] for r in book["Tóm tắt"].iter_rows(values_only=True)}
    assert summary["Lượt phát sóng"] == 300 and summary["Ý kiến đã nhận"] == 12
    assert web.get("/reports/annual?year=abc").status_code == 400
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": app.config["INSTANCE"], "STUDIO_S3_URL": app.config["S3_URL"]})
    out = tmp_path / "bao-cao.pdf"
    done = subprocess.run([sys.executable, "-m", "studio.cli", "report", "annual", "--year", str(YEAR), "--out",
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    text = "".join(p.extract_text() for p in PdfReader(str(out)).pages)
    assert "Broadcast plays" in text or "Lượt phát" in text
    assert "300" in text and len(PdfReader(str(out)).pages) >= 2
    part = tmp_path / "q1.json"
    subprocess.run([sys.executable, "-m", "studio.cli", "report", "annual", "--from", f"{YEAR}-01-01", "--to",
                    f"{YEAR}-03-31", "--out", str(part)], cwd=ROOT, env=env, check=True, timeout=300)
    q1 = json.loads(part.read_text(encoding="utf-8"))
    assert q1["year"] is None and q1["works"]["published"] == sum(1 for p in pub if p["month"] <= f"{YEAR}-03")
