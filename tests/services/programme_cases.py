"""The commune's programme's cases, run on SQLite (test_programme.py) and PostgreSQL (test_postgresql.py).

Published works are written as rows (a package with its files, no media), as in feed_cases.py: what is tested
here is the programme (offers, levels, recurrence, zones, the feed's programme, the calendar, the as-run);
test_programme.py plays real published audio through the reference client.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import icalendar
import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import select

from storage.models import (Endpoint, EndpointReport, Package, PackageArea, PackageFile, ProgrammeItem, User,
                            Work, utcnow)
from tests.helpers import PASSWORD


def _audio(work_id: int, language="vi", seconds=30.0) -> dict:
    digest = f"{work_id:04d}{language}".ljust(64, "a")[:64]
    return {"key": f"media/{digest}", "sha256": digest, "size": 1000, "mime": "audio/mpeg", "role": "audio",
            "language": language, "channel": "loudspeaker", "profile": "loudspeaker", "duration_s": seconds}


def published(session, admin: User, title: str, priority="normal", seconds=30.0, store=None, mp3: bytes = b"",
              **validity) -> Work:
    """A published work with a live package holding one loudspeaker MP3 (as rows; with `store` and `mp3`, the
    file is real and in the object store)."""
    import hashlib
    work = Work(kind="radio_bulletin", title=title, body="b", author_id=admin.id, source_language="vi",
                priority=priority, state="published", published_at=utcnow(), published_revision=1)
    session.add(work)
    session.flush()
    f = _audio(work.id, seconds=seconds)
    if store is not None:
        digest = hashlib.sha256(mp3).hexdigest()
        f.update(key=f"media/{digest}", sha256=digest, size=len(mp3))
        store.put_bytes(f["key"], mp3, "audio/mpeg")
    pk = Package(work_id=work.id, version=1, revision=1, state="published", priority=priority, area_codes=["02"],
                 channels=["loudspeaker"], published_by_id=admin.id, published_at=utcnow(),
                 manifest={"files": [f]}, manifest_key=f"packages/{work.id}/1/manifest.json",
                 manifest_sha256="0" * 64, **validity)
    session.add(pk)
    session.flush()
    session.add(PackageFile(package_id=pk.id, position=0, channel="loudspeaker", profile="loudspeaker",
                            language="vi", role="audio", entry=f))
    session.add(PackageArea(package_id=pk.id, code="02"))
    session.flush()
    return work


def make_province(session) -> dict:
    """Province 02 with district 02.030 (communes 00961 with zones, 00962) and commune 00970 directly under the
    province; an operator for 00961, one for 00970; loudspeakers in each."""
    from studio.services import Caller, accounts, areas, endpoints
    admin = session.scalar(select(User).where(User.username == "admin"))
    a = Caller(admin)
    p = areas.create(session, a, "02", "Hà Giang", "province", None)
    session.flush()
    d = areas.create(session, a, "02.030", "Vị Xuyên", "district", p.id)
    session.flush()
    c1 = areas.create(session, a, "00961", "Thanh Thủy", "commune", d.id)
    c2 = areas.create(session, a, "00962", "Phương Tiến", "commune", d.id)
    c3 = areas.create(session, a, "00970", "Lũng Cú", "commune", p.id)
    session.flush()
    ops = {"op1": accounts.create_user(session, a, "vanhanh.thanhthuy", PASSWORD, ["operator"], area_ids=[c1.id]),
           "op3": accounts.create_user(session, a, "vanhanh.lungcu", PASSWORD, ["operator"], area_ids=[c3.id])}
    eps = {}
    for name, area, zone in (("village_a", c1, "Thôn A"), ("village_b", c1, "Thôn B"), ("whole", c1, ""),
                             ("other", c2, ""), ("lungcu", c3, "")):
        eps[name] = endpoints.create(session, a, {"name": name, "kind": "loudspeaker", "area_id": area.id,
                                                  "zone": zone, "languages": ["vi"]})[0]
    session.flush()
    for ep in eps.values():  # registered a day ago: they answer for today's plays
        ep.created_at = utcnow() - timedelta(days=1)
    session.commit()
    return {"admin": a, "areas": {"province": p, "district": d, "c1": c1, "c2": c2, "c3": c3},
            "ops": {k: Caller(u) for k, u in ops.items()}, "eps": eps}


def _programme(session, ep: Endpoint, now=None) -> list[dict]:
    from studio.services import feeds
    _etag, feed = feeds.FeedCache().items(session, ep.id, ep.kind, ep.area, ep.display, now, ep.languages, ep.zone)
    return feed.programme


def _local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """A local wall time `day_offset` days from today, as an aware datetime in the studio's zone."""
    from studio.services import clock
    today = clock.local(utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=day_offset, hours=hour, minutes=minute)


