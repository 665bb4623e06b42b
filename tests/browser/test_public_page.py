"""A reader's phone opens a published item: the page shows, the audio loads and plays, languages switch."""
from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.web.test_public import published  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_reader_plays_the_audio_and_switches_language(live_server, browser, published):  # noqa: F811
    page = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")
    page.goto(f"{live_server}/p/{published}")
    assert page.inner_text("h1") == "Lịch tiêm chủng"
    audio = page.locator("audio").first
    played = page.evaluate("""async (el) => {
        el.muted = true; el.load();
        await new Promise((ok, fail) => { el.oncanplay = ok; el.onerror = () => fail(el.error.code); });
        await el.play();
        await new Promise((ok) => setTimeout(ok, 700));
        return {duration: el.duration, time: el.currentTime}; }""", audio.element_handle())
    assert played["duration"] > 1 and played["time"] > 0.2  # it really played
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "8-public-page-phone.png"), full_page=True)
    page.click("a[hreflang=en]")
    assert page.inner_text("h1") == "Vaccination schedule"
    assert page.get_attribute("html", "lang") == "en"
