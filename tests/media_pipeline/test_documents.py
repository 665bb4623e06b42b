"""Reading DOCX, ODT and PDF documents made here (python-docx, odfpy, WeasyPrint, Pillow, pypdf)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from media_pipeline import documents
from media_pipeline.documents import DocumentInvalid


def png_bytes(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def make_docx(path: Path, picture: bytes | None = None) -> Path:
    import docx
    d = docx.Document()
    d.add_heading("Sổ tay phòng chống thiên tai", level=1)
    d.add_paragraph("Mưa lũ thường đến từ tháng Bảy.")
    d.add_heading("Chuẩn bị", level=2)
    d.add_paragraph("Đèn pin", style="List Bullet")
    d.add_paragraph("Nước uống", style="List Bullet")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text, t.cell(1, 0).text, t.cell(1, 1).text = "Việc", "Khi nào", "Sơ tán", "Khi có lệnh"
    d.add_heading("Chương 2. Sạt lở", level=1)
    d.add_paragraph("Không dựng nhà sát chân đồi.")
    if picture:
        d.add_picture(io.BytesIO(picture))
    d.save(str(path))
    return path


def make_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, List, ListItem, P
    d = OpenDocumentText()
    d.text.addElement(H(outlinelevel=1, text="Sổ tay an toàn"))
    d.text.addElement(P(text="Theo dõi bản tin thời tiết mỗi sáng."))
    lst = List()
    item = ListItem()
    item.addElement(P(text="Chuẩn bị lương thực khô"))
    lst.addElement(item)
    d.text.addElement(lst)
    d.save(str(path))
    return path


def test_docx_keeps_headings_lists_tables_and_pictures(tmp_path):
    doc = documents.read(make_docx(tmp_path / "so-tay.docx", png_bytes()))
    assert doc.format == "docx" and doc.title == "Sổ tay phòng chống thiên tai"
    assert doc.blocks[:5] == [("h1", "Sổ tay phòng chống thiên tai"), ("p", "Mưa lũ thường đến từ tháng Bảy."),
                              ("h2", "Chuẩn bị"), ("li", "Đèn pin"), ("li", "Nước uống")]
    assert doc.blocks[5] == ("table", "| Việc | Khi nào |\n|---|---|\n| Sơ tán | Khi có lệnh |")
    assert len(doc.pictures) == 1 and doc.pictures[0][1].startswith(b"\x89PNG")
    intro, chapters = documents.to_chapters(doc)
    assert intro == "" and [c["title"] for c in chapters] == ["Sổ tay phòng chống thiên tai", "Chương 2. Sạt lở"]
    assert "## Chuẩn bị\n\n- Đèn pin\n- Nước uống" in chapters[0]["body"]


def test_odt(tmp_path):
    doc = documents.read(make_odt(tmp_path / "a.odt"))
    assert doc.blocks == [("h1", "Sổ tay an toàn"), ("p", "Theo dõi bản tin thời tiết mỗi sáng."),
                          ("li", "Chuẩn bị lương thực khô")]


def test_text_pdf_scanned_pdf_password_and_damaged_files(tmp_path):
    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML
    pdf = tmp_path / "text.pdf"
    HTML(string="<html lang='vi'><body><h1>Thông báo</h1><p>Xã tổ chức tiêm chủng vào sáng thứ Hai cho trẻ em "
                "dưới năm tuổi.</p></body></html>").write_pdf(pdf)
    doc = documents.read(pdf)
    assert ("h2", "Thông báo") in doc.blocks
    assert any("Xã tổ chức tiêm chủng vào sáng thứ Hai" in t for k, t in doc.blocks if k == "p")
    scan = tmp_path / "scan.pdf"
    Image.new("RGB", (600, 800), (250, 250, 250)).save(scan, "PDF")
    with pytest.raises(DocumentInvalid, match="needs OCR"):
        documents.read(scan)
    locked = tmp_path / "locked.pdf"
    w = PdfWriter()
    for page in PdfReader(str(pdf)).pages:
        w.add_page(page)
    w.encrypt("mật-khẩu")
    with open(locked, "wb") as f:
        w.write(f)
    with pytest.raises(DocumentInvalid, match="password"):
        documents.read(locked)
    broken = tmp_path / "broken.docx"
    broken.write_bytes(make_docx(tmp_path / "ok.docx").read_bytes()[:3000])
    with pytest.raises(DocumentInvalid, match="damaged"):
        documents.read(broken)
    text = tmp_path / "notes.docx"
    text.write_text("just text")
    with pytest.raises(DocumentInvalid, match="not a DOCX, ODT or PDF"):
        documents.read(text)
