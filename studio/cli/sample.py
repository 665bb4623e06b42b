"""`studio demo`'s content: a sample bulletin written for this project, with a picture and human translations into English
and Chinese, rendered offline for every channel."""
from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select

from storage.models import Rendition, Translation, User
from studio.services import Caller, accounts, translations, works
from studio.services import assets as asset_service

TITLE = "Tiêm chủng mở rộng tại xã Đồng Đăng"
SUMMARY = "Trạm Y tế xã tổ chức tiêm chủng miễn phí cho trẻ em dưới 5 tuổi."
BODY = """Ngày 25/11/2026, Trạm Y tế xã Đồng Đăng tổ chức tiêm chủng miễn phí từ 7h30 đến 11h00.
Phụ huynh đưa trẻ đến Nhà văn hóa thôn Na Pàn và mang theo sổ tiêm chủng.
Trẻ bị sốt hoặc đang ốm cần báo cho cán bộ y tế trước khi tiêm.
Mọi thắc mắc xin liên hệ Trạm Y tế xã qua số điện thoại 0205 3851 234."""

# Human translations written for this project, one segment per source sentence (title, summary, body).
EN = ["Expanded immunisation in Dong Dang commune",
      "The commune health station offers free vaccinations for children under five.",
      "On 25 November 2026 the Dong Dang commune health station vaccinates free of charge from 7:30 to 11:00.",
      "Parents bring their children to the Na Pan village cultural house with their vaccination book.",
      "Children with a fever or an illness must tell the health worker before the injection.",
      "For questions, call the commune health station on 0205 3851 234."]
ZH = ["同登乡扩大免疫接种",
      "乡卫生站为五岁以下儿童免费接种疫苗。",
      "2026年11月25日7:30至11:00，同登乡卫生站免费接种疫苗。",
      "家长请带孩子到那盘村文化之家，并携带预防接种本。",
      "发烧或生病的儿童在接种前须告知医务人员。",
      "如有疑问，请拨打乡卫生站电话 0205 3851 234。"]


def picture(path: Path) -> Path:
    """A simple drawn scene (mountains, a health station, a loudspeaker pole) for the slides."""
    img = Image.new("RGB", (1280, 720), (135, 196, 235))
    d = ImageDraw.Draw(img)
    d.polygon([(0, 560), (260, 250), (520, 560)], fill=(70, 120, 80))
    d.polygon([(380, 560), (700, 200), (1020, 560)], fill=(55, 105, 70))
    d.polygon([(820, 560), (1080, 300), (1280, 480), (1280, 560)], fill=(80, 135, 90))
    d.rectangle([0, 560, 1280, 720], fill=(120, 170, 90))
    d.rectangle([560, 430, 860, 600], fill=(245, 240, 225), outline=(120, 80, 60), width=4)
    d.polygon([(540, 430), (710, 350), (880, 430)], fill=(178, 34, 34))
    d.rectangle([690, 455, 730, 545], fill=(200, 30, 30))
    d.rectangle([665, 480, 755, 520], fill=(200, 30, 30))
    d.rectangle([1000, 300, 1012, 600], fill=(90, 90, 90))
    d.polygon([(1012, 310), (1080, 280), (1080, 350), (1012, 330)], fill=(60, 60, 60))
    d.ellipse([1080, 60, 1180, 160], fill=(255, 215, 80))
    img.save(path, "JPEG", quality=88)
    return path


# The demo's people, by account name: the names shown in the studio are Vietnamese, as a province's are.
DISPLAY_NAMES = {"demo-editor": "Biên tập viên mẫu", "demo-approver": "Người duyệt mẫu",
                 "demo-admin": "Quản trị viên mẫu"}


def _user(session, name: str, roles: list[str]) -> User:
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        import secrets
        user = accounts.create_user(session, Caller(None, "demo"), name, secrets.token_urlsafe(16), roles,
                                    DISPLAY_NAMES[name], system=True)
    return user


def create(session, store, tmpdir: Path, max_bytes: int, max_pixels: int) -> int:
    """Create the sample work, its picture and approved translations; returns the work id."""
    editor = _user(session, "demo-editor", ["editor"])
    approver = _user(session, "demo-approver", ["approver", "translator"])
    ed = Caller(editor, "demo")
    work = works.create(session, ed, {"kind": "radio_bulletin", "title": TITLE, "summary": SUMMARY, "body": BODY,
                                      "topics": ["y tế", "tiêm chủng"], "priority": "priority",
                                      "channels": ["loudspeaker", "eboard", "border_screen", "web"]})
    session.flush()
    asset_service.upload(session, store, ed, work.id, str(picture(tmpdir / "tram-y-te.jpg")), "trạm y tế.jpg",
                         max_bytes, max_pixels)
    sentences = translations.source_sentences(work)
    if len(sentences) != len(EN) or len(sentences) != len(ZH):
        raise RuntimeError(f"demo translations are out of step with the text ({len(sentences)} sentences)")
    for lang, target, title in (("en", EN, EN[0]), ("zh", ZH, ZH[0])):
        session.add(Translation(work_id=work.id, language=lang, title=title, state="approved",
                                approved_by_id=approver.id, source_revision=work.current_revision,
                                segments=[{"source": s, "target": t, "status": "approved"}
                                          for s, t in zip(sentences, target)]))
    session.commit()
    return work.id


