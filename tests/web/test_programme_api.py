"""The commune's programme through the API and the pages, as an editor and a commune's operator use them, and as
an endpoint receives it (the feed's programme and schedule.ics from the real server)."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import icalendar
import requests
from sqlalchemy import select

from storage.models import User, utcnow
from tests.helpers import PASSWORD, Web
from tests.web.test_api import auth, token_for


def _setup(app, users):
    from studio.extensions import db
    from studio.services import Caller, areas, endpoints
    from tests.services.programme_cases import published
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        p = areas.create(db.session, admin, "02", "Hà Giang", "province", None)
        db.session.flush()
        c1 = areas.create(db.session, admin, "00961", "Thanh Thủy", "commune", p.id)
        c2 = areas.create(db.session, admin, "00962", "Phương Tiến", "commune", p.id)
        db.session.flush()
        _ep, token = endpoints.create(db.session, admin, {"name": "Loa thôn Nà Ràng", "kind": "loudspeaker",
                                                          "area_id": c1.id, "zone": "Nà Ràng"})
        news = published(db.session, admin.user, "Bản tin nông nghiệp", "normal", seconds=90).id
        db.session.commit()
        return {"c1": c1.id, "c2": c2.id, "news": news, "endpoint_token": token}


def test_operators_are_made_with_their_communes_on_the_users_page(app, users, make_web, db_session):
    made = _setup(app, users)
    admin = make_web()
    admin.login("admin")
    refused = admin.post("/admin/users", {"username": "vanhanh.x", "password": PASSWORD, "roles": "operator"})
    assert refused.status_code == 400 and "ít nhất một địa bàn" in refused.get_data(as_text=True)
    ok = admin.post("/admin/users", {"username": "vanhanh.x", "password": PASSWORD, "roles": "operator",
                                     "area_ids": [str(made["c1"])]})
    assert ok.status_code == 302
    user = db_session.scalar(select(User).where(User.username == "vanhanh.x"))
    assert [a.code for a in user.areas] == ["00961"]
    assert "Thanh Thủy" in admin.get("/admin/users").get_data(as_text=True)
    # The operator's start page is the programme; the works are not theirs.
    op = make_web()
    assert op.login("vanhanh.x").status_code == 302
    assert op.get("/").headers["Location"].endswith("/programme")
    assert op.get("/works").status_code == 403
    assert "Thanh Thủy" in op.get("/programme").get_data(as_text=True)
    assert op.get("/programme/00962").status_code == 404  # not their commune
    # Adding a second commune on the user's page, then none: an operator keeps at least one.
    page = admin.post(f"/admin/users/{user.id}", {"roles": "operator", "active": "on",
                                                  "area_ids": [str(made["c1"]), str(made["c2"])]})
    assert page.status_code == 302
    db_session.expire_all()
    assert [a.code for a in db_session.get(User, user.id).areas] == ["00961", "00962"]
    assert admin.post(f"/admin/users/{user.id}", {"roles": "operator", "active": "on"}).status_code == 400
    # The admin's endpoints form takes a zone too.
    admin.post("/admin/endpoints", {"name": "Loa thôn Khuổi Luông", "kind": "loudspeaker",
                                    "area_id": str(made["c1"]), "zone": "Khuổi Luông"})
    from storage.models import Endpoint
    assert db_session.scalar(select(Endpoint.zone).where(Endpoint.name == "Loa thôn Khuổi Luông")) == "Khuổi Luông"


def test_schedule_offer_accept_and_play_through_the_api(app, users, web, make_web, live_server):
    made = _setup(app, users)
    admin_web = make_web()
    admin_web.login("admin")
    assert admin_web.post("/admin/users", {"username": "vanhanh", "password": PASSWORD, "roles": "operator",
                                           "area_ids": [str(made["c1"])]}).status_code == 302
    editor, operator = auth(token_for(make_web(), "editor")), auth(token_for(make_web(), "vanhanh"))
    client = web.client
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat() + "+00:00"
    body = {"area_codes": ["02"], "start": start, "rrule": "FREQ=DAILY;COUNT=3", "replays": 1, "replay_gap_s": 60}
    assert client.post(f"/api/v1/works/{made['news']}/schedule", json=body, headers=operator).status_code == 403
    bad = client.post(f"/api/v1/works/{made['news']}/schedule", json={**body, "rrule": "FREQ=SECONDLY"},
                      headers=editor)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "rrule"
    assert "FREQ" in bad.get_json()["error"]["message"] and "Traceback" not in bad.get_data(as_text=True)
    made_sched = client.post(f"/api/v1/works/{made['news']}/schedule", json=body, headers=editor)
    assert made_sched.status_code == 201, made_sched.get_json()
    sched = made_sched.get_json()
    assert [i["area_code"] for i in sched["items"]] == ["00961", "00962"] and sched["state"] == "offered"
    assert len(sched["occurrences"]) == 6  # 3 days, twice each, within 14 days

    offers = client.get("/api/v1/offers", headers=operator).get_json()["items"]
    assert [(o["area_code"], o["state"], o["work_id"]) for o in offers] == [("00961", "offered", made["news"])]
    assert set(offers[0]) >= {"id", "work_id", "area_code", "start", "rrule", "state"}
    theirs = next(i["id"] for i in sched["items"] if i["area_code"] == "00962")
    assert client.post(f"/api/v1/offers/{theirs}/accept", json={}, headers=operator).status_code == 403
    assert client.post(f"/api/v1/offers/{offers[0]['id']}/decline", json={}, headers=operator).status_code == 400
    later = (utcnow() + timedelta(days=1, hours=2)).replace(microsecond=0).isoformat() + "+00:00"
    accepted = client.post(f"/api/v1/offers/{offers[0]['id']}/accept", json={"start": later}, headers=operator)
    assert accepted.status_code == 200 and accepted.get_json()["state"] == "accepted"

    # The endpoint's feed (answered by the real server) carries the programme, at the accepted time.
    ep = auth(made["endpoint_token"])
    feed = requests.get(f"{live_server}/api/v1/feed", headers=ep, timeout=30)
    assert feed.status_code == 200
    programme = feed.json()["programme"]
    assert programme and programme[0]["work_id"] == made["news"] and programme[0]["files"][0]["url"]
    from studio.services import clock
    assert programme[0]["at"] == clock.iso(clock.to_utc(later, "start"))
    etag = feed.headers["ETag"]
    assert requests.get(f"{live_server}/api/v1/feed", headers={**ep, "If-None-Match": etag}, timeout=30).status_code == 304
    # The commune's own item changes the feed: its ETag moves on.
    own = client.post("/api/v1/programme/items", json={"area_code": "00961", "work_id": made["news"],
                                                        "start": later, "zone": "Nà Ràng"}, headers=operator)
    assert own.status_code == 201, own.get_json()
    again = requests.get(f"{live_server}/api/v1/feed", headers={**ep, "If-None-Match": etag}, timeout=30)
    assert again.status_code == 200 and len(again.json()["programme"]) > len(programme)
    moved = client.patch(f"/api/v1/programme/items/{own.get_json()['id']}", json={"position": 3}, headers=operator)
    assert moved.status_code == 200 and moved.get_json()["position"] == 3

    # The calendar, for the endpoint and for the operator: text/calendar the icalendar library reads.
    for url, headers in ((f"{live_server}/api/v1/feed/schedule.ics", ep),
                         (f"{live_server}/api/v1/areas/00961/schedule.ics", operator)):
        resp = requests.get(url, headers=headers, timeout=30)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/calendar")
        events = icalendar.Calendar.from_ical(resp.content).walk("VEVENT")
        assert len(events) == 2 and all(str(e["UID"]).startswith(f"work-{made['news']}-") for e in events)
    assert requests.get(f"{live_server}/api/v1/areas/00962/schedule.ics", headers=operator,
                        timeout=30).status_code == 403

    week = client.get("/api/v1/areas/00961/programme?days=3", headers=operator).get_json()
    assert {i["state"] for i in week["items"]} == {"accepted", "scheduled"}
    assert any(o["clash"] for o in week["occurrences"])  # the two items at the same time

    # As-run: the period's occurrences, pending for now; as CSV too.
    t0, t1 = utcnow().isoformat() + "+00:00", (utcnow() + timedelta(days=3)).isoformat() + "+00:00"
    run = client.get("/api/v1/as-run", query_string={"from": t0, "to": t1}, headers=operator)
    assert run.status_code == 200, run.get_json()
    assert run.get_json()["totals"]["pending"] == run.get_json()["total"] > 0
    as_csv = client.get("/api/v1/as-run", query_string={"from": t0, "to": t1, "format": "csv"}, headers=operator)
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0][:3] == ["at", "state", "area_code"] and len(rows) == 1 + run.get_json()["total"]
    too_long = client.get("/api/v1/as-run", query_string={"from": t0, "to": "2030-01-01T00:00:00+07:00"},
                          headers=operator)
    assert too_long.status_code == 400 and too_long.get_json()["error"]["field"] == "to"
    web_page = Web(app.test_client())
    web_page.login("vanhanh")
    assert "Bản tin nông nghiệp" in web_page.get("/programme/00961").get_data(as_text=True)
    # The as-run page: the same totals, a CSV link, an error in Vietnamese for a backwards period.
    page = web_page.get("/programme/as-run", query_string={"from": t0[:16], "to": t1[:16]}).get_data(as_text=True)
    assert f'data-state="pending" data-count="{run.get_json()["totals"]["pending"]}"' in page and "format=csv" in page
    page_csv = web_page.get("/programme/as-run", query_string={"from": t0[:16], "to": t1[:16], "format": "csv"})
    assert page_csv.mimetype == "text/csv" and page_csv.get_data(as_text=True).count("\n") == len(rows)
    backwards = web_page.get("/programme/as-run", query_string={"from": t1[:16], "to": t0[:16]})
    assert backwards.status_code == 400 and "tối đa 31 ngày" in backwards.get_data(as_text=True)
