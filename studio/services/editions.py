"""Editions of a publication: the work's chapters in one language, as the book structure EPUB and PDF use.

The reading order is the same sentence list rendering narrates (title, summary, body, then each chapter), so
sentence i of the book is cue i of the narration. A translation's segments are laid back into the source's
chapters and paragraphs by counting the source's sentences per line.
"""
from __future__ import annotations

from pathlib import Path

from media_pipeline.publication import Block, Book, Chapter
from media_pipeline.text.sentences import split_sentences
from storage.models import Work


def _lines(text: str) -> list[str]:
    return [line for line in (text or "").split("\n") if line.strip()]


def layout(work: Work) -> list[tuple[str, list[tuple[str, int]]]]:
    """Chapters as (title, [(kind, sentence count)]) in reading order, from the source text."""
    first = [("h", len(split_sentences(work.title)))]
    first += [("p", len(split_sentences(line))) for line in _lines(work.summary) + _lines(work.body)]
    chapters = [(work.title, first)]
    for ch in work.chapters or []:
        blocks = [("h", len(split_sentences(ch.get("title", ""))))]
        blocks += [("p", len(split_sentences(line))) for line in _lines(ch.get("body", ""))]
        chapters.append((ch.get("title", ""), blocks))
    return chapters


def book_for(work: Work, language: str, title: str, sentences: list[str], pictures: list[Path],
             cover: Path | None, version: str = "") -> Book:
    """The edition in `language` (its sentences from rendering.language_text)."""
    plan = layout(work)
    if sum(n for _, blocks in plan for _, n in blocks) != len(sentences):
        # The translation no longer lines up with the source's paragraphs: one paragraph per sentence.
        plan = [(title, [("h", 1)] + [("p", 1)] * (len(sentences) - 1))]
    chapters, i = [], 0
    for ch_title, blocks in plan:
        out = []
        for kind, n in blocks:
            if n:
                out.append(Block(kind, [(i + k, sentences[i + k]) for k in range(n)]))
            i += n
        heading = " ".join(t for _, t in out[0].sentences) if out and out[0].kind == "h" else ch_title
        chapters.append(Chapter(heading or title, out))
    if len(chapters) > 1 and not any(b.kind == "p" for b in chapters[0].blocks):
        chapters = chapters[1:]  # no summary or body: the book title lives in the metadata and title page
    meta = work.meta or {}
    authors = [a.strip() for a in str(meta.get("authors", "")).replace(";", ",").split(",") if a.strip()]
    return Book(identifier=f"urn:studio:work:{work.id}:{language}{':' + version if version else ''}",
                title=title, language=language, chapters=chapters, authors=authors,
                publisher=str(meta.get("publisher", "")), edition=str(meta.get("edition", "")),
                licence=str(meta.get("licence", "")), isbn=str(meta.get("isbn", "")),
                summary=work.summary or "", cover=cover, pictures=pictures,
                modified=(work.updated_at or work.created_at).strftime("%Y-%m-%dT%H:%M:%SZ"))
