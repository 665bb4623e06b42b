"""Print-ready PDF with WeasyPrint: A5 pages, page numbers, a table of contents with page references, and
Noto fonts (Vietnamese diacritics, Chinese characters) embedded by WeasyPrint as subsets."""
from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from media_pipeline.publication import Book, PublicationError, valid_isbn

log = logging.getLogger(__name__)

CSS = """
@page { size: A5; margin: 18mm 15mm 20mm;
        @bottom-center { content: counter(page); font-size: 9pt; color: #555; } }
@page :first { @bottom-center { content: none; } }
html { font-family: "Noto Serif", "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 16pt; break-before: page; margin: 0 0 8mm; bookmark-level: 1; }
.title-page h1 { break-before: auto; font-size: 22pt; margin-top: 40mm; }
.title-page p { font-size: 11pt; }
@page imprint { @bottom-center { content: none; } }
.imprint { page: imprint; break-before: page; padding-top: 120mm; font-size: 9pt; } .imprint p { text-align: left; margin: 0 0 1.5mm; }
.toc { break-before: page; } .toc h2 { font-size: 14pt; }
.toc ol { list-style: none; padding: 0; }
.toc a { color: inherit; text-decoration: none; }
.toc a::after { content: leader('.') target-counter(attr(href), page); }
p { margin: 0 0 3mm; text-align: justify; orphans: 2; widows: 2; }
img { max-width: 100%; } .cover { break-after: page; text-align: center; } .cover img { max-height: 170mm; }
"""


def html_of(book: Book) -> str:
    """The book as one HTML document (what the PDF is printed from)."""
    parts = []
    if book.cover is not None:
        parts.append(f'<div class="cover"><img src="{book.cover.resolve().as_uri()}" alt=""></div>')
    authors = [", ".join(book.authors)] if book.authors else []
    parts.append(f'<section class="title-page"><h1>{escape(book.title)}</h1>'
                 + "".join(f"<p>{escape(m)}</p>" for m in authors + [book.publisher] if m) + "</section>")
    # The imprint page (the title page's back): who published which edition, its ISBN and licence.
    isbn = valid_isbn(book.isbn)
    imprint = [x for x in (book.publisher, book.edition) if x] + ([f"ISBN {book.isbn.strip()}"] if isbn else []) \
        + ([book.licence] if book.licence else [])
    if imprint:
        parts.append('<section class="imprint">' + "".join(f"<p>{escape(m)}</p>" for m in imprint) + "</section>")
    parts.append('<nav class="toc"><ol>' + "".join(f'<li><a href="#ch{n}">{escape(c.title)}</a></li>'
                                                  for n, c in enumerate(book.chapters)) + "</ol></nav>")
    for n, ch in enumerate(book.chapters):
        heads = [b for b in ch.blocks if b.kind == "h"]
        title = " ".join(t for _, t in heads[0].sentences) if heads else ch.title
        body = [f'<h1 id="ch{n}">{escape(title)}</h1>']
        for b in ch.blocks[1:] if heads and ch.blocks[0] is heads[0] else ch.blocks:
            text = " ".join(t for _, t in b.sentences)
            body.append(f"<h2>{escape(text)}</h2>" if b.kind == "h" else f"<p>{escape(text)}</p>")
        if n == 0:
            body += [f'<p><img src="{p.resolve().as_uri()}" alt=""></p>' for p in book.pictures]
        parts.append(f"<section>{''.join(body)}</section>")
    return (f'<!doctype html><html lang="{escape(book.language)}"><head><meta charset="utf-8">'
            f"<title>{escape(book.title)}</title></head><body>{''.join(parts)}</body></html>")


def build_pdf(book: Book, out: Path) -> Path:
    """Write the PDF; a font or layout failure is a PublicationError with WeasyPrint's reason."""
    from weasyprint import CSS as WCSS
    from weasyprint import HTML

    if not any(c.blocks for c in book.chapters):
        raise PublicationError("the publication has no text")
    try:
        HTML(string=html_of(book), base_url=str(out.parent)).write_pdf(
            out, stylesheets=[WCSS(string=CSS)], pdf_identifier=book.identifier.encode()[:32],
            custom_metadata=True)
    except (OSError, ValueError) as exc:
        raise PublicationError(f"the PDF could not be made: {exc}") from exc
    return out
