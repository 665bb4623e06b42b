"""The commune's programme (issue #24): offers, the three levels, zones, relays, recurrence, the calendar and
the as-run, on SQLite (PostgreSQL: test_postgresql.py), through the API, and played by the reference client."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.helpers import make_tone
from tests.services.programme_cases import check_programme


def test_the_programme_on_sqlite(app, users):
    from studio.extensions import db
    with app.app_context():
        check_programme(db.session)


def _wav_seconds(path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.slow
def test_an_emergency_interrupts_the_reference_client_and_the_item_resumes(app, users, live_server, store, tmp_path):
    """`studio endpoint play --schedule` with a real player (ffmpeg at real speed, writing what it plays to WAV):
    a priority bulletin starts at its time, an emergency scheduled while it plays interrupts it, the bulletin
    resumes where it stopped; the plays reach the as-run."""
    from datetime import timedelta

    from endpoint_client import SyncClient
    from storage.models import User, utcnow
    from studio.extensions import db
    from studio.services import Caller, areas, asrun, clock, endpoints, programme
    from tests.services.programme_cases import published
    bulletin_mp3 = make_tone(tmp_path / "bulletin.mp3", seconds=8.0, freq=440).read_bytes()
    alarm_mp3 = make_tone(tmp_path / "alarm.mp3", seconds=2.0, freq=880).read_bytes()
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        p = areas.create(db.session, admin, "02", "Hà Giang", "province", None)
        db.session.flush()
        areas.create(db.session, admin, "00961", "Thanh Thủy", "commune", p.id)
        db.session.flush()
        ep, token = endpoints.create(db.session, admin, {"name": "Loa", "kind": "loudspeaker", "area_code": "00961"})
        ep.created_at = utcnow() - timedelta(hours=1)
        bulletin = published(db.session, admin.user, "Bản tin", "priority", 8.0, store, bulletin_mp3)
        alarm = published(db.session, admin.user, "Cảnh báo lũ", "emergency", 2.0, store, alarm_mp3)
        db.session.commit()
        begin = utcnow().replace(microsecond=0) + timedelta(seconds=3)
        programme.schedule_work(db.session, admin, bulletin.id, {"area_codes": ["00961"], "start": clock.iso(begin)})
        db.session.commit()
        alarm_id, bulletin_id = alarm.id, bulletin.id
    client = SyncClient(live_server, token, tmp_path / "device")
    assert client.sync().downloaded
    played = tmp_path / "played"
    played.mkdir()
    player = (f"sh -c 'exec ffmpeg -nostdin -v error -re -ss \"$1\" -i \"$0\" -y \"$2/$(date +%s%N).wav\"' "
              f"{{file}} {{start}} {played}")
    device = subprocess.Popen([sys.executable, "-m", "endpoint_client.cli", "play", "--schedule", "--dir",
                               str(tmp_path / "device"), "--player", player, "--for", "22"],
                              stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list(played.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(played.iterdir()), "the bulletin did not start"
        time.sleep(3)
        with app.app_context():
            admin = Caller(db.session.get(User, users["admin"]))
            programme.schedule_work(db.session, admin, alarm_id, {"area_codes": ["02"]})  # now, everywhere
            db.session.commit()
        client.sync()  # the device's sync loop would; the player reads what it wrote
        out, _ = device.communicate(timeout=60)
    finally:
        device.kill()
    events = json.loads(out)["events"]
    assert [(e["event"], e["priority"]) for e in events] == [
        ("start", "priority"), ("interrupt", "priority"), ("start", "emergency"), ("end", "emergency"),
        ("resume", "priority"), ("end", "priority")], json.dumps(events, indent=0)
    offset = next(e["offset"] for e in events if e["event"] == "interrupt")
    assert 2.5 < offset < 6.5
    # What the player wrote, measured: the bulletin's first part, the whole alarm, the bulletin's rest.
    first, alarm_part, rest = (_wav_seconds(f) for f in sorted(played.iterdir()))
    assert abs(alarm_part - 2.0) < 0.3
    assert abs(first - offset) < 0.8 and abs(first + rest - 8.0) < 0.8, (first, rest, offset)
    # The plays reach the studio with their occurrences: both played in the as-run.
    assert client.send_reports() >= 3
    with app.app_context():
        q = asrun.Query(begin - timedelta(minutes=1), utcnow() + timedelta(minutes=1), None)
        states = sorted((o.work_id, s) for o, _ep, s in asrun.rows(db.session, q))
    assert states == sorted([(bulletin_id, "played"), (alarm_id, "played")])


ICECAST_XML = """<icecast>
  <limits><clients>20</clients><sources>2</sources></limits>
  <authentication><source-password>{password}</source-password><admin-user>admin</admin-user>
    <admin-password>{password}</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{logs}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><errorlog>error.log</errorlog><accesslog>access.log</accesslog><loglevel>3</loglevel></logging>
