"""Login, logout, language choice and personal API tokens."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from studio.extensions import db
from studio.services import accounts, audit
from studio.web.helpers import caller, client_ip, form_errors, start_page

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return start_page()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; failures are throttled per user name and address."""
    if request.method == "POST":
        with form_errors() as failed:
            user = accounts.authenticate(db.session, request.form.get("username", ""),
                                         request.form.get("password", ""), client_ip(),
                                         current_app.config["LOGIN_MAX_FAILURES"],
                                         current_app.config["LOGIN_WINDOW_MINUTES"],
                                         current_app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"])
        if failed:
            return render_template("login.html", username=request.form.get("username", "")), failed.status
        session.clear()  # a fresh session on login: no fixation
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username="")


@bp.post("/logout")
@login_required
def logout():
    """End the session."""
    audit.record(db.session, caller(), "logout", "user", current_user.id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language for this session."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """List, create and revoke personal API tokens; a new token is shown once."""
    new_token = None
    if request.method == "POST":
        with form_errors():
            if request.form.get("revoke_all"):
                n = accounts.revoke_all_tokens(db.session, caller(), current_user.id)
                flash(_("%(n)s tokens revoked.", n=n), "info")
            elif request.form.get("revoke"):
                accounts.revoke_token(db.session, caller(), int(request.form["revoke"]))
                flash(_("Token revoked."), "info")
            else:
                _tok, new_token = accounts.create_token(db.session, caller(), request.form.get("name", ""))
            db.session.commit()
    mine = accounts.tokens_of(db.session, current_user.id)
    return render_template("tokens.html", tokens=mine, new_token=new_token)
