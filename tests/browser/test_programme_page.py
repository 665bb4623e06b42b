"""The programme page in the real Chromium, as a commune's operator uses it: accept an offer, see the clash,
drag an item to another day, and do the same with the keyboard alone."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, login
from tests.browser.test_accessibility import filled  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_operator_accepts_drags_and_moves_by_keyboard(filled, browser, app):  # noqa: F811
    from sqlalchemy import select

    from storage.models import ProgrammeItem
    from studio.extensions import db
    url, _wid = filled
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="vi-VN")
    login(page, url, "vanhanh", lands="/programme")
    page.goto(f"{url}/programme/06079?from=2026-12-07")
    # The offer, accepted at 6:30 on 8/12 from the keyboard: Tab reaches its time field (headless Chromium
    # takes no typing into a date-time field's parts, so the value is set as a picker would), Enter sends it.
    offer = page.locator("[data-offer]")
    offer_id = int(offer.get_attribute("data-offer"))
    start = offer.locator("input[name=start]")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "start" and start.evaluate("e => e === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the offer's time field")
    start.fill("2026-12-08T06:30")
    with page.expect_navigation():  # the form is sent and the week comes back
        page.keyboard.press("Enter")
    assert page.locator("[data-offer]").count() == 0
    day8 = page.locator('.day[data-day="2026-12-08"]')
    assert day8.locator(f'li[data-item="{offer_id}"]').first.inner_text().startswith("06:30")
    # Drag it to the 10th: the item's own form is sent with the new day, the same time.
    item = day8.locator(f'li[data-item="{offer_id}"][draggable=true]').first
    with page.expect_navigation():
        item.drag_to(page.locator('.day[data-day="2026-12-10"]'))
    page.wait_for_selector(f'.day[data-day="2026-12-10"] li[data-item="{offer_id}"]')
    with app.app_context():
        moved = db.session.scalar(select(ProgrammeItem).where(ProgrammeItem.id == offer_id))
        from studio.services import clock
        assert clock.iso(moved.start_at) == "2026-12-10T06:30:00+07:00" and moved.state == "accepted"
    page.screenshot(path=str(ARTIFACTS / "programme-week.png"), full_page=True)
    # The 6:00 bulletin and the province's daily item: on the 7th both at 6:00 would clash; none do now.
    assert page.locator(".occurrence.clash").count() == 0
