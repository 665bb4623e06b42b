"""EPUB 3 (plain and narrated) checked by epubcheck, PDF checked by pdftotext and pdffonts (poppler)."""
from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from media_pipeline.audio import Cue
from media_pipeline.publication import Block, Book, Chapter, Narration, PublicationError, valid_isbn
from media_pipeline.publication.epub import build_epub
from media_pipeline.publication.pdf import build_pdf
from tests.helpers import make_png
from tests.media_pipeline.conftest import ffprobe

pytestmark = pytest.mark.slow

VI = [("Sổ tay phòng chống thiên tai", ["Sổ tay phòng chống thiên tai"]),
      ("Chương 1. Bão và lũ quét", ["Bão thường đến từ tháng Bảy đến tháng Mười Một.",
                                    "Khi nghe loa báo động, bà con di chuyển lên vùng cao ngay."]),
      ("Chương 2. Sạt lở đất", ["Không dựng nhà sát chân đồi dốc.", "Theo dõi vết nứt trên sườn núi sau mưa lớn."])]


def book_of(chapters, language="vi", tmp: Path | None = None, cover=True) -> Book:
    out, i = [], 0
    for title, sentences in chapters:
        blocks = [Block("h", [(i, title)])]
        i += 1
        body = []
        for s in sentences[1:] if sentences[0] == title else sentences:
            body.append((i, s))
            i += 1
        if body:
            blocks.append(Block("p", body))
        out.append(Chapter(title, blocks))
    return Book(identifier="urn:uuid:3f0b9f0e-1d2c-4b7a-9a55-3b7c1d2e4f60", title=chapters[0][0], language=language,
                chapters=out, authors=["Trung tâm Thông tin tỉnh Hà Giang"], publisher="NXB Thông tin",
                licence="CC BY 4.0", isbn="978-604-0-00000-2",
                cover=make_png(tmp / "cover.png", (600, 900), (20, 90, 160)) if cover and tmp else None)


EPUBCHECK_JAR = Path("/usr/share/java/epubcheck.jar")  # Debian's epubcheck; run with java (no binfmt here)


def epubcheck(path: Path) -> subprocess.CompletedProcess:
    """Debian's epubcheck on one file."""
    if not EPUBCHECK_JAR.exists():
        pytest.fail("epubcheck is not installed: run scripts/install-system-deps.sh --test")
    return subprocess.run(["java", "-jar", str(EPUBCHECK_JAR), str(path)], capture_output=True, text=True,
                          timeout=300)


def test_epub_passes_epubcheck_with_language_and_accessibility(tmp_path):
    book = book_of(VI[:1] + VI[1:], tmp=tmp_path)
    book.chapters = book.chapters[1:]  # the title page comes from metadata; chapters carry text
    out = build_epub(book, tmp_path / "so-tay.epub")
    check = epubcheck(out)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(out) as z:
        assert z.namelist()[0] == "mimetype" and z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        opf = z.read("EPUB/package.opf").decode()
        chapter = z.read("EPUB/chapter-0.xhtml").decode()
    assert "<dc:language>vi</dc:language>" in opf and 'xml:lang="vi"' in chapter
    assert "schema:accessibilitySummary" in opf and "urn:isbn:9786040000002" in opf
    assert "Khi nghe loa báo động" in chapter
    assert_font_covers(out, "Khi nghe loa báo động, bà con di chuyển lên vùng cao ngay.")


def assert_font_covers(epub: Path, text: str) -> None:
    """The embedded font has a glyph for every character of the text (checked with fontTools, not our code)."""
    import io

    from fontTools.ttLib import TTFont
    with zipfile.ZipFile(epub) as z:
        name = next(n for n in z.namelist() if n.startswith("EPUB/fonts/"))
        assert name in z.read("EPUB/package.opf").decode().replace('href="', 'href="EPUB/')
        cmap = TTFont(io.BytesIO(z.read(name))).getBestCmap()
    missing = {c for c in text if not c.isspace() and ord(c) not in cmap}
    assert not missing, missing


def test_narrated_epub_has_ordered_overlays_inside_the_audio(tmp_path):
    book = book_of(VI[1:], tmp=tmp_path, cover=False)
    n = book.sentence_count()
    audio = tmp_path / "narration.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=300:duration={2 * n}", "-ac", "1",
                    "-c:a", "libmp3lame", str(audio)], check=True)
    cues = [Cue(2 * i + 0.1, 2 * i + 1.8, "") for i in range(n)]
    out = build_epub(book, tmp_path / "narrated.epub", Narration(audio, cues))
    check = epubcheck(out)
    assert check.returncode == 0, check.stdout + check.stderr
    duration = float(ffprobe(audio)["format"]["duration"])
    with zipfile.ZipFile(out) as z:
        smil = "".join(z.read(f).decode() for f in sorted(z.namelist()) if f.endswith(".smil"))
        opf = z.read("EPUB/package.opf").decode()
    clips = [(float(a), float(b)) for a, b in re.findall(r'clipBegin="([\d.]+)s" clipEnd="([\d.]+)s"', smil)]
    assert len(clips) == n
    assert all(0 <= a < b <= duration for a, b in clips) and clips == sorted(clips)
    assert re.findall(r'text src="chapter-\d\.xhtml#s(\d+)"', smil) == [str(i) for i in range(n)]
    assert 'media-overlay="smil-0"' in opf and "synchronizedAudioText" in opf
    with pytest.raises(PublicationError, match="covers 2 sentences"):
        build_epub(book, tmp_path / "short.epub", Narration(audio, cues[:2]))


def test_pdf_keeps_diacritics_and_embeds_fonts(tmp_path):
    book = book_of(VI[1:], tmp=tmp_path)
    out = build_pdf(book, tmp_path / "so-tay.pdf")
    text = " ".join(subprocess.run(["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Khi nghe loa báo động, bà con di chuyển lên vùng cao ngay." in text
    assert "Sạt lở đất" in text
    assert re.search(r"Chương 2\. Sạt lở đất\s*\.*\s*\d+", text)  # the table of contents has page numbers
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(re.search(r"\byes\b", r.split(None, 3)[-1]) for r in rows), fonts  # every font embedded


def test_chinese_pdf_and_epub(tmp_path):
    zh = [("防灾手册", ["防灾手册"]), ("第一章 台风和山洪", ["台风通常在七月至十一月到来。", "听到广播警报后，请立即转移到高处。"])]
    book = book_of(zh, language="zh", tmp=tmp_path, cover=False)
    book.chapters = book.chapters[1:]
    pdf = build_pdf(book, tmp_path / "zh.pdf")
    text = "".join(subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"],
                                  capture_output=True, text=True, check=True).stdout.split())
    assert "听到广播警报后，请立即转移到高处。" in text
    epub = build_epub(book, tmp_path / "zh.epub")
    check = epubcheck(epub)
    assert check.returncode == 0, check.stdout
    assert_font_covers(epub, "".join(zh[1][1]))


def test_chapter_without_text_and_isbn_check(tmp_path):
    book = book_of([("Trống", ["Trống"])], tmp=tmp_path, cover=False)
    with pytest.raises(PublicationError, match="has no text"):
        build_epub(book, tmp_path / "x.epub")
    assert valid_isbn("978-604-0-00000-2") == "9786040000002" and valid_isbn("978-604-0-00000-3") == ""
    assert valid_isbn("0-306-40615-2") == "0306406152"
