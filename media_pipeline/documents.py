"""Print sources brought into the studio: DOCX, ODT and text PDFs read into headings, paragraphs, list items,
tables and pictures. The format is decided by content, not by the file name."""
from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from media_pipeline.errors import InvalidMedia

log = logging.getLogger(__name__)
MAX_PARTS = 200 * 1024 * 1024  # unpacked size of a DOCX/ODT


class DocumentInvalid(InvalidMedia):
    """A document the studio cannot read; the message says why and what to do, `reason` names the case
    (format, damaged, password, scanned, size) for callers that word it for people."""

    def __init__(self, message: str, reason: str = "damaged"):
        super().__init__(message)
        self.reason = reason


@dataclass
class Document:
    """What a source document holds, in reading order: blocks are (kind, text) with kind h1, h2, p, li, table."""

    format: str
    blocks: list[tuple[str, str]] = field(default_factory=list)
    pictures: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return next((t for k, t in self.blocks if k == "h1"), next((t for _, t in self.blocks), ""))


def sniff(path: Path) -> str:
    """docx, odt or pdf, from the bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                if sum(i.file_size for i in z.infolist()) > MAX_PARTS:
                    raise DocumentInvalid("the document unpacks to more than 200 MB", "size")
                if "word/document.xml" in names:
                    return "docx"
                if "mimetype" in names and z.read("mimetype").startswith(b"application/vnd.oasis.opendocument.text"):
                    return "odt"
        except zipfile.BadZipFile:
            raise DocumentInvalid("the file is damaged (a broken DOCX or ODT archive)") from None
    raise DocumentInvalid("this is not a DOCX, ODT or PDF document", "format")


def read(path: Path) -> Document:
    """Read a document; DocumentInvalid with a reason a person can act on."""
    kind = sniff(Path(path))
    return {"docx": _docx, "odt": _odt, "pdf": _pdf}[kind](Path(path))


def _table_rows(rows: list[list[str]]) -> str:
    """A Markdown table (the first row is the header)."""
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [[c.replace("|", "\\|").replace("\n", " ").strip() for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _docx(path: Path) -> Document:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    try:
        d = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentInvalid(f"the DOCX file is damaged ({exc})") from None
    out = Document("docx")
    body = d.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = docx.text.paragraph.Paragraph(child, d)
            text = p.text.strip()
            if not text:
                continue
            style = (p.style.name if p.style is not None else "").lower()
            if style.startswith("title") or style == "heading 1":
                out.blocks.append(("h1", text))
            elif style.startswith("heading"):
                out.blocks.append(("h2", text))
            elif "list" in style or p._p.pPr is not None and p._p.pPr.numPr is not None:
                out.blocks.append(("li", text))
            else:
                out.blocks.append(("p", text))
        elif tag == "tbl":
            t = docx.table.Table(child, d)
            out.blocks.append(("table", _table_rows([[c.text for c in row.cells] for row in t.rows])))
    for rel in d.part.rels.values():
        if "image" in rel.reltype and not rel.is_external:
            out.pictures.append((Path(rel.target_ref).name, rel.target_part.blob))
    return out


def _odt(path: Path) -> Document:
    from odf import opendocument, teletype
    from odf.draw import Image
    from odf.namespaces import TABLENS, TEXTNS
    from odf.table import TableRow
    try:
        d = opendocument.load(str(path))
    except Exception as exc:  # noqa: BLE001 - odfpy raises many kinds for a broken file; all mean "damaged"
        raise DocumentInvalid(f"the ODT file is damaged ({exc.__class__.__name__})") from None
    out = Document("odt")

    def walk(node, in_list=False):
        for child in node.childNodes:
            qn = getattr(child, "qname", None)
            if qn == (TEXTNS, "h"):
                level = int(child.getAttribute("outlinelevel") or 1)
                text = teletype.extractText(child).strip()
                if text:
                    out.blocks.append(("h1" if level <= 1 else "h2", text))
            elif qn == (TEXTNS, "p"):
                text = teletype.extractText(child).strip()
                if text:
                    out.blocks.append(("li" if in_list else "p", text))
                walk(child, in_list)
            elif qn == (TEXTNS, "list"):
                walk(child, True)
            elif qn == (TABLENS, "table"):
                rows = []
                for row in child.getElementsByType(TableRow):
                    rows.append([teletype.extractText(c).strip() for c in row.childNodes
                                 if getattr(c, "qname", None) == (TABLENS, "table-cell")])
                out.blocks.append(("table", _table_rows(rows)))
            elif hasattr(child, "childNodes"):
                walk(child, in_list)
    walk(d.text)
    for img in d.getElementsByType(Image):
        href = img.getAttribute("href")
        if href and href in d.Pictures:
            out.pictures.append((Path(href).name, d.Pictures[href][1]))
    return out


def _pdf(path: Path) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentInvalid("the PDF is protected by a password; remove the protection and upload it again",
                                  "password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise DocumentInvalid(f"the PDF is damaged ({exc})") from None
    text = "\n\n".join(pages)
    if len(re.sub(r"\s", "", text)) < 20:
        raise DocumentInvalid("this PDF has no text layer (a scan): it needs OCR before it can be imported", "scanned")
    out = Document("pdf")
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not re.fullmatch(r"\d{1,4}", ln)]  # page numbers
    current: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        current.append(line)
        if re.search(r"[.!?:;…。！？”\"»)]$", line):
            out.blocks.append(("p", " ".join(current)))
            current = []
        elif len(current) == 1 and len(line) < 80 and (not following or following[:1].isupper()):
            out.blocks.append(("h2", line))  # a short line on its own, not ending a sentence: a heading
            current = []
    if current:
        out.blocks.append(("p", " ".join(current)))
    return out


def to_markdown(blocks: list[tuple[str, str]]) -> str:
    """Blocks as the studio's Markdown body."""
    out = []
    for kind, text in blocks:
        if kind == "h1":
            out.append(f"# {text}")
        elif kind == "h2":
            out.append(f"## {text}")
        elif kind == "li":
            out.append(f"- {text}")
        else:
            out.append(text)
    md = "\n\n".join(out)
    return re.sub(r"(^- .*)\n\n(?=- )", r"\1\n", md, flags=re.M)


def to_chapters(doc: Document) -> tuple[str, list[dict]]:
    """For a publication: the text before the first top heading, and one chapter per top heading."""
    intro, chapters = [], []
    for kind, text in doc.blocks:
        if kind == "h1":
            chapters.append({"title": text, "blocks": []})
        elif chapters:
            chapters[-1]["blocks"].append((kind, text))
        else:
            intro.append((kind, text))
    return to_markdown(intro), [{"title": c["title"], "body": to_markdown(c["blocks"])} for c in chapters]
