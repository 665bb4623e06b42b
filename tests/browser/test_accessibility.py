"""Accessibility in the real Chromium: axe-core (Deque's checker, shipped by the axe-playwright-python package)
audits one page of every kind against WCAG 2.1 A and AA (labels, names, contrast, structure, languages), and
the keyboard reaches every control of the work form with a visible focus.

The studio is filled as in tests/web/test_every_page.py, so lists, tables and forms have real rows.
"""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import ARTIFACTS, login
from tests.web.test_every_page import english_in, english_words, fill_the_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


@pytest.fixture
def filled(app, web, make_web, tmp_path):
    from studio.web.serving import serve_in_thread
    wid = fill_the_studio(app, web, make_web, tmp_path)
    url, server, thread = serve_in_thread(app, threads=4)
    yield url, wid
    server.stop()
    thread.join(timeout=15)


def pages(wid: int) -> list[str]:
    """One page of every template, as the admin sees them (the admin sees every control)."""
    return ["/works", "/works/new", f"/works/{wid}", f"/works/{wid}/edit", f"/works/{wid}/revisions",
            "/works/2/revisions?a=1&b=2", "/works/2/revisions/1", f"/works/{wid}/translations",
            "/languages", "/glossary", "/feedback", "/feedback/1", "/admin/setup", "/admin/users", "/admin/users/1",
            "/admin/areas", "/admin/endpoints", "/admin/endpoints/1", "/admin/endpoints/network", "/admin/audit",
            "/settings/media", "/reports/annual", "/account/tokens", "/programme", "/programme/06079?from=2026-12-07",
            "/programme/as-run?from=2026-12-07T00:00&to=2026-12-09T00:00", "/alerts", "/admin/cap-senders",
            "/x/06079/cai-dat/",
            f"/works/{wid}/emergency",
            "/no-such-page"]


# The text a reader reads on the page as Chromium shows it (after scripts ran), with the same exceptions as
# tests/web/test_every_page.py: other languages (`lang`), identifiers (`code`, `translate="no"`).
READABLE = """() => { const out = [];
  const walk = (el) => {
    if (['SCRIPT', 'STYLE', 'CODE', 'PRE', 'KBD', 'SAMP', 'TEMPLATE', 'svg'].includes(el.tagName)) return;
    if (el.getAttribute('translate') === 'no') return;
    const lang = el.getAttribute('lang'); if (lang && !lang.startsWith('vi') && el.tagName !== 'HTML') return;
    for (const a of ['placeholder', 'title', 'aria-label', 'alt']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
    for (const n of el.childNodes) {
      if (n.nodeType === 3 && n.textContent.trim()) out.push(n.textContent.trim());
      else if (n.nodeType === 1) walk(n);
    }
  };
  walk(document.documentElement); return out; }"""


def english(page, words, names) -> list[str]:
    return english_in(page.evaluate(READABLE), words, names)


def audit(page) -> list[str]:
    result = Axe().run(page, options=WCAG)
    return [f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:4])}"
            for v in result.response["violations"]]


def test_every_kind_of_page_passes_an_axe_audit_and_reads_vietnamese_in_chromium(filled, browser, app):
    from sqlalchemy import select

    from storage.models import User
    from studio.extensions import db
    url, wid = filled
    words = english_words()
    with app.app_context():
        names = set(db.session.scalars(select(User.username)))
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    problems = []

    def check(p, path, where=""):
        p.goto(url + path)
        problems.extend(f"{path}{where}: {x}" for x in audit(p) + english(p, words, names))
    for path in ["/login", f"/p/{wid}"]:  # as a citizen, before logging in
        check(page, path)
    login(page, url, "quantri")
    for path in pages(wid):
        check(page, path)
    # A translator's side-by-side editor, and the phone layout of the work page.
    translator = browser.new_page(viewport={"width": 412, "height": 915}, locale="vi-VN")
    login(translator, url, "dichgia")
    for path in (f"/works/{wid}", f"/works/{wid}/translations"):
        check(translator, path, " (phone)")
    # The commune's operator: the week with its offers and forms, on a desk and on a phone.
    for width, where in ((1280, ""), (412, " (phone)")):
        operator = browser.new_page(viewport={"width": width, "height": 900}, locale="vi-VN")
        login(operator, url, "vanhanh", lands="/programme")
        check(operator, "/programme/06079?from=2026-12-07", " (operator" + where + ")")
        check(operator, "/programme/as-run?from=2026-12-07T00:00&to=2026-12-09T00:00", " (operator" + where + ")")
    assert not problems, "\n".join(problems)
    # The same reading of the page finds the English interface when a user picks it (the check can fail).
    page.goto(f"{url}/lang/en?next=/works")
    assert len(english(page, words, names)) > 10


def test_the_keyboard_reaches_every_control_of_the_work_form_with_a_visible_focus(filled, browser):
    url, wid = filled
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    login(page, url, "bientap")
    page.goto(f"{url}/works/{wid}/edit")
    page.locator("details").evaluate("d => d.open = true")
    controls = page.evaluate("""() => [...document.querySelectorAll(`main input:not([type=hidden]), main select,
        main textarea, main button, main a[href], main summary`)].filter(e => e.offsetParent !== null && !e.disabled)
        .map(e => e.outerHTML.slice(0, 80))""")
    reached, focus_styles = set(), []
    page.locator("body").focus()
    for _ in range(len(controls) + 60):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
            // Date and time fields: Chromium highlights the focused part (day, month, hour...) itself.
            const segmented = /^(date|time|datetime-local|month|week)$/.test(e.type || '');
            return {html: e.outerHTML.slice(0, 80), inMain: !!e.closest('main'),
                    outline: segmented || (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)}; }""")
        if info["inMain"]:
            reached.add(info["html"])
            focus_styles.append((info["html"], info["outline"]))
    missing = [c for c in controls if c not in reached]
    assert not missing, missing
    assert all(ok for _, ok in focus_styles), [h for h, ok in focus_styles if not ok][:5]
    page.keyboard.press("Shift+Tab")
    page.screenshot(path=str(ARTIFACTS / "keyboard-focus.png"))
