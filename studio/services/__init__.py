"""Use cases of the studio. Plain functions over a SQLAlchemy session; no Flask here."""
from __future__ import annotations

from dataclasses import dataclass

from storage.models import User


@dataclass(frozen=True)
class Caller:
    """Who is acting and from which address, for permission checks and the audit log."""

    user: User | None
    ip: str = ""
