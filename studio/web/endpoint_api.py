"""The endpoints' JSON API under /api/v1: the feed, playback reports, and citizens' feedback (from a kiosk or a
portal with its endpoint token, ep_..., or from nobody in particular). The staff's API is studio/web/api.py.

The long-polled feed is answered before the web framework (studio/web/serving.py); this view answers the
polls that reach Flask and shares its cache (`app.extensions["feeds"]`).
"""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, g, jsonify, request

from studio.errors import N_, TooLarge, ValidationError
from studio.extensions import csrf, db
from studio.services import endpoints, feedback_mail, feeds, occurrences
from studio.services import feedback as feedback_service
from studio.web.helpers import bearer, client_ip, error_response, public_base
from studio.web.helpers import json_body as body
from studio.web.serving import MAX_WAIT_S, parse_wait

bp = Blueprint("endpoint_api", __name__, url_prefix="/api/v1")
# Tokens, not cookies, authenticate here, so a forged cross-site request carries no credentials.
csrf.exempt(bp)


MAX_REPORT_BYTES = 1024 * 1024


def endpoint_auth(view):
    """Require an endpoint's own token (ep_...), active and not rotated away."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        token = bearer()
        ep = endpoints.for_token(db.session, token) if token else None
        if ep is None:
            return error_response(401, "unauthorized", "Send this endpoint's token: Authorization: Bearer ep_...")
        g.endpoint = ep
        return view(*args, **kwargs)
    return wrapped


@bp.post("/works/<int:work_id>/feedback")
def post_feedback(work_id: int):
    """A citizen's feedback on a published work, without an account: {"message", "name", "phone", "language",
    "publish"}. A kiosk or portal sends its endpoint token (ep_...) so the message is counted as theirs."""
    data = body("FeedbackCreate")
    token = bearer()
    endpoint = endpoints.for_token(db.session, token) if token.startswith("ep_") else None
    if token and endpoint is None:
        return error_response(401, "unauthorized", "The endpoint token is not valid; send none to write as a citizen.")
    source = endpoint.kind if endpoint is not None and endpoint.kind in ("kiosk", "portal") else (
        "endpoint" if endpoint is not None else "api")
    fb = feedback_service.submit(db.session, work_id, data, client_ip(), current_app.config["SECRET_KEY"], source,
                                 endpoint)
    feedback_mail.new_question(db.session, fb, public_base())
    db.session.commit()
    return jsonify(id=fb.id, state=fb.state), 201


@bp.get("/feed")
@endpoint_auth
def feed():
    """The packages that apply to this endpoint and its programme over the next 7 days, with presigned download
    URLs; 304 when unchanged."""
    ep = g.endpoint
    try:
        parse_wait(request.args.get("wait"))  # the server held the request that long (studio/web/serving.py)
    except ValueError:
        raise ValidationError(N_("wait must be a whole number of seconds from 0 to %(max)s."), field="wait",
                              max=MAX_WAIT_S) from None
    cache = current_app.extensions["feeds"]
    etag, feed_ = cache.items(db.session, ep.id, ep.kind, ep.area, ep.display, languages=ep.languages, zone=ep.zone)
    current_app.extensions["sightings"].saw(ep.id)  # written in batches: a poll writes nothing itself
    if request.if_none_match.contains(etag):
        resp = current_app.response_class(status=304)
    else:
        resp = current_app.response_class(
            cache.document(current_app.extensions["objectstore"], feed_, feeds.FEED_URL_TTL),
            mimetype="application/json")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.get("/feed/schedule.ics")
@endpoint_auth
def feed_calendar():
    """This endpoint's programme as an RFC 5545 calendar: one VEVENT per item (occurrences.calendar)."""
    ep = g.endpoint
    items = occurrences.items_for(db.session, ep.area, ep.zone or "") if ep.area is not None else []
    ics = occurrences.calendar(db.session, items, ep.name)
    return current_app.response_class(ics, mimetype="text/calendar")


@bp.post("/reports")
@endpoint_auth
def reports():
    """Playback reports and heartbeats: {"reports": [{"id", "type": "play"|"heartbeat", ...}]}."""
    if (request.content_length or 0) > MAX_REPORT_BYTES:
        raise TooLarge(N_("At most %(n)s reports per request."), field="reports", n=endpoints.MAX_REPORTS)
    counts = endpoints.record(db.session, g.endpoint, body("Reports"))
    db.session.commit()
    return jsonify(counts)
