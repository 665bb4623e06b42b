"""The feedback loop by e-mail: staff hear of a new question, an assignee of one given to them, and a citizen who
left an address and agreed receives the answer with a link to it. Vietnamese subjects, a plain-text part in
every mail (services/mail.py sends them from its job)."""
from __future__ import annotations

from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Area, Feedback, User, Work
from studio.services import areas, mail

STAFF = ("editor", "approver")


def _areas_of(session: Session, fb: Feedback) -> list[Area]:
    if fb.area_id is not None:
        area = session.get(Area, fb.area_id)
        return [area] if area else []
    work = session.get(Work, fb.work_id) if fb.work_id else None
    return list(work.areas) if work else []


def staff_for(session: Session, fb: Feedback) -> list[User]:
    """The active staff with an address who answer for this message: those whose areas hold its area (the
    province's staff, without areas, answer for everything)."""
    codes = {a.id for a in _areas_of(session, fb)}
    out = []
    for user in session.scalars(select(User).where(User.active.is_(True), User.email != "").order_by(User.id)):
        if not user.has_role(*STAFF):
            continue
        if "admin" in user.role_set or not user.areas:
            out.append(user)
        elif codes and codes & areas.below(session, *(a.id for a in user.areas)):
            out.append(user)
    return out


def _about(session: Session, fb: Feedback) -> str:
    if fb.work_id:
        work = session.get(Work, fb.work_id)
        return f"«{work.title}»" if work else ""
    area = session.get(Area, fb.area_id) if fb.area_id else None
    return f"trang thông tin {area.name}" if area else ""


def _html(paragraphs: list[str], link: str, label: str) -> str:
    body = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return (f'<!doctype html><html lang="vi"><body>{body}<p><a href="{escape(link)}">{escape(label)}</a></p>'
            "</body></html>")


def new_question(session: Session, fb: Feedback, base: str) -> int:
    """Tell the staff who answer for it (or its assignee) of a new message; returns how many mails."""
    who = [fb.assignee] if fb.assignee is not None and fb.assignee.email else staff_for(session, fb)
    about, link = _about(session, fb), f"{base}/feedback/{fb.id}"
    text = [f"{fb.name or 'Một người dân'} vừa gửi câu hỏi về {about}:", fb.message]
    for user in who:
        mail.queue(session, user.email, f"Câu hỏi mới của người dân về {about}"[:300],
                   "\n\n".join(text + [f"Trả lời tại: {link}"]), _html(text, link, "Mở để trả lời"),
                   kind="feedback_new", feedback_id=fb.id)
    return len(who)


def assigned(session: Session, fb: Feedback, base: str) -> int:
    """Tell the assignee a message was given to them."""
    user = fb.assignee
    if user is None or not user.email:
        return 0
    about, link = _about(session, fb), f"{base}/feedback/{fb.id}"
    text = [f"Câu hỏi của {fb.name or 'một người dân'} về {about} được giao cho bạn trả lời:", fb.message]
    mail.queue(session, user.email, f"Câu hỏi được giao cho bạn: {about}"[:300],
               "\n\n".join(text + [f"Trả lời tại: {link}"]), _html(text, link, "Mở để trả lời"),
               kind="feedback_assigned", feedback_id=fb.id)
    return 1


def answer_link(session: Session, fb: Feedback, base: str) -> str:
    """Where the citizen reads the answer: the answer itself on the site's questions and answers or the item's
    page when the asker agreed to publish it; else the page the question was asked from."""
    area = session.get(Area, fb.area_id) if fb.area_id else None
    if area is not None:
        return f"{base}/x/{area.code}/hoi-dap/" + (f"#q{fb.id}" if fb.publish else "")
    return f"{base}/p/{fb.work_id}#answers" if fb.publish else f"{base}/p/{fb.work_id}"


def answered(session: Session, fb: Feedback, base: str, site_name: str) -> int:
    """Send the answer to the citizen who left an address and agreed."""
    if not (fb.notify and fb.email and fb.answer):
        return 0
    link = answer_link(session, fb, base)
    text = [f"Kính gửi {fb.name or 'ông/bà'},", f"Câu hỏi của bạn: {fb.message}", f"Trả lời: {fb.answer}"]
    if not fb.publish:  # the link then leads to the page it was asked from, where this answer is not shown
        text.append("Theo lựa chọn của bạn, câu hỏi và câu trả lời này không được đăng công khai.")
    mail.queue(session, fb.email, f"Trả lời câu hỏi của bạn — {site_name}"[:300],
               "\n\n".join(text + [f"Xem tại: {link}"]),
               _html(text, link, "Xem câu trả lời" if fb.publish else "Mở trang thông tin"),
               kind="feedback_answer", feedback_id=fb.id)
    return 1