</icecast>
"""


@pytest.fixture
def icecast():
    """A real Icecast server (Debian's icecast2) on loopback with a live mount /vov1 (a 660 Hz tone from
    ffmpeg, as a provincial radio's stream); it will not run as root, so it runs as its own user."""
    import os
    import secrets
    import shutil
    import socket
    import tempfile
    from pathlib import Path

    import requests

    from tests import processes
    if not shutil.which("icecast2"):
        pytest.fail("icecast2 is not installed: run scripts/install-system-deps.sh --test (./dev test does)")
    base = Path(tempfile.mkdtemp(prefix="studio-icecast-"))
    base.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    password = secrets.token_hex(8)
    (base / "icecast.xml").write_text(ICECAST_XML.format(port=port, password=password, logs=base))
    cmd = ["icecast2", "-c", str(base / "icecast.xml")]
    if os.geteuid() == 0:
        shutil.chown(base, "icecast2")
        shutil.chown(base / "icecast.xml", "icecast2")
        cmd = ["runuser", "-u", "icecast2", "--", *cmd]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    source = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        source = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i",
                                   "sine=frequency=660", "-c:a", "libmp3lame", "-b:a", "64k",
                                   "-content_type", "audio/mpeg", "-f", "mp3",
                                   f"icecast://source:{password}@127.0.0.1:{port}/vov1"], start_new_session=True)
        while time.monotonic() < deadline:
            with requests.get(f"http://127.0.0.1:{port}/vov1", stream=True, timeout=2) as mount:
                if mount.status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the Icecast mount did not come up")
        yield f"http://127.0.0.1:{port}"
    finally:
        if source is not None:
            processes.stop(source, 5)
        processes.stop(server, 10)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_a_relay_plays_the_live_stream_for_its_slot_and_falls_back_when_it_fails(app, users, live_server, store,
                                                                                tmp_path, icecast):
    """The commune relays the provincial radio (a real Icecast stream) for a 5-second slot: the player is
    stopped at the slot's end. A second slot names a stream that is not there: its stored item plays."""
    from datetime import timedelta

    from endpoint_client import SyncClient
    from storage.models import User, utcnow
    from studio.extensions import db
    from studio.services import Caller, accounts, areas, clock, endpoints, programme
    from tests.helpers import PASSWORD
    from tests.services.programme_cases import published
    fallback_mp3 = make_tone(tmp_path / "fallback.mp3", seconds=3.0, freq=440).read_bytes()
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        p = areas.create(db.session, admin, "02", "Hà Giang", "province", None)
        db.session.flush()
        commune = areas.create(db.session, admin, "00961", "Thanh Thủy", "commune", p.id)
        db.session.flush()
        _ep, token = endpoints.create(db.session, admin, {"name": "Loa", "kind": "loudspeaker", "area_code": "00961"})
        op = Caller(accounts.create_user(db.session, admin, "vanhanh", PASSWORD, ["operator"], area_ids=[commune.id]))
        fallback = published(db.session, admin.user, "Bản tin dự phòng", "normal", 3.0, store, fallback_mp3)
        t0 = utcnow().replace(microsecond=0)
        for offset, url in ((2, f"{icecast}/vov1"), (9, f"{icecast}/no-such-mount")):
            programme.add_own(db.session, op, {"area_code": "00961", "relay_url": url, "duration_s": 5,
                                               "title": "Tiếp sóng Đài tỉnh", "work_id": fallback.id,
                                               "start": clock.iso(t0 + timedelta(seconds=offset))})
        db.session.commit()
    client = SyncClient(live_server, token, tmp_path / "device")
    client.sync()
    played = tmp_path / "played"
    played.mkdir()
    player = (f"sh -c 'exec ffmpeg -nostdin -v error -re -i \"$0\" -y \"$1/$(date +%s%N).wav\"' {{file}} {played}")
    device = subprocess.run([sys.executable, "-m", "endpoint_client.cli", "play", "--schedule", "--dir",
                             str(tmp_path / "device"), "--player", player, "--for", "19"],
                            capture_output=True, text=True, timeout=60)
    events = json.loads(device.stdout)["events"]
    assert [e["event"] for e in events] == ["relay", "end", "relay", "relay_failed", "end"], events
    assert all(e["outcome"] == "played" for e in events if e["event"] == "end")
    live, fallback_part = (_wav_seconds(f) for f in sorted(played.iterdir()))
    assert 3.5 < live < 5.8, live  # the stream, stopped at the slot's end (its connection takes a moment)
    assert abs(fallback_part - 3.0) < 0.3, fallback_part  # the whole stored item
    assert client.send_reports() >= 2
    # With the studio out of reach the device keeps the programme it last synced (and plays from it).
    kept = client.programme()
    cut_off = SyncClient("http://127.0.0.1:9", token, tmp_path / "device")
    assert cut_off.sync().offline and cut_off.programme() == kept and len(kept) == 2


