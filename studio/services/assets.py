"""Uploaded pictures, audio and video: checked by content, given safe names, stored in the object store."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline import images, probe
from media_pipeline.errors import InvalidMedia, MediaTooLarge, ToolMissing
from storage.models import Asset, Translation
from storage.objectstore import ObjectStore
from studio.errors import N_, PermissionDenied, StudioError, TooLarge, UnsupportedMedia
from studio.services import Caller, audit, fetch, works
from studio.services.accounts import require_role

log = logging.getLogger(__name__)

_AUDIO_EXT = {"mp3": "mp3", "wav": "wav", "ogg": "ogg", "flac": "flac", "matroska,webm": "webm",
              "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "aac": "aac"}
_VIDEO_EXT = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm", "avi": "avi", "mpegts": "ts"}
_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac", "m4a": "audio/mp4",
         "aac": "audio/aac", "mp4": "video/mp4", "webm": "video/webm", "avi": "video/x-msvideo",
         "ts": "video/mp2t"}


def safe_name(name: str, ext: str) -> str:
    """ASCII, no directories, no leading dots, our own extension: 'Ảnh đẹp/../x.php' -> 'anh-dep-x.jpg'."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = base.rsplit(".", 1)[0] if "." in base else base
    base = base.replace("đ", "d").replace("Đ", "D")
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9]+", "-", base).strip("-").lower()[:80] or "file"
    return f"{base}.{ext}"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()


def _classify(path: str, max_pixels: int) -> dict:
    """Decide by content what the file is; raise UnsupportedMedia or TooLarge if we refuse it."""
    try:
        if images.looks_like_image(path):
            info = images.inspect(path, max_pixels)
            ext = {"JPEG": "jpg"}.get(info.format, info.format.lower())
            return {"kind": "image", "mime": info.mime, "ext": ext, "width": info.width, "height": info.height,
                    "duration_s": None, "info": {"format": info.format}}
        m = probe.probe(path)
    except MediaTooLarge as exc:
        raise TooLarge(N_("The picture is too large: %(why)s."), field="file", why=str(exc)) from exc
    except ToolMissing as exc:
        log.error("upload check: %s", exc)
        raise StudioError(N_("The server cannot check audio and video now; tell an administrator.")) from exc
    except InvalidMedia as exc:  # what the tools said (paths, their words) stays in the server log
        log.info("upload refused: %s", exc)
        raise UnsupportedMedia(N_("This file is not a picture, audio or video the studio can read. Upload JPEG, "
                                  "PNG, WebP or GIF pictures, or audio/video that ffmpeg plays."),
                               field="file") from exc
    table = _VIDEO_EXT if m.kind == "video" else _AUDIO_EXT
    ext = table.get(m.format_name, m.format_name.split(",")[0][:8])
    v = m.video[0] if m.video else {}
    a = m.audio[0] if m.audio else {}
    return {"kind": m.kind, "mime": _MIME.get(ext, "application/octet-stream"), "ext": ext,
            "width": v.get("width"), "height": v.get("height"), "duration_s": round(m.duration_s, 3),
            "info": {"format": m.format_name, "video_codec": v.get("codec_name"), "audio_codec": a.get("codec_name"),
                     "sample_rate": a.get("sample_rate"), "channels": a.get("channels")}}


def upload(session: Session, store: ObjectStore, caller: Caller, work_id: int, path: str, original_name: str,
           max_bytes: int, max_pixels: int, role: str = "attachment", language: str | None = None) -> Asset:
    """Check a file on disk by content and store it as an asset of the work (with a thumbnail for pictures).

    role "narration": a human recording of the work in `language`, which replaces synthesis for it.
    """
    if role not in ("attachment", "narration"):
        raise UnsupportedMedia(N_("Unknown kind of upload: %(role)s."), field="role", role=role)
    require_role(caller, *(("editor", "translator") if role == "narration" else ("editor",)))
    if role == "narration" and not (language or "").strip():
        raise UnsupportedMedia(N_("Say which language the narration is in."), field="language")
    if role == "narration" and not works.LANG_RE.match(language.strip()):
        raise UnsupportedMedia(N_("%(lang)s is not a language code such as vi, en or zh."), field="language",
                               lang=language.strip())
    work = works.get(session, work_id)
    if role == "narration" and not caller.user.has_role("editor"):
        # A translator records the languages the work is being translated into, not the source.
        translated = {t.language for t in session.scalars(select(Translation).where(Translation.work_id == work.id))}
        if language.strip() not in translated:
            raise PermissionDenied(N_("Translators upload the narration of a language this work is translated "
                                      "into (%(languages)s); start the translation first."),
                                   languages=", ".join(sorted(translated)) or "—")
    size = os.path.getsize(path)
    if size == 0:
        raise UnsupportedMedia(N_("The file is empty."), field="file")
    if size > max_bytes:
        raise TooLarge(N_("The file is %(mb)s MB; the limit is %(limit)s MB."), field="file",
                       mb=round(size / 2**20, 1), limit=round(max_bytes / 2**20))
    c = _classify(path, max_pixels)
    if role == "narration" and c["kind"] != "audio":
        raise UnsupportedMedia(N_("A narration must be an audio recording."), field="file")
    digest = sha256_file(path)
    name = safe_name(original_name, c["ext"])
    key = f"assets/{work.id}/{digest[:16]}-{name}"
    stored = [key]
    try:
        store.put_file(key, path, content_type=c["mime"])
        thumb_key = None
        if c["kind"] == "image":
            thumb_key = f"thumbs/{work.id}/{digest[:16]}.jpg"
            store.put_bytes(thumb_key, images.thumbnail(path), content_type="image/jpeg")
            stored.append(thumb_key)
        asset = Asset(work_id=work.id, kind=c["kind"], original_name=(original_name or name)[:300], safe_name=name,
                      mime=c["mime"], size=size, sha256=digest, object_key=key, thumb_key=thumb_key,
                      width=c["width"], height=c["height"], duration_s=c["duration_s"], info=c["info"],
                      uploaded_by_id=caller.user.id, role=role,
                      language=language.strip() if role == "narration" else None)
        session.add(asset)
        session.flush()
    except Exception:
        # Nothing half-done: objects written for a failed upload are removed (others may share the key: same
        # content under the same work, so keep them if another asset row points there).
        session.rollback()
        for k in stored:
            if not session.query(Asset).filter(Asset.object_key == k).first():
                try:
                    store.delete(k)
                except Exception:  # noqa: BLE001 - cleanup is best effort; the original error matters
                    log.warning("could not remove %s after a failed upload", k)
        raise
    audit.record(session, caller, "asset.upload", "asset", asset.id, work_id=work.id, name=name,
                 kind=c["kind"], size=size, sha256=digest, role=role, language=language)
    return asset


def get(session: Session, asset_id: int) -> Asset:
    """An asset by id, or NotFound."""
    return fetch(session, Asset, asset_id, N_("Asset %(id)s does not exist."))
