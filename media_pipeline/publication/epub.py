"""EPUB 3 writer: navigation, cover, pictures, accessibility metadata and, for narrated editions, media overlays
(SMIL) that tie each sentence to its clip of the narration so reading systems highlight the text as it is read."""
from __future__ import annotations

import zipfile
from html import escape
from pathlib import Path

from media_pipeline.publication import Book, Narration, PublicationError, fonts, valid_isbn

CSS = """body { font-family: "Noto Serif", serif; line-height: 1.5; margin: 0 5%; }
h1 { font-size: 1.5em; margin: 1em 0 .6em; } p { margin: 0 0 .8em; text-indent: 0; }
img { max-width: 100%; } .-epub-media-overlay-active { background-color: #ffe98a; }
nav ol { list-style: none; padding-left: 0; }
"""
MIMES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
         ".webp": "image/webp"}


def _clock(seconds: float) -> str:
    """SMIL/OPF clock value h:mm:ss.fff."""
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    return f"{h}:{m:02d}:{rem / 1000:06.3f}"


def _xhtml(book: Book, title: str, body: str) -> str:
    lang = escape(book.language)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
            f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
            f'xml:lang="{lang}" lang="{lang}">\n<head><meta charset="UTF-8"/><title>{escape(title)}</title>'
            f'<link rel="stylesheet" type="text/css" href="style.css"/></head>\n<body>\n{body}\n</body>\n</html>\n')


def _chapter_body(book: Book, n: int) -> str:
    ch = book.chapters[n]
    out = [f'<section id="c{n}" epub:type="chapter" role="doc-chapter" aria-labelledby="h{n}">']
    first_heading = True
    for block in ch.blocks:
        spans = " ".join(f'<span id="s{i}">{escape(text)}</span>' for i, text in block.sentences)
        if block.kind == "h":
            attr = f' id="h{n}"' if first_heading else ""
            first_heading = False
            out.append(f"<h1{attr}>{spans}</h1>")
        else:
            out.append(f"<p>{spans}</p>")
    if first_heading:  # a chapter must have a heading for navigation
        out.insert(1, f'<h1 id="h{n}">{escape(ch.title)}</h1>')
    if n == 0:
        for k, pic in enumerate(book.pictures):
            out.append(f'<figure><img src="images/picture-{k}{pic.suffix.lower()}" alt="{escape(book.title)}"/></figure>')
    out.append("</section>")
    return "\n".join(out)


def _smil(book: Book, n: int, narration: Narration) -> tuple[str, float]:
    pars = []
    total = 0.0
    for block in book.chapters[n].blocks:
        for i, _ in block.sentences:
            if i >= len(narration.cues):
                raise PublicationError(f"the narration has {len(narration.cues)} sentences, the text more")
            cue = narration.cues[i]
            total += max(0.0, cue.end - cue.start)
            pars.append(f'<par id="p{i}"><text src="chapter-{n}.xhtml#s{i}"/>'
                        f'<audio src="audio/narration{narration.audio.suffix}" clipBegin="{cue.start:.3f}s" '
                        f'clipEnd="{cue.end:.3f}s"/></par>')
    body = "\n".join(pars)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<smil xmlns="http://www.w3.org/ns/SMIL" '
            f'xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">\n<body>\n'
            f'<seq id="seq{n}" epub:textref="chapter-{n}.xhtml#c{n}" epub:type="chapter">\n{body}\n</seq>\n'
            f'</body>\n</smil>\n'), total


