"""Translation memory per language pair: exact and fuzzy matches, filled by approved segments and TMX 1.4 files.

Fuzzy matching is RapidFuzz's InDel similarity (C++, SIMD over many candidates at once) on *tokens*, as CAT tools
such as OmegaT count fuzzy matches: words (a Vietnamese syllable is one), each Chinese character, each punctuation
mark. Every distinct token of a pair's memory is mapped to one code point, so a sentence becomes a short string
and a 1,000-segment work is compared with a 50,000-unit memory in one `cdist` call (bench/bench_memory.py).
Each process keeps the encoded memory of a pair and appends the units added since (`_index`).
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Iterator
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
import numpy as np
from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from storage.models import MemoryUnit
from studio.errors import N_, ValidationError
from studio.services import Caller, audit
from studio.services.accounts import require_role

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def normalize(text: str) -> str:
    """What matching compares: lower case, single spaces, no surrounding punctuation spaces."""
    return re.sub(r"\s+", " ", (text or "").strip().lower())


def _hash(norm: str) -> str:
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass
class Match:
    """A memory suggestion: 1.0 is an exact match (case and spacing aside)."""

    source: str
    target: str
    score: float
    origin: str


def add(session: Session, source_lang: str, target_lang: str, source: str, target: str,
        origin: str = "approved") -> MemoryUnit | None:
    """Store a pair unless the same source already has this very translation; empty sides are ignored."""
    source, target = nfc(source), nfc(target)
    if not source.strip() or not target.strip():
        return None
    norm = normalize(source)
    existing = session.scalars(select(MemoryUnit).where(
        MemoryUnit.source_lang == source_lang, MemoryUnit.target_lang == target_lang,
        MemoryUnit.source_hash == _hash(norm)))
    if any(u.target.strip() == target.strip() for u in existing):
        return None
    unit = MemoryUnit(source_lang=source_lang, target_lang=target_lang, source=source.strip(),
                      target=target.strip(), source_norm=norm, source_hash=_hash(norm), length=len(norm),
                      origin=origin)
    session.add(unit)
    return unit


def lookup(session: Session, source_lang: str, target_lang: str, text: str, limit: int = 5,
           min_score: float = 0.5) -> list[Match]:
    """Exact matches first, then fuzzy ones by similarity, best first."""
    norm = normalize(text)
    if not norm:
        return []
    pair = (MemoryUnit.source_lang == source_lang, MemoryUnit.target_lang == target_lang)
    exact = [Match(u.source, u.target, 1.0, u.origin) for u in session.scalars(
        select(MemoryUnit).where(*pair, MemoryUnit.source_hash == _hash(norm)).order_by(MemoryUnit.id.desc()))]
    if len(exact) >= limit:
        return exact[:limit]
    index = _index(session, source_lang, target_lang)
    found = process.extract(index.encode(norm), index.encoded, scorer=fuzz.ratio, score_cutoff=100 * min_score,
                            limit=limit + len(exact))
    fuzzy = [_match(index.units[i], score / 100) for _, score, i in found
             if index.units[i][4] != norm]
    fuzzy.sort(key=lambda m: m.score, reverse=True)
    return (exact + fuzzy)[:limit]


def best(session: Session, source_lang: str, target_lang: str, texts: list[str],
         min_score: float) -> list[Match | None]:
    """The best match (exact, else the closest at or above min_score) for each text, all compared at once."""
    norms = [normalize(t) for t in texts]
    index = _index(session, source_lang, target_lang)
    out: list[Match | None] = [None] * len(texts)
    if not index.units or not texts:
        return out
    exact = {}
    for i, unit in enumerate(index.units):
        exact[unit[4]] = i  # the newest unit of a source wins
    queries = [index.encode(n) for n in norms]
    scores = process.cdist(queries, index.encoded, scorer=fuzz.ratio, score_cutoff=100 * min_score,
                           dtype=np.uint8, workers=-1)
    for q, norm in enumerate(norms):
        if not norm:
            continue
        if norm in exact:
            out[q] = _match(index.units[exact[norm]], 1.0)
            continue
        i = int(scores[q].argmax())
        if scores[q, i]:
            # cdist rounds to whole percent; the reported score is the exact one.
            out[q] = _match(index.units[i], fuzz.ratio(queries[q], index.encoded[i]) / 100)
    return out


def _match(unit: tuple, score: float) -> Match:
    return Match(unit[1], unit[2], round(score, 3), unit[3])


TOKEN = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\W_]+|[^\w\s]")


@dataclass
class _Index:
    """A pair's units in id order as (id, source, target, origin, norm), and their sources as token strings."""

    units: list[tuple] = field(default_factory=list)
    encoded: list[str] = field(default_factory=list)
    vocab: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def encode(self, norm: str) -> str:
        """One code point per token, from the supplementary planes so no token is confused with text."""
        vocab = self.vocab
        return "".join(chr(0x10000 + vocab.setdefault(t, len(vocab))) for t in TOKEN.findall(norm))


