"""Translations as services: prefill from memory and machine, segment editing and approval, stale marking,
the language registry and what each language can do. Machine translation runs on real Argos-format packages
with random weights (built in conftest), so only the logic around their output is checked here."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from media_pipeline.errors import EngineError
from media_pipeline.translate import Router, argos, make_router
from media_pipeline.tts import make_engines
from storage.models import Rendition, Translation, User
from studio.errors import Conflict, PermissionDenied, ValidationError
from studio.services import Caller, editing, glossary, languages, memory, rendering, translations, workflow, works


@pytest.fixture
def ctx(app, users):
    from studio.extensions import db
    with app.app_context():
        s = db.session
        callers = {name: Caller(s.get(User, uid), "127.0.0.1") for name, uid in users.items()}
        yield s, callers


@pytest.fixture
def router(app, argos_packages):
    """The packages installed where the app's own jobs look (jobs run at commit, with the app's engines)."""
    argos.install(argos_packages, app.config["TRANSLATION_MODELS"])
    return make_router(["argos"], {"argos": {"models_dir": app.config["TRANSLATION_MODELS"]}})


def _work(s, caller, body="Xã tổ chức tiêm chủng. Người dân mang theo sổ tiêm chủng.") -> int:
    w = works.create(s, caller, {"kind": "article", "title": "Thông báo", "body": body, "source_language": "vi"})
    s.commit()
    return w.id


def test_start_prefills_from_memory_then_machine_with_glossary(ctx, router):
    s, c = ctx
    wid = _work(s, c["editor"])
    memory.add(s, "vi", "en", "Xã tổ chức tiêm chủng.", "The commune holds a vaccination day.")
    glossary.add(s, c["translator"], "vi", "en", "Người dân", "Residents")
    tr, job = translations.start(s, c["translator"], wid, "en", router)
    assert job.kind == "translate" and job.language == "en"
    assert {x["status"] for x in tr.segments} == {"empty"}  # nothing is matched in the request
    s.commit()  # the job runs at commit (memory:// queue): memory first, then the machine for the rest
    s.refresh(job)
    s.refresh(tr)
    assert job.state == "succeeded" and "1 segments from the translation memory" in [e["msg"] for e in job.log]
    segs = tr.segments
    assert [x["source"] for x in segs] == ["Thông báo", "Xã tổ chức tiêm chủng.", "Người dân mang theo sổ tiêm chủng."]
    assert segs[1] == {"source": "Xã tổ chức tiêm chủng.", "target": "The commune holds a vaccination day.",
                       "status": "memory", "score": 1.0}
    assert segs[0]["status"] == "machine" and segs[0]["engine"] == "argos vi→en" and segs[0]["target"]
    # The random model cannot keep the protected term: the violation is recorded on its segment.
    assert segs[2]["violations"] == [{"term": "Người dân", "expected": "Residents"}]
    with pytest.raises(Conflict):
        translations.start(s, c["translator"], wid, "en")
    translations.start(s, c["translator"], wid, "zh", router)
    translations.fill_by_machine(s, wid, "zh", router)  # no vi→zh package: pivots through English
    zh = translations.get(s, wid, "zh")
    assert {x["engine"] for x in zh.segments if x["status"] == "machine"} == {"argos vi→en, argos en→zh"}


def test_minority_language_starts_empty_for_human_translation(ctx, router):
    s, c = ctx
    wid = _work(s, c["editor"])
    tr, job = translations.start(s, c["translator"], wid, "tyz", router)
    s.commit()
    s.refresh(job)
    s.refresh(tr)
    assert job.state == "succeeded" and job.log[-2]["msg"] == "no machine translation for this language pair"
    assert {x["status"] for x in tr.segments} == {"empty"}
    assert translations.progress(tr)["percent"] == 0
    with pytest.raises(ValidationError, match="No machine translation from vi to tyz"):
        translations.queue_machine(s, c["translator"], wid, "tyz", router)
    with pytest.raises(ValidationError, match="not in the registry"):
        translations.start(s, c["translator"], wid, "xx")
    with pytest.raises(ValidationError, match="own language"):
        translations.start(s, c["translator"], wid, "vi")
    with pytest.raises(PermissionDenied):
        translations.start(s, c["approver"], wid, "en")


def test_segments_edited_approved_fill_memory_and_translation_approval(ctx):
    s, c = ctx
    wid = _work(s, c["editor"])
    translations.start(s, c["translator"], wid, "tyz")
    targets = ["Thông báo (Tày)", "Xã tổ chức tiêm chủng (Tày).", "Pỉ noọng au sổ tiêm chủng."]
    seg = translations.save_segment(s, c["translator"], wid, "tyz", 0, targets[0])
    assert seg["status"] == "edited" and seg["by"] == "translator"
    with pytest.raises(ValidationError, match="not approved yet"):
        translations.approve(s, c["approver"], wid, "tyz")
    with pytest.raises(ValidationError, match="empty segment"):
        translations.save_segment(s, c["translator"], wid, "tyz", 1, " ", approve=True)
    with pytest.raises(ValidationError, match="no segment 4"):
        translations.save_segment(s, c["translator"], wid, "tyz", 3, "x")
    for i, t in enumerate(targets):
        translations.save_segment(s, c["translator"], wid, "tyz", i, t, approve=True)
    s.commit()
    assert memory.lookup(s, "vi", "tyz", "Xã tổ chức tiêm chủng.")[0].target == targets[1]
    with pytest.raises(PermissionDenied):
        translations.approve(s, c["translator"], wid, "tyz")
    tr = translations.approve(s, c["approver"], wid, "tyz")
    s.commit()
    assert tr.state == "approved" and tr.title == "Thông báo (Tày)"
    assert rendering.language_text(s, works.get(s, wid), "tyz") == ("Thông báo (Tày)", targets)
    # Editing an approved translation sends it back for approval.
    translations.save_segment(s, c["translator"], wid, "tyz", 2, "Pỉ noọng au sổ tiêm chủng pây.")
    assert translations.get(s, wid, "tyz").state == "draft"


def test_source_edit_marks_changed_segments_stale_and_blocks_publishing(ctx):
    s, c = ctx
    wid = _work(s, c["editor"])
    translations.start(s, c["translator"], wid, "en")
    for i, t in enumerate(["Notice", "The commune vaccinates.", "Bring your book."]):
        translations.save_segment(s, c["translator"], wid, "en", i, t, approve=True)
    translations.approve(s, c["approver"], wid, "en")
    w = works.get(s, wid)
    s.add(Rendition(work_id=wid, revision=w.current_revision, language="en", channel="web", profile="web_mp3",
                    key="k"))
    workflow.transition(s, c["editor"], wid, "submit")
    workflow.transition(s, c["approver"], wid, "approve")
    s.commit()
    w = editing.save(s, c["editor"], wid, {"body": "Xã tổ chức tiêm chủng. Người dân mang theo căn cước. Hỏi trạm y tế."},
                     w.version)
    s.commit()
    tr = translations.get(s, wid, "en")
    assert [x["status"] for x in tr.segments] == ["approved", "approved", "stale", "empty"]
    assert tr.segments[2] == {"source": "Người dân mang theo căn cước.", "target": "Bring your book.",
                              "status": "stale", "previous_source": "Người dân mang theo sổ tiêm chủng."}
    assert tr.state == "draft" and tr.source_revision == w.current_revision
    with pytest.raises(ValidationError, match="no approved translation"):
        rendering.language_text(s, w, "en")
    workflow.transition(s, c["editor"], wid, "submit")
    workflow.transition(s, c["approver2"], wid, "approve")
    with pytest.raises(Conflict, match="en changed after approval"):
        workflow.transition(s, c["approver"], wid, "publish")
    fixed = translations.save_segment(s, c["translator"], wid, "en", 2, "Bring your ID card.", approve=True)
    assert "previous_source" not in fixed
    translations.save_segment(s, c["translator"], wid, "en", 3, "Ask the health station.", approve=True)
    translations.approve(s, c["approver"], wid, "en")
    assert workflow.transition(s, c["approver"], wid, "publish").state == "published"


def test_two_translators_saving_different_segments_keep_both(app, users):
    """Each translator's session holds the translation as it read it; neither save overwrites the other."""
    from sqlalchemy.orm import Session

    from studio.extensions import db
    with app.app_context():
        engine = db.engine
    with Session(engine) as a, Session(engine) as b:
        ca, cb = Caller(a.get(User, users["translator"])), Caller(b.get(User, users["editor"]))
        wid = _work(a, Caller(a.get(User, users["editor"])))
        translations.start(a, ca, wid, "tyz")
        a.commit()
        translations.get(b, wid, "tyz")  # b has read it before a saves
        translations.save_segment(a, ca, wid, "tyz", 0, "A")
        a.commit()
        translations.save_segment(b, cb, wid, "tyz", 1, "B")
        b.commit()
        a.expire_all()
        targets = [x["target"] for x in a.scalar(select(Translation).where(Translation.work_id == wid)).segments]
        assert targets[:2] == ["A", "B"]


