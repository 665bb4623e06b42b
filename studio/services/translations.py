"""Translations of a work: one per target language, a list of segments aligned with the source sentences.

A segment is {"source", "target", "status", ...} with status
  empty    - nothing yet
  machine  - machine translated (with "engine" and glossary "violations")
  memory   - taken from the translation memory (with its "score")
  edited   - written or corrected by a translator
  approved - confirmed by a translator; approved segments fill the memory
  stale    - the source sentence changed since; "previous_source" keeps what the target translated
A translation is approved as a whole by an approver once every segment is approved; renditions in that
language need an approved translation, and a change of the source sends it back to draft.
"""
from __future__ import annotations

import copy
import difflib
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from media_pipeline.errors import EngineError
from media_pipeline.text.sentences import split_sentences
from media_pipeline.text.unicode import nfc
from media_pipeline.translate import Router
from media_pipeline.translate import glossary as mt_glossary
from storage.models import Job, Translation, Work, utcnow
from studio.errors import N_, Conflict, NotFound, ValidationError
from studio import jobs
from studio.services import Caller, audit, glossary, languages, memory, works
from studio.services.accounts import require_role

STATUSES = ("empty", "machine", "memory", "edited", "approved", "stale")
MEMORY_PREFILL = 0.85  # a fuzzy match this close beats machine translation as a starting point
MAX_TARGET = 5000


def source_sentences(work: Work) -> list[str]:
    """The segments of a work: title, summary, body and chapters, sentence by sentence."""
    text = "\n".join([work.title, work.summary or "", work.body or ""] +
                     [f"{c.get('title', '')}\n{c.get('body', '')}" for c in work.chapters or []])
    return split_sentences(text)


def for_work(session: Session, work_id: int) -> list[Translation]:
    """The work's translations by language."""
    return list(session.scalars(select(Translation).where(Translation.work_id == work_id)
                                .order_by(Translation.language)))


def get(session: Session, work_id: int, language: str) -> Translation:
    """The work's translation into language, or NotFound."""
    tr = session.scalar(select(Translation).where(Translation.work_id == work_id, Translation.language == language))
    if tr is None:
        raise NotFound(N_("There is no translation of this work into %(lang)s yet."), lang=language)
    return tr


def progress(tr: Translation) -> dict:
    """Counts per status, with total and the share approved (0-100)."""
    counts = {s: 0 for s in STATUSES}
    for seg in tr.segments:
        counts[seg.get("status", "empty")] += 1
    total = len(tr.segments)
    return {**counts, "total": total, "percent": round(100 * counts["approved"] / total) if total else 100}


def fill_from_memory(session: Session, work_id: int, language: str) -> int:
    """Fill the empty segments from exact or close memory matches (all compared at once); returns how many.

    Runs in the translate job: against a full memory it takes seconds, too long for a web request."""
    tr = get(session, work_id, language)
    src = works.get(session, work_id).source_language
    todo = [(i, s["source"]) for i, s in enumerate(tr.segments) if s["status"] == "empty"]
    found = memory.best(session, src, language, [text for _, text in todo], MEMORY_PREFILL)
    hits = [(i, source, m) for (i, source), m in zip(todo, found) if m is not None]

    def store(segments: list[dict]) -> None:
        for i, source, m in hits:
            seg = segments[i] if i < len(segments) else None
            if seg and seg["status"] == "empty" and seg["source"] == source:
                seg.update(target=m.target, status="memory", score=m.score)
    if hits:
        _mutate(session, tr, store)
    return len(hits)


def _route(router: Router | None, src: str, dst: str) -> str:
    """How src reaches dst by machine, or ValidationError with the engine's explanation."""
    try:
        return (router or Router([])).route(src, dst).describe()
    except EngineError as exc:
        raise ValidationError(N_("Machine translation is not available: %(why)s"), field="language",
                              why=str(exc)) from None


def start(session: Session, caller: Caller, work_id: int, language: str,
          router: Router | None = None) -> tuple[Translation, Job]:
    """Create the translation into language and queue its translate job: memory matches, then machine
    translation of the rest where `router` has a way (a long work against a full memory takes a while)."""
    require_role(caller, "translator", "editor")
    work = works.get(session, work_id)
    languages.get(session, language, field="language")
    if language == work.source_language:
        raise ValidationError(N_("This is the work's own language; choose another."), field="language")
    existing = session.scalar(select(Translation).where(Translation.work_id == work.id,
                                                        Translation.language == language))
    if existing is not None:
        raise Conflict(N_("A translation into %(lang)s already exists; open it to continue."), lang=language)
    segments = [{"source": s, "target": "", "status": "empty"} for s in source_sentences(work)]
    tr = Translation(work_id=work.id, language=language, segments=segments, state="draft",
                     source_revision=work.current_revision, created_by_id=caller.user.id)
    tr.title = _title(work, segments)
    session.add(tr)
    session.flush()
    machine = router is not None and router.can(work.source_language, language)
    job = jobs.create(session, "translate", work_id=work.id, language=language, created_by_id=caller.user.id,
                      msg="queued (memory" + (f", {_route(router, work.source_language, language)})" if machine
                                              else ")"))
    audit.record(session, caller, "translation.start", "work", work.id, language=language, job=job.id)
    return tr, job


