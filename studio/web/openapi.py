"""The OpenAPI 3.1 document for /api/v1, and the validation of request bodies against it.

Kept beside the routes; `tests/web/test_api.py` checks that they match, and
`tests/test_api_conformance.py` runs schemathesis over it against a real `studio serve`. Every status an
operation can answer is listed, every 2xx answer has a schema, and the JSON bodies the API takes are
checked against the same schemas (`validate_body`, through the `jsonschema` package) before any service
sees them, so a wrong type is a 400 naming the field, never a 500.
"""
from __future__ import annotations

from functools import lru_cache

from media_pipeline.profiles import CHANNELS, ENDPOINT_KINDS
from storage.models import INT64_MAX, JOB_STATES, PRIORITIES, STATES, WORK_KINDS

ACTIONS = ["submit", "request_changes", "approve", "publish", "retract"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


_ERR = {"description": "Error", "content": _json(_ref("Error"))}
_DESCR = {400: "Invalid input (the error names the field)", 401: "No valid token", 403: "The role is missing",
          404: "Not found", 409: "Conflict: the version changed or the state does not allow it",
          413: "Too large", 415: "Not a supported file type", 429: "Too many requests: wait and try again",
          503: "The object store is unavailable"}


def _op(summary: str, ok: str = "200", schema: dict | None = None, body: dict | str | None = None,
        params: list | None = None, errors=(400, 401, 403, 404), links: dict | None = None,
        op_id: str | None = None) -> dict:
    ok_resp = {"description": "OK", "content": _json(schema or {"type": "object"})}
    if links:
        ok_resp["links"] = links
    op = {"summary": summary, "responses": {ok: ok_resp}}
    if op_id:
        op["operationId"] = op_id
    for code in errors:
        op["responses"][str(code)] = {**_ERR, "description": _DESCR.get(code, "Error")}
    if body == "file":
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           "role": {"type": "string", "enum": ["attachment", "narration"]},
                           "language": {"type": "string"}}}}}}
    elif body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema or {"type": "string"}}


def _id(minimum: int = 1) -> dict:
    return {"type": "integer", "minimum": minimum, "maximum": INT64_MAX}


def _p(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _id()}


def _link(op_id: str, **params: str) -> dict:
    return {"operationId": op_id, "parameters": params}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_NSTR = {"type": ["string", "null"]}