def check_programme(session) -> None:
    """Every rule of the commune's programme on this database."""
    from studio.errors import PermissionDenied, ValidationError
    from studio.services import asrun, clock, occurrences, programme
    made = make_province(session)
    admin, ops, eps, ar = made["admin"], made["ops"], made["eps"], made["areas"]
    editor = admin  # admins hold every role
    news = published(session, admin.user, "Bản tin nông nghiệp", "normal", seconds=120)
    alert = published(session, admin.user, "Lịch cắt điện", "priority", seconds=60)
    session.commit()

    # A normal work is offered to each commune under the district; nothing plays until a commune accepts.
    tomorrow6 = _local(1, 6)
    sched = programme.schedule_work(session, editor, news.id, {"area_codes": ["02.030"], "start": tomorrow6.isoformat(),
                                                                "rrule": "FREQ=DAILY;COUNT=5", "replays": 1,
                                                                "replay_gap_s": 300})
    session.commit()
    shown = programme.schedule_json(session, sched)
    assert sorted(i["area_code"] for i in shown["items"]) == ["00961", "00962"] and shown["state"] == "offered"
    # Its occurrences over 14 days: 5 days, each played twice 120 s + 300 s apart.
    assert len(shown["occurrences"]) == 10
    assert shown["occurrences"][0]["at"] == tomorrow6.isoformat(timespec="seconds")
    assert shown["occurrences"][1]["at"] == (tomorrow6 + timedelta(seconds=420)).isoformat(timespec="seconds")
    assert _programme(session, eps["whole"]) == []
    offers = programme.offers(session, ops["op1"])
    assert [(o.area.code, o.state) for o in offers] == [("00961", "offered")]  # only their commune's
    assert programme.offers(session, ops["op3"]) == []
    with pytest.raises(PermissionDenied):
        programme.accept(session, ops["op3"], offers[0].id)
    other_offer = next(i for i in programme.schedule_items(session, sched.id) if i.area.code == "00962")
    with pytest.raises(PermissionDenied):
        programme.decline(session, ops["op1"], other_offer.id, "không phải xã mình")
    session.rollback()
    # Accepted at the operator's time (7:30) and on Mondays and Thursdays only.
    at730 = _local(1, 7, 30)
    programme.accept(session, ops["op1"], offers[0].id, {"start": at730.isoformat(), "rrule": "FREQ=WEEKLY;BYDAY=MO,TH"})
    session.commit()
    prog = _programme(session, eps["whole"])
    rule = rrulestr("FREQ=WEEKLY;BYDAY=MO,TH", dtstart=at730.replace(tzinfo=None))
    w0, w1 = occurrences.window(utcnow())
    expected = [t for t in rule.between(clock.local(w0).replace(tzinfo=None), clock.local(w1).replace(tzinfo=None),
                                        inc=True)]
    firsts = [o for o in prog if o["play"] == 0]
    assert [o["at"] for o in firsts] == [t.replace(tzinfo=clock.zone()).isoformat() for t in expected]
    assert all(o["work_id"] == news.id and o["files"][0]["sha256"] == _audio(news.id)["sha256"] for o in prog)
    assert _programme(session, eps["other"]) == []  # 00962 has not accepted
    programme.decline(session, ops["op1"], offers[0].id, "trùng giờ họp")  # changed their mind
    session.commit()
    assert _programme(session, eps["whole"]) == [] and programme.offers(session, ops["op1"])[0].reason == "trùng giờ họp"
    programme.accept(session, ops["op1"], offers[0].id, {"start": at730.isoformat(), "rrule": ""})
    session.commit()
    assert [o["at"] for o in _programme(session, eps["whole"]) if o["play"] == 0] == [at730.isoformat()]

    # A priority work is in the programme at once, for one zone only; every zone's endpoint sees the whole
    # commune's items, a zone's endpoint its zone's too, not another zone's.
    with pytest.raises(ValidationError):  # a zone belongs to one commune
        programme.schedule_work(session, editor, alert.id, {"area_codes": ["02.030"], "zone": "Thôn A",
                                                             "start": at730.isoformat()})
    session.rollback()
    zoned = programme.schedule_work(session, editor, alert.id, {"area_codes": ["00961"], "zone": "Thôn A",
                                                                 "start": at730.isoformat()})
    session.commit()
    assert programme.schedule_json(session, zoned)["state"] == "scheduled"
    in_a = _programme(session, eps["village_a"])
    assert [(o["work_id"], o["priority"]) for o in in_a if o["at"] == at730.isoformat()] == [
        (alert.id, "priority"), (news.id, "normal")]  # one slot: priority first
    assert [o["work_id"] for o in _programme(session, eps["village_b"]) if o["play"] == 0] == [news.id]
    # The operator orders the slot (within a level); the province's priority item cannot be moved by them.
    alert_item = programme.schedule_items(session, zoned.id)[0]
    with pytest.raises(ValidationError):
        programme.change(session, ops["op1"], alert_item.id, {"start": _local(1, 9).isoformat()})
    session.rollback()
    week = occurrences.area_week(session, ar["c1"], None, w0, w1)
    clash = [o for o in week if o["at"] == at730.isoformat()]
    assert len(clash) == 2 and all(o["clash"] for o in clash)  # the same time on Thôn A's loudspeakers

    # The commune's own item: a relay of the provincial radio with a stored fallback, in Thôn B.
    own = programme.add_own(session, ops["op1"], {"area_code": "00961", "zone": "Thôn B", "relay_url":
                                                  "http://127.0.0.1:8000/vov1", "duration_s": 1800, "title": "VOV1",
                                                  "work_id": news.id, "start": _local(1, 18).isoformat()})
    session.commit()
    relay = [o for o in _programme(session, eps["village_b"]) if o["item_id"] == own.id]
    assert relay and relay[0]["relay"]["url"].endswith("/vov1") and relay[0]["duration_s"] == 1800
    assert relay[0]["files"] and relay[0]["work_id"] == news.id  # the fallback's files
    with pytest.raises(PermissionDenied):
        programme.add_own(session, ops["op3"], {"area_code": "00961", "work_id": news.id,
                                                "start": _local(1, 18).isoformat()})
    session.rollback()
    for bad in ({"rrule": "FREQ=MINUTELY"}, {"rrule": "nonsense"}, {"rrule": "FREQ=HOURLY;BYMINUTE=0,5,10,15,20"}, {"start": "yesterday"},
                {"relay_url": "file:///etc/passwd", "duration_s": 10}, {"priority": "emergency"}):
        with pytest.raises(ValidationError):
            programme.add_own(session, ops["op1"], {"area_code": "00961", "work_id": news.id,
                                                    "start": _local(1, 18).isoformat(), **bad})
        session.rollback()

    # An emergency plays at once (no start given), for every endpoint under the province, interrupting.
    flood = published(session, admin.user, "Cảnh báo lũ quét", "emergency", seconds=45)
    session.commit()
    flood_schedule = programme.schedule_work(session, editor, flood.id, {"area_codes": ["02"]})
    session.commit()
    assert len(programme.schedule_json(session, flood_schedule)["occurrences"]) == 1  # now, once
    for name in ("village_a", "village_b", "whole", "other", "lungcu"):
        now_items = [o for o in _programme(session, eps[name]) if o["work_id"] == flood.id]
        assert len(now_items) == 1 and now_items[0]["interrupt"] is True, name
        at = datetime.fromisoformat(now_items[0]["at"])
        assert abs((at - clock.local(utcnow())).total_seconds()) < 60

    # The calendar: one VEVENT per item with TZID, RRULE and UID work-<id>-; read back by the icalendar
    # library, its rules expand to the programme's own occurrences.
    programme.change(session, ops["op1"], offers[0].id, {"start": at730.isoformat(), "rrule": "FREQ=DAILY;UNTIL=" +
                                                         _local(4, 23, 59).strftime("%Y%m%dT%H%M%S")})
    session.commit()
    items = occurrences.items_for(session, eps["village_a"].area, "Thôn A")
    cal = icalendar.Calendar.from_ical(occurrences.calendar(session, items, "Thôn A"))
    events = [c for c in cal.walk("VEVENT")]
    assert {str(e["UID"]).split("-")[0:2][1] for e in events} == {str(news.id), str(alert.id), str(flood.id)}
    assert all(str(e["UID"]).startswith("work-") for e in events)
    daily = next(e for e in events if str(e["UID"]).startswith(f"work-{news.id}-"))
    assert daily["DTSTART"].params["TZID"] == clock.zone().key and cal.walk("VTIMEZONE")
    start = daily.decoded("DTSTART")
    expanded = list(rrulestr(daily["RRULE"].to_ical().decode(), dtstart=start))
    assert len(expanded) == 4  # tomorrow to the 4th day, inclusive
    firsts = [o["at"] for o in _programme(session, eps["village_a"]) if o["work_id"] == news.id and o["play"] == 0]
    assert firsts == [t.isoformat() for t in expanded]

    # As-run: plays reported against their occurrences. Play the news at its first time in Thôn A, fail it in
    # Thôn B; an hour after, the whole-commune loudspeaker that reported nothing has missed it.
    first_news = datetime.fromisoformat(firsts[0]).astimezone(clock.zone())
    t_utc = clock.to_utc(first_news, "at")
    pkg = session.scalar(select(Package).where(Package.work_id == news.id))
    news_item = offers[0].id
    for name, outcome in (("village_a", "played"), ("village_b", "failed")):
        session.add(EndpointReport(endpoint_id=eps[name].id, client_id=f"r-{name}", type="play", package_id=pkg.id,
                                   file_sha256=_audio(news.id)["sha256"], started_at=t_utc, ended_at=t_utc,
                                   outcome=outcome, scheduled_at=t_utc, item_id=news_item))
    session.commit()
    q = asrun.Query(t_utc - timedelta(minutes=1), t_utc + timedelta(minutes=1), None)
    states = {(ep.name, o.item_id): s for o, ep, s in asrun.rows(session, q, now=t_utc + timedelta(hours=2))}
    assert states[("village_a", news_item)] == "played" and states[("village_b", news_item)] == "failed"
    assert states[("whole", news_item)] == "missed"
    early = {(ep.name, o.item_id): s for o, ep, s in asrun.rows(session, q, now=t_utc + timedelta(minutes=10))}
    assert early[("whole", news_item)] == "pending"
    assert ("other", news_item) not in states  # 00962 never accepted: nothing was scheduled there
    op_q = asrun.Query.from_args(session, ops["op3"], None, first_news - timedelta(minutes=1),
                                 first_news + timedelta(minutes=1))
    assert {ep.name for _o, ep, _s in asrun.rows(session, op_q)} <= {"lungcu"}  # an operator sees their own
    with pytest.raises(PermissionDenied):
        asrun.Query.from_args(session, ops["op3"], "00961", first_news, first_news + timedelta(minutes=1))
    page = asrun.page_json(session, asrun.Query(q.start, q.end, None, "missed"), 1, 10, now=t_utc + timedelta(hours=2))
    assert page["totals"]["played"] == 1 and page["total"] == page["totals"]["missed"] >= 1

    # Retracting a work takes it out of every programme.
    from studio.services import packages
    packages.retract(session, admin, flood, "đã hết nguy cơ")
    session.commit()
    assert not [o for o in _programme(session, eps["lungcu"]) if o["work_id"] == flood.id]
    assert {i.state for i in session.scalars(select(ProgrammeItem).where(ProgrammeItem.work_id == flood.id))} == {
        "cancelled"}
