"""One Unicode form for every text the studio takes in.

Vietnamese typed on some keyboards, or pasted from PDFs, arrives decomposed (NFD: "ộ" as o + combining
circumflex + combining dot below). Stored as is, it looks the same but never matches the composed form a
search, a glossary term or a memory lookup is typed in. Everything is stored in NFC.
"""
from __future__ import annotations

import unicodedata
from typing import Any


def fold(text: str) -> str:
    """Text as search compares it: lower case, without diacritics, đ as d ("Sởi" and "SOI" fold alike)."""
    decomposed = unicodedata.normalize("NFD", (text or "").lower())
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return bare.replace("đ", "d")


def nfc(value: Any) -> Any:
    """`value` with every string in it (inside dicts and lists too) in NFC; other values unchanged."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(nfc(v) for v in value)
    return value
