"""What people read for the values the studio stores: one table per kind of value, in the one catalogue.

The database and the API keep short English codes (`loudspeaker`, `submitted`, `border_screen`); a page
never prints them as they are but calls `label(group, value)` (a template global), which gives the
catalogue's words in the reader's language. A value a table does not know (a profile an admin added, a
role of a newer version) is shown as it is, never an error. Every table here is marked with N_ so Babel
extracts it into messages.po.
"""
from __future__ import annotations

from flask_babel import gettext

from studio.errors import N_

LABELS: dict[str, dict[str, str]] = {
    "role": {"admin": N_("Administrator"), "editor": N_("Editor"), "translator": N_("Translator"),
             "approver": N_("Approver"), "operator": N_("Commune radio operator")},
    "programme_state": {"offered": N_("offered"), "scheduled": N_("in the programme"), "declined": N_("declined"),
                        "cancelled": N_("cancelled")},
    "as_run": {"played": N_("played"), "missed": N_("missed"), "pending": N_("pending"),
               "failed": N_("failed")},
    "origin": {"province": N_("from the province"), "commune": N_("the commune's own")},
    "work_state": {"draft": N_("draft"), "submitted": N_("submitted"), "approved": N_("approved"),
                   "published": N_("published"), "retracted": N_("retracted")},
    "work_kind": {"article": N_("Article"), "radio_bulletin": N_("Radio bulletin"),
                  "video_report": N_("Video report"), "eboard_notice": N_("E-board notice"),
                  "publication": N_("Publication")},
    "channel": {"loudspeaker": N_("Loudspeaker radio"), "eboard": N_("Electronic board"),
                "border_screen": N_("Border-gate screen"), "web": N_("Website"), "epub": N_("E-publication"),
                "kiosk": N_("Kiosk"), "portal": N_("Web portal")},
    "endpoint_kind": {"loudspeaker": N_("Loudspeaker"), "eboard": N_("Electronic board"),
                      "border_screen": N_("Border-gate screen"), "kiosk": N_("Kiosk"), "portal": N_("Web portal")},
    "priority": {"normal": N_("Normal"), "priority": N_("Priority"), "emergency": N_("Emergency")},
    "action": {"submit": N_("Submit for approval"), "request_changes": N_("Request changes"),
               "approve": N_("Approve"), "publish": N_("Publish"), "retract": N_("Retract")},
    "job_state": {"waiting": N_("waiting for other jobs"), "queued": N_("queued"), "running": N_("running"),
                  "succeeded": N_("succeeded"), "failed": N_("failed"), "cancelled": N_("cancelled")},
    "package_state": {"queued": N_("being delivered"), "published": N_("in the feeds"),
                      "superseded": N_("replaced by a newer version"), "retracted": N_("retracted"),
                      "failed": N_("failed")},
    "network_state": {"online": N_("online"), "offline": N_("offline"), "never": N_("never connected"),
                      "revoked": N_("revoked")},
    "feedback_state": {"new": N_("new"), "assigned": N_("assigned"), "answered": N_("answered"),
                       "closed": N_("closed")},
    "feedback_source": {"page": N_("web page"), "api": N_("application"), "endpoint": N_("endpoint"),
                        "kiosk": N_("kiosk")},
    "asset_kind": {"image": N_("picture"), "audio": N_("audio"), "video": N_("video"),
                   "narration": N_("narration"), "document": N_("document")},
    "outcome": {"played": N_("played"), "failed": N_("failed"), "skipped": N_("skipped"),
                "rejected": N_("rejected")},
    "job_kind": {"render": N_("rendering"), "narrate": N_("narration (shared by the channels)"),
                 "translate": N_("machine translation"), "publish": N_("publishing"), "feeds": N_("feed update"),
                 "transcribe": N_("transcription"), "cap_poll": N_("polling the CAP sources")},
    "site_kind": {"article": N_("News"), "eboard_notice": N_("Notices"), "radio_bulletin": N_("Radio bulletins"),
                  "video_report": N_("Videos"), "publication": N_("Publications")},
    "cap_msg_type": {"Alert": N_("alert"), "Update": N_("update"), "Cancel": N_("cancel")},
    "cap_outcome": {"draft": N_("awaiting approval"), "published": N_("published"), "cancelled": N_("cancelled")},
    "cap_source_error": {"unreachable": N_("cannot be reached"), "invalid": N_("does not send CAP"),
                         "http_404": N_("not found (HTTP 404)"), "http_500": N_("server error (HTTP 500)"),
                         "http_503": N_("unavailable (HTTP 503)"), "http_403": N_("refused (HTTP 403)")},
    "cap_policy": {"draft": N_("draft for approval"), "publish": N_("approve and publish when signed")},
    "translation_state": {"draft": N_("draft"), "approved": N_("approved")},
    "area_level": {"province": N_("province"), "district": N_("district"), "commune": N_("commune")},
    "profile": {"loudspeaker": N_("Loudspeaker (MP3)"), "eboard-1080p": N_("E-board 1920×1080"),
                "eboard-portrait": N_("E-board, portrait 1080×1920"), "eboard-led-384x192": N_("LED board 384×192"),
                "eboard-led-768x512": N_("LED board 768×512"), "border-screen": N_("Border-gate screen 1920×1080"),
                "web-audio": N_("Website, audio"), "web-video": N_("Website, video 1280×720"),
                "epub": N_("EPUB e-book"), "epub-narrated": N_("EPUB with narration"), "pdf": N_("Print PDF")},
    "profile_field": {"width": N_("Width (px)"), "height": N_("Height (px)"), "fps": N_("Frames per second"),
                      "sample_rate": N_("Sample rate (Hz)"), "channels": N_("Audio channels"),
                      "audio_bitrate": N_("Audio bit rate (bit/s)"), "lufs": N_("Loudness (LUFS)"),
                      "true_peak": N_("True peak (dBTP)"), "max_duration_s": N_("Longest duration (s)"),
                      "caption_languages": N_("Caption languages at once"),
                      "video_crf": N_("Video quality (x264 quantizer, lower is sharper)")},
    "object": {"work": N_("work"), "user": N_("account"), "area": N_("area"), "endpoint": N_("endpoint"),
               "asset": N_("file"), "feedback": N_("feedback"), "translation": N_("translation"),
               "package": N_("package"), "setting": N_("setting"), "token": N_("token"), "job": N_("job"),
               "language": N_("language"), "glossary": N_("glossary"), "profile": N_("profile"),
               "rendition": N_("rendition"), "memory": N_("translation memory"), "schedule": N_("schedule"),
               "programme_item": N_("programme item"), "cap_alert": N_("CAP alert"),
               "cap_sender": N_("CAP sender")},
    "file_role": {"audio": N_("audio"), "video": N_("video"), "srt": N_("SRT captions"), "cap": N_("CAP alert"),
                  "vtt": N_("WebVTT captions"), "epub": N_("EPUB e-book"), "pdf": N_("PDF"), "still": N_("picture"),
                  "image": N_("picture"), "cover": N_("cover")},
    # The notes the studio's own language list came with (an admin's notes are shown as typed).
    "language_note": {n: n for n in (
        N_("Simplified characters, as used across the northern border gates"),
        N_("Other Dao varieties (Kim Mun: mji) can be added"),
        N_("Written in the Vietnamese Hmong Latin orthography"),
        N_("Also written in the Tai Viet script (Tavt); White Tai: twh"))},
    "container": {"mp3": "MP3", "mp4": "MP4", "epub": "EPUB", "pdf": "PDF"},
    "meta": {"publisher": N_("Publisher"), "authors": N_("Authors"), "edition": N_("Edition"),
             "isbn": N_("ISBN"), "licence": N_("Licence"), "series": N_("Series"), "year": N_("Year"),
             "place": N_("Place of publication"), "publication_type": N_("Type (book, leaflet, handbook)"),
             "description": N_("Description"), "subject": N_("Subject")},
    # Fields that audit entries and revision differences name.
    "field": {"title": N_("title"), "kind": N_("kind"), "summary": N_("summary"), "body": N_("text"),
              "chapters": N_("chapters"), "meta": N_("publication details"), "priority": N_("priority"),
              "channels": N_("channels"), "languages": N_("languages"), "area_ids": N_("areas"),
              "valid_from": N_("valid from"), "valid_until": N_("valid until"), "slots": N_("time slots"),
              "source_language": N_("source language"), "name": N_("name"), "code": N_("code"),
              "level": N_("level"), "parent_id": N_("parent area"), "roles": N_("roles"),
              "new_user": N_("new account"), "username": N_("account"), "state": N_("state"),
              "revision": N_("revision"), "reason": N_("reason"), "jobs": N_("jobs"), "job": N_("job"),
              "work_id": N_("work"),
              "size": N_("size"), "sha256": N_("fingerprint"), "display": N_("display"),
              "contact": N_("contact"), "language": N_("language"), "active": N_("active"),
              "area_id": N_("area"), "package_id": N_("package"), "profile": N_("profile"),
              "action": N_("action"), "message": N_("message"), "assignee": N_("assigned to"),
              "filename": N_("file"), "fields": N_("fields"), "role": N_("use"), "count": N_("count"),
              "endpoint": N_("endpoint"), "token": N_("token"),
              "version": N_("version"), "engine": N_("engine"), "voice": N_("voice"), "speed": N_("speed"),
              "read_as": N_("read with"), "which": N_("which"), "rules": N_("reading rules"),
              "glossary": N_("glossary"), "units": N_("units"), "segments": N_("segments"),
              "area_codes": N_("areas"), "zone": N_("zone"), "start": N_("start"), "rrule": N_("repeats"),
              "replays": N_("replays"), "replay_gap_s": N_("gap between replays (s)"), "items": N_("items"),
              "position": N_("order in the slot"), "relay_url": N_("stream address")},
}


