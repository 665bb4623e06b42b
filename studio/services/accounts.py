"""Users, roles, login throttling and personal API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from media_pipeline.text.unicode import nfc
from storage.models import ROLES, ApiToken, Area, LoginAttempt, User, utcnow
from studio.errors import N_, Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationError
from studio.services import Caller, audit

USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,80}$")
MIN_PASSWORD = 10


def require_role(caller: Caller, *roles: str) -> None:
    """Raise PermissionDenied unless the caller holds one of the roles."""
    if caller.user is None or not caller.user.has_role(*roles):
        raise PermissionDenied(N_("This needs the role: %(roles)s."), roles=", ".join(roles))


def _clean_roles(roles) -> str:
    rs = [r.strip() for r in roles if r and r.strip()]
    bad = [r for r in rs if r not in ROLES]
    if bad:
        raise ValidationError(N_("Unknown role: %(role)s."), field="roles", role=bad[0])
    if not rs:
        raise ValidationError(N_("Give the user at least one role."), field="roles")
    return ",".join(sorted(set(rs)))


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(N_("The password must have at least %(n)s characters."), field="password",
                              n=MIN_PASSWORD)


def _areas(session: Session, area_ids, roles: str) -> list[Area]:
    """The areas a user is bound to, checked: an operator runs the programme of at least one."""
    ids = sorted({int(i) for i in area_ids or () if i not in (None, "", 0, "0")})
    found = list(session.scalars(select(Area).where(Area.id.in_(ids)))) if ids else []
    if len(found) != len(ids):
        raise NotFound(N_("The area does not exist."))
    if "operator" in roles.split(",") and not found:
        raise ValidationError(N_("An operator needs at least one area: the commune whose radio they run."),
                              field="areas")
    return found


def create_user(session: Session, caller: Caller, username: str, password: str, roles, display_name: str = "",
                area_ids=(), system: bool = False) -> User:
    """Create an account (admins only, unless `system` for first-run setup), bound to these areas."""
    if not system:
        require_role(caller, "admin")
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(N_("A user name has 3 to 80 lower-case letters, digits, '.', '_' or '-'."),
                              field="username")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(N_("The user name %(name)s is taken."), name=username)
    _check_password(password)
    display_name = nfc(display_name or "").strip()
    roles = _clean_roles(roles)
    user = User(username=username, display_name=display_name or username, roles=roles,
                password_hash=generate_password_hash(password), areas=_areas(session, area_ids, roles))
    session.add(user)
    session.flush()
    audit.record(session, caller, "user.create", "user", user.id, new_user=username, roles=user.roles,
                 area_codes=[a.code for a in user.areas])
    return user


def update_user(session: Session, caller: Caller, user_id: int, roles=None, active: bool | None = None,
                display_name: str | None = None, area_ids=None, password: str | None = None) -> User:
    """Change a user's roles, status, name, areas (None: keep them) or password (admins only)."""
    require_role(caller, "admin")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such user."))
    changes = {}
    if roles is not None:
        new = _clean_roles(roles)
        if user.id == caller.user.id and "admin" not in new.split(","):
            raise ValidationError(N_("You cannot take the admin role from yourself."), field="roles")
        if new != user.roles:
            changes["roles"] = [user.roles, new]
            user.roles = new
    if active is not None and active != user.active:
        if user.id == caller.user.id and not active:
            raise ValidationError(N_("You cannot deactivate your own account."), field="active")
        changes["active"] = [user.active, active]
        user.active = active
    display_name = nfc(display_name).strip() if display_name is not None else None
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = [user.display_name, display_name]
        user.display_name = display_name
    new_areas = _areas(session, area_ids if area_ids is not None else [a.id for a in user.areas], user.roles)
    if [a.id for a in new_areas] != sorted(a.id for a in user.areas):
        changes["area_codes"] = [[a.code for a in user.areas], [a.code for a in new_areas]]
        user.areas = new_areas
    if password:
        _check_password(password)
        user.password_hash = generate_password_hash(password)  # ends the user's sessions (User.get_id)
        revoke_all_tokens(session, caller, user.id)
        changes["password"] = "changed"
    if changes:
        action = "user.roles" if "roles" in changes else "user.update"
        audit.record(session, caller, action, "user", user.id, changes=changes)
    return user


