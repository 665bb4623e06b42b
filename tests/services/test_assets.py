"""Uploads: checked by content (Pillow, ffprobe), size and pixel limits, safe names, thumbnails."""
from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from storage.models import Asset
from tests.helpers import make_png, make_png_bomb, make_tone, make_video, new_work


def upload(web, wid, path, name=None, xhr=False):
    headers = {"X-Requested-With": "XMLHttpRequest"} if xhr else {}
    with open(path, "rb") as f:
        return web.post(f"/works/{wid}/assets", {"file": (f, name or path.name)},
                        content_type="multipart/form-data", headers=headers)


def test_picture_is_stored_with_thumbnail(web, users, tmp_path, store, db_session):
    web.login("editor")
    wid = new_work(web)
    png = make_png(tmp_path / "anh.png", size=(800, 600))
    resp = upload(web, wid, png, name="Ảnh đẹp của xã.PNG", xhr=True)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    asset = db_session.get(Asset, resp.get_json()["id"])
    assert (asset.kind, asset.mime, asset.width, asset.height) == ("image", "image/png", 800, 600)
    assert asset.safe_name == "anh-dep-cua-xa.png"
    assert asset.sha256 == hashlib.sha256(png.read_bytes()).hexdigest()
    assert store.get_bytes(asset.object_key) == png.read_bytes()
    thumb = web.get(f"/assets/{asset.id}/thumb")
    assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"
    from io import BytesIO

    from PIL import Image
    assert max(Image.open(BytesIO(thumb.data)).size) == 320
    assert web.get(f"/assets/{asset.id}/file").data == png.read_bytes()


def test_audio_and_video_are_probed(web, users, tmp_path, db_session):
    web.login("editor")
    wid = new_work(web)
    resp = upload(web, wid, make_tone(tmp_path / "tone.mp3", 1.5), xhr=True)
    assert resp.status_code == 201
    audio = db_session.get(Asset, resp.get_json()["id"])
    assert audio.kind == "audio" and audio.mime == "audio/mpeg" and 1.4 < audio.duration_s < 1.7
    resp = upload(web, wid, make_video(tmp_path / "clip.mp4"), xhr=True)
    assert resp.status_code == 201
    video = db_session.get(Asset, resp.get_json()["id"])
    assert video.kind == "video" and (video.width, video.height) == (160, 120)


def test_renamed_text_file_is_refused(web, users, tmp_path, db_session):
    web.login("editor")
    wid = new_work(web)
    fake = tmp_path / "photo.png"
    fake.write_text("Đây không phải là ảnh.\n" * 50)
    resp = upload(web, wid, fake, xhr=True)
    assert resp.status_code == 415
    assert "không phải ảnh, âm thanh hay video" in resp.get_json()["error"]["message"]
    fake_mp3 = tmp_path / "song.mp3"
    fake_mp3.write_text("ID3 not really an mp3 " * 100)
    assert upload(web, wid, fake_mp3, xhr=True).status_code == 415
    # Without JavaScript the page is shown again with the message.
    resp = upload(web, wid, fake)
    assert resp.status_code == 415 and "không phải ảnh" in resp.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Asset)) == 0


def test_image_bomb_is_refused_before_decoding(web, users, tmp_path, db_session):
    web.login("editor")
    wid = new_work(web)
    resp = upload(web, wid, make_png_bomb(tmp_path / "bomb.png", 8000, 8000), xhr=True)
    assert resp.status_code == 413
    assert "Ảnh quá lớn" in resp.get_json()["error"]["message"]
    assert "8000×8000" in resp.get_json()["error"]["message"]
    # Far past Pillow's own guard too: still a clear 413, never a decode.
    resp = upload(web, wid, make_png_bomb(tmp_path / "huge.png", 40000, 40000), xhr=True)
    assert resp.status_code == 413 and "60,000,000" in resp.get_json()["error"]["message"]
    assert db_session.scalar(select(func.count()).select_from(Asset)) == 0


def test_upload_over_the_limit_is_refused(web, users, tmp_path, app):
    web.login("editor")
    wid = new_work(web)
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    big = make_png(tmp_path / "big.png", size=(1200, 1200))
    (tmp_path / "big.bin").write_bytes(big.read_bytes() + b"\0" * 300_000)
    resp = upload(web, wid, tmp_path / "big.bin", xhr=True)
    assert resp.status_code == 413 and "giới hạn" in resp.get_json()["error"]["message"]


def test_path_traversal_name_is_made_safe(web, users, tmp_path, store, db_session):
    web.login("editor")
    wid = new_work(web)
    resp = upload(web, wid, make_png(tmp_path / "x.png"), name="../../../etc/passwd.php", xhr=True)
    assert resp.status_code == 201
    asset = db_session.get(Asset, resp.get_json()["id"])
    assert asset.safe_name == "passwd.png" and ".." not in asset.object_key
    assert asset.object_key.startswith(f"assets/{wid}/")
    assert asset.original_name == "../../../etc/passwd.php"  # kept for the record, shown escaped


def test_uploads_need_the_editor_role(web, users, tmp_path):
    web.login("editor")
    wid = new_work(web)
    web.post("/logout")
    web.login("translator")
    assert upload(web, wid, make_png(tmp_path / "a.png"), xhr=True).status_code == 403


def test_failed_store_leaves_nothing_behind(web, users, tmp_path, app, db_session, seaweed):
    """With the object store unreachable the upload fails cleanly and no asset row is written."""
    from storage.objectstore import ObjectStore
    web.login("editor")
    wid = new_work(web)
    app.extensions["objectstore"] = ObjectStore("127.0.0.1:9", "a", "b", "bucket", timeout=1)
    resp = upload(web, wid, make_png(tmp_path / "a.png"), xhr=True)
    assert resp.status_code == 503
    message = resp.get_json()["error"]["message"]
    assert "Kho lưu trữ đối tượng không sẵn sàng" in message and "127.0.0.1" not in message  # no server details
    assert db_session.scalar(select(func.count()).select_from(Asset)) == 0