def label(group: str, value) -> str:
    """The reader's words for a stored value; the value itself when the table does not know it."""
    if value is None:
        return ""
    text = LABELS.get(group, {}).get(str(value))
    return gettext(text) if text else str(value)


# Which tables name the values of an audit detail's field or an error's parameter, tried in order.
VALUE_GROUPS = {"kind": ("work_kind", "endpoint_kind", "asset_kind"), "roles": ("role",), "role": ("role",),
                "level": ("area_level",), "state": ("work_state", "job_state", "feedback_state"),
                "priority": ("priority",), "channels": ("channel",), "channel": ("channel",),
                "profile": ("profile",), "action": ("action",), "fields": ("field",), "setting": ("profile_field",)}


def _coded(field: str, value: str) -> str:
    """One stored code through the first table that knows it; a comma-separated list code by code."""
    for group in VALUE_GROUPS.get(field, ()):
        if value in LABELS[group]:
            return label(group, value)
    if "," in value and field in VALUE_GROUPS:
        return ", ".join(_coded(field, v.strip()) for v in value.split(","))
    return value


_FREQ = {"HOURLY": N_("every hour"), "DAILY": N_("every day"), "WEEKLY": N_("every week"),
         "MONTHLY": N_("every month"), "YEARLY": N_("every year")}