def collect(session, store, work_id: int, out_dir: Path) -> list[dict]:
    """Copy each rendition's main file (and captions) into out_dir; one summary entry per rendition."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for r in session.scalars(select(Rendition).where(Rendition.work_id == work_id).order_by(Rendition.id)):
        main = next(f for f in r.files if f["role"] in ("audio", "video"))
        local = out_dir / f"{r.profile}-{r.language}{Path(main['key']).suffix}"
        store.download(main["key"], local)
        entry = {"channel": r.channel, "profile": r.profile, "language": r.language, "file": str(local.resolve()),
                 "duration_s": round(r.duration_s, 2), "sha256": main["sha256"]}
        if r.lufs is not None:
            entry["lufs"] = r.lufs
            entry["true_peak_dbtp"] = r.true_peak
        for f in r.files:
            if f["role"] in ("srt", "vtt"):
                side = out_dir / f"{r.profile}-{r.language}.{f['role']}"
                store.download(f["key"], side)
                entry[f["role"]] = str(side.resolve())
        entries.append(entry)
    return entries


def clean(path: Path) -> None:
    """Remove a previous demo's output folder."""
    shutil.rmtree(path, ignore_errors=True)


def approve(session, work_id: int) -> None:
    """The demo editor submits, the demo approver (another person) approves."""
    from studio.services import workflow
    workflow.transition(session, Caller(_user(session, "demo-editor", ["editor"]), "demo"), work_id, "submit")
    workflow.transition(session, Caller(_user(session, "demo-approver", ["approver", "translator"]), "demo"),
                        work_id, "approve")
    session.commit()


def publish(session, work_id: int) -> list[int]:
    """Publish the rendered demo work; returns the ids of the jobs to run (any missing render, then delivery)."""
    from storage.models import Job
    from studio.services import workflow
    workflow.transition(session, Caller(_user(session, "demo-approver", ["approver", "translator"]), "demo"),
                        work_id, "publish")
    session.commit()
    return list(session.scalars(select(Job.id).where(Job.work_id == work_id, Job.state.in_(("queued", "waiting")))
                                .order_by(Job.id)))


# One endpoint of every kind and common display, everywhere (no area): what the demo's package must serve.
ENDPOINTS = [
    {"name": "Loa truyền thanh xã Hữu Kiên", "kind": "loudspeaker", "languages": ["vi"]},
    {"name": "Bảng điện tử UBND huyện", "kind": "eboard", "display": "1920x1080"},
    {"name": "Bảng LED đầu cầu", "kind": "eboard", "display": "384x192"},
    {"name": "Bảng điện tử đứng, nhà văn hoá", "kind": "eboard", "display": "1080x1920"},
    {"name": "Màn hình cửa khẩu Hữu Nghị", "kind": "border_screen", "display": "1920x1080",
     "languages": ["vi", "zh", "en"]},
    {"name": "Ki-ốt điểm thông tin xã", "kind": "kiosk", "display": "1080x1920", "languages": ["vi"]},
    {"name": "Cổng thông tin điện tử tỉnh", "kind": "portal"},
]


def register_endpoints(session) -> list[dict]:
    """Register the demo endpoints (a fresh token each run: tokens are shown only once); name, kind, display,
    languages and token of each."""
    from storage.models import Endpoint
    from studio.services import endpoints
    admin = Caller(_user(session, "demo-admin", ["admin"]), "demo")
    out = []
    for spec in ENDPOINTS:
        ep = session.scalar(select(Endpoint).where(Endpoint.name == spec["name"]))
        if ep is None:
            ep, token = endpoints.create(session, admin, {**spec, "contact": "studio demo"})
        else:
            token = endpoints.rotate(session, admin, ep.id)
        out.append({"name": ep.name, "kind": ep.kind, "display": ep.display or None, "languages": ep.languages,
                    "token": token})
    session.commit()
    return out


BOOK_TITLE = "Sổ tay an toàn mùa mưa lũ"
BOOK_CHAPTERS = [
    {"title": "Chương 1. Trước khi mưa lũ đến",
     "body": "Theo dõi bản tin thời tiết trên loa truyền thanh của xã mỗi sáng.\n"
             "Chuẩn bị đèn pin, nước uống, lương thực khô và túi thuốc cho cả gia đình trong ba ngày."},
    {"title": "Chương 2. Khi có báo động",
     "body": "Khi nghe loa báo động, đưa người già và trẻ em lên vùng cao trước.\n"
             "Không đi qua ngầm tràn và suối sâu khi nước đang dâng. Gọi trưởng thôn nếu cần giúp đỡ."},
]


def create_publication(session) -> int:
    """A short handbook written for this project, approved, ready to render on the epub channel."""
    editor = _user(session, "demo-editor", ["editor"])
    work = works.create(session, Caller(editor, "demo"), {
        "kind": "publication", "title": BOOK_TITLE, "channels": ["epub"], "chapters": BOOK_CHAPTERS,
        "meta": {"publisher": "Trung tâm Thông tin tỉnh (bản mẫu)", "authors": "Ban biên tập Studio",
                 "edition": "Bản mẫu 1", "licence": "CC BY 4.0"}})
    session.commit()
    approve(session, work.id)
    return work.id


def collect_publications(session, store, work_id: int, out_dir: Path) -> list[dict]:
    """Copy each edition (epub, epub-narrated, pdf) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for r in session.scalars(select(Rendition).where(Rendition.work_id == work_id).order_by(Rendition.id)):
        f = r.files[0]
        local = out_dir / f"{r.profile}-{r.language}.{f['key'].rsplit('.', 1)[-1]}"
        store.download(f["key"], local)
        entries.append({"format": r.profile, "language": r.language, "file": str(local.resolve()),
                        "sha256": f["sha256"]})
    return entries