def test_the_plan_targets_and_the_share_played_are_computed_from_endpoints(app, users, make_web):
    """Districts A (a ward and two communes with connected e-boards: met) and B (one commune's board never
    connected: missed); a commune without a connected loudspeaker; a district e-board connected, one not. The
    report's share of scheduled plays counts the plays reported against their occurrences."""
    from datetime import date, timedelta

    from storage.models import EndpointReport, Package, User, utcnow
    from studio.extensions import db
    from studio.services import Caller, areas, endpoints, programme, report, targets
    from tests.services.programme_cases import published
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        p = areas.create(db.session, admin, "02", "Hà Giang", "province", None)
        db.session.flush()
        a = areas.create(db.session, admin, "02.030", "Vị Xuyên", "district", p.id)
        b = areas.create(db.session, admin, "02.031", "Bắc Mê", "district", p.id)
        db.session.flush()
        made = {code: areas.create(db.session, admin, code, name, "commune", parent.id) for code, name, parent in (
            ("00001", "Thị trấn Vị Xuyên", a), ("00002", "Xã Đạo Đức", a), ("00003", "Xã Phú Linh", a),
            ("00004", "Xã Yên Phong", b))}
        db.session.flush()
        seen = utcnow() - timedelta(hours=2)

        def endpoint(name, kind, area, connected):
            ep = endpoints.create(db.session, admin, {"name": name, "kind": kind, "area_id": area.id})[0]
            ep.last_seen_at = seen if connected else None
            ep.created_at = utcnow() - timedelta(days=2)
            return ep
        for code in ("00001", "00002", "00003"):
            endpoint(f"Bảng {code}", "eboard", made[code], True)
        endpoint("Bảng 00004", "eboard", made["00004"], False)
        radios = {code: endpoint(f"Loa {code}", "loudspeaker", made[code], code != "00003")
                  for code in ("00001", "00002", "00003", "00004")}
        endpoint("Bảng huyện Vị Xuyên", "eboard", a, True)
        endpoint("Bảng huyện Bắc Mê", "eboard", b, False)
        db.session.commit()
        from studio.services import clock
        year = clock.local(utcnow() - timedelta(hours=20)).year  # the bulletin below falls in this local year
        start, stop = report._utc_bounds(date(year, 1, 1), date(year, 12, 31))
        t = targets.measure(db.session, year, start, utcnow())
        assert t["ip_radio_communes"]["reached_pct"] == 75.0 and not t["ip_radio_communes"]["met"]
        assert {r["code"]: r["met"] for r in t["ip_radio_communes"]["areas"]} == {
            "00001": True, "00002": True, "00003": False, "00004": True}
        assert [(r["code"], r["wards"], r["communes"], r["met"]) for r in t["eboards_by_district"]["areas"]] == [
            ("02.030", 1, 2, True), ("02.031", 0, 0, False)]
        assert t["district_eboards_connected"]["reached_pct"] == 50.0
        # The province lowers this year's radio target to 70%: now met.
        targets.set_required(db.session, admin, year, {**targets.DEFAULTS, "ip_radio_communes_pct": 70})
        db.session.commit()
        assert targets.measure(db.session, year, start, utcnow())["ip_radio_communes"]["met"]

        # A bulletin 20 hours ago in every commune, played on two loudspeakers of four.
        news = published(db.session, admin.user, "Bản tin", "priority", 60)
        db.session.commit()
        at = (utcnow() - timedelta(hours=20)).replace(microsecond=0)
        programme.schedule_work(db.session, admin, news.id, {"area_codes": ["02"], "start": at.isoformat() + "+00:00"})
        package = db.session.query(Package).filter_by(work_id=news.id).one()
        items = {i.area.code: i.id for i in programme.schedule_items(db.session, 1)}
        for code in ("00001", "00002"):
            db.session.add(EndpointReport(endpoint_id=radios[code].id, client_id=f"p{code}", type="play",
                                          package_id=package.id, file_sha256="x", started_at=at, ended_at=at,
                                          outcome="played", scheduled_at=at, item_id=items[code]))
        db.session.commit()
        share = report.annual(db.session, date(year, 1, 1), date(year, 12, 31))["programme"]
        # Each commune's loudspeaker and e-board were scheduled; only loudspeakers take the audio.
        assert (share["scheduled"], share["played"]) == (4, 2) and share["share"] == 0.5
        assert share["by_area"]["00001"] == {"scheduled": 1, "played": 1, "share": 1.0}
    page = make_web()
    page.login("admin")
    html = page.get(f"/reports/annual?year={year}").get_data(as_text=True)
    assert 'data-target="ip_radio_communes" data-met="true"' in html and 'data-area="02.031" data-met="false"' in html
    saved = page.post("/reports/targets", {"year": str(year), "ip_radio_communes_pct": "100",
                                           "eboard_wards_per_district": "1", "eboard_communes_per_district": "2",
                                           "district_eboards_connected_pct": "100"})
    assert saved.status_code == 302
    assert 'data-target="ip_radio_communes" data-met="false"' in page.get(f"/reports/annual?year={year}").get_data(
        as_text=True)
    network = page.get("/admin/endpoints/network").get_data(as_text=True)
    assert network.count("data-missed=") == 2  # the bulletin on 00003's and 00004's loudspeakers