def test_registry_and_capabilities(ctx, router):
    s, c = ctx
    codes = [lang.code for lang in languages.all_languages(s)]
    assert codes[0] == "vi" and {"en", "zh", "lo", "km", "fr", "tyz", "nut", "ium", "hmn", "blt"} <= set(codes)
    with pytest.raises(PermissionDenied):
        languages.add(s, c["editor"], {"code": "pcc", "name_vi": "Tiếng Giáy", "name_en": "Bouyei"})
    with pytest.raises(ValidationError, match="ISO 639"):
        languages.add(s, c["admin"], {"code": "Giáy!", "name_vi": "Tiếng Giáy", "name_en": "Bouyei"})
    with pytest.raises(Conflict):
        languages.add(s, c["admin"], {"code": "vi", "name_vi": "x", "name_en": "y"})
    languages.add(s, c["admin"], {"code": "pcc", "name_vi": "Tiếng Giáy", "name_en": "Bouyei", "script": "Latn"})
    tts = {e.name: e for e in make_engines(["espeak"])}
    caps = languages.capabilities(s, ["vi", "en", "zh", "tyz", "pcc"], router, tts, {"vi", "en", "zh"})
    assert caps["en"].translate_from == ["vi (argos)"]
    assert caps["zh"].translate_from == ["vi (argos via en)", "en (argos)"]
    assert caps["tyz"].translate_from == [] and not caps["tyz"].machine_translation
    assert caps["vi"].speech == "espeak" and caps["tyz"].speech == ""
    assert caps["vi"].recognition and not caps["pcc"].recognition


