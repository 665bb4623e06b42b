"""Login, logout, throttling, CSRF, secure cookies and server-side role checks."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import AuditEvent
from tests.helpers import PASSWORD


def test_login_and_logout(web, users, db_session):
    resp = web.login("editor")
    assert resp.status_code == 302
    assert web.get("/works").status_code == 200
    resp = web.post("/logout")
    assert resp.status_code == 302
    assert web.get("/works").status_code == 302  # back to the login page
    actions = [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "login" in actions and "logout" in actions


def test_wrong_password_is_refused_and_audited(web, users, db_session):
    resp = web.login("editor", "wrong password!")
    assert resp.status_code == 403
    assert "Sai tên đăng nhập hoặc mật khẩu" in resp.get_data(as_text=True)
    ev = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")).one()
    assert ev.username == "editor" and ev.ip == "127.0.0.1"


def test_failed_logins_are_throttled(web, users, app):
    app.config["LOGIN_MAX_FAILURES"] = 3
    for _ in range(3):
        assert web.login("editor", "nope nope nope").status_code == 403
    # Even the right password is refused while throttled.
    resp = web.login("editor", PASSWORD)
    assert resp.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in resp.get_data(as_text=True)


def test_throttling_is_per_name_and_address_with_a_ceiling_per_address(web, make_web, users, app):
    """A made-up name failing five times from a commune's one NAT address does not lock out its colleagues;
    the address is throttled only past its own, higher ceiling."""
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=6)
    stranger = make_web()
    for _ in range(3):
        assert stranger.login("no-such-person", "guess guess").status_code == 403
    assert stranger.login("no-such-person", "guess guess").status_code == 429
    assert web.login("editor", PASSWORD).status_code == 302  # same address, another name: let in
    for _ in range(3):  # 3 + 3 failures from this address
        assert make_web().login("approver", "nope nope nope").status_code == 403
    assert make_web().login("translator", PASSWORD).status_code == 429  # the address's ceiling (6) is reached


@pytest.mark.parametrize("proxies, expected", [("0", "127.0.0.1"), ("1", "203.0.113.7")])
def test_client_address_comes_from_trusted_proxies_only(tmp_path, store_url, proxies, expected):
    """X-Forwarded-For is believed only with STUDIO_TRUSTED_PROXIES set (else anyone could pick an address)."""
    from studio import create_app
    from studio.web.helpers import client_ip
    app = create_app({"S3_URL": store_url, "QUEUE_URL": "memory://"},
                     environ={"STUDIO_INSTANCE": str(tmp_path / "p"), "STUDIO_TRUSTED_PROXIES": proxies})
    seen = {}
    app.add_url_rule("/_ip", "_ip", lambda: seen.setdefault("ip", client_ip()))
    app.test_client().get("/_ip", headers={"X-Forwarded-For": "203.0.113.7"})
    assert seen["ip"] == expected


def test_post_without_csrf_token_is_refused(web, users):
    web.login("editor")
    resp = web.client.post("/works/new", data={"title": "x", "kind": "article"})
    assert resp.status_code == 400
    assert "mã bảo mật" in resp.get_data(as_text=True)
    resp = web.client.post("/works/new", data={"title": "x"}, headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "csrf"


def test_session_cookie_flags(web, users):
    web.login("editor")
    cookie = web.client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_roles_are_enforced_on_the_server(web, users):
    web.login("translator")
    assert web.get("/works").status_code == 200          # translators read
    assert web.get("/works/new").status_code == 403       # but do not author
    assert web.post("/works/new", {"title": "x"}).status_code == 403
    assert web.get("/admin/users").status_code == 403
    assert web.get("/admin/audit").status_code == 403


def test_open_redirect_after_login_is_blocked(web, users):
    web._refresh_token("/login")
    resp = web.client.post("/login?next=//evil.example/x", data={"username": "editor", "password": PASSWORD,
                                                                 "csrf_token": web.token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/works"


def test_inactive_user_cannot_log_in(web, users, db_session):
    from storage.models import User
    db_session.get(User, users["editor"]).active = False
    db_session.commit()
    assert web.login("editor").status_code == 403
