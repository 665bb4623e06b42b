"""Citizens' feedback, the whole loop: from the readers' page, a kiosk (its endpoint token) and the API without an
account; into the inbox of the staff of the work's areas only; assigned, answered and shown under the question
where the citizen agreed; phone numbers seen by the assignee and admins only and erased after the set days;
spam kept out by the hidden field, the throttle and the duplicate check."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.models import Feedback, User, utcnow
from tests.helpers import PASSWORD
from tests.web.test_api import auth, token_for
from tests.services.test_distribution import _endpoint, _login, _publish, province  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def staff(app, users, province):  # noqa: F811 - the fixture imported above
    """An editor of the commune the work is sent to, and one of another district (who must not see it)."""
    from studio.extensions import db
    from studio.services import Caller, accounts, areas
    with app.app_context():
        admin = Caller(db.session.get(User, users["admin"]))
        other = areas.create(db.session, admin, "02.031", "Bắc Mê", "district", province["province"])
        db.session.flush()
        accounts.create_user(db.session, admin, "bientap.xa", PASSWORD, ["editor"], "Biên tập xã",
                             area_ids=[province["commune"]])
        accounts.create_user(db.session, admin, "bientap.bacme", PASSWORD, ["editor"], "Biên tập Bắc Mê",
                             area_ids=[other.id])
        db.session.commit()
    return province


def test_the_feedback_loop(app, make_web, users, staff, db_session):
    wid = _publish(make_web, area_ids=str(staff["commune"]))
    reader = app.test_client()
    page = reader.get(f"/p/{wid}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "message": "Có tiêm cho trẻ 6 tuổi không?", "name": "Bà Lò Thị Mai",
            "phone": "0912 345 678", "publish": "1", "language": "vi", "website": ""}
    assert reader.post(f"/p/{wid}/feedback", data=form).status_code == 302
    # A robot fills the hidden field; the same message twice is refused; the sixth in ten minutes waits.
    reader.post(f"/p/{wid}/feedback", data={**form, "message": "Mua thuốc giá rẻ", "website": "http://spam"})
    again = reader.post(f"/p/{wid}/feedback", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Ý kiến này đã được nhận." in again
    # From a kiosk, with its endpoint token, and from the API without any token.
    kiosk_token = _endpoint(make_web, staff["commune"], kind="kiosk", name="Ki-ốt bưu điện xã")
    client = app.test_client()
    r = client.post(f"/api/v1/works/{wid}/feedback", json={"message": "Điểm tiêm ở đâu?", "language": "vi"},
                    headers=auth(kiosk_token))
    assert r.status_code == 201 and r.get_json()["state"] == "new"
    r = client.post(f"/api/v1/works/{wid}/feedback", json={"message": "Cảm ơn xã.", "phone": "không có số"})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "phone"
    r = client.post(f"/api/v1/works/{wid}/feedback", json={"message": "Cảm ơn xã."})
    assert r.status_code == 201
    assert client.post("/api/v1/works/999999/feedback", json={"message": "x"}).status_code == 404
    rows = db_session.scalars(select(Feedback).order_by(Feedback.id)).all()
    assert [(f.source, f.message) for f in rows] == [("page", "Có tiêm cho trẻ 6 tuổi không?"),
                                                    ("kiosk", "Điểm tiêm ở đâu?"), ("api", "Cảm ơn xã.")]
    assert all(f.sender_hash and "127.0.0.1" not in f.sender_hash for f in rows)  # no address stored
    for i in range(2):  # five from this address in ten minutes ...
        assert client.post(f"/api/v1/works/{wid}/feedback", json={"message": f"Câu hỏi {i}"}).status_code == 201
    throttled = client.post(f"/api/v1/works/{wid}/feedback", json={"message": "Câu hỏi thứ sáu"})
    assert throttled.status_code == 429 and "chờ vài phút" in throttled.get_json()["error"]["message"]

    # The commune's editor sees it; an editor of another district does not, not even by its number.
    local, elsewhere = _login(make_web, "bientap.xa"), _login(make_web, "bientap.bacme")
    inbox = html.unescape(local.get("/feedback").get_data(as_text=True))
    assert "Có tiêm cho trẻ 6 tuổi không?" in inbox and "Điểm tiêm ở đâu?" in inbox
    assert "Có tiêm cho trẻ" not in html.unescape(elsewhere.get("/feedback").get_data(as_text=True))
    first = rows[0].id
    assert elsewhere.get(f"/feedback/{first}").status_code == 404
    # The phone number: hidden until assigned, then shown to the assignee (and admins), never to colleagues.
    assert "0912 345 678" not in local.get(f"/feedback/{first}").get_data(as_text=True)
    assert local.post(f"/feedback/{first}/assign", {}).status_code == 302
    assert "0912 345 678" in local.get(f"/feedback/{first}").get_data(as_text=True)
    assert "0912 345 678" in _login(make_web, "admin").get(f"/feedback/{first}").get_data(as_text=True)
    assert "0912 345 678" not in _login(make_web, "editor").get(f"/feedback/{first}").get_data(as_text=True)
    api_items = make_web().client.get("/api/v1/feedback?state=assigned",
                                      headers=auth(token_for(make_web(), "approver"))).get_json()["items"]
    assert [(i["id"], i["phone"]) for i in api_items] == [(first, None)]
    bad = make_web().client.get("/api/v1/feedback?state=", headers=auth(token_for(make_web(), "approver")))
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "state"
    # A colleague cannot answer what is assigned to someone else; the assignee answers.
    refused = _login(make_web, "editor").post(f"/feedback/{first}/reply", {"message": "Có."}, follow_redirects=True)
    assert "đã giao cho đồng nghiệp" in refused.get_data(as_text=True)
    answer = "Có. Trẻ 6 tuổi được tiêm nhắc lại tại trạm y tế xã sáng thứ Hai."
    assert local.post(f"/feedback/{first}/reply", {"message": answer}).status_code == 302
    public = html.unescape(reader.get(f"/p/{wid}").get_data(as_text=True))
    assert "Có tiêm cho trẻ 6 tuổi không?" in public and answer in public and "Bà Lò Thị Mai" in public
    assert "0912 345 678" not in public
    # Answers through the API; a message the citizen did not agree to publish stays off the page.
    second = rows[2].id
    r = make_web().client.post(f"/api/v1/feedback/{second}/reply", json={"message": "Xin cảm ơn bà con."},
                               headers=auth(token_for(make_web(), "approver")))
    assert r.status_code == 200 and r.get_json()["state"] == "answered"
    assert "Xin cảm ơn bà con." not in reader.get(f"/p/{wid}").get_data(as_text=True)
    # The work page counts its feedback; the old phone numbers are erased when anyone reads the inbox.
    view = html.unescape(local.get(f"/works/{wid}").get_data(as_text=True))
    assert "5 ý kiến, 3 đang chờ trả lời" in view
    db_session.execute(update(Feedback).where(Feedback.id == first).values(created_at=utcnow() - timedelta(days=91)))
    db_session.commit()
    local.get("/feedback")
    db_session.expire_all()
    erased = db_session.get(Feedback, first)
    assert erased.phone == "" and erased.phone_erased_at is not None and erased.answer == answer
    assert "đã xóa" in local.get(f"/feedback/{first}").get_data(as_text=True)
    assert local.post(f"/feedback/{first}/close", {}).status_code == 302
    assert db_session.get(Feedback, first).state in ("answered", "closed")