def build_epub(book: Book, out: Path, narration: Narration | None = None) -> Path:
    """Write the EPUB 3 file; with a narration, every chapter gets a media overlay."""
    if not book.chapters or not any(c.blocks for c in book.chapters):
        raise PublicationError("the publication has no text")
    for c in book.chapters:
        if not any(b.kind == "p" for b in c.blocks):
            raise PublicationError(f"chapter {c.title!r} has no text")
    if narration is not None and len(narration.cues) < book.sentence_count():
        raise PublicationError(f"the narration covers {len(narration.cues)} sentences of {book.sentence_count()}")
    lang = escape(book.language)
    manifest = ['<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>',
                '<item id="css" href="style.css" media-type="text/css"/>']
    spine = []
    files: dict[str, bytes | Path] = {"style.css": CSS.encode()}
    meta_extra = []
    if book.cover is not None:
        ext = book.cover.suffix.lower()
        if ext not in MIMES:
            raise PublicationError(f"the cover must be JPEG, PNG, GIF or WebP, not {ext}")
        files[f"images/cover{ext}"] = book.cover
        manifest.append(f'<item id="cover-image" href="images/cover{ext}" media-type="{MIMES[ext]}" '
                        'properties="cover-image"/>')
        files["cover.xhtml"] = _xhtml(book, book.title, f'<section epub:type="cover"><img src="images/cover{ext}" '
                                      f'alt="{escape(book.title)}"/></section>').encode()
        manifest.append('<item id="cover" href="cover.xhtml" media-type="application/xhtml+xml"/>')
        spine.append('<itemref idref="cover" linear="no"/>')
    for k, pic in enumerate(book.pictures):
        ext = pic.suffix.lower()
        files[f"images/picture-{k}{ext}"] = pic
        manifest.append(f'<item id="picture-{k}" href="images/picture-{k}{ext}" media-type="{MIMES.get(ext, "image/jpeg")}"/>')
    total = 0.0
    for n, ch in enumerate(book.chapters):
        files[f"chapter-{n}.xhtml"] = _xhtml(book, ch.title, _chapter_body(book, n)).encode()
        overlay = ""
        if narration is not None:
            smil, duration = _smil(book, n, narration)
            total += duration
            files[f"chapter-{n}.smil"] = smil.encode()
            manifest.append(f'<item id="smil-{n}" href="chapter-{n}.smil" media-type="application/smil+xml"/>')
            meta_extra.append(f'<meta property="media:duration" refines="#smil-{n}">{_clock(duration)}</meta>')
            overlay = f' media-overlay="smil-{n}"'
        manifest.append(f'<item id="chapter-{n}" href="chapter-{n}.xhtml" media-type="application/xhtml+xml"{overlay}/>')
        spine.append(f'<itemref idref="chapter-{n}"/>')
    if narration is not None:
        ext = narration.audio.suffix.lower()
        files[f"audio/narration{ext}"] = narration.audio
        manifest.append(f'<item id="narration" href="audio/narration{ext}" '
                        f'media-type="{"audio/mpeg" if ext == ".mp3" else "audio/mp4"}"/>')
        meta_extra += [f'<meta property="media:duration">{_clock(total)}</meta>',
                       '<meta property="media:active-class">-epub-media-overlay-active</meta>']
    text = " ".join([book.title] + [c.title for c in book.chapters] +
                     [t for c in book.chapters for b in c.blocks for _, t in b.sentences])
    font = fonts.subset(text, book.language)
    if font is not None:
        ext = "otf" if font[:4] == b"OTTO" else "ttf"
        files[f"fonts/text.{ext}"] = font
        manifest.append(f'<item id="font" href="fonts/text.{ext}" media-type="font/{ext}"/>')
        files["style.css"] = (f'@font-face {{ font-family: "Studio Text"; src: url("fonts/text.{ext}"); }}\n'
                              + CSS.replace('font-family: "Noto Serif", serif', 'font-family: "Studio Text", serif')
                              ).encode()
    toc = "\n".join(f'<li><a href="chapter-{n}.xhtml#h{n}">{escape(c.title)}</a></li>'
                    for n, c in enumerate(book.chapters))
    files["nav.xhtml"] = _xhtml(book, book.title, f'<nav epub:type="toc" role="doc-toc" id="toc"><h1>{escape(book.title)}'
                                f'</h1>\n<ol>\n{toc}\n</ol></nav>').encode()
    isbn = valid_isbn(book.isbn)
    modes = ["textual"] + (["auditory"] if narration else [])
    features = ["tableOfContents", "readingOrder", "structuralNavigation"] + \
        (["synchronizedAudioText"] if narration else []) + (["alternativeText"] if book.pictures or book.cover else [])
    metadata = [
        f'<dc:identifier id="uid">{escape(book.identifier)}</dc:identifier>',
        f"<dc:title>{escape(book.title)}</dc:title>", f"<dc:language>{lang}</dc:language>",
        f'<meta property="dcterms:modified">{book.modified}</meta>',
        *(f"<dc:creator>{escape(a)}</dc:creator>" for a in book.authors),
        *([f"<dc:publisher>{escape(book.publisher)}</dc:publisher>"] if book.publisher else []),
        *([f"<dc:rights>{escape(book.licence)}</dc:rights>"] if book.licence else []),
        *([f"<dc:description>{escape(book.summary)}</dc:description>"] if book.summary else []),
        # The ISBN identifies this edition: a second identifier beside the studio's unique one (EPUB 3.3 §5.5.3.1.1).
        *([f'<dc:identifier id="isbn">urn:isbn:{isbn}</dc:identifier>'] if isbn else []),
        *([f'<meta property="schema:bookEdition">{escape(book.edition)}</meta>'] if book.edition else []),
        *(f'<meta property="schema:accessMode">{m}</meta>' for m in modes),
        *(f'<meta property="schema:accessModeSufficient">{m}</meta>' for m in dict.fromkeys([",".join(modes), "textual"])),
        *(f'<meta property="schema:accessibilityFeature">{f}</meta>' for f in features),
        '<meta property="schema:accessibilityHazard">none</meta>',
        '<meta property="schema:accessibilitySummary">Text with headings and a table of contents in reading order'
        + ("; every sentence is narrated and highlighted as it is read." if narration else ".") + "</meta>",
        *meta_extra,
    ]
    opf = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           f'<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid" xml:lang="{lang}" '
           'prefix="schema: http://schema.org/">\n'
           '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n' + "\n".join(metadata) + "\n</metadata>\n"
           "<manifest>\n" + "\n".join(manifest) + "\n</manifest>\n<spine>\n" + "\n".join(spine) + "\n</spine>\n"
           "</package>\n")
    container = ('<?xml version="1.0" encoding="UTF-8"?>\n<container version="1.0" '
                 'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                 '<rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>'
                 '</rootfiles></container>\n')
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("EPUB/package.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in files.items():
            if isinstance(data, Path):
                z.write(data, f"EPUB/{name}", compress_type=zipfile.ZIP_STORED if name.startswith("audio/")
                        else zipfile.ZIP_DEFLATED)
            else:
                z.writestr(f"EPUB/{name}", data, compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(out)
    return out
