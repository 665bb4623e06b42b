"""Glossaries per language pair: names kept as written and terms with a required translation."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from media_pipeline.text.unicode import nfc
from media_pipeline.translate.glossary import Term
from storage.models import GlossaryTerm
from studio.errors import N_, Conflict, ValidationError
from studio.services import Caller, audit, fetch
from studio.services.accounts import require_role

# Languages written without spaces, where terms match inside words.
UNSPACED = {"zh", "ja", "th", "lo", "km", "my"}


def rows(session: Session, source_lang: str, target_lang: str) -> list[GlossaryTerm]:
    """The pair's entries, alphabetically."""
    return list(session.scalars(select(GlossaryTerm).where(
        GlossaryTerm.source_lang == source_lang, GlossaryTerm.target_lang == target_lang)
        .order_by(func.lower(GlossaryTerm.source))))


def terms(session: Session, source_lang: str, target_lang: str) -> list[Term]:
    """The pair's entries as the translation engine's glossary terms."""
    return [Term(r.source, r.target) for r in rows(session, source_lang, target_lang)]


def add(session: Session, caller: Caller, source_lang: str, target_lang: str, source: str, target: str = "",
        note: str = "") -> GlossaryTerm:
    """Add an entry (translators and editors); an empty target means "keep as written"."""
    require_role(caller, "translator", "editor")
    source, target, note = nfc(source or "").strip(), nfc(target or "").strip(), nfc(note or "")
    if not source or len(source) > 300 or len(target) > 300:
        raise ValidationError(N_("A glossary term needs its source text (at most 300 characters)."), field="source")
    if source_lang == target_lang:
        raise ValidationError(N_("Choose two different languages."), field="target_lang")
    if any(r.source.lower() == source.lower() for r in rows(session, source_lang, target_lang)):
        raise Conflict(N_("%(term)s is already in this glossary."), field="source", term=source)
    row = GlossaryTerm(source_lang=source_lang, target_lang=target_lang, source=source, target=target,
                       note=(note or "").strip()[:300], created_by_id=caller.user.id)
    session.add(row)
    audit.record(session, caller, "glossary.add", "glossary", f"{source_lang}-{target_lang}",
                 source=source, target=target)
    return row


def delete(session: Session, caller: Caller, term_id: int) -> None:
    """Remove an entry."""
    require_role(caller, "translator", "editor")
    row = fetch(session, GlossaryTerm, term_id, N_("Glossary entry %(id)s does not exist."))
    audit.record(session, caller, "glossary.delete", "glossary", f"{row.source_lang}-{row.target_lang}",
                 source=row.source)
    session.delete(row)
