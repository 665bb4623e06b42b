"""Build times for a 200-page publication: EPUB 3, narrated EPUB 3 (media overlays) and print-ready PDF.

The book is made here: 20 chapters of Vietnamese text (about 3,000 sentences), which WeasyPrint lays out on
A5 pages; the narration is a stand-in tone with one cue per sentence (synthesis is measured in bench_render).
Run: .venv/bin/python bench/bench_publication.py [--chapters 20]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from media_pipeline.audio import Cue  # noqa: E402
from media_pipeline.publication import Block, Book, Chapter, Narration  # noqa: E402
from media_pipeline.publication.epub import build_epub  # noqa: E402
from media_pipeline.publication.pdf import build_pdf  # noqa: E402

SENTENCES = ["Khi nghe loa báo động, bà con nhanh chóng di chuyển người và tài sản lên vùng cao an toàn.",
             "Không đi qua ngầm tràn, suối sâu khi nước đang dâng; chờ lực lượng chức năng hướng dẫn.",
             "Chuẩn bị đèn pin, nước uống, lương thực khô và túi thuốc cho gia đình trong ba ngày.",
             "Theo dõi vết nứt trên sườn đồi sau mưa lớn và báo ngay cho Ủy ban nhân dân xã.",
             "Trẻ em, người già và người khuyết tật cần được đưa đi sơ tán trước tiên."]


def make_book(chapters: int, per_chapter: int) -> Book:
    out, i = [], 0
    for c in range(chapters):
        blocks = [Block("h", [(i, f"Chương {c + 1}. Phòng chống thiên tai, phần {c + 1}")])]
        i += 1
        for _ in range(per_chapter // 5):
            blocks.append(Block("p", [(i + k, SENTENCES[k]) for k in range(5)]))
            i += 5
        out.append(Chapter(f"Chương {c + 1}", blocks))
    return Book(identifier="urn:uuid:bench", title="Sổ tay phòng chống thiên tai", language="vi", chapters=out,
                authors=["Trung tâm Thông tin tỉnh"], publisher="NXB Thông tin", licence="CC BY 4.0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chapters", type=int, default=20)
    ap.add_argument("--sentences-per-chapter", type=int, default=185)
    args = ap.parse_args()
    book = make_book(args.chapters, args.sentences_per_chapter)
    n = book.sentence_count()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        audio = tmp / "narration.mp3"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", str(n * 5),
                        "-c:a", "libmp3lame", "-b:a", "16k", str(audio)], check=True)
        cues = [Cue(5 * i, 5 * i + 4.5, "") for i in range(n)]
        timings = {}
        for name, fn in (("EPUB 3", lambda: build_epub(book, tmp / "book.epub")),
                         ("EPUB 3 narrated", lambda: build_epub(book, tmp / "narrated.epub", Narration(audio, cues))),
                         ("PDF (WeasyPrint)", lambda: build_pdf(book, tmp / "book.pdf"))):
            t = time.perf_counter()
            path = fn()
            timings[name] = (time.perf_counter() - t, path.stat().st_size)
        info = subprocess.run(["pdfinfo", str(tmp / "book.pdf")], capture_output=True, text=True).stdout
        pages = int(re.search(r"Pages:\s+(\d+)", info).group(1)) if "Pages:" in info else 0
        print(f"{args.chapters} chapters, {n} sentences, {pages} A5 pages in the PDF")
        for name, (seconds, size) in timings.items():
            print(f"  {name:<18} {seconds:7.2f} s  {size / 2**20:6.2f} MiB")
        print(f"  PDF time per page: {timings['PDF (WeasyPrint)'][0] / max(pages, 1) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