def authenticate(session: Session, username: str, password: str, ip: str, max_failures: int = 5,
                 window_minutes: int = 15, max_per_address: int = 100) -> User:
    """Check a login; throttle after `max_failures` failures of one user name from one address in the window,
    or `max_per_address` failures from one address whatever the names (a commune office behind one NAT
    shares an address: one person's typos, or a made-up name, must not lock everyone else out)."""
    username = (username or "").strip().lower()
    since = utcnow() - timedelta(minutes=window_minutes)
    recent = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success.is_(False),
                                                                  LoginAttempt.at >= since, LoginAttempt.ip == ip)
    pair = session.scalar(recent.where(LoginAttempt.username == username))
    if pair >= max_failures or session.scalar(recent) >= max_per_address:
        audit.record(session, Caller(None, ip), "login.throttled", "user", "", username=username)
        session.commit()
        raise TooManyRequests(N_("Too many failed logins. Wait %(m)s minutes and try again."), m=window_minutes)
    user = session.scalar(select(User).where(User.username == username))
    ok = user is not None and user.active and check_password_hash(user.password_hash, password or "")
    session.add(LoginAttempt(username=username, ip=ip, success=ok))
    if not ok:
        audit.record(session, Caller(None, ip), "login.failed", "user", user.id if user else "", username=username)
        session.commit()
        raise PermissionDenied(N_("Wrong user name or password."))
    audit.record(session, Caller(user, ip), "login", "user", user.id)
    session.commit()
    return user


def hash_token(token: str) -> str:
    """SHA-256 hex of a token; the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, caller: Caller, name: str) -> tuple[ApiToken, str]:
    """Make a personal API token for the caller; the plain token is returned once and never stored."""
    if caller.user is None:
        raise PermissionDenied(N_("Log in first."))
    name = (name or "").strip()[:100]
    if not name:
        raise ValidationError(N_("Give the token a name."), field="name")
    plain = "st_" + secrets.token_urlsafe(32)
    tok = ApiToken(user_id=caller.user.id, name=name, prefix=plain[:10], token_hash=hash_token(plain))
    session.add(tok)
    session.flush()
    audit.record(session, caller, "token.create", "token", tok.id, name=name)
    return tok, plain


def revoke_token(session: Session, caller: Caller, token_id: int) -> None:
    """Revoke one of the caller's tokens (admins may revoke anyone's)."""
    tok = session.get(ApiToken, token_id)
    if tok is None or (tok.user_id != caller.user.id and not caller.user.has_role("admin")):
        raise NotFound(N_("No such token."))
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        audit.record(session, caller, "token.revoke", "token", tok.id, name=tok.name)


def revoke_all_tokens(session: Session, caller: Caller, user_id: int) -> int:
    """Revoke every token of a user in one action (the user, or an admin); returns how many were revoked."""
    if caller.user is None or (caller.user.id != user_id and not caller.user.has_role("admin")):
        raise PermissionDenied(N_("This needs the role: %(roles)s."), roles="admin")
    live = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))))
    for tok in live:
        tok.revoked_at = utcnow()
    if live:
        audit.record(session, caller, "token.revoke_all", "user", user_id, count=len(live))
    return len(live)


def user_for_token(session: Session, plain: str) -> User | None:
    """The active user owning an unrevoked token, or None."""
    tok = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain or "")))
    if tok is None or tok.revoked_at is not None or not tok.user.active:
        return None
    tok.last_used_at = utcnow()
    return tok.user


def ensure_admin(session: Session, password: str | None) -> str | None:
    """On first run create `admin`; returns the generated password (printed once), or None if users exist."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    generated = password or secrets.token_urlsafe(12)
    create_user(session, Caller(None, "local"), "admin", generated, ["admin"], "Quản trị viên", system=True)
    session.commit()
    return None if password else generated


def all_users(session: Session) -> list[User]:
    """Every account by user name."""
    return list(session.scalars(select(User).order_by(User.username)))


def active_with_role(session: Session, *roles: str) -> list[User]:
    """Active accounts holding any of these roles, by user name."""
    return [u for u in session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
            if u.has_role(*roles)]


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """A user's API tokens, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())))
