"""The side-by-side translation editor in a real Chromium: keyboard approval, memory suggestions, progress."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, login
from tests.browser.test_editor_flow import write_work

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_translator_works_through_segments_with_the_keyboard(live_server, browser, app):
    from studio.extensions import db
    from studio.services import memory
    with app.app_context():  # an earlier bulletin's approved Tày sentence, remembered
        memory.add(db.session, "vi", "tyz", "Người dân mang theo sổ tiêm chủng.", "Pỉ noọng au sổ tiêm chủng pây.")
        db.session.commit()
    base = live_server
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, base, "editor")
    work_url = write_work(page, base, "Thông báo tiêm chủng",
                          "Xã tổ chức tiêm chủng. Người dân mang theo sổ tiêm chủng!")
    page.click("text=Đăng xuất (editor)")
    login(page, base, "translator")
    page.goto(work_url)
    page.click("a.button:has-text('Bản dịch')")
    page.select_option("#start-translation select", "tyz")
    page.click("#start-translation button")
    page.wait_for_selector("table.segments")
    rows = page.locator("tr[data-segment]")
    assert rows.count() == 3
    # The remembered sentence ("." there, "!" here) was prefilled by the translate job with its fuzzy score
    # (7 of 8 tokens in common: 2*7/16 = 88 %); the others are empty.
    expect(rows.nth(2).locator("[data-status]")).to_contain_text("bộ nhớ dịch 88%")
    first = rows.nth(0).locator("textarea")
    first.fill("Thông báo (Tày)")
    first.press("Control+Enter")
    expect(page.locator("#seg-1 [data-status]")).to_contain_text("đã duyệt")
    focused = page.evaluate("document.activeElement.closest('tr').dataset.segment")
    assert focused == "2"  # approval moved on to the next segment
    page.keyboard.press("Alt+ArrowDown")
    assert page.evaluate("document.activeElement.closest('tr').dataset.segment") == "3"
    page.wait_for_selector(".suggestions [data-memory] .use-memory")
    assert "Pỉ noọng au sổ tiêm chủng pây." in page.inner_text(".suggestions [data-memory]")
    page.keyboard.press("Alt+ArrowUp")
    second = rows.nth(1).locator("textarea")
    second.fill("Xã tổ chức tiêm chủng (Tày).")
    second.press("Control+s")
    expect(page.locator("#seg-2 [data-status]")).to_contain_text("đã sửa")
    second.press("Control+Enter")
    rows.nth(2).locator("button[value='1']").click()
    expect(page.locator("[data-progress-text]")).to_contain_text("3/3")
    assert page.locator("#progress progress").get_attribute("value") == "100"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "6-translation-editor.png"), full_page=True)
    # A reload shows what the server stored, not what the script painted.
    page.reload()
    assert [rows.nth(i).locator("[data-status]").inner_text().strip() for i in range(3)] == ["đã duyệt"] * 3
    page.set_viewport_size({"width": 412, "height": 915})  # a phone: one column
    page.screenshot(path=str(ARTIFACTS / "7-translation-editor-phone.png"), full_page=True)
