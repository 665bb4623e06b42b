"""E-mail: an outbox in the database, sent by the `mail` job through the SMTP server of STUDIO_SMTP_URL.

`queue` adds a message (a plain-text part always, an HTML part when given) and makes sure a mail job is
queued; the job sends every queued message, and when the server cannot be reached it keeps them queued and
fails transiently, so the job system tries again later (10 s, 1 min, 5 min). A message that the server refuses
for itself (a bad address) is marked failed with the server's reason, and the others still go.

Python's smtplib and email packages do the work (the standard library is the well-kept tool here); the URL is
smtp://[user:password@]host[:port] (STARTTLS when the server offers it), or smtps:// for TLS from the start,
with ?from=address for the sender.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Job, MailMessage, utcnow
from studio import jobs
from studio.errors import N_, StudioError

log = logging.getLogger(__name__)
TIMEOUT_S = 20
BATCH = 200


class MailUnavailable(StudioError):
    """The mail server could not be reached: the job tries again."""

    status = 503
    code = "mail_unavailable"
    transient = True


@dataclass(frozen=True)
class Settings:
    """Where mail goes (STUDIO_SMTP_URL; empty: nowhere) and who it is from."""

    url: str = ""
    sender_name: str = "Thông tin cơ sở"

    def sender(self) -> str:
        """The From address: ?from= in the URL, else studio@ the server's host."""
        parts = urlsplit(self.url)
        addr = parse_qs(parts.query).get("from", [""])[0] or f"studio@{parts.hostname or 'localhost'}"
        return formataddr((self.sender_name, addr))


def queue(session: Session, to: str, subject: str, text: str, html: str = "", kind: str = "",
          feedback_id: int | None = None) -> MailMessage | None:
    """Put a message in the outbox (nothing for an empty address) and make sure the mail job will send it."""
    to = (to or "").strip()
    if not to:
        return None
    msg = MailMessage(to=to[:200], subject=subject[:300], text=text, html=html, kind=kind, feedback_id=feedback_id,
                      state="queued", attempts=0, error="")
    session.add(msg)
    # A running job may have read the outbox already: only a queued one is sure to see this message.
    pending = session.scalar(select(Job.id).where(Job.kind == "mail", Job.state == "queued").limit(1))
    if pending is None:
        jobs.create(session, "mail", max_attempts=4, msg="e-mail to send")
    session.flush()
    return msg


def _message(settings: Settings, row: MailMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender(), row.to, row.subject
    msg["Message-ID"] = make_msgid(domain=urlsplit(settings.url).hostname or "localhost")
    msg.set_content(row.text)  # the plain-text part every mail has
    if row.html:
        msg.add_alternative(row.html, subtype="html")
    return msg


def _connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=TIMEOUT_S,
                                context=ssl.create_default_context())
    elif parts.scheme == "smtp":
        smtp = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=TIMEOUT_S)
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
    else:
        raise ValueError(f"STUDIO_SMTP_URL must be smtp:// or smtps://, got {parts.scheme!r}")
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp


def send_queued(session: Session, settings: Settings) -> int:
    """Send the queued messages; returns how many went. MailUnavailable (after recording the attempt) when the
    server cannot be reached."""
    rows = list(session.scalars(select(MailMessage).where(MailMessage.state == "queued")
                                .order_by(MailMessage.id).limit(BATCH)))
    if not rows:
        return 0
    if not settings.url:
        for row in rows:
            row.state, row.error = "off", "STUDIO_SMTP_URL is not set"
        session.commit()
        return 0
    try:
        smtp = _connect(settings.url)
    except (OSError, smtplib.SMTPException) as exc:
        for row in rows:
            row.attempts += 1
            row.error = f"{type(exc).__name__}: {exc}"[:500]
        session.commit()
        log.warning("mail server unreachable (%s); %s messages stay queued", exc, len(rows))
        raise MailUnavailable(N_("The mail server could not be reached; the studio tries again.")) from None
    sent = 0
    try:
        for row in rows:
            row.attempts += 1
            try:
                smtp.send_message(_message(settings, row))
            except smtplib.SMTPRecipientsRefused as exc:
                row.state, row.error = "failed", str(exc)[:500]
            else:
                row.state, row.sent_at, row.error = "sent", utcnow(), ""
                sent += 1
            session.commit()
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent


@jobs.handler("mail", needs=("mail",), timeout=lambda _s, _j: 300)
def run_mail(ctx: jobs.Context, mail: Settings) -> None:
    """The mail job: everything queued, in batches."""
    total = 0
    while True:
        n = send_queued(ctx.session, mail)
        total += n
        if n < BATCH:
            break
    ctx.progress(99, f"{total} e-mails sent")
