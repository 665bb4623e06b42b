"""The OpenAPI 3.1 document for /api/v1 (kept beside the routes; a test checks they match)."""
from __future__ import annotations

_ERR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, ok: str = "200", body: str | None = None, params: list | None = None, errors=(401, 403, 404)):
    op = {"summary": summary, "responses": {ok: {"description": "OK", "content": {"application/json": {}}}}}
    for code in errors:
        op["responses"][str(code)] = _ERR
    if body == "json":
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    elif body == "file":
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, typ: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": typ}}


def _p(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


CHANNELS = ["loudspeaker", "eboard", "border_screen", "web", "epub"]
WORK_FIELDS = {
    "kind": {"type": "string", "enum": ["article", "radio_bulletin", "video_report", "eboard_notice", "publication"]},
    "title": {"type": "string", "maxLength": 300}, "summary": {"type": "string"},
    "body": {"type": "string", "description": "Markdown; rendered and sanitised"},
    "source_language": {"type": "string", "default": "vi"}, "topics": {"type": "array", "items": {"type": "string"}},
    "channels": {"type": "array", "items": {"type": "string", "enum": CHANNELS}},
    "priority": {"type": "string", "enum": ["normal", "priority", "emergency"]},
    "valid_from": {"type": ["string", "null"], "format": "date-time"},
    "valid_until": {"type": ["string", "null"], "format": "date-time"},
    "time_slots": {"type": "array", "items": {"type": "string", "pattern": "^\\d\\d:\\d\\d-\\d\\d:\\d\\d$"}},
    "area_ids": {"type": "array", "items": {"type": "integer"}},
    "meta": {"type": "object"}, "chapters": {"type": "array", "items": {"type": "object"}},
}


def spec() -> dict:
    """Build the document."""
    wid, num = _p("work_id"), _p("number")
    lang = {"name": "language", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Studio API", "version": "1",
                 "description": "Works, revisions, assets, workflow and translations. Authenticate with a personal API token "
                                "(Account → API tokens) as `Authorization: Bearer st_...`. Errors are "
                                "`{\"error\": {\"code\", \"message\", \"field\"?}}`."},
        "components": {
            "x-channels": CHANNELS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"},
                                "endpoint_token": {"type": "http", "scheme": "bearer",
                                                   "description": "a distribution endpoint's token (ep_...)"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}},
                "WorkInput": {"type": "object", "properties": {**WORK_FIELDS, "version": {"type": "integer"},
                                                               "note": {"type": "string"}}},
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/openapi.json": {"get": {**_op("This document", errors=()), "security": []}},
            "/api/v1/works": {
                "get": _op("Search works", params=[_q("q"), _q("state"), _q("kind"), _q("language"),
                                                   _q("area", "integer"), _q("author"), _q("page", "integer"),
                                                   _q("per_page", "integer")]),
                "post": _op("Create a work in draft", "201", "json", errors=(400, 401, 403)),
            },
            "/api/v1/works/{work_id}": {
                "get": _op("Get a work", params=[wid]),
                "put": _op("Save a new revision (send the version you read)", body="json", params=[wid],
                           errors=(400, 401, 403, 404, 409)),
                "patch": _op("Same as PUT", body="json", params=[wid], errors=(400, 401, 403, 404, 409)),
            },
            "/api/v1/works/{work_id}/revisions": {"get": _op("List revisions", params=[wid])},
            "/api/v1/works/{work_id}/revisions/{number}": {"get": _op("Get a revision", params=[wid, num])},
            "/api/v1/works/{work_id}/revisions/{number}/restore": {
                "post": _op("Restore a revision as a new one", body="json", params=[wid, num],
                            errors=(400, 401, 403, 404, 409))},
            "/api/v1/works/{work_id}/diff": {"get": _op("Diff two revisions", params=[wid, _q("a", "integer"),
                                                                                      _q("b", "integer")])},
            "/api/v1/works/{work_id}/transitions": {
                "post": _op("Workflow action: submit, request_changes, approve, publish, retract", body="json",
                            params=[wid], errors=(400, 401, 403, 404, 409))},
            "/api/v1/works/{work_id}/assets": {
                "get": _op("List assets", params=[wid]),
                "post": _op("Upload a picture, audio or video (checked by content)", "201", "file", [wid],
                            errors=(400, 401, 403, 404, 413, 415)),
            },
            "/api/v1/assets/{asset_id}": {"get": _op("Asset metadata with a one-hour download URL",
                                                     params=[_p("asset_id")])},
            "/api/v1/feed": {"get": {**_op("The endpoint's feed: live packages for its kind and area, emergencies "
                                           "first (their `playback` says they interrupt and play at once), each "
                                           "file with a presigned URL (Range works), sha256 and size. Send "
                                           "If-None-Match with the last ETag: 304 when unchanged. With ?wait=N "
                                           "(1-60) and If-None-Match, the answer comes as soon as this endpoint's "
                                           "feed changes, or as 304 after N seconds.",
                                           params=[{"name": "wait", "in": "query", "required": False,
                                                    "schema": {"type": "integer", "minimum": 0, "maximum": 60}}],
                                           errors=(304, 400, 401)), "security": [{"endpoint_token": []}]}},
            "/api/v1/works/{work_id}/renders": {
                "post": _op("Queue renders: {\"channels\": [...], \"languages\": [...]} (both optional: the work's "
                            "channels, its source language). Answers 202 with {\"jobs\": [ids]}", "202", "json",
                            [wid], errors=(400, 401, 403, 404))},
            "/api/v1/works/{work_id}/jobs": {"get": _op("A work's jobs, newest first", params=[wid])},
            "/api/v1/jobs/{job_id}": {"get": _op("A job: kind, state (waiting, queued, running, succeeded, failed, "
                                                 "cancelled), progress, error {code, message}",
                                                 params=[_p("job_id")])},
            "/api/v1/jobs/{job_id}/cancel": {"post": _op("Cancel a job; a running one stops within seconds",
                                                         params=[_p("job_id")], errors=(401, 403, 404, 409))},
            "/api/v1/reports": {"post": {**_op("Playback reports and heartbeats, each with a client-chosen id "
                                               "(a resent id is stored once). Answers {stored, duplicates, "
                                               "refused: [{index, id, code, reason}]}: a play of a package or file "
                                               "this endpoint was never sent is refused", body="json",
                                               errors=(400, 401, 413)),
                                         "security": [{"endpoint_token": []}]}},
            "/api/v1/languages": {"get": _op("Language registry with machine translation, speech and speech "
                                             "recognition per language", errors=(401, 403))},
            "/api/v1/works/{work_id}/translations": {
                "get": _op("List a work's translations with progress", params=[wid]),
                "post": _op("Start a translation: {\"language\"}; segments prefilled from memory and machine "
                            "translation", "201", "json", [wid], errors=(400, 401, 403, 404, 409)),
            },
            "/api/v1/works/{work_id}/translations/{language}": {
                "get": _op("A translation with its segments (status: empty, machine, memory, edited, approved, "
                           "stale)", params=[wid, lang])},
            "/api/v1/works/{work_id}/translations/{language}/segments/{number}": {
                "put": _op("Save a segment: {\"target\", \"approve\"}", body="json", params=[wid, lang, num],
                           errors=(400, 401, 403, 404, 409))},
            "/api/v1/works/{work_id}/translations/{language}/approve": {
                "post": _op("Approve the translation (approvers; every segment approved first)",
                            params=[wid, lang], errors=(400, 401, 403, 404, 409))},
        },
    }
