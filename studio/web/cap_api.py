"""CAP in the staff's JSON API: POST /api/v1/cap takes a CAP 1.2 alert (studio/services/cap_in.py)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from media_pipeline import cap
from studio.errors import N_, TooLarge, ValidationError
from studio.extensions import csrf, db
from studio.services import cap_in
from studio.web.api import api_auth

bp = Blueprint("cap_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # tokens, not cookies, authenticate here

XML_TYPES = ("application/cap+xml", "application/xml", "text/xml")


def channels() -> list[str]:
    """The channels an alert's work is made for (STUDIO_CAP_CHANNELS)."""
    return [c.strip() for c in current_app.config["CAP_CHANNELS"].split(",") if c.strip()]


def document() -> bytes:
    """The request's CAP document: the body (application/cap+xml) or the multipart field `file`."""
    if (request.content_length or 0) > cap.MAX_BYTES + 64 * 1024:
        raise TooLarge(N_("The document is larger than 1 MiB."), field="document")
    if request.mimetype in XML_TYPES:
        return request.get_data()
    file = request.files.get("file")
    if file is None:
        raise ValidationError(N_("Send the alert as application/cap+xml, or as the multipart field 'file'."),
                              field="file")
    return file.read(cap.MAX_BYTES + 1)


@bp.post("/cap")
@api_auth("editor", "approver")
def receive():
    """Take a CAP 1.2 alert in: 201 with the work it made, 200 for an update or a cancel."""
    got = cap_in.receive(db.session, g.caller, document(), channels())
    db.session.commit()
    return jsonify(got.as_json()), 201 if got.created else 200
