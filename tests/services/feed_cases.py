"""The one feed query's cases, run on SQLite (test_endpoint_files.py) and PostgreSQL (test_postgresql.py).

Packages are written as rows (no media): the query is what is tested here; real files are measured in
test_endpoint_files.py and test_cli.py's demo test.
"""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from storage.models import Area, Package, PackageArea, PackageFile, User, Work, utcnow


def _file(channel, profile, language, role, size=None):
    entry = {"key": f"media/{profile}-{language}-{role}", "sha256": f"{profile}{language}{role}".ljust(64, "0")[:64],
             "size": 10, "mime": {"audio": "audio/mpeg", "video": "video/mp4", "still": "image/png",
                                  "vtt": "text/vtt"}[role],
             "role": role, "language": language, "channel": channel, "profile": profile}
    if size:
        entry["width"], entry["height"] = size
    return entry


def make_packages(session) -> dict:
    """Areas 02 > 02.030 > 02.030.00961 and 04; packages named by what the cases expect of them."""
    from studio.services import Caller, areas
    admin = session.scalar(select(User).where(User.username == "admin"))
    a = Caller(admin)
    p = areas.create(session, a, "02", "Hà Giang", "province", None)
    session.flush()
    d = areas.create(session, a, "02.030", "Vị Xuyên", "district", p.id)
    session.flush()
    c = areas.create(session, a, "02.030.00961", "Thanh Thủy", "commune", d.id)
    o = areas.create(session, a, "04", "Cao Bằng", "province", None)
    session.flush()
    now = utcnow()
    work = Work(kind="article", title="w", body="b", author_id=admin.id, source_language="vi")
    session.add(work)
    session.flush()
    made = {}

    def package(name, codes, files, priority="normal", state="published", age_min=10, **validity):
        pk = Package(work_id=work.id, version=len(made) + 1, revision=1, state=state, priority=priority,
                     area_codes=codes, channels=sorted({f["channel"] for f in files}), published_by_id=admin.id,
                     published_at=now - timedelta(minutes=age_min), manifest={"files": files},
                     manifest_key=f"packages/{work.id}/{len(made) + 1}/manifest.json", manifest_sha256="0" * 64,
                     **validity)
        session.add(pk)
        session.flush()
        for i, f in enumerate(files):
            session.add(PackageFile(package_id=pk.id, position=i, channel=f["channel"], profile=f["profile"],
                                    language=f["language"], role=f["role"], width=f.get("width"),
                                    height=f.get("height"), entry=f))
        for code in codes:
            session.add(PackageArea(package_id=pk.id, code=code))
        made[name] = pk.id

    province_files = [
        _file("loudspeaker", "loudspeaker", "vi", "audio"), _file("loudspeaker", "loudspeaker", "en", "audio"),
        _file("eboard", "eboard-1080p", "vi", "video", (1920, 1080)),
        _file("eboard", "eboard-1080p", "vi", "vtt", (1920, 1080)),
        _file("eboard", "eboard-led-384x192", "vi", "video", (384, 192)),
        _file("eboard", "eboard-led-384x192", "vi", "still", (384, 192)),
        _file("web", "web-audio", "vi", "audio"), _file("web", "web-video", "vi", "video", (1280, 720))]
    package("province", ["02"], province_files)
    package("everywhere_emergency", [], [_file("loudspeaker", "loudspeaker", "vi", "audio")], "emergency", age_min=5)
    package("other_province", ["04"], [_file("loudspeaker", "loudspeaker", "vi", "audio")])
    package("district_led", ["02.030"], [_file("eboard", "eboard-led-384x192", "vi", "video", (384, 192))])
    package("expired", ["02"], [_file("loudspeaker", "loudspeaker", "vi", "audio")],
            valid_until=now - timedelta(minutes=1))
    package("far_future", ["02"], [_file("loudspeaker", "loudspeaker", "vi", "audio")],
            valid_from=now + timedelta(days=3))
    package("retracted", ["02"], [_file("loudspeaker", "loudspeaker", "vi", "audio")], state="retracted")
    package("text_only", ["02"], [])
    session.commit()
    return {"ids": made, "areas": {"province": p.id, "district": d.id, "commune": c.id, "other": o.id}}


def check_feed_query(session, store) -> None:
    """Every rule of the feed on this database, and the static feeds agreeing with it."""
    from studio.services import feeds
    made = make_packages(session)
    ids, areas = made["ids"], made["areas"]
    name = {v: k for k, v in ids.items()}
    commune, other = session.get(Area, areas["commune"]), session.get(Area, areas["other"])

    def q(kind, area, display="", languages=None):
        return [(name[p.id], sorted((f["profile"], f["language"], f["role"]) for f in files))
                for p, files in feeds.feed_query(session, kind, area, display, languages)]

    # Loudspeaker in the commune: its province's and everywhere's, emergency first; not the other province's,
    # not the expired, future, retracted or text-only ones. Its languages narrow the files.
    assert [n for n, _ in q("loudspeaker", commune)] == ["everywhere_emergency", "province"]
    assert q("loudspeaker", commune, languages=["vi"])[1] == ("province", [("loudspeaker", "vi", "audio")])
    assert [n for n, _ in q("loudspeaker", commune, languages=["tyz"])] == []
    assert [n for n, _ in q("loudspeaker", other)] == ["everywhere_emergency", "other_province"]
    # No area: every live package.
    assert sorted(n for n, _ in q("loudspeaker", None)) == ["everywhere_emergency", "other_province", "province"]
    # E-boards get only files of their display; a display nothing was made for gets nothing, never another size.
    led = q("eboard", commune, "384x192")
    assert [n for n, _ in led] == ["province", "district_led"]
    assert led[0][1] == [("eboard-led-384x192", "vi", "still"), ("eboard-led-384x192", "vi", "video")]
    assert q("eboard", commune, "1920x1080") == [
        ("province", [("eboard-1080p", "vi", "video"), ("eboard-1080p", "vi", "vtt")])]
    assert q("eboard", commune, "1280x720") == []
    # A kiosk takes e-board, web and e-publication files: at its display, web audio, not the 1280x720 web video.
    assert q("kiosk", commune, "384x192", ["vi"])[0] == ("province", [
        ("eboard-led-384x192", "vi", "still"), ("eboard-led-384x192", "vi", "video"), ("web-audio", "vi", "audio")])
    # Portals also list items without files (they publish the text).
    assert "text_only" in [n for n, _ in q("portal", commune)]
    # Static feeds are the same query without display and languages.
    keys = feeds.write_feeds(session, store, ["02.030.00961", "04", "all"])
    assert "feeds/eboard/02.030.00961.json" in keys
    session.commit()
    for kind in ("loudspeaker", "eboard", "portal"):
        for code, area in (("02.030.00961", commune), ("04", other), ("all", None)):
            static = json.loads(store.get_bytes(f"feeds/{kind}/{code}.json"))["items"]
            live = feeds.feed_query(session, kind, area)
            assert [(i["package_id"], i["files"]) for i in static] == [(p.id, files) for p, files in live]