_NINT = {"type": ["integer", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(props: dict, required=None, extra: bool = True) -> dict:
    out = {"type": "object", "properties": props, "required": list(required if required is not None else props)}
    if not extra:
        out["additionalProperties"] = False
    return out


def _list_of(item: dict) -> dict:
    return _obj({"items": {"type": "array", "items": item}})


def work_fields(language_codes: list[str] | None) -> dict:
    """The editable fields of a work; source_language lists the registry's codes when they are given."""
    lang = {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"}
    if language_codes:
        lang = {"type": "string", "enum": sorted(language_codes)}
    return {
        "kind": {"type": "string", "enum": list(WORK_KINDS)},
        "title": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": r"\S"},
        "summary": _STR,
        "body": {"type": "string", "maxLength": 2_000_000, "description": "Markdown; rendered and sanitised"},
        "source_language": lang,
        "topics": {"type": "array", "items": _STR},
        "channels": {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}},
        "priority": {"type": "string", "enum": list(PRIORITIES)},
        "valid_from": {**_NTIME, "description": "valid_until must be after it"},
        "valid_until": _NTIME,
        "time_slots": {"type": "array", "items": {"type": "string",
                                                   "pattern": "^([01]\\d|2[0-3]):[0-5]\\d-([01]\\d|2[0-3]):[0-5]\\d$"}},
        "area_ids": {"type": "array", "items": _id(), "description": "ids of existing areas"},
        "area_codes": {"type": "array", "items": {"type": "string", "maxLength": 32},
                       "description": "official codes of existing areas (with area_ids: both count)"},
        "meta": {"type": "object", "additionalProperties": _STR},
        "chapters": {"type": "array", "items": _obj({"title": _STR, "body": _STR}, required=[])},
    }


def schemas(language_codes: list[str] | None = None) -> dict:
    """components.schemas: request bodies and answers."""
    fields = work_fields(language_codes)
    local_minute = r"^\d{4}-\d\d-\d\dT\d\d:\d\d[+-]\d\d:\d\d(:\d\d)?$"  # historic dates: LMT +07:06:40
    answer_fields = {**fields, **{k: {"type": ["string", "null"], "pattern": local_minute,
                                      "description": "local time in the studio's zone with its offset, to the "
                                                     "minute"} for k in ("valid_from", "valid_until")}}
    work_summary = {k: v for k, v in answer_fields.items() if k not in ("body", "chapters")}
    work_common = {"id": _INT, "state": {"type": "string", "enum": list(STATES)}, "version": _INT,
                   "current_revision": _INT, "approved_revision": _NINT, "published_revision": _NINT,
                   "author": _STR, "created_at": _TIME, "updated_at": _TIME, "url": _STR}
    segment = _obj({"number": _INT, "source": _STR, "target": _STR, "status": _STR}, required=["number", "status"])
    translation_summary = {"language": _STR, "state": _STR, "title": _STR, "version": _INT,
                           "source_revision": _INT, "progress": {"type": "object"}, "updated_at": _TIME}
    job = _obj({"id": _INT, "kind": _STR, "work_id": _NINT, "language": _NSTR, "profile": _NSTR,
                "priority": _STR, "state": {"type": "string", "enum": list(JOB_STATES)},
                "progress": {"type": "number"}, "attempts": _INT, "rendition_id": _NINT,
                "cached": {"type": ["boolean", "null"]},
                "error": {"oneOf": [{"type": "null"}, _obj({"code": _STR, "message": _STR})]},
                "created_at": _NTIME, "started_at": _NTIME, "finished_at": _NTIME, "url": _STR})
    asset = _obj({"id": _INT, "work_id": _INT, "kind": _STR, "name": _STR, "original_name": _STR, "mime": _STR,
                  "size": _INT, "sha256": _STR, "width": _NINT, "height": _NINT,
                  "duration_s": {"type": ["number", "null"]}, "created_at": _TIME, "role": _STR,
                  "language": {"type": ["string", "null"]}})
    return {
        "Error": _obj({"error": _obj({"code": _STR, "message": _STR, "field": _STR}, required=["code", "message"])}),
        "WorkCreate": {"type": "object", "required": ["title"],
                       "properties": {**fields, "note": _STR}},
        "WorkUpdate": {"type": "object", "required": ["version"],
                       "properties": {**fields, "version": {**_id(), "description": "the version you read"},
                                      "note": _STR}},
        "Transition": {"type": "object", "required": ["action"],
                       "properties": {"action": {"type": "string", "enum": ACTIONS}, "reason": _STR,
                                      "version": _id()}},
        "Restore": {"type": "object", "properties": {"version": _id()}},
        "RenderRequest": {"type": "object", "properties": {
            "channels": {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}},
            "languages": {"type": "array", "items": _STR}}},
        "TranslationStart": {"type": "object", "required": ["language"], "properties": {"language": {
            "type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
            "description": "a code in the language registry (GET /api/v1/languages)"}}},
        "SegmentSave": {"type": "object", "properties": {"target": _STR, "approve": {"type": "boolean"}}},
        "Reports": {"type": "object", "required": ["reports"], "properties": {"reports": {
            "type": "array", "description": "at most 1000 (413 beyond)", "items": {"type": "object", "required": ["id", "type"], "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": 100},
                "type": {"type": "string", "enum": ["play", "heartbeat"]},
                "package": _INT, "file": _STR, "outcome": _STR, "start": _STR, "end": _STR,
                "scheduled_at": {**_STR, "description": "a play of a programme occurrence: its `at`"},
                "item": {**_INT, "description": "a play of a programme occurrence: its `item_id`"},
                "relay": {"type": "boolean", "description": "a live relay's slot (then no package or file)"},
                "holds": {"type": "array", "items": _INT}}}}}},
        "WorkSummary": _obj({**work_common, **work_summary}),
        "Work": _obj({**work_common, **answer_fields}),
        "WorkList": _obj({"items": {"type": "array", "items": _ref("WorkSummary")}, "total": _INT, "page": _INT,
                          "per_page": _INT}),
        "Revision": _obj({"number": _INT, "author": _STR, "created_at": _TIME, "note": _NSTR,
                          "snapshot": {"type": "object"}}),
        "RevisionList": _list_of(_ref("Revision")),
        "Diff": _obj({"a": _INT, "b": _INT, "changes": {"type": "array", "items": _obj(
            {"field": _STR, "lines": {"type": "array", "items": _STR}})}}),
        "Asset": asset,
        "AssetWithUrl": {"allOf": [asset, _obj({"download_url": _STR})]},
        "AssetList": _list_of(asset),
        "Job": job,
        "JobList": _list_of(_ref("Job")),
        "JobsQueued": _obj({"jobs": {"type": "array", "items": _INT}}),
        "FeedbackCreate": {"type": "object", "required": ["message"], "additionalProperties": False, "properties": {
            "message": {"type": "string", "minLength": 1, "maxLength": 2000},
            "name": {"type": "string", "maxLength": 120}, "phone": {"type": "string", "maxLength": 32},
            "language": {"type": "string", "maxLength": 16}, "publish": {"type": "boolean"},
            "email": {"type": "string", "maxLength": 200, "description": "where to send the answer (with notify)"},
            "notify": {"type": "boolean", "description": "send the answer to `email`"},
            "website": {"type": "string", "maxLength": 200, "description": "leave empty (spam trap)"}}},
        "FeedbackCreated": _obj({"id": _INT, "state": _STR}),
        "AreaCreate": {"type": "object", "required": ["code", "name", "level"], "additionalProperties": False,
                       "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,32}$",
                                               "description": "the official administrative-unit code"},
                                      "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                                      "level": {"type": "string", "enum": ["province", "district", "commune"]},
                                      "parent_code": _NSTR}},
        "Area": _obj({"id": _INT, "code": _STR, "name": _STR, "level": _STR, "parent_code": _NSTR}),
        "AreaList": _list_of(_ref("Area")),
        "EndpointCreate": {"type": "object", "required": ["name", "kind"], "additionalProperties": False,
                           "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200,
                                                   "pattern": r"\S"},
                                          "kind": {"type": "string", "enum": list(ENDPOINT_KINDS)},
                                          "area_code": _NSTR, "display": {"type": "string", "maxLength": 32},
                                          "languages": {"type": "array", "items": _STR},
                                          "zone": {"type": "string", "maxLength": 100,
                                                   "description": "a named group of one commune's loudspeakers"},
                                          "contact": {"type": "string", "maxLength": 300}}},
        "Endpoint": _obj({"id": _INT, "name": _STR, "kind": _STR, "area_code": _NSTR, "display": _STR,
                          "languages": {"type": "array", "items": _STR}, "zone": _STR,
                          "active": {"type": "boolean"}, "token_prefix": _STR}),
        "EndpointCreated": {"allOf": [_ref("Endpoint"), _obj({"token": {
            "type": "string", "description": "shown this once; the studio keeps only its hash"}})]},
        "EndpointList": _list_of(_ref("Endpoint")),
        "FeedbackReply": {"type": "object", "required": ["message"], "additionalProperties": False,
                          "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 2000}}},
        "Feedback": _obj({"id": _INT, "work_id": _NINT, "area_id": _NINT, "source": _STR, "message": _STR,
                          "name": _STR, "phone": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
                          "notify": {"type": "boolean"}, "language": _STR, "publish": {"type": "boolean"},
                          "state": {"type": "string", "enum": ["new", "assigned", "answered", "closed"]},
                          "assignee": {"type": ["string", "null"]}, "answer": {"type": ["string", "null"]},
                          "answered_at": {"type": ["string", "null"]}, "created_at": _STR}),
        "FeedbackList": _list_of(_ref("Feedback")),
        "TranslationSummary": _obj(translation_summary),
        "Translation": _obj({**translation_summary, "segments": {"type": "array", "items": segment}}),
        "TranslationStarted": _obj({**translation_summary, "segments": {"type": "array", "items": segment},
                                    "job": _INT, "machine_job": _INT}, required=list(translation_summary)),
        "TranslationList": _list_of(_ref("TranslationSummary")),
        "Segment": segment,
        "LanguageList": _list_of(_obj({
            "code": _STR, "name_vi": _STR, "name_en": _STR, "script": _NSTR, "note": _NSTR,
            "machine_translation_from": {"type": "array"}, "machine_translation_to": {"type": "array"},
            "speech": {"type": ["boolean", "string", "null", "object"]},
            "speech_recognition": {"type": ["boolean", "string", "null", "object"]}})),
        "Feed": _obj({"generated_at": _STR, "url_ttl_s": _INT, "items": {"type": "array", "items": _obj({
            "package_id": _INT, "work_id": _INT, "version": _INT,
            "priority": {"type": "string", "enum": list(PRIORITIES)}, "valid_from": _NSTR, "valid_until": _NSTR,
            "manifest_url": _STR, "manifest_sha256": _STR,
            "files": {"type": "array", "items": _obj({
                "url": _STR, "sha256": _STR, "size": _INT, "mime": _STR, "role": _STR, "language": _STR,
                "channel": {"type": "string", "enum": list(CHANNELS)}, "profile": _STR,
                "width": _INT, "height": _INT, "duration_s": {"type": "number"}},
                required=["url", "sha256", "size", "mime", "role", "language", "channel", "profile"])}},
            required=["package_id", "work_id", "version", "priority", "files"])},
            "programme": {"type": "array", "items": _OCCURRENCE,
                          "description": "this endpoint's occurrences from the start of today to the end of the "
                                         "7th day after, in playing order"}}, required=["items", "programme"]),
        **programme_schemas(),
        "CapReceived": _obj({
            "work_id": _NINT, "alert_id": _INT, "msg_type": {"type": "string", "enum": ["Alert", "Update", "Cancel"]},
            "translations": {"type": "array", "items": _STR, "description": "the languages of the other <info> "
                             "blocks, each a translation marked as the sender's, ready for an approver"},
            "state": _NSTR, "published": {"type": "boolean"}, "signed": {"type": "boolean"},
            "areas": {"type": "array", "items": _STR}, "unmatched_areas": {"type": "array", "items": _STR},
            "skipped_languages": {"type": "array", "items": _STR}},
            required=["work_id", "alert_id", "msg_type", "translations", "published"]),
        "ReportResult": _obj({"stored": _INT, "duplicates": _INT, "refused": {"type": "array", "items": _obj(
            {"index": _INT, "id": _STR, "code": _STR, "reason": _STR})}}),
    }


