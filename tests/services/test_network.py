"""The endpoint network at a glance: states from real syncs, holdings against the feed, filters, the offline
list and badge, an endpoint's history; and the reference client reporting plays when its player plays."""
from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.models import Endpoint, EndpointReport, Package, utcnow
from endpoint_client import SyncClient
from studio.services import clock
from tests.helpers import ROOT
from tests.services.test_distribution import _endpoint, _login, _publish, province  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def test_network_states_holdings_offline_and_plays_from_the_player(app, make_web, users, province,  # noqa: F811
                                                                   live_server, tmp_path, db_session):
    wid = _publish(make_web, area_ids=str(province["commune"]))
    played = _endpoint(make_web, province["commune"], name="Loa thôn Nà Ché")
    silent = _endpoint(make_web, province["commune"], name="Loa thôn Khuổi Hẻo")
    _endpoint(make_web, province["district"], kind="eboard", name="Bảng điện tử huyện")  # never contacted
    box = tmp_path / "box"
    assert SyncClient(live_server, played, box).sync().holds
    assert SyncClient(live_server, silent, tmp_path / "box2").sync().holds
    # The device's player (here ffprobe, which reads the MP3 through to the end) plays; the client reports it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    out = subprocess.run([sys.executable, "-m", "studio.cli", "endpoint", "play", "--dir", str(box), "--player",
                          "ffprobe -v error -show_entries format=duration {file}", "--url", live_server,
                          "--token", played], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [p["outcome"] for p in result["played"]] == ["played"] and result["reports_sent"] == 2
    broken = subprocess.run([sys.executable, "-m", "studio.cli", "endpoint", "play", "--dir", str(box), "--player",
                             "false", "--url", live_server, "--token", played], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    plays = db_session.scalars(select(EndpointReport).where(EndpointReport.type == "play")).all()
    assert sorted(p.outcome for p in plays) == ["failed", "played"]
    assert all(p.package_id and len(p.file_sha256) == 64 and p.started_at <= p.ended_at for p in plays)
    # The silent loudspeaker was last heard from an hour ago: offline after 30 minutes.
    db_session.execute(update(Endpoint).where(Endpoint.name == "Loa thôn Khuổi Hẻo")
                       .values(last_seen_at=utcnow() - timedelta(hours=1)))
    db_session.commit()

    editor = _login(make_web, "editor")
    page = html.unescape(editor.get("/admin/endpoints/network").get_data(as_text=True))
    states = {name.strip(): st for st, name in re.findall(r'data-state="(\w+)">\s*<td>([^<]+)<', page)}
    assert states == {"Bảng điện tử huyện": "never", "Loa thôn Khuổi Hẻo": "offline", "Loa thôn Nà Ché": "online"}
    assert 'data-count="online">1<' in page and 'data-count="offline">1<' in page and 'data-count="never">1<' in page
    assert "Ngoại tuyến quá 30 phút" in page and "Loa thôn Khuổi Hẻo" in page.split('id="offline"')[1]
    assert 'id="offline-badge"' in page
    row = page.split("Loa thôn Nà Ché")[1].split("</tr>")[0]
    assert "1 / 1" in row  # holds what it should
    only_online = editor.get("/admin/endpoints/network?state=online").get_data(as_text=True)
    assert "Loa thôn Nà Ché" in only_online and "Bảng điện tử huyện" not in only_online
    boards = editor.get("/admin/endpoints/network?kind=eboard").get_data(as_text=True)
    assert "Bảng điện tử huyện" in boards and "Loa thôn Nà Ché" not in boards
    commune = editor.get(f"/admin/endpoints/network?area={province['commune']}").get_data(as_text=True)
    assert "Bảng điện tử huyện" not in commune and "Loa thôn Khuổi Hẻo" in commune
    # An endpoint's history, day by day.
    ep = db_session.scalar(select(Endpoint).where(Endpoint.name == "Loa thôn Nà Ché"))
    admin = _login(make_web, "admin")
    detail = admin.get(f"/admin/endpoints/{ep.id}").get_data(as_text=True)
    today = clock.local(utcnow()).strftime("%Y-%m-%d")  # the history counts local days
    history = detail.split(today)[1].split("</tr>")[0]
    assert [int(x) for x in re.findall(r"<td>(\d+)</td>", history)][:3] == [5, 2, 1]
    assert db_session.scalar(select(EndpointReport.package_id).where(EndpointReport.type == "play")) == \
        db_session.scalar(select(Package.id).where(Package.work_id == wid))