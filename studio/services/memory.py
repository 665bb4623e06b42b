"""Translation memory per language pair: exact and fuzzy matches, filled by approved segments and TMX 1.4 files."""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, Iterator
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
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
           min_score: float = 0.6) -> list[Match]:
    """Exact matches first, then fuzzy ones by similarity, best first."""
    norm = normalize(text)
    if not norm:
        return []
    pair = (MemoryUnit.source_lang == source_lang, MemoryUnit.target_lang == target_lang)
    exact = [Match(u.source, u.target, 1.0, u.origin) for u in session.scalars(
        select(MemoryUnit).where(*pair, MemoryUnit.source_hash == _hash(norm)).order_by(MemoryUnit.id.desc()))]
    if len(exact) >= limit:
        return exact[:limit]
    # Similarity above min_score needs lengths within this window (ratio = 2*matches/(len_a+len_b)).
    lo, hi = int(len(norm) * min_score / (2 - min_score)), int(len(norm) * (2 - min_score) / min_score) + 1
    fuzzy = []
    for u in session.scalars(select(MemoryUnit).where(*pair, MemoryUnit.length.between(lo, hi),
                                                      MemoryUnit.source_hash != _hash(norm)).limit(5000)):
        score = difflib.SequenceMatcher(None, norm, u.source_norm, autojunk=False).ratio()
        if score >= min_score:
            fuzzy.append(Match(u.source, u.target, round(score, 3), u.origin))
    fuzzy.sort(key=lambda m: m.score, reverse=True)
    return (exact + fuzzy)[:limit]


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
