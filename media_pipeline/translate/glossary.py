"""Glossary protection through machine translation: terms become placeholders the engine passes through.

A term either keeps its source form (names of places, agencies, people) or has a required translation.
After translation the placeholders are put back; terms the engine dropped, or a target that lacks a required
translation, are reported as violations for that segment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

_PLACEHOLDER = re.compile(r"⟦\s*(\d+)\s*⟧")


@dataclass(frozen=True)
class Term:
    """A glossary entry; an empty target means "do not translate"."""

    source: str
    target: str = ""

    @property
    def expected(self) -> str:
        """What the translation must contain."""
        return self.target or self.source


def _pattern(term: Term, spaced: bool) -> re.Pattern:
    body = re.escape(term.source.strip())
    if spaced:  # whole words only where words are separated by spaces
        body = rf"(?<!\w){body}(?!\w)"
    return re.compile(body, re.IGNORECASE)


def hits(text: str, terms: list[Term], spaced: bool = True) -> list[Term]:
    """The terms that occur in text, longest first, each once."""
    return [t for t in sorted(terms, key=lambda t: -len(t.source)) if t.source.strip()
            and _pattern(t, spaced).search(text or "")]


def protect(text: str, terms: list[Term], spaced: bool = True) -> tuple[str, list[str]]:
    """Replace each term occurrence by ⟦n⟧; returns the text and what each placeholder stands for."""
    slots: list[str] = []

    for term in hits(text, terms, spaced):
        def sub(m: re.Match, term=term) -> str:
            slots.append(term.target or m.group(0))
            return f"⟦{len(slots) - 1}⟧"
        text = _pattern(term, spaced).sub(sub, text)
    return text, slots


def restore(text: str, slots: list[str]) -> str:
    """Put the slots back (a placeholder the engine invented is dropped; one it lost shows as a violation)."""
    def sub(m: re.Match) -> str:
        n = int(m.group(1))
        return slots[n] if n < len(slots) else ""
    return re.sub(r"\s{2,}", " ", _PLACEHOLDER.sub(sub, text)).strip()


def violations(source: str, target: str, terms: list[Term], spaced: bool = True) -> list[dict]:
    """Terms in the source whose required form is missing from the target."""
    low = (target or "").lower()
    return [{"term": t.source, "expected": t.expected} for t in hits(source, terms, spaced)
            if t.expected.lower() not in low]


def translate_protected(translate: Callable[[list[str]], list[str]], segments: list[str], terms: list[Term],
                        spaced: bool = True) -> list[tuple[str, list[dict]]]:
    """Translate segments with the terms protected; each result carries its violations."""
    protected = [protect(s, terms, spaced) for s in segments]
    raw = translate([p for p, _ in protected])
    out = []
    for source, (_, slots), text in zip(segments, protected, raw):
        restored = restore(text, slots)
        out.append((restored, violations(source, restored, terms, spaced)))
    return out