class Flaky:
    """An engine through the interface: uppercases, and fails on its second call (a server that went away)."""

    name = "flaky"

    def __init__(self):
        self.calls = 0

    def pairs(self):
        return {("vi", "en")}

    def translate(self, segments, src, dst):
        self.calls += 1
        if self.calls == 2:
            raise EngineError("connection reset")
        return [x.upper() for x in segments]


def test_machine_fill_keeps_finished_batches_and_translators_work(ctx):
    s, c = ctx
    wid = _work(s, c["editor"], body="Một. Hai. Ba. Bốn. Năm.")
    translations.start(s, c["translator"], wid, "en")
    translations.save_segment(s, c["translator"], wid, "en", 1, "One (by hand)")
    s.commit()
    router = Router([Flaky()])
    job = translations.queue_machine(s, c["translator"], wid, "en", router)
    assert job.kind == "translate" and job.log[-1]["msg"] == "queued (flaky vi→en)"
    reports = []
    with pytest.raises(EngineError):
        translations.fill_by_machine(s, wid, "en", router, lambda pct, msg: reports.append(pct), chunk=2)
    segs = translations.get(s, wid, "en").segments
    assert [x["target"] for x in segs] == ["THÔNG BÁO", "One (by hand)", "HAI.", "", "", ""]
    assert [x["status"] for x in segs] == ["machine", "edited", "machine", "empty", "empty", "empty"]
    assert reports == [40]
    assert translations.fill_by_machine(s, wid, "en", router, chunk=2) == 3  # the rest, on retry
