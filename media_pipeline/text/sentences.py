"""Sentence segmentation that knows Vietnamese abbreviations and Chinese punctuation."""
from __future__ import annotations

import re

# Full stops that do not end a sentence: "TP. Hồ Chí Minh", "Th.S", "Chương 1.", numbers like 1.500.000.
_NO_BREAK_BEFORE = re.compile(r"(?:\b(?:TP|TX|TT|Q|P|Th\.S|TS|PGS|GS|ThS|Mr|Mrs|Dr|St|No|v\.v)\.)$"
                              # numbered headings: "Chương 1. Bão lũ", "Điều 3. Phạm vi", "Chapter 2. Floods"
                              r"|(?:\b(?:Chương|Điều|Mục|Phần|Khoản|Bài|Chapter|Article|Section|Part)\s+[\dIVXLC]+\.)$")
_END = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)|([。！？；]+[”’」』）]*)")


def split_sentences(text: str, max_chars: int = 400) -> list[str]:
    """Split text into sentences; paragraphs and list items always break; very long sentences break at commas."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[-*•]\s)|\n", text or ""):
        para = re.sub(r"^\s*(?:[-*•]|#+)\s*", "", para).strip()
        if not para:
            continue
        start = 0
        for m in _END.finditer(para):
            end = m.end(1) if m.group(1) else m.end(3)
            candidate = para[start:end]
            if m.group(1) and _NO_BREAK_BEFORE.search(candidate):
                continue
            if m.group(1) and m.group(1) == "." and re.search(r"\d\.$", candidate) and \
                    re.match(r"\d", para[m.end():m.end() + 1] or ""):
                continue
            out.extend(_cut_long(candidate.strip(), max_chars))
            start = m.end()
        tail = para[start:].strip()
        if tail:
            out.extend(_cut_long(tail, max_chars))
    return [s for s in out if re.search(r"\w", s)]


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """Break a sentence longer than max_chars at commas or semicolons (captions and TTS both need it)."""
    if len(sentence) <= max_chars:
        return [sentence]
    parts, current = [], ""
    for piece in re.split(r"(?<=[,;，；、])\s*", sentence):
        if current and len(current) + len(piece) + 1 > max_chars:
            parts.append(current.strip())
            current = ""
        current = f"{current} {piece}" if current else piece
    if current.strip():
        parts.append(current.strip())
    final = []
    for p in parts:
        while len(p) > max_chars:  # no commas at all: break at a space
            cut = p.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            final.append(p[:cut].strip())
            p = p[cut:].strip()
        if p:
            final.append(p)
    return final
