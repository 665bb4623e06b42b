"""Use cases of the studio. Plain functions over a SQLAlchemy session; no Flask here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from storage.models import User

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """Who is acting and from which address, for permission checks and the audit log."""

    user: User | None
    ip: str = ""


def fetch(session: Session, model: type[T], object_id: int, message: str) -> T:
    """The row with this id, or NotFound with `message` (a template taking %(id)s)."""
    from studio.errors import NotFound
    row = session.get(model, object_id)
    if row is None:
        raise NotFound(message, id=object_id)
    return row
