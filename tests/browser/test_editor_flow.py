"""A real Chromium (Debian's, driven by Playwright): editor writes and submits, approver approves, admin audits.

Screenshots are saved under test-artifacts/browser/ for people to look at.
"""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, login
from tests.helpers import make_png

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def write_work(page, base, title, body=""):
    """Fill in and save a new article; returns the work page's URL."""
    page.goto(f"{base}/works/new")
    page.fill("input[name=title]", title)
    if body:
        page.fill("textarea[name=body]", body)
    page.click("form.work-form button[type=submit]")
    page.wait_for_selector("text=Đã lưu bản nháp.")
    return page.url


def logout(page):
    page.click("header form button")


def test_editor_submits_approver_approves_admin_sees_audit(live_server, browser, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server
    picture = make_png(tmp_path / "ảnh-lũ.png", size=(640, 400), color=(20, 90, 160))
    page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")  # a phone

    login(page, base, "editor")
    page.goto(f"{base}/works/new")
    page.check("input[value=loudspeaker]")
    page.fill("input[name=title]", "Thông báo khẩn: mưa lũ tại xã Đồng Đăng")
    page.fill("textarea[name=body]", "Người dân **không** đi qua ngầm tràn khi nước dâng.")
    page.click("form.work-form button[type=submit]")
    page.wait_for_selector("text=Đã lưu bản nháp.")
    work_url = page.url
    page.set_input_files("input[type=file]", str(picture))
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector("ul.assets img")  # the page reloads once the upload finished
    page.screenshot(path=str(ARTIFACTS / "1-editor-draft-with-picture.png"), full_page=True)
    page.click("form.action-submit button")
    page.wait_for_selector("text=Đã thực hiện: Gửi duyệt.")
    assert "chờ duyệt" in page.inner_text("p.meta")
    logout(page)

    login(page, base, "approver")
    page.goto(work_url)
    page.click("form.action-approve button")
    page.wait_for_selector("text=Đã thực hiện: Duyệt.")
    assert "đã duyệt" in page.inner_text("p.meta")
    page.screenshot(path=str(ARTIFACTS / "2-approver-approved.png"), full_page=True)
    logout(page)

    login(page, base, "admin")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/admin/audit")
    rows = page.inner_text("table.audit")
    assert "work.submit" in rows and "work.approve" in rows and "asset.upload" in rows
    submit_row = page.locator("table.audit tr", has_text="work.submit").inner_text()
    approve_row = page.locator("table.audit tr", has_text="work.approve").inner_text()
    assert "editor" in submit_row and "approver" in approve_row
    page.screenshot(path=str(ARTIFACTS / "3-admin-audit-log.png"), full_page=True)


def test_bad_upload_shows_message_in_page(live_server, browser, tmp_path):
    base = live_server
    fake = tmp_path / "not-a-photo.jpg"
    fake.write_text("plain text pretending to be a photo\n" * 20)
    page = browser.new_page(locale="vi-VN")
    login(page, base, "editor")
    write_work(page, base, "Bài có tệp hỏng")
    page.set_input_files("input[type=file]", str(fake))
    page.click("form[data-upload] button[type=submit]")
    msg = page.wait_for_selector(".upload-status.error")
    assert "không phải ảnh, âm thanh hay video" in msg.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "4-bad-upload-message.png"))


def test_render_from_the_page_shows_progress_and_plays(live_server, browser, app):
    """The memory queue runs the job inside the request; the page then shows it done with a playable MP3."""
    base = live_server
    page = browser.new_page(locale="vi-VN")
    login(page, base, "editor")
    write_work(page, base, "Bản tin phát thanh", "Xã Đồng Đăng thông báo lịch tiêm chủng ngày 25/11/2026.")
    page.check("form.render-form input[value=loudspeaker]")
    page.click("form.render-form button[type=submit]")
    page.wait_for_selector("text=Đã xếp hàng 1 tác vụ dựng.")
    row = page.locator("table.jobs tr[data-job]").first
    assert "thành công" in row.inner_text()
    assert row.locator("progress").get_attribute("value") == "100"
    audio = page.locator("ul.renditions audio").first
    duration = page.evaluate("""async (el) => {
        el.preload = 'auto'; el.load();
        await new Promise((ok, fail) => { el.onloadedmetadata = ok; el.onerror = fail; });
        return el.duration; }""", audio.element_handle())
    assert duration > 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "5-rendered-bulletin.png"), full_page=True)
