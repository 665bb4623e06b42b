"""Media settings: voices per language, reading rules (editors); voice mappings and channel profiles (admins)."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from media_pipeline.profiles import Profile
from media_pipeline.errors import EngineError
from studio.errors import N_, NotFound, ValidationError
from studio.extensions import db
from studio.jobs.worker import resources
from studio.services import channels, voices
from studio.web.helpers import caller, form_errors, role_required

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__, url_prefix="/settings")
PROFILE_FIELDS = ("width", "height", "fps", "sample_rate", "channels", "audio_bitrate", "lufs", "true_peak",
                  "max_duration_s", "caption_languages", "video_crf")


def _page(status: int = 200, rules_text: str | None = None):
    engines = resources(current_app)("render").engines
    return render_template(
        "settings/media.html", voice_table=voices.voice_table(db.session), mappings=voices.mappings(db.session),
        profiles=channels.profiles(db.session), engines={n: e.voices() for n, e in engines.items()},
        profile_fields=PROFILE_FIELDS,
        rules=rules_text if rules_text is not None else voices.reading_rules_text(db.session),
    ), status


@bp.get("/media")
@role_required("editor", "admin")
def media():
    """The settings page."""
    return _page()


def _save(fn, success: str, rules_text: str | None = None):
    with form_errors() as failed:
        fn()
        db.session.commit()
    if failed:
        return _page(failed.status, rules_text)
    flash(success, "info")
    return redirect(url_for("settings.media"))


@bp.post("/voices")
@role_required("editor")
def save_voice():
    """Engine, voice (accent) and speed for a language."""
    f = request.form
    return _save(lambda: voices.set_voice(db.session, caller(), f.get("language", "").strip(), f.get("engine", ""),
                                          f.get("voice") or None, f.get("speed", 1.0, type=float)), _("Saved."))


@bp.get("/voices/sample")
@role_required("editor", "admin")
def voice_sample():
    """An installed voice reading a sample sentence in its language (WAV), for the voices table's players."""
    engines = resources(current_app)("render").engines
    engine = engines.get(request.args.get("engine", ""))
    if engine is None:
        raise NotFound(N_("There is no voice %(voice)s in %(engine)s."), voice=request.args.get("voice", ""),
                       engine=request.args.get("engine", ""))
    try:
        path = voices.sample(engine, request.args.get("voice", ""), Path(current_app.config["INSTANCE"]) / "tmp")
    except EngineError as exc:  # the tool's words go to the log, not to the page
        log.warning("voice sample failed: %s", exc)
        raise ValidationError(N_("The voice %(voice)s could not speak; ask an administrator to check its "
                                 "installation."), voice=request.args.get("voice", "")) from None
    return send_file(path, mimetype="audio/wav", max_age=3600)


@bp.post("/mappings")
@role_required("admin")
def save_mapping():
    """Read a language with another language's voice (approximate), or stop doing so."""
    f = request.form
    return _save(lambda: voices.set_mapping(db.session, caller(), f.get("language", "").strip(),
                                            f.get("read_as", "").strip() or None), _("Saved."))


@bp.post("/profiles/<name>")
@role_required("admin")
def save_profile(name: str):
    """Change a channel profile's numbers; impossible ones are refused with the reason."""
    types = {f.name: f.type for f in Profile.__dataclass_fields__.values()}

    def apply():
        changes = {}
        for field in PROFILE_FIELDS:
            raw = request.form.get(field, "").strip().replace(",", ".")
            if raw:
                try:
                    changes[field] = float(raw) if "float" in str(types[field]) else int(float(raw))
                except ValueError:
                    raise ValidationError(N_("%(name)s must be a number."), field=field, name=field) from None
        channels.save_profile(db.session, caller(), name, changes)
    return _save(apply, _("Saved."))


@bp.post("/profiles/<name>/jingle")
@role_required("admin")
def save_jingle(name: str):
    """Upload (or remove) the intro or outro jingle of an audio profile."""
    import os
    import tempfile
    which = request.form.get("which", "")
    file = request.files.get("file")

    def apply():
        store = current_app.extensions["objectstore"]
        if request.form.get("remove") or file is None or not file.filename:
            channels.save_jingle(db.session, store, caller(), name, which, None)
            return
        fd, path = tempfile.mkstemp(dir=os.path.join(current_app.config["INSTANCE"], "tmp"), prefix="jingle-")
        try:
            with os.fdopen(fd, "wb") as out:
                file.save(out)
            channels.save_jingle(db.session, store, caller(), name, which, path)
        finally:
            os.unlink(path)
    os.makedirs(os.path.join(current_app.config["INSTANCE"], "tmp"), exist_ok=True)
    return _save(apply, _("Saved."))


@bp.post("/reading-rules")
@role_required("editor", "admin")
def save_rules():
    """The province's reading rules (JSON) the Vietnamese normaliser applies over its own."""
    text = request.form.get("rules", "")
    return _save(lambda: voices.save_reading_rules(db.session, caller(), text), _("Saved."), rules_text=text)