def queue_machine(session: Session, caller: Caller, work_id: int, language: str, router: Router | None) -> Job:
    """Queue machine translation of the empty segments; the caller hands the job id to the queue."""
    require_role(caller, "translator", "editor")
    tr = get(session, work_id, language)
    work = works.get(session, work_id)
    how = _route(router, work.source_language, language)
    job = jobs.create(session, "translate", work_id=work_id, language=language, created_by_id=caller.user.id,
                      msg=f"queued ({how})")
    audit.record(session, caller, "translation.machine", "work", work_id, language=language, job=job.id,
                 empty=progress(tr)["empty"])
    return job


def fill_by_machine(session: Session, work_id: int, language: str, router: Router | None,
                    report: Callable[[int, str], None] | None = None, chunk: int = 64) -> int:
    """Machine-translate the empty segments, a batch of `chunk` at a time, each batch stored as it is done.

    Segments a translator filled meanwhile are left alone. In a job, `report` commits after each batch, so an
    engine failure keeps what earlier batches stored.
    """
    tr = get(session, work_id, language)
    work = works.get(session, work_id)
    src = work.source_language
    how = _route(router, src, language)
    terms = glossary.terms(session, src, language)
    todo = [(i, s["source"]) for i, s in enumerate(tr.segments) if s["status"] == "empty"]
    filled = 0
    for n in range(0, len(todo), chunk):
        part = todo[n:n + chunk]
        results = mt_glossary.translate_protected(lambda texts: router.translate(texts, src, language)[0],
                                                  [text for _, text in part], terms,
                                                  spaced=src not in glossary.UNSPACED)

        def store(segments: list[dict], part=part, results=results) -> None:
            for (i, source), (text, violations) in zip(part, results):
                seg = segments[i] if i < len(segments) else None
                if text and seg and seg["status"] == "empty" and seg["source"] == source:
                    seg.update(target=text, status="machine", engine=how, violations=violations)
        _mutate(session, tr, store)
        filled += sum(1 for text, _ in results if text)
        if report:
            report(int(100 * (n + len(part)) / len(todo)), f"{n + len(part)} of {len(todo)} segments translated")
    return filled


@jobs.handler("translate", needs=("translator",), timeout=lambda _s, _j: 3600)
def run_translate(ctx: jobs.Context, translator: Router) -> None:
    """The translate job: memory matches first, then machine translation of what is left, batch by batch
    (a language no engine reaches is left to its translators)."""
    session, work_id, language = ctx.session, ctx.job.work_id, ctx.job.language
    filled = fill_from_memory(session, work_id, language)
    ctx.progress(0, f"{filled} segments from the translation memory")
    if translator.can(works.get(session, work_id).source_language, language):
        fill_by_machine(session, work_id, language, translator, ctx.progress)
    else:
        ctx.progress(100, "no machine translation for this language pair")


def _title(work: Work, segments: list[dict]) -> str:
    """The translated title: the targets of the title's sentences."""
    n = len(split_sentences(work.title)) or 1
    return " ".join(s["target"] for s in segments[:n] if s.get("target")).strip()[:300]


def _mutate(session: Session, tr: Translation, change: Callable[[list[dict]], None], state: str | None = None,
            **columns) -> Translation:
    """Apply change() to a copy of the segments and store it only if nobody wrote in between (else retry).

    Translators edit segments of the same translation at once; a compare-and-set on `version` keeps one
    translator's save from overwriting another's.
    """
    for _ in range(5):
        session.refresh(tr)
        segments = copy.deepcopy(tr.segments)
        change(segments)
        values = {"segments": segments, "version": tr.version + 1, "updated_at": utcnow(), **columns}
        if state is not None:
            values["state"] = state
        elif tr.state == "approved":
            values["state"] = "draft"  # any change after approval needs a new approval
        work = session.get(Work, tr.work_id)
        values["title"] = _title(work, segments)
        done = session.execute(update(Translation).where(Translation.id == tr.id, Translation.version == tr.version)
                               .values(**values)).rowcount
        if done:
            session.refresh(tr)
            return tr
    raise Conflict(N_("The translation is being changed by others right now; try again."))


def _segment(segments: list[dict], index: int) -> dict:
    if not 0 <= index < len(segments):
        raise ValidationError(N_("There is no segment %(n)s."), field="index", n=index + 1)
    return segments[index]


