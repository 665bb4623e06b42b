"""Commune sites in the real Chromium (issue #26): axe-core (WCAG 2.1 A and AA) on the home, item, list, search
and questions pages on a phone and on a desktop, and the static copy's search working from a plain static
server (a CDN's stand-in) with only the prebuilt index and a few lines of JavaScript."""
from __future__ import annotations

import functools
import http.server
import threading

import pytest
from sqlalchemy import select

from storage.models import User
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_accessibility import audit
from tests.web.site_cases import live_item

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site(app, db_session, users):
    from studio.web.serving import serve_in_thread
    from tests.services.programme_cases import make_province
    make_province(db_session)
    admin = db_session.scalar(select(User).where(User.username == "admin"))
    items = [live_item(db_session, admin, "Lịch tiêm chủng tháng Mười Hai", ["00961"], topics=["Y tế"],
                       summary="Trạm y tế xã tiêm chủng cho trẻ dưới năm tuổi."),
             live_item(db_session, admin, "Cảnh báo rét đậm", ["02"], priority="emergency"),
             live_item(db_session, admin, "Họp dân thôn Khuổi Luông", ["00961"], kind="eboard_notice",
                       texts={"en": {"title": "Village meeting", "sentences": ["Village meeting", "On Monday."]}})]
    db_session.commit()
    url, server, thread = serve_in_thread(app, threads=4)
    yield url, items
    server.stop()
    thread.join(timeout=15)


def test_the_sites_pages_pass_axe_on_a_phone_and_a_desktop(site, browser):
    url, items = site
    own = items[0]
    paths = ["/x/00961/", f"/x/00961/items/{own.id}/", "/x/00961/tin-tuc/", "/x/00961/tim-kiem/?q=tiem chung",
             "/x/00961/hoi-dap/", "/x/00961/en/", f"/x/00961/items/{items[2].id}/en/"]
    problems = []
    for width, height, where in ((412, 915, "phone"), (1280, 900, "desktop")):
        page = browser.new_page(viewport={"width": width, "height": height}, locale="vi-VN")
        for path in paths:
            page.goto(url + path)
            problems += [f"{path} ({where}): {p}" for p in audit(page)]
        page.goto(url + "/x/00961/")
        page.screenshot(path=str(ARTIFACTS / f"site-home-{where}.png"), full_page=True)
    assert not problems, "\n".join(problems)


def test_the_static_copy_searches_with_its_own_index_from_a_plain_static_server(app, site, browser, store,
                                                                                  db_session, tmp_path):
    from studio.web import site_export
    url, items = site
    app.config["PUBLIC_URL"] = url  # where the static copy sends what it cannot do itself
    with app.app_context():
        site_export.export(app, store, db_session, ["00961"])
    root = tmp_path / "cdn"
    for obj in store.list("sites/00961/"):  # what a CDN in front of the store would hold, at the same paths
        target = root / "x" / obj.key[len("sites/"):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(obj.key))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cdn = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")
        page.goto(f"{cdn}/x/00961/")
        assert "Lịch tiêm chủng tháng Mười Hai" in page.content()
        for start in ("", "tim-kiem/"):  # the home's search box, then the search page's own
            page.goto(f"{cdn}/x/00961/{start}")
            page.fill("input[name=q]", "TIEM chung")
            page.press("input[name=q]", "Enter")
            page.wait_for_selector("#search-results ul.items li a")
            hits = page.locator("#search-results ul.items li a").all_inner_texts()
            assert hits == ["Lịch tiêm chủng tháng Mười Hai"]
            assert page.url.startswith(f"{cdn}/x/00961/tim-kiem/")  # searched here, not at the studio
        # Without JavaScript the form goes to the studio, which searches on its server.
        action = page.get_attribute("form.site-search", "action")
        assert action == f"{url}/x/00961/tim-kiem/"
    finally:
        server.shutdown()
