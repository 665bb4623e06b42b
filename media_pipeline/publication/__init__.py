"""Publications: EPUB 3 (optionally narrated with media overlays) and print-ready PDF from one book structure."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from media_pipeline.audio import Cue
from media_pipeline.errors import EngineError


@dataclass
class Block:
    """A heading or paragraph: its sentences, each with its index in the reading order (for narration)."""

    kind: str  # "h" or "p"
    sentences: list[tuple[int, str]]


@dataclass
class Chapter:
    """One chapter: its title sentences and blocks."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Book:
    """Everything an edition needs, in one language."""

    identifier: str
    title: str
    language: str
    chapters: list[Chapter]
    authors: list[str] = field(default_factory=list)
    publisher: str = ""
    edition: str = ""
    licence: str = ""
    isbn: str = ""
    summary: str = ""
    cover: Path | None = None
    pictures: list[Path] = field(default_factory=list)
    modified: str = "2026-01-01T00:00:00Z"

    def sentence_count(self) -> int:
        """How many sentences the reading order has."""
        return sum(len(b.sentences) for c in self.chapters for b in c.blocks)


@dataclass
class Narration:
    """Audio of the whole book and each sentence's place in it (cue i belongs to sentence i)."""

    audio: Path
    cues: list[Cue]


class PublicationError(EngineError):
    """A publication cannot be built from this input; the message says why."""


def valid_isbn(isbn: str) -> str:
    """The ISBN's digits if its check digit is right (ISBN-10 or -13), else ""."""
    digits = re.sub(r"[\s-]", "", isbn or "").upper()
    if re.fullmatch(r"\d{13}", digits):
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits[:12]))
        return digits if (10 - total % 10) % 10 == int(digits[12]) else ""
    if re.fullmatch(r"\d{9}[\dX]", digits):
        total = sum((10 - i) * (10 if d == "X" else int(d)) for i, d in enumerate(digits))
        return digits if total % 11 == 0 else ""
    return ""
