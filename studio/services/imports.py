"""Bring print sources into a work: DOCX, ODT or text PDF become its body (or a publication's chapters) as a
new revision, and the document's pictures become its assets. The previous revision stays, so nothing is lost."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from media_pipeline import documents
from storage.objectstore import ObjectStore
from studio.errors import N_, StudioError, UnsupportedMedia, ValidationError
from studio.services import Caller, assets, editing, works
from studio.services.accounts import require_role


REASONS = {
    "format": N_("%(name)s is not a DOCX, ODT or PDF document."),
    "damaged": N_("%(name)s is damaged and cannot be read; save it again from the word processor."),
    "password": N_("%(name)s is protected by a password: remove the protection and upload it again."),
    "scanned": N_("%(name)s is a scan without a text layer: run OCR on it first, then import it."),
    "size": N_("%(name)s unpacks to more than 200 MB."),
}


def import_document(session: Session, store: ObjectStore, caller: Caller, work_id: int, path: str,
                    filename: str, max_bytes: int, max_pixels: int) -> dict:
    """Replace the work's text with the document's, as a new revision; returns what was imported and skipped."""
    require_role(caller, "editor")
    work = works.get(session, work_id)
    if os.path.getsize(path) > max_bytes:
        raise UnsupportedMedia(N_("The upload is over the limit of %(limit)s MB."), field="file",
                               limit=max_bytes // 2**20)
    try:
        doc = documents.read(Path(path))
    except documents.DocumentInvalid as exc:
        raise UnsupportedMedia(REASONS.get(exc.reason, REASONS["damaged"]), field="file", name=filename) from None
    if not any(k != "table" for k, _ in doc.blocks):
        raise ValidationError(N_("%(name)s has no text to import."), field="file", name=filename)
    data = works.snapshot(work)
    chapters = []
    if work.kind == "publication":
        data["body"], chapters = documents.to_chapters(doc)
        if chapters:
            data["chapters"] = chapters
        else:
            data["body"] = documents.to_markdown(doc.blocks)
    else:
        data["body"] = documents.to_markdown(doc.blocks)
    if not (data.get("title") or "").strip():
        data["title"] = doc.title[:300]
    editing.save(session, caller, work_id, data, work.version, note=f"imported from {filename}"[:300],
                 action="work.import")
    stored, skipped = [], []
    for name, blob in doc.pictures:
        fd, tmp = tempfile.mkstemp(prefix="import-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            stored.append(assets.upload(session, store, caller, work_id, tmp, name, max_bytes, max_pixels).id)
        except StudioError as exc:  # a giant or unreadable picture is reported; the text is still imported
            skipped.append({"name": name, "why": exc.message % exc.params if exc.params else exc.message})
        finally:
            os.unlink(tmp)
    return {"format": doc.format, "blocks": len(doc.blocks), "chapters": len(chapters), "pictures": stored,
            "skipped": skipped}
