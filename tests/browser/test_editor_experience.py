"""The editor's day in a real Chromium: each job's own progress while others run, a publication's chapters
added, reordered and removed in one form, the admin's first-run checklist, and an accessibility audit (axe-core,
the checker Deque keeps, injected into the real pages) of every kind of page.

Screenshots are saved under test-artifacts/browser/.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import processes
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Job, Work
from tests.browser.conftest import ARTIFACTS, login
from tests.helpers import PASSWORD, ROOT
from tests.jobs.test_jobs import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def studio_with_worker(tmp_path, store_url):
    """`studio serve` and one `studio worker` process over a SQLite queue, as a small deployment runs."""
    from flask_migrate import upgrade

    from studio import create_app
    from studio.extensions import db
    from studio.services import Caller, accounts
    from studio.web.serving import serve_in_thread
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update({"STUDIO_INSTANCE": str(tmp_path / "instance"), "STUDIO_S3_URL": store_url,
                "STUDIO_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}", "STUDIO_TTS_ENGINES": "espeak",
                "STUDIO_WHISPER_MODEL": ""})  # the speech check has its own tests
    app = create_app({"S3_URL": store_url, "QUEUE_URL": env["STUDIO_QUEUE_URL"]}, environ=env)
    with app.app_context():
        upgrade()
        accounts.create_user(db.session, Caller(None), "bientap", PASSWORD, ["editor"], "Nguyễn Thị Biên",
                             system=True)
        db.session.commit()
        engine = db.engine
    url, server, thread = serve_in_thread(app, threads=4)
    worker = subprocess.Popen([sys.executable, "-m", "studio.cli", "worker", "--workers", "1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield url, app, engine
    processes.stop(worker, 30)
    server.stop()
    thread.join(timeout=15)


def test_each_job_shows_its_own_state_while_the_others_run(studio_with_worker, browser):
    url, app, engine = studio_with_worker
    check = Session(engine)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, url, "bientap")
    page.goto(f"{url}/works/new")
    page.fill("input[name=title]", "Bản tin thời tiết")
    page.fill("textarea[name=body]", " ".join(f"Thông báo số {i}: bà con theo dõi bản tin thời tiết." for i in range(25)))
    page.click("form.work-form button[type=submit]")
    page.wait_for_selector("text=Đã lưu bản nháp.")
    page.check("form.render-form input[value=loudspeaker]")
    page.check("form.render-form input[value=eboard]")
    page.click("form.render-form button[type=submit]")
    wid = int(page.url.split("/works/")[1].split("/")[0].split("#")[0])

    def jobs():
        check.expire_all()
        return check.scalars(select(Job).where(Job.work_id == wid).order_by(Job.id)).all()

    # One worker: the loudspeaker finishes while the e-board's video is still to be made.
    first = wait_for(lambda: (js := jobs()) and js[0].state == "succeeded" and js[-1].state in
                     ("queued", "running") and js, timeout=300, what="the first job to finish before the last")
    done_id, other_id = first[0].id, first[-1].id
    # The poller (every 2 s) shows the finished job as finished while the other still runs: its state, a full
    # bar and no Cancel button; the other keeps its own state and its button.
    page.wait_for_function("id => document.querySelector(`tr[data-job=\"${id}\"] .job-state`).textContent"
                           ".includes('thành công')", arg=done_id, timeout=30000)
    still = jobs()[-1]
    row = page.locator(f'tr[data-job="{done_id}"]')
    assert page.evaluate(f'document.querySelector(\'tr[data-job="{done_id}"] progress\').value') == 100
    assert row.locator("form.cancel-job").count() == 0
    if still.state in ("queued", "running"):  # what the database said after the page showed the first one done
        other = page.locator(f'tr[data-job="{other_id}"]')
        assert "thành công" not in other.locator(".job-state").text_content()
        assert other.locator("form.cancel-job").count() == 1
    page.screenshot(path=str(ARTIFACTS / "job-progress.png"), full_page=True)
    # When the last one ends, its row says so too.
    wait_for(lambda: jobs()[-1].state in ("succeeded", "failed"), timeout=600, what="the last job")
    page.wait_for_function("id => document.querySelector(`tr[data-job=\"${id}\"] .job-state`).textContent"
                           ".includes('thành công')", arg=first[-1].id, timeout=30000)
    assert jobs()[-1].state == "succeeded", jobs()[-1].error


def test_chapters_are_added_moved_and_removed_in_one_form(live_server, browser, app):
    from studio.extensions import db
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, live_server, "editor")
    page.goto(f"{live_server}/works/new")
    page.select_option("select[name=kind]", "publication")
    page.fill("input[name=title]", "Sổ tay phòng chống thiên tai")
    page.click("details summary")
    chapters = page.locator("fieldset.chapter")
    assert chapters.count() == 1 and page.locator("[data-add-chapter]").is_visible()
    for i, (title, body) in enumerate([("Bão", "Bão đến từ tháng Bảy."), ("Lũ quét", "Lũ quét đến rất nhanh."),
                                       ("Sạt lở", "Không dựng nhà sát chân đồi.")]):
        if i:
            page.click("[data-add-chapter]")
            # The new chapter's title field has the focus, for the keyboard.
            assert page.evaluate("document.activeElement.name") == "chapter_title"
        chapters.nth(i).locator("input[name=chapter_title]").fill(title)
        chapters.nth(i).locator("textarea[name=chapter_body]").fill(body)
    assert [chapters.nth(i).locator("legend").text_content() for i in range(3)] == ["Chương 1", "Chương 2", "Chương 3"]
    chapters.nth(2).get_by_role("button", name="Lên trên").click()      # Sạt lở before Lũ quét
    chapters.nth(0).get_by_role("button", name="Xóa chương").click()   # Bão goes
    assert chapters.nth(0).get_by_role("button", name="Lên trên").is_disabled()
    assert [chapters.nth(i).locator("legend").text_content() for i in range(2)] == ["Chương 1", "Chương 2"]
    page.screenshot(path=str(ARTIFACTS / "chapters-form.png"), full_page=True)
    page.click("form.work-form button[type=submit]")
    page.wait_for_selector("text=Đã lưu bản nháp.")
    wid = int(page.url.split("/works/")[1].split("/")[0].split("#")[0])
    with app.app_context():
        saved = db.session.get(Work, wid).chapters
    assert [c["title"] for c in saved] == ["Sạt lở", "Lũ quét"]
    assert [c["body"] for c in saved] == ["Không dựng nhà sát chân đồi.", "Lũ quét đến rất nhanh."]
    # Editing again shows the two chapters, no empty third one, and one save keeps them as they are.
    page.goto(f"{live_server}/works/{wid}/edit")
    assert page.locator("details").evaluate("d => d.open")  # a publication's chapters are open on its form
    assert page.locator("fieldset.chapter").count() == 2
    page.locator("fieldset.chapter").nth(1).get_by_role("button", name="Lên trên").click()
    page.click("form.work-form button[type=submit]")
    page.wait_for_selector("text=Đã lưu")
    with app.app_context():
        assert [c["title"] for c in db.session.get(Work, wid).chapters] == ["Lũ quét", "Sạt lở"]


@pytest.fixture
def fresh_studio(app):
    """A studio as `studio run` leaves it the first time: one admin, nothing else."""
    from studio.extensions import db
    from studio.services import Caller, accounts
    from studio.web.serving import serve_in_thread
    with app.app_context():
        accounts.create_user(db.session, Caller(None), "quantri", PASSWORD, ["admin"], "Trần Văn Quản", system=True)
        db.session.commit()
    url, server, thread = serve_in_thread(app, threads=4)
    yield url
    server.stop()
    thread.join(timeout=15)


def test_a_new_admin_is_guided_through_the_first_run_checklist(fresh_studio, browser):
    base = fresh_studio
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, base, "quantri")
    card = page.locator("section.setup")
    assert "đã xong 0/4 bước" in card.locator("h2").text_content()
    page.screenshot(path=str(ARTIFACTS / "first-run-works.png"), full_page=True)
    card.get_by_role("link", name="Tiếp tục thiết lập").click()

    def step(key):
        return page.locator(f'ol.checklist li[data-step="{key}"]')
    assert [step(k).get_attribute("class") for k in ("areas", "people", "endpoints", "voices")] == ["todo"] * 4
    # 1. Province and communes, from the step's own link.
    step("areas").get_by_role("link").click()
    for code, name, level, parent in (("20", "Tỉnh Lạng Sơn", "province", None),
                                      ("06079", "Xã Đồng Đăng", "commune", "Tỉnh Lạng Sơn")):
        page.fill("input[name=code]", code)
        page.fill("input[name=name]", name)
        page.select_option("select[name=level]", level)
        if parent:
            page.select_option("select[name=parent_id]", label=parent)
        page.click("form.card button[type=submit]")
        page.wait_for_selector("text=Đã thêm địa bàn.")
    page.goto(f"{base}/admin/setup")
    assert step("areas").get_attribute("class") == "done" and "(đã xong)" in step("areas").text_content()
    # 2. People: an editor alone is not enough; an approver completes the step.
    for username, role in (("bientap", "editor"), ("duyet", "approver")):
        assert step("people").get_attribute("class") == "todo"
        step("people").get_by_role("link").click()
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.check(f"input[name=roles][value={role}]")
        page.click("form.card button[type=submit]")
        page.goto(f"{base}/admin/setup")
    assert step("people").get_attribute("class") == "done"
    # 3. An endpoint.
    step("endpoints").get_by_role("link").click()
    page.fill("#add-endpoint input[name=name]", "Loa truyền thanh xã Đồng Đăng")
    page.click("#add-endpoint button[type=submit]")
    page.wait_for_selector("#new-endpoint-token")
    page.goto(f"{base}/admin/setup")
    assert step("endpoints").get_attribute("class") == "done"
    # 4. Voices: saving the Vietnamese voice after listening.
    step("voices").get_by_role("link").click()
    page.locator("form#voice-vi button[type=submit]").click()
    page.goto(f"{base}/admin/setup")
    assert step("voices").get_attribute("class") == "done"
    assert page.get_by_role("status").filter(has_text="sẵn sàng").count() == 1
    page.screenshot(path=str(ARTIFACTS / "first-run-checklist.png"), full_page=True)
    # Done: the works page no longer shows the reminder.
    page.goto(f"{base}/works")
    assert page.locator("section.setup").count() == 0


def test_profile_inputs_show_their_whole_values_and_say_what_they_are(live_server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, live_server, "admin")
    page.goto(f"{live_server}/settings/media")
    inputs = page.locator("table.profiles input")
    assert inputs.count() > 50
    # No value is cut off (the old table showed "192(" for 1920 and "1280" as "12"), however wide the number.
    cut = page.evaluate("""() => [...document.querySelectorAll('table.profiles input')]
        .filter(e => e.scrollWidth > e.clientWidth).map(e => e.getAttribute('aria-label') + '=' + e.value)""")
    assert not cut, cut
    # Headings and names in words: the field's meaning and unit, the profile's name for people.
    heads = page.locator("table.profiles th[scope=col]").all_text_contents()
    assert "Rộng (điểm ảnh)" in heads and "Độ to (LUFS)" in heads and "width" not in heads
    assert page.locator("#profile-name-eboard-led-384x192").text_content().startswith("Bảng LED 384×192")
    assert inputs.first.get_attribute("aria-label").count(":") == 1
    page.screenshot(path=str(ARTIFACTS / "profiles-table.png"), full_page=True)