_INDEXES: dict[tuple[str, str], _Index] = {}
_INDEXES_LOCK = threading.Lock()


def _index(session: Session, source_lang: str, target_lang: str) -> _Index:
    """The pair's encoded memory, brought up to date: units added since are appended; a removal or another
    database (the newest cached unit is no longer the same row) reloads it."""
    with _INDEXES_LOCK:
        index = _INDEXES.setdefault((str(session.get_bind().url), source_lang, target_lang), _Index())
    pair = (MemoryUnit.source_lang == source_lang, MemoryUnit.target_lang == target_lang)
    with index.lock:
        last = index.units[-1][0] if index.units else 0
        total, newer = session.execute(select(func.count(), func.count().filter(MemoryUnit.id > last))
                                       .where(*pair)).one()
        same = not last or session.scalar(select(MemoryUnit.source_norm).where(MemoryUnit.id == last, *pair)) \
            == index.units[-1][4]
        if not same or total != len(index.units) + newer:
            index.units, index.encoded, index.vocab, last = [], [], {}, 0
        if total != len(index.units):
            rows = session.execute(select(MemoryUnit.id, MemoryUnit.source, MemoryUnit.target, MemoryUnit.origin,
                                          MemoryUnit.source_norm).where(*pair, MemoryUnit.id > last)
                                   .order_by(MemoryUnit.id).execution_options(yield_per=5000))
            for row in rows:
                index.units.append(tuple(row))
                index.encoded.append(index.encode(row.source_norm))
        return index


def count(session: Session, source_lang: str, target_lang: str) -> int:
    """How many units the pair's memory holds."""
    return session.scalar(select(func.count()).select_from(MemoryUnit).where(
        MemoryUnit.source_lang == source_lang, MemoryUnit.target_lang == target_lang)) or 0


def import_tmx(session: Session, caller: Caller, stream: BinaryIO, source_lang: str, target_lang: str) -> int:
    """Load TMX 1.4 translation units for one pair; broken XML is refused with its line and nothing is added."""
    require_role(caller, "translator", "editor")
    try:
        root = SafeET.parse(stream).getroot()
    except SafeET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else "?"
        raise ValidationError(N_("The TMX file is not well-formed XML (line %(line)s): %(why)s."), field="file",
                              line=line, why=str(exc)) from None
    except DefusedXmlException as exc:
        raise ValidationError(N_("The TMX file uses XML features that are refused for safety (%(why)s)."),
                              field="file", why=type(exc).__name__) from None
    if root.tag != "tmx" or root.find("body") is None:
        raise ValidationError(N_("This is not a TMX file (no <tmx><body>)."), field="file")
    pairs = []
    for tu in root.find("body").iter("tu"):
        texts = {}
        for tuv in tu.iter("tuv"):
            lang = (tuv.get(XML_LANG) or tuv.get("lang") or "").lower()
            seg = tuv.find("seg")
            if seg is not None:
                texts[lang.split("-")[0]] = "".join(seg.itertext())
        if source_lang in texts and target_lang in texts:
            pairs.append((texts[source_lang], texts[target_lang]))
    added = sum(1 for s, t in pairs if add(session, source_lang, target_lang, s, t, origin="tmx") is not None)
    audit.record(session, caller, "memory.import", "memory", f"{source_lang}-{target_lang}", units=len(pairs),
                 added=added)
    return added


def export_tmx(session: Session, source_lang: str, target_lang: str) -> bytes:
    """All units of a pair as a TMX 1.4 document."""
    tmx = Element("tmx", version="1.4")
    SubElement(tmx, "header", creationtool="studio", creationtoolversion="1", datatype="plaintext",
               segtype="sentence", adminlang="en", srclang=source_lang, **{"o-tmf": "studio"},
               creationdate=datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    body = SubElement(tmx, "body")
    for u in _units(session, source_lang, target_lang):
        tu = SubElement(body, "tu")
        for lang, text in ((source_lang, u.source), (target_lang, u.target)):
            tuv = SubElement(tu, "tuv", {XML_LANG: lang})
            SubElement(tuv, "seg").text = text
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(tmx, encoding="utf-8")


def _units(session: Session, source_lang: str, target_lang: str) -> Iterator[MemoryUnit]:
    yield from session.scalars(select(MemoryUnit).where(MemoryUnit.source_lang == source_lang,
                                                        MemoryUnit.target_lang == target_lang)
                               .order_by(MemoryUnit.id).execution_options(yield_per=500))