_EVERY_N = {"HOURLY": N_("every %(n)s hours"), "DAILY": N_("every %(n)s days"), "WEEKLY": N_("every %(n)s weeks"),
            "MONTHLY": N_("every %(n)s months"), "YEARLY": N_("every %(n)s years")}
_DAYS = {"MO": N_("Monday"), "TU": N_("Tuesday"), "WE": N_("Wednesday"), "TH": N_("Thursday"), "FR": N_("Friday"),
         "SA": N_("Saturday"), "SU": N_("Sunday")}


def rule(value: str | None) -> str:
    """An RFC 5545 RRULE in the reader's words ("every week on Monday, Thursday; 8 times"); "" for none. Parts
    it does not know are left out: the rule itself is shown beside it where it matters."""
    if not value:
        return gettext("once")
    parts = dict(p.split("=", 1) for p in value.upper().split(";") if "=" in p)
    freq, n = parts.get("FREQ", ""), parts.get("INTERVAL", "1")
    out = [gettext(_EVERY_N[freq], n=n) if n != "1" and freq in _EVERY_N else gettext(_FREQ.get(freq, freq))]
    if parts.get("BYDAY"):
        days = [gettext(_DAYS[d[-2:]]) for d in parts["BYDAY"].split(",") if d[-2:] in _DAYS]
        out.append(gettext("on %(days)s", days=", ".join(days)))
    if parts.get("BYMONTHDAY"):
        out.append(gettext("on day %(days)s of the month", days=parts["BYMONTHDAY"]))
    if parts.get("BYHOUR"):
        out.append(gettext("at %(hours)s o'clock", hours=parts["BYHOUR"]))
    if parts.get("COUNT"):
        out.append(gettext("%(n)s times", n=parts["COUNT"]))
    if parts.get("UNTIL"):
        from datetime import datetime

        from studio.services import clock
        u = parts["UNTIL"].rstrip("Z")
        try:
            until = datetime.strptime(u, "%Y%m%dT%H%M%S") if "T" in u else datetime.strptime(u, "%Y%m%d")
        except ValueError:
            until = None
        if until is not None:
            out.append(gettext("until %(day)s", day=clock.label(until)))
    return "; ".join(out)


def _value(field: str, value) -> str:
    import json
    if field == "rrule" and isinstance(value, str):
        return rule(value)
    if isinstance(value, list):
        return ", ".join(_value(field, v) for v in value) or "—"
    if isinstance(value, str):
        return _coded(field, value)
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False)


def detail(value: dict | None) -> str:
    """An audit entry's details as `field: value; …` in the reader's words (names and titles stay as typed)."""
    if not value:
        return ""
    return "; ".join(f"{label('field', k)}: {_value(k, v)}" for k, v in value.items())


HTTP_MESSAGES = {400: N_("The request could not be understood."), 401: N_("Log in first."),
                 403: N_("You do not have access to this."), 404: N_("There is no such page here."),
                 405: N_("This address does not take that kind of request."),
                 409: N_("Someone else changed this at the same time; reload and try again."),
                 413: N_("The request is too large."), 415: N_("This kind of content is not accepted."),
                 429: N_("Too many requests; wait a moment and try again."),
                 500: N_("Something went wrong on the server; try again later."),
                 503: N_("The service is not available right now; try again later.")}


def param(name: str, value):
    """An error parameter as the reader reads it (`This needs the role: %(roles)s.`): codes through their table."""
    return _coded(name, value) if isinstance(value, str) else value


def http_message(code: int) -> str:
    """What an HTTP error means, in the reader's words (never Werkzeug's English description)."""
    text = HTTP_MESSAGES.get(code) or (HTTP_MESSAGES[500] if code >= 500 else HTTP_MESSAGES[400])
    return gettext(text)
