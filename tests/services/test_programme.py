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
