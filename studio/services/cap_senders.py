"""The CAP senders admins trust, each with its policy (cap_in.py says what the policies do)."""
from __future__ import annotations

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import CapSender
from studio.errors import N_, NotFound, ValidationError
from studio.services import Caller, audit
from studio.services.accounts import require_role

POLICIES = ("draft", "publish")


def all_senders(session: Session) -> list[CapSender]:
    """Every known sender, by sender id."""
    return list(session.scalars(select(CapSender).order_by(CapSender.sender)))


def _certificate(pem: str) -> str:
    pem = (pem or "").strip()
    if not pem:
        return ""
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise ValidationError(N_("The certificate is not a PEM X.509 certificate (-----BEGIN CERTIFICATE-----)."),
                              field="certificate") from None
    return pem + "\n"


def save(session: Session, caller: Caller, data: dict, sender_id: int | None = None) -> CapSender:
    """Add a sender or change one (admins): sender, name, policy, certificate, require_signature."""
    require_role(caller, "admin")
    ident = (data.get("sender") or "").strip()
    if not ident or any(c in ident for c in " ,<&"):
        raise ValidationError(N_("The sender is the alerts' <sender> value, without spaces or commas."),
                              field="sender")
    policy = data.get("policy") or "draft"
    if policy not in POLICIES:
        raise ValidationError(N_("Unknown policy: %(p)s."), field="policy", p=policy)
    cert = _certificate(data.get("certificate", ""))
    if policy == "publish" and not cert:
        raise ValidationError(N_("Publishing without a person needs the sender's certificate, to verify the "
                                 "alerts' signatures."), field="certificate")
    require = str(data.get("require_signature", "")).lower() in ("1", "true", "on", "yes")
    if require and not cert:
        raise ValidationError(N_("Requiring a signature needs the sender's certificate, to verify it."),
                              field="certificate")
    row = session.get(CapSender, sender_id) if sender_id else None
    if sender_id and row is None:
        raise NotFound(N_("No such sender."))
    other = session.scalar(select(CapSender).where(CapSender.sender == ident))
    if other is not None and other is not row:
        raise ValidationError(N_("The sender %(s)s is already in the list."), field="sender", s=ident)
    if row is None:
        row = CapSender(sender=ident)
        session.add(row)
    row.sender, row.name, row.policy, row.certificate = ident, (data.get("name") or "").strip()[:200], policy, cert
    row.require_signature = require
    session.flush()
    audit.record(session, caller, "cap.sender_save", "cap_sender", row.id, sender=ident, policy=policy,
                 certificate=bool(cert), require_signature=row.require_signature)
    return row


def delete(session: Session, caller: Caller, sender_id: int) -> None:
    """Remove a sender (its alerts are then drafts for approval, as anyone's)."""
    require_role(caller, "admin")
    row = session.get(CapSender, sender_id)
    if row is None:
        raise NotFound(N_("No such sender."))
    audit.record(session, caller, "cap.sender_delete", "cap_sender", row.id, sender=row.sender)
    session.delete(row)