def save_segment(session: Session, caller: Caller, work_id: int, language: str, index: int, target: str,
                 approve: bool = False) -> dict:
    """Store a translator's text for one segment (and approve it if asked); returns the segment."""
    require_role(caller, "translator", "editor")
    target = nfc(target or "").strip()
    if len(target) > MAX_TARGET:
        raise ValidationError(N_("A segment can hold at most %(n)s characters."), field="target", n=MAX_TARGET)
    if approve and not target:
        raise ValidationError(N_("An empty segment cannot be approved; write its translation first."),
                              field="target")
    tr = get(session, work_id, language)
    work = works.get(session, work_id)
    terms = glossary.terms(session, work.source_language, language)
    result = {}

    def change(segments: list[dict]) -> None:
        seg = _segment(segments, index)
        unchanged = target == seg.get("target", "")
        status = "approved" if approve else ("edited" if not unchanged or seg["status"] == "stale" else seg["status"])
        seg.update(target=target, status=status if target else "empty",
                   violations=mt_glossary.violations(seg["source"], target, terms,
                                                     spaced=work.source_language not in glossary.UNSPACED))
        if status in ("edited", "approved"):
            seg.pop("previous_source", None)
        seg["by"] = caller.user.username
        result.update(seg)
    _mutate(session, tr, change)
    if approve:
        memory.add(session, work.source_language, language, result["source"], target)
    audit.record(session, caller, "translation.approve_segment" if approve else "translation.edit", "work", work_id,
                 language=language, segment=index + 1)
    return result


def approve(session: Session, caller: Caller, work_id: int, language: str) -> Translation:
    """Approve the whole translation (approvers); every segment must be approved first."""
    require_role(caller, "approver")
    tr = get(session, work_id, language)
    work = works.get(session, work_id)
    pending = [i + 1 for i, s in enumerate(tr.segments) if s.get("status") != "approved"]
    if pending:
        raise ValidationError(N_("%(n)s segments are not approved yet (first: segment %(first)s)."),
                              field="segments", n=len(pending), first=pending[0])
    if tr.source_revision != work.current_revision and any(s.get("status") == "stale" for s in tr.segments):
        raise ValidationError(N_("The source changed; review the stale segments first."), field="segments")
    _mutate(session, tr, lambda segments: None, state="approved", approved_by_id=caller.user.id,
            approved_at=utcnow(), source_revision=work.current_revision)
    audit.record(session, caller, "translation.approve", "work", work_id, language=language)
    return tr


def realign(old: list[dict], sources: list[str]) -> tuple[list[dict], int]:
    """Segments for new source sentences: unchanged ones kept, changed ones stale, new ones empty."""
    matcher = difflib.SequenceMatcher(None, [s["source"] for s in old], sources, autojunk=False)
    out, changed = [], 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(copy.deepcopy(old[i1:i2]))
            continue
        changed += max(i2 - i1, j2 - j1)
        for k, j in enumerate(range(j1, j2)):
            before = old[i1 + k] if i1 + k < i2 else None
            if before and before.get("target"):
                out.append({"source": sources[j], "target": before["target"], "status": "stale",
                            "previous_source": before.get("previous_source", before["source"])})
            else:
                out.append({"source": sources[j], "target": "", "status": "empty"})
    return out, changed


def source_changed(session: Session, work: Work) -> list[str]:
    """Realign every translation of the work after a source edit; returns the languages that changed."""
    sources = source_sentences(work)
    touched = []
    for tr in for_work(session, work.id):
        if [s["source"] for s in tr.segments] == sources:
            continue
        def change(segments: list[dict]) -> None:
            segments[:] = realign(segments, sources)[0]
        _mutate(session, tr, change, source_revision=work.current_revision)
        touched.append(tr.language)
    return touched


def suggestions(session: Session, work_id: int, language: str, index: int) -> dict:
    """What helps translate one segment: memory matches (best first), glossary hits and violations."""
    tr = get(session, work_id, language)
    work = works.get(session, work_id)
    seg = _segment(tr.segments, index)
    terms = glossary.terms(session, work.source_language, language)
    spaced = work.source_language not in glossary.UNSPACED
    return {"memory": [vars(m) for m in memory.lookup(session, work.source_language, language, seg["source"])],
            "glossary": [{"source": t.source, "target": t.expected, "keep": not t.target}
                         for t in mt_glossary.hits(seg["source"], terms, spaced)],
            "violations": mt_glossary.violations(seg["source"], seg.get("target", ""), terms, spaced)}


def unapproved_with_renditions(session: Session, work_id: int, rendition_languages: set[str]) -> list[str]:
    """Languages that have renditions but whose translation is no longer approved (publishing must wait)."""
    return [tr.language for tr in for_work(session, work_id)
            if tr.language in rendition_languages and tr.state != "approved"]
