"""A province's areas, endpoints and people at scale: through the API and from CSV files, with the official
administrative-unit codes; works take area codes as well as ids."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import requests

from tests.web.test_api import auth, token_for


def test_areas_through_the_api(web, users):
    admin = auth(token_for(web, "admin"))
    client = web.client
    province = client.post("/api/v1/areas", json={"code": "02", "name": "Tỉnh Lào Cai", "level": "province"},
                           headers=admin)
    assert province.status_code == 201, province.get_json()
    assert province.get_json() == {**province.get_json(), "code": "02", "level": "province", "parent_code": None}
    # No district: since 2025 a commune may hang from the province directly.
    commune = client.post("/api/v1/areas", json={"code": "00085", "name": "Xã Bát Xát", "level": "commune",
                                                 "parent_code": "02"}, headers=admin)
    assert commune.status_code == 201 and commune.get_json()["parent_code"] == "02"
    again = client.post("/api/v1/areas", json={"code": "00085", "name": "Xã khác", "level": "commune",
                                               "parent_code": "02"}, headers=admin)
    assert again.status_code == 409
    orphan = client.post("/api/v1/areas", json={"code": "00086", "name": "Xã Y Tý", "level": "commune",
                                                "parent_code": "99"}, headers=admin)
    assert orphan.status_code == 400 and orphan.get_json()["error"]["field"] == "parent_code"
    editor = auth(token_for(web, "editor"))
    refused = client.post("/api/v1/areas", json={"code": "03", "name": "Tỉnh khác", "level": "province"},
                          headers=editor)
    assert refused.status_code == 403
    listed = client.get("/api/v1/areas", headers=editor)
    assert [a["code"] for a in listed.get_json()["items"]] == ["00085", "02"]


def test_endpoints_through_the_api_with_zones_and_work_area_codes(web, users, live_server):
    admin = auth(token_for(web, "admin"))
    client = web.client
    for body in ({"code": "02", "name": "Tỉnh Lào Cai", "level": "province"},
                 {"code": "00085", "name": "Xã Bát Xát", "level": "commune", "parent_code": "02"}):
        assert client.post("/api/v1/areas", json=body, headers=admin).status_code == 201
    made = client.post("/api/v1/endpoints", json={"name": "Cụm loa thôn Tân Sơn", "kind": "loudspeaker",
                                                  "area_code": "00085", "languages": ["vi"], "zone": "Thôn Tân Sơn"},
                       headers=admin)
    assert made.status_code == 201, made.get_json()
    ep = made.get_json()
    assert ep["token"].startswith("ep_") and ep["area_code"] == "00085" and ep["zone"] == "Thôn Tân Sơn"
    # The token works at once, and the studio keeps only its hash: listing never shows it.
    assert requests.get(f"{live_server}/api/v1/feed", headers=auth(ep["token"]), timeout=30).status_code == 200
    listed = client.get("/api/v1/endpoints", headers=admin).get_json()["items"]
    assert [e["id"] for e in listed] == [ep["id"]] and "token" not in listed[0]
    # A zone groups one commune's loudspeakers: not a province's.
    zoned = client.post("/api/v1/endpoints", json={"name": "Loa", "kind": "loudspeaker", "area_code": "02",
                                                   "zone": "Thôn A"}, headers=admin)
    assert zoned.status_code == 400 and zoned.get_json()["error"]["field"] == "zone"
    unknown = client.post("/api/v1/endpoints", json={"name": "Loa", "kind": "loudspeaker", "area_code": "77"},
                          headers=admin)
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "area_code"
    assert client.post("/api/v1/endpoints", json={"name": "Loa", "kind": "loudspeaker"},
                       headers=auth(token_for(web, "editor"))).status_code == 403

    editor = auth(token_for(web, "editor"))
    work = client.post("/api/v1/works", json={"title": "Thông báo", "body": "Nội dung.", "area_codes": ["00085"]},
                       headers=editor)
    assert work.status_code == 201, work.get_json()
    commune_id = [a["id"] for a in client.get("/api/v1/areas", headers=editor).get_json()["items"]
                  if a["code"] == "00085"]
    assert work.get_json()["area_ids"] == commune_id and work.get_json()["area_codes"] == ["00085"]
    bad = client.post("/api/v1/works", json={"title": "Thông báo", "area_codes": ["00085", "nowhere"]},
                      headers=editor)
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "area_codes"
    assert "nowhere" in bad.get_json()["error"]["message"]


AREAS = """code,name,level,parent_code
00085,Xã Bát Xát,commune,02
02,Tỉnh Lào Cai,province,
00086,Xã Y Tý,commune,02
"""

ENDPOINTS = """name,kind,area_code,display,languages,zone
Cụm loa thôn Tân Sơn,loudspeaker,00085,,vi,Thôn Tân Sơn
Cụm loa thôn Tân Sơn,loudspeaker,00086,,vi,Thôn Tân Sơn
Bảng LED UBND xã,eboard,00085,384x192,vi,
"""


@pytest.mark.slow
def test_areas_and_endpoints_import_from_csv(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "i"), "STUDIO_ADMIN_PASSWORD": "admin password here"})

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    (tmp_path / "areas.csv").write_text(AREAS, encoding="utf-8")
    first = studio("areas", "import", "areas.csv")
    assert first.returncode == 0, first.stderr
    assert "3 areas created, 0 renamed, 0 unchanged" in first.stdout  # the commune before its province is fine
    assert "3 areas created" not in studio("areas", "import", "areas.csv").stdout  # idempotent
    (tmp_path / "renamed.csv").write_text(AREAS.replace("Xã Y Tý", "Xã Y Tý mới"), encoding="utf-8")
    assert "0 areas created, 1 renamed, 2 unchanged" in studio("areas", "import", "renamed.csv").stdout
    (tmp_path / "bad.csv").write_text(AREAS + "00087,Xã Trịnh Tường,commune,99\n", encoding="utf-8")
    bad = studio("areas", "import", "bad.csv")
    assert bad.returncode == 2 and "Line 5" in bad.stderr and "99" in bad.stderr
    assert "Traceback" not in bad.stderr and str(tmp_path) not in bad.stderr.replace("bad.csv", "")
    (tmp_path / "columns.csv").write_text("code;name\n01;X\n", encoding="utf-8")
    assert "code,name,level,parent_code" in studio("areas", "import", "columns.csv").stderr

    (tmp_path / "endpoints.csv").write_text(ENDPOINTS, encoding="utf-8")
    imported = studio("endpoints", "import", "endpoints.csv")
    assert imported.returncode == 0, imported.stderr
    assert "3 endpoints registered, 0 already registered" in imported.stdout
    tokens = tmp_path / "endpoints.csv.tokens.csv"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    rows = [line.split(",") for line in tokens.read_text().splitlines()]
    assert rows[0] == ["id", "name", "kind", "area_code", "zone", "token"] and len(rows) == 4
    assert [r[3] for r in rows[1:]] == ["00085", "00086", "00085"] and rows[1][4] == "Thôn Tân Sơn"
    # Run again: nothing new, and the token file is never overwritten.
    again = studio("endpoints", "import", "endpoints.csv", "--tokens", "again.csv")
    assert "0 endpoints registered, 3 already registered" in again.stdout and not (tmp_path / "again.csv").exists()
    assert studio("endpoints", "import", "endpoints.csv").returncode == 2  # the tokens file exists
    (tmp_path / "bad-endpoints.csv").write_text(ENDPOINTS + "Loa,loudspeaker,00085,,vi,Thôn A\nLoa,radio,,,,\n",
                                                encoding="utf-8")
    refused = studio("endpoints", "import", "bad-endpoints.csv")
    assert refused.returncode == 2 and "Line 6" in refused.stderr
    assert not (tmp_path / "bad-endpoints.csv.tokens.csv").exists()  # nothing written, no token made

    from studio import create_app
    from studio.extensions import db
    from studio.services import endpoints
    app = create_app({"QUEUE_URL": "memory://"}, environ=env)
    with app.app_context():
        found = endpoints.for_token(db.session, rows[2][5])
        assert (found.area.code, found.zone, found.kind) == ("00086", "Thôn Tân Sơn", "loudspeaker")
        assert len(endpoints.all_endpoints(db.session)) == 3


def test_an_unknown_area_code_in_an_endpoints_file_is_refused_not_taken_for_no_area(app, users):
    """A row naming an area that does not exist stops the import, even when an endpoint of that name without
    an area exists (it must not count as already registered)."""
    from storage.models import User
    from studio.errors import ValidationError
    from studio.extensions import db
    from studio.services import Caller, areas, endpoints
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        endpoints.create(db.session, admin, {"name": "Cổng thông tin", "kind": "portal"})
        db.session.commit()
        rows = areas.read_csv("name,kind,area_code,display,languages,zone\nCổng thông tin,portal,,,,\n"
                              "Cổng thông tin,portal,99999,,,\n", endpoints.CSV_COLUMNS)
        with pytest.raises(ValidationError, match="Line 3: No area has the code 99999"):
            endpoints.import_rows(db.session, admin, rows)
        db.session.rollback()
        created, existing = endpoints.import_rows(db.session, admin, rows[:1])
        assert created == [] and existing == 1