def test_the_scheduled_player_plays_a_published_emergency_no_programme_names_once(tmp_path):
    """An emergency published to the commune (in the feed, not in any programme) is due at once, interrupts
    like a scheduled one, and once played is not due again; one a programme names is not played twice."""
    import hashlib
    from datetime import datetime, timezone

    from endpoint_client import SyncClient
    from endpoint_client.client import _write_json
    from endpoint_client.schedule import ScheduledPlayer
    client = SyncClient("http://127.0.0.1:9", "ep_x", tmp_path)
    alarm = make_tone(tmp_path / "alarm.mp3", seconds=0.5)
    sha = hashlib.sha256(alarm.read_bytes()).hexdigest()
    alarm.rename(client.media_path(sha))
    item = {"package_id": 7, "priority": "emergency", "playback": {"play_immediately": True, "interrupt": True,
                                                                  "ignore_time_slots": True},
            "files": [{"sha256": sha, "role": "audio"}]}
    _write_json(tmp_path / "state.json", {"items": [item], "programme": [], "time_zone": "Asia/Ho_Chi_Minh"})
    player = ScheduledPlayer(client, ["true", "{file}"], tick=0.05)
    due = player.due()
    assert [(o["package_id"], o["priority"]) for o in due] == [(7, "emergency")]
    player.run(1.0)
    assert [e["event"] for e in player.log] == ["start", "end"] and player.due() == []
    outbox = json.loads((tmp_path / "outbox.json").read_text())
    assert [(r["package"], r["outcome"], "scheduled_at" in r) for r in outbox] == [(7, "played", False)]
    # Named by the programme too: only the programme's occurrence is due.
    now = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    _write_json(tmp_path / "state.json", {"items": [{**item, "package_id": 8}], "time_zone": "Asia/Ho_Chi_Minh",
                                          "programme": [{"at": now, "item_id": 3, "play": 0, "package_id": 8,
                                                         "priority": "emergency", "files": item["files"]}]})
    assert [o["item_id"] for o in ScheduledPlayer(client, ["true"]).due()] == [3]


def test_a_communes_change_leaves_the_other_communes_programmes_as_they_were(app, users):
    """An operator's change moves the programme generation on: that commune's feed changes (its ETag), the
    other communes' programmes are kept from the last Book (the very same lists) and their ETags stay."""
    from datetime import timedelta

    from storage.models import utcnow
    from studio.extensions import db
    from studio.services import clock, feeds, programme
    from tests.services.programme_cases import make_province, published
    with app.app_context():
        s = db.session
        made = make_province(s)
        news = published(s, made["admin"].user, "Bản tin", "priority", 60)
        s.commit()
        programme.schedule_work(s, made["admin"], news.id, {"area_codes": ["02"],
                                                            "start": clock.iso(utcnow() + timedelta(hours=3))})
        s.commit()
        cache = feeds.FeedCache()
        here, there = made["eps"]["whole"], made["eps"]["lungcu"]

        def feed(ep):
            return cache.items(s, ep.id, ep.kind, ep.area, ep.display, languages=ep.languages, zone=ep.zone)
        (here_tag, here_feed), (there_tag, there_feed) = feed(here), feed(there)
        generation = feeds.generation(s)
        programme.add_own(s, made["ops"]["op1"], {"area_code": "00961", "work_id": news.id,
                                                  "start": clock.iso(utcnow() + timedelta(hours=5))})
        s.commit()
        assert feeds.generation(s) == generation  # the packages' generation did not move
        (here_tag2, here_feed2), (there_tag2, there_feed2) = feed(here), feed(there)
        assert here_tag2 != here_tag and len(here_feed2.programme) == len(here_feed.programme) + 1
        assert there_tag2 == there_tag and there_feed2.programme is there_feed.programme
        assert there_feed2.items is there_feed.items  # the packages were not queried again