_RULE = {"type": ["string", "null"], "maxLength": 500,
         "description": "an RFC 5545 RRULE value, e.g. FREQ=DAILY;BYHOUR=6 or FREQ=WEEKLY;BYDAY=MO,TH;COUNT=8"}
_OCCURRENCE = _obj({"at": _TIME, "item_id": _INT, "play": _INT, "priority": _STR, "interrupt": {"type": "boolean"},
                    "duration_s": {"type": "number"}, "work_id": _NINT, "package_id": _NINT,
                    "files": {"type": "array", "items": {"type": "object"}},
                    "relay": _obj({"url": _STR, "title": _STR})},
                   required=["at", "item_id", "play", "priority", "files"])


def programme_schemas() -> dict:
    """The commune's programme: schedules, offers, items, occurrences, as-run."""
    when = {"start": {**_STR, "description": "ISO 8601 with its offset (without: the studio's time zone)"},
            "rrule": _RULE, "replays": {"type": "integer", "minimum": 0, "maximum": 20},
            "replay_gap_s": {"type": "integer", "minimum": 0, "maximum": 86400}}
    item = {"id": _INT, "schedule_id": _NINT, "work_id": _NINT, "area_code": _STR, "zone": _STR, "origin": _STR,
            "priority": _STR, "state": {"type": "string", "enum": ["offered", "accepted", "declined", "scheduled",
                                                                     "cancelled"]},
            "start": _STR, "rrule": _NSTR, "replays": _INT, "replay_gap_s": _INT, "position": _INT, "title": _STR,
            "relay_url": _NSTR, "duration_s": _NINT, "reason": _NSTR}
    return {
        "ScheduleCreate": {"type": "object", "required": ["area_codes"], "additionalProperties": False,
                           "properties": {"area_codes": {"type": "array", "minItems": 1, "maxItems": 5000,
                                                         "items": {"type": "string", "maxLength": 32}},
                                          "zone": {"type": ["string", "null"], "maxLength": 100}, **when}},
        "Schedule": _obj({"id": _INT, "work_id": _INT, "area_codes": {"type": "array", "items": _STR},
                          "zone": _NSTR, "start": _STR, "rrule": _NSTR, "replays": _INT, "replay_gap_s": _INT,
                          "priority": _STR, "state": _STR,
                          "items": {"type": "array", "items": _obj({"id": _INT, "area_code": _STR, "state": _STR})},
                          "occurrences": {"type": "array", "items": _obj({"at": _TIME, "play": _INT})}}),
        "ProgrammeItem": _obj(item),
        "OfferList": _list_of(_ref("ProgrammeItem")),
        "OfferAccept": {"type": "object", "additionalProperties": False,
                        "properties": {"start": when["start"], "rrule": _RULE}},
        "OfferDecline": {"type": "object", "required": ["reason"], "additionalProperties": False,
                         "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 300}}},
        "ProgrammeItemCreate": {"type": "object", "required": ["area_code", "start"], "additionalProperties": False,
                                "properties": {"area_code": {"type": "string", "maxLength": 32},
                                               "zone": {"type": ["string", "null"], "maxLength": 100},
                                               "work_id": _id(), "relay_url": {"type": "string", "maxLength": 500},
                                               "duration_s": {"type": "integer", "minimum": 1, "maximum": 43200},
                                               "title": {"type": "string", "maxLength": 300},
                                               "priority": {"type": "string", "enum": ["normal", "priority"]},
                                               **when}},
        "ProgrammeItemChange": {"type": "object", "additionalProperties": False, "properties": {
            "position": {"type": "integer", "minimum": 0, "maximum": 1000}, "start": when["start"], "rrule": _RULE,
            "cancel": {"type": "boolean"}}},
        "Programme": _obj({"area_code": _STR, "zone": _NSTR, "from": _TIME, "to": _TIME,
                           "items": {"type": "array", "items": _ref("ProgrammeItem")},
                           "occurrences": {"type": "array", "items": _obj({
                               "at": _TIME, "item_id": _INT, "play": _INT, "priority": _STR, "work_id": _NINT,
                               "title": _STR, "duration_s": {"type": "number"}, "zone": _STR,
                               "clash": {"type": "boolean"}})}}),
        "AsRun": _obj({"from": _TIME, "to": _TIME, "totals": _obj({"played": _INT, "missed": _INT, "pending": _INT}),
                       "total": _INT, "page": _INT, "per_page": _INT,
                       "items": {"type": "array", "items": _obj({
                           "at": _TIME, "item_id": _INT, "play": _INT, "work_id": _NINT, "area_code": _STR,
                           "endpoint_id": _INT, "endpoint": _STR,
                           "state": {"type": "string", "enum": ["played", "missed", "pending", "failed"]}})}}),
    }


def cap_paths() -> dict:
    """CAP in (docs/CAP.md)."""
    op = _op("Take a CAP 1.2 alert in (editors, approvers): checked against the OASIS schema, it becomes an "
             "emergency work in the language of its first <info>, the others its translations; a trusted sender's "
             "signed alert is approved and published at once. 201 for a new alert, 200 for an Update or Cancel of "
             "one received before; 409 for a duplicate (same sender and identifier)", "201", _ref("CapReceived"),
             errors=(400, 401, 403, 404, 409, 413), op_id="receiveCap")
    op["responses"]["200"] = {"description": "An Update or Cancel applied", "content": _json(_ref("CapReceived"))}
    op["requestBody"] = {"required": True, "content": {
        "application/cap+xml": {"schema": {"type": "string"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    return {"/api/v1/cap": {"post": op}}


def programme_paths() -> dict:
    """The commune's programme's operations."""
    sid, iid = _p("schedule_id"), _p("item_id")
    code = {"name": "area_code", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,32}$"}}
    return {
        "/api/v1/works/{work_id}/schedule": {"post": _op(
            "Schedule a published work for areas (editors, approvers): a normal work is offered to each commune's "
            "operators, a priority one is in their programme at once, an emergency plays at once (its start "
            "defaults to now) and interrupts. Answers the schedule with its occurrences over the next 14 days",
            "201", _ref("Schedule"), _ref("ScheduleCreate"), [_p("work_id")], errors=(400, 401, 403, 404),
            op_id="scheduleWork", links={"CancelSchedule": _link("cancelSchedule", schedule_id="$response.body#/id")})},
        "/api/v1/schedules/{schedule_id}/cancel": {"post": _op(
            "Take a schedule out of every commune's programme", schema=_ref("Schedule"), params=[sid],
            errors=(400, 401, 403, 404), op_id="cancelSchedule")},
        "/api/v1/offers": {"get": _op(
            "The province's normal items offered to the caller's communes, with their state", schema=_ref("OfferList"),
            params=[_q("state", {"type": "string", "enum": ["offered", "accepted", "declined", "cancelled"]})],
            errors=(400, 401, 403), op_id="listOffers")},
        "/api/v1/offers/{item_id}/accept": {"post": _op(
            "Accept an offer into the commune's programme, optionally at another start or with another rule "
            "(operators of the commune)", schema=_ref("ProgrammeItem"), body=_ref("OfferAccept"), params=[iid],
            op_id="acceptOffer")},
        "/api/v1/offers/{item_id}/decline": {"post": _op(
            "Decline an offer, saying why (operators of the commune)", schema=_ref("ProgrammeItem"),
            body=_ref("OfferDecline"), params=[iid], op_id="declineOffer")},
        "/api/v1/programme/items": {"post": _op(
            "Add the commune's own item: a published work or a live relay (relay_url, duration_s, an optional "
            "fallback work_id)", "201", _ref("ProgrammeItem"), _ref("ProgrammeItemCreate"), op_id="addProgrammeItem",
            links={"ChangeItem": _link("changeProgrammeItem", item_id="$response.body#/id")})},
        "/api/v1/programme/items/{item_id}": {"patch": _op(
            "Change an item of the commune's programme: its order in the slot (position), its start and rule (items "
            "the commune accepted or added), or cancel the commune's own", schema=_ref("ProgrammeItem"),
            body=_ref("ProgrammeItemChange"), params=[iid], op_id="changeProgrammeItem")},
        "/api/v1/areas/{area_code}/programme": {"get": _op(
            "An area's programme: its items and their occurrences from `from` (default: today) over `days` (1-31, "
            "default 7), with clashes marked", schema=_ref("Programme"),
            params=[code, _q("zone"), _q("from"), _q("days", {"type": "integer", "minimum": 1, "maximum": 31})],
            op_id="areaProgramme")},
        "/api/v1/areas/{area_code}/schedule.ics": {"get": {**_op(
            "An area's programme as an RFC 5545 calendar (text/calendar)", params=[code], op_id="areaCalendar"),
            "responses": {"200": {"description": "OK", "content": {"text/calendar": {"schema": _STR}}},
                          **{str(c): {**_ERR, "description": _DESCR[c]} for c in (401, 403, 404)}}}},
        "/api/v1/feed/schedule.ics": {"get": {
            "summary": "This endpoint's programme as an RFC 5545 calendar (text/calendar): one VEVENT per item, "
                       "RRULE where it repeats, TZID, UID work-<work id>-<item id>@studio",
            "operationId": "feedCalendar", "security": [{"endpoint_token": []}],
            "responses": {"200": {"description": "OK", "content": {"text/calendar": {"schema": _STR}}},
                          "401": {**_ERR, "description": _DESCR[401]}}}},
        "/api/v1/as-run": {"get": _op(
            "Proof of play: each occurrence from `from` to `to` (at most 31 days) on each endpoint, played, missed "
            "(no play reported within an hour), failed or pending; ?format=csv for a file",
            schema=_ref("AsRun"),
            params=[_q("area_code"), _q("from", required=True), _q("to", required=True),
                    _q("state", {"type": "string", "enum": ["played", "missed", "pending", "failed"]}),
                    _q("format", {"type": "string", "enum": ["json", "csv"]}),
                    _q("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 1000})],
            errors=(400, 401, 403, 404), op_id="asRun")},
    }


def spec(language_codes: list[str] | None = None) -> dict:
    """Build the document (source_language lists the registry's codes when they are given)."""
    wid, num = _p("work_id"), _p("number")
    lang = {"name": "language", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    work_links = {
        "GetWork": _link("getWork", work_id="$response.body#/id"),
        "SaveWork": _link("saveWork", work_id="$response.body#/id"),
        "ListRevisions": _link("listRevisions", work_id="$response.body#/id"),
        "Transition": _link("transition", work_id="$response.body#/id"),
        "ListAssets": _link("listAssets", work_id="$response.body#/id"),
        "UploadAsset": _link("uploadAsset", work_id="$response.body#/id"),
        "QueueRenders": _link("queueRenders", work_id="$response.body#/id"),
        "WorkJobs": _link("workJobs", work_id="$response.body#/id"),
        "ListTranslations": _link("listTranslations", work_id="$response.body#/id"),
        "StartTranslation": _link("startTranslation", work_id="$response.body#/id"),
        "Diff": _link("diff", work_id="$response.body#/id", a="1", b="$response.body#/current_revision"),
        "GetRevision": _link("getRevision", work_id="$response.body#/id",
                             number="$response.body#/current_revision"),
    }
    work = _ref("Work")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Studio API", "version": "1",
                 "description": "Works, revisions, assets, workflow and translations. Authenticate with a personal "
                                "API token (Account → API tokens) as `Authorization: Bearer st_...`. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"field\"?}}` in the token owner's language."},
        "components": {
            "x-channels": {name: list(c.profiles) for name, c in CHANNELS.items()},
            "x-endpoint-kinds": {name: {"channels": list(k.channels), "display": k.screen}
                                 for name, k in ENDPOINT_KINDS.items()},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"},
                                "endpoint_token": {"type": "http", "scheme": "bearer",
                                                   "description": "a distribution endpoint's token (ep_...)"}},
            "schemas": schemas(language_codes),
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {**_op("This document", errors=()), "security": []}},
            "/api/v1/works": {
                "get": _op("Search works", schema=_ref("WorkList"), op_id="searchWorks", params=[
                    _q("q"), _q("state", {"type": "string", "enum": list(STATES)}),
                    _q("kind", {"type": "string", "enum": list(WORK_KINDS)}), _q("language"),
                    _q("area", _id()), _q("author"), _q("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
                    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 100})], errors=(400, 401, 403)),
                "post": _op("Create a work in draft", "201", work, _ref("WorkCreate"), errors=(400, 401, 403),
                            links=work_links, op_id="createWork"),
            },
            "/api/v1/works/{work_id}": {
                "get": _op("Get a work", schema=work, params=[wid], op_id="getWork"),
                "put": _op("Save a new revision (send the version you read)", schema=work, body=_ref("WorkUpdate"),
                           params=[wid], errors=(400, 401, 403, 404, 409), op_id="saveWork"),
                "patch": _op("Same as PUT", schema=work, body=_ref("WorkUpdate"), params=[wid],
                             errors=(400, 401, 403, 404, 409), op_id="patchWork"),
            },
            "/api/v1/works/{work_id}/revisions": {"get": _op("List revisions", schema=_ref("RevisionList"),
                                                             params=[wid], op_id="listRevisions")},
            "/api/v1/works/{work_id}/revisions/{number}": {"get": _op(
                "Get a revision", schema=_ref("Revision"), params=[wid, num], op_id="getRevision")},
            "/api/v1/works/{work_id}/revisions/{number}/restore": {
                "post": _op("Restore a revision as a new one", schema=work, body=_ref("Restore"), params=[wid, num],
                            errors=(400, 401, 403, 404, 409), op_id="restoreRevision")},
            "/api/v1/works/{work_id}/diff": {"get": _op(
                "Diff two revisions", schema=_ref("Diff"), op_id="diff",
                params=[wid, _q("a", _id(), required=True), _q("b", _id(), required=True)])},
            "/api/v1/works/{work_id}/transitions": {
                "post": _op("Workflow action: submit, request_changes, approve, publish, retract", schema=work,
                            body=_ref("Transition"), params=[wid], errors=(400, 401, 403, 404, 409),
                            op_id="transition")},
            "/api/v1/works/{work_id}/assets": {
                "get": _op("List assets", schema=_ref("AssetList"), params=[wid], op_id="listAssets"),
                "post": _op("Upload a picture, audio or video (checked by content)", "201", _ref("Asset"), "file",
                            [wid], errors=(400, 401, 403, 404, 413, 415, 503), op_id="uploadAsset",
                            links={"GetAsset": _link("getAsset", asset_id="$response.body#/id")}),
            },
            "/api/v1/assets/{asset_id}": {"get": _op("Asset metadata with a one-hour download URL",
                                                     schema=_ref("AssetWithUrl"), params=[_p("asset_id")],
                                                     op_id="getAsset")},
            "/api/v1/feed": {"get": {**_op(
                "The endpoint's feed: live packages for its kind and area, emergencies first (their `playback` says "
                "they interrupt and play at once), each file with a presigned URL (Range works), sha256 and size. "
                "Send If-None-Match with the last ETag: 304 when unchanged. With ?wait=N (1-60) and If-None-Match, "
                "the answer comes as soon as this endpoint's feed changes, or as 304 after N seconds.",
                schema=_ref("Feed"), op_id="feed",
                params=[_q("wait", {"type": "integer", "minimum": 0, "maximum": 60})], errors=(400, 401)),
                "security": [{"endpoint_token": []}]}},
            "/api/v1/works/{work_id}/renders": {
                "post": _op("Queue renders: {\"channels\": [...], \"languages\": [...]} (both optional: the work's "
                            "channels, its source language). Answers 202 with {\"jobs\": [ids]}", "202",
                            _ref("JobsQueued"), _ref("RenderRequest"), [wid], errors=(400, 401, 403, 404, 409),
                            op_id="queueRenders",
                            links={"GetJob": _link("getJob", job_id="$response.body#/jobs/0"),
                                   "CancelJob": _link("cancelJob", job_id="$response.body#/jobs/0")})},
            "/api/v1/works/{work_id}/jobs": {"get": _op("A work's jobs, newest first", schema=_ref("JobList"),
                                                        params=[wid], op_id="workJobs")},
            "/api/v1/jobs/{job_id}": {"get": _op("A job: kind, state (waiting, queued, running, succeeded, failed, "
                                                 "cancelled), progress, error {code, message}", schema=_ref("Job"),
                                                 params=[_p("job_id")], op_id="getJob")},
            "/api/v1/jobs/{job_id}/cancel": {"post": _op("Cancel a job; a running one stops within seconds",
                                                         schema=_ref("Job"), params=[_p("job_id")],
                                                         errors=(400, 401, 403, 404, 409), op_id="cancelJob")},
            "/api/v1/areas": {
                "get": _op("Every area by code: province, district (optional), commune", schema=_ref("AreaList"),
                           errors=(401,), op_id="listAreas"),
                "post": _op("Add an area under the area with parent_code (admins)", "201", _ref("Area"),
                            _ref("AreaCreate"), errors=(400, 401, 403, 404, 409), op_id="createArea"),
            },
            "/api/v1/endpoints": {
                "get": _op("Every endpoint (admins)", schema=_ref("EndpointList"), errors=(401, 403),
                           op_id="listEndpoints"),
                "post": _op("Register an endpoint in the area with area_code (admins); the answer carries its "
                            "token, once", "201", _ref("EndpointCreated"), _ref("EndpointCreate"),
                            errors=(400, 401, 403), op_id="createEndpoint"),
            },
            "/api/v1/works/{work_id}/feedback": {"post": {**_op(
                "A citizen's feedback on a published work, without an account (a kiosk or portal may send its "
                "endpoint token); throttled per sender", "201", _ref("FeedbackCreated"), _ref("FeedbackCreate"),
                [wid], errors=(400, 401, 404, 429), op_id="postFeedback"),
                "security": [{}, {"endpoint_token": []}]}},
            "/api/v1/feedback": {"get": _op(
                "Feedback on the works of the caller's areas, newest first (phone numbers only to the assignee "
                "and admins)", schema=_ref("FeedbackList"),
                params=[_q("state", {"type": "string", "enum": ["new", "assigned", "answered", "closed"]})],
                errors=(400, 401, 403), op_id="listFeedback")},
            "/api/v1/feedback/{feedback_id}/reply": {"post": _op(
                "Answer a citizen's message: {\"message\"}", schema=_ref("Feedback"), body=_ref("FeedbackReply"),
                params=[_p("feedback_id")], errors=(400, 401, 403, 404, 409), op_id="replyFeedback")},
            "/api/v1/reports": {"post": {**_op(
                "Playback reports and heartbeats, each with a client-chosen id (a resent id is stored once). Answers "
                "{stored, duplicates, refused: [{index, id, code, reason}]}: a play of a package or file this "
                "endpoint was never sent is refused", schema=_ref("ReportResult"), body=_ref("Reports"),
                errors=(400, 401, 413), op_id="reports"),
                "security": [{"endpoint_token": []}]}},
            "/api/v1/languages": {"get": _op("Language registry with machine translation, speech and speech "
                                             "recognition per language", schema=_ref("LanguageList"),
                                             errors=(401, 403), op_id="languages")},
            "/api/v1/works/{work_id}/translations": {
                "get": _op("List a work's translations with progress", schema=_ref("TranslationList"),
                           params=[wid], op_id="listTranslations"),
                "post": _op("Start a translation: {\"language\"}; segments prefilled from memory and machine "
                            "translation", "201", _ref("TranslationStarted"), _ref("TranslationStart"), [wid],
                            errors=(400, 401, 403, 404, 409), op_id="startTranslation",
                            links={"GetTranslation": _link("getTranslation", work_id="$request.path.work_id",
                                                           language="$response.body#/language"),
                                   "SaveSegment": _link("saveSegment", work_id="$request.path.work_id",
                                                        language="$response.body#/language", number="1"),
                                   "ApproveTranslation": _link("approveTranslation", work_id="$request.path.work_id",
                                                               language="$response.body#/language")}),
            },
            "/api/v1/works/{work_id}/translations/{language}": {
                "get": _op("A translation with its segments (status: empty, machine, memory, edited, approved, "
                           "stale)", schema=_ref("Translation"), params=[wid, lang], op_id="getTranslation")},
            "/api/v1/works/{work_id}/translations/{language}/segments/{number}": {
                "put": _op("Save a segment: {\"target\", \"approve\"}", schema=_ref("Segment"),
                           body=_ref("SegmentSave"), params=[wid, lang, num], errors=(400, 401, 403, 404, 409),
                           op_id="saveSegment")},
            "/api/v1/works/{work_id}/translations/{language}/approve": {
                "post": _op("Approve the translation (approvers; every segment approved first)",
                            schema=_ref("TranslationSummary"), params=[wid, lang], errors=(400, 401, 403, 404, 409),
                            op_id="approveTranslation")},
            **programme_paths(),
            **cap_paths(),
        },
    }


@lru_cache(maxsize=64)
def _validator(schema_name: str, language_codes: tuple[str, ...]):
    from jsonschema import Draft202012Validator

    every = schemas(list(language_codes))
    return Draft202012Validator({**every[schema_name], "components": {"schemas": every}})


def validate_body(data, schema_name: str, language_codes: list[str] | None = None) -> None:
    """Check a JSON body against components.schemas[schema_name]; raise ValidationError naming the field."""
    from jsonschema.exceptions import best_match

    from studio.errors import N_, ValidationError

    error = best_match(_validator(schema_name, tuple(language_codes or ())).iter_errors(data))
    if error is None:
        return
    path = list(error.absolute_path)
    if error.validator == "required":
        path.append(next(r for r in error.validator_value if r not in error.instance))
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
    field = field or "body"
    messages = {
        "required": N_("%(field)s is required."),
        "type": N_("%(field)s has the wrong type: it must be %(expected)s."),
        "enum": N_("%(field)s must be one of: %(choices)s."),
        "maxLength": N_("%(field)s is too long."),
        "minLength": N_("%(field)s must not be empty."),
        "pattern": N_("%(field)s is not in the expected form."),
        "maxItems": N_("%(field)s has too many items."),
    }
    expected = error.validator_value if error.validator == "type" else ""
    if isinstance(expected, list):
        expected = " or ".join(expected)
    choices = ", ".join(map(str, error.validator_value)) if error.validator == "enum" else ""
    message = messages.get(error.validator, N_("%(field)s is not valid."))
    raise ValidationError(message, field=field, expected=expected, choices=choices)
