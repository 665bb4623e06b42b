"""Saving a work as an editor does: a new revision (works.update), and the translations it made stale.

Works know nothing of translations (translations build on works); this use case joins the two, so every way
of saving (the edit form, the API, a restore, a document import) marks stale segments the same way and records
which languages changed in the same audit entry.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from storage.models import Work
from studio.services import Caller, translations, works


def _stale_translations(session: Session, work: Work) -> dict:
    stale = translations.source_changed(session, work)
    return {"translations_changed": stale} if stale else {}


def save(session: Session, caller: Caller, work_id: int, data: dict, expected_version: int | None,
         note: str = "", action: str = "work.edit") -> Work:
    """Save a new revision; translations whose source sentences changed become stale drafts."""
    return works.update(session, caller, work_id, data, expected_version, note, action,
                        audit_extra=lambda work: _stale_translations(session, work))


def restore(session: Session, caller: Caller, work_id: int, number: int, expected_version: int) -> Work:
    """Make a new revision equal to revision `number` (translations follow as for any save)."""
    rev = works.revision(session, work_id, number)
    return save(session, caller, work_id, rev.snapshot, expected_version, note=f"restore r{number}",
                action="work.restore")
