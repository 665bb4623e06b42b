"""SQLAlchemy 2 models for accounts, areas, works, revisions, assets and the audit log."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Column, DateTime, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint, Index)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base shared by every model (and by Flask-SQLAlchemy)."""


# operator: the commune radio station's operator (cán bộ vận hành đài truyền thanh xã), bound to areas.
ROLES = ("admin", "editor", "translator", "approver", "operator")
INT64_MAX = 2**63 - 1  # the largest id an integer column holds (SQLite and PostgreSQL BIGINT)
WORK_KINDS = ("article", "radio_bulletin", "video_report", "eboard_notice", "publication")
PRIORITIES = ("normal", "priority", "emergency")
STATES = ("draft", "submitted", "approved", "published", "retracted")
AREA_LEVELS = ("province", "district", "commune")


class Area(Base):
    """An administrative area (province, optional district, commune) in a tree."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    parent: Mapped["Area | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Area"]] = relationship(back_populates="parent", order_by="Area.code")

    def ancestors(self) -> list["Area"]:
        """This area's parents, nearest first."""
        out, a = [], self.parent
        while a is not None:
            out.append(a)
            a = a.parent
        return out


user_areas = Table(
    "user_areas", Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person who logs in; roles are a comma-separated subset of ROLES. Their areas (with the areas under
    them) bound what a commune operator runs and which feedback a district's staff answer."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[str] = mapped_column(String(200), default="editor")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    areas: Mapped[list[Area]] = relationship(secondary=user_areas, order_by=Area.code)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def role_set(self) -> set[str]:
        """Roles as a set."""
        return {r for r in self.roles.split(",") if r}

    def has_role(self, *roles: str) -> bool:
        """True if the user holds any of the roles (admins hold every role)."""
        rs = self.role_set
        return "admin" in rs or any(r in rs for r in roles)

    # Flask-Login protocol, kept here so no web import is needed.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The session's user id with a stamp of the password: a new password ends every session."""
        return f"{self.id}:{self.session_stamp}"

    @property
    def session_stamp(self) -> str:
        import hashlib
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


class LoginAttempt(Base):
    """One login attempt, kept to throttle guessing."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


work_areas = Table(
    "work_areas", Base.metadata,
    Column("work_id", ForeignKey("works.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id"), primary_key=True),
)


class Work(Base):
    """A press work or publication; its editable fields are also snapshotted in every Revision."""

    __tablename__ = "works"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    source_language: Mapped[str] = mapped_column(String(16), default="vi")
    topics: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime)
    time_slots: Mapped[list] = mapped_column(JSON, default=list)
    # Publication metadata and ordered chapters ([{"title":..., "body":...}]).
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    chapters: Mapped[list] = mapped_column(JSON, default=list)
    # Title, summary, body, topics and chapters folded for search (lower case, no diacritics, đ as d);
    # indexed by trigrams (SQLite FTS5 table works_search, PostgreSQL pg_trgm GIN index).
    search_text: Mapped[str] = mapped_column(Text, default="")
    cover_asset_id: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    areas: Mapped[list[Area]] = relationship(secondary=work_areas)
    # Optimistic lock: every save bumps it; a save carrying an older number is refused.
    version: Mapped[int] = mapped_column(default=1)
    current_revision: Mapped[int] = mapped_column(default=1)
    approved_revision: Mapped[int | None] = mapped_column(Integer)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_revision: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    revisions: Mapped[list["Revision"]] = relationship(back_populates="work", order_by="Revision.number",
                                                       cascade="all, delete-orphan")
    assets: Mapped[list["Asset"]] = relationship(back_populates="work", order_by="Asset.id")


class Revision(Base):
    """An immutable snapshot of a work's fields, made by every save."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("work_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"))
    work: Mapped[Work] = relationship(back_populates="revisions")
    number: Mapped[int]
    snapshot: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User] = relationship()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Asset(Base):
    """A picture, audio or video file attached to a work, stored in the object store."""

    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id"))
    work: Mapped[Work] = relationship(back_populates="assets")
    kind: Mapped[str] = mapped_column(String(16))  # image, audio, video
    original_name: Mapped[str] = mapped_column(String(300))
    safe_name: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(400))
    thumb_key: Mapped[str | None] = mapped_column(String(400))
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_s: Mapped[float | None]
    info: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_by: Mapped[User] = relationship()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # "attachment" (pictures, clips) or "narration" (a human recording of the work in `language`).
    role: Mapped[str] = mapped_column(String(16), default="attachment", server_default="attachment")
    language: Mapped[str | None] = mapped_column(String(16))


class Translation(Base):
    """A work in another language: segments aligned one to one with the source sentences."""

    __tablename__ = "translations"
    __table_args__ = (UniqueConstraint("work_id", "language"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300), default="")
    # [{"source": str, "target": str, "status": "machine"|"memory"|"edited"|"approved"}]
    segments: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="draft")  # draft | approved
    source_revision: Mapped[int] = mapped_column(default=1)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1, server_default="1")  # bumped on every change


class Language(Base):
    """A language the studio knows: its names, script and what the studio can do with it (computed)."""

    __tablename__ = "languages"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # ISO 639-1 where one exists, else 639-3
    name_vi: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    script: Mapped[str] = mapped_column(String(16), default="Latn")  # ISO 15924
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GlossaryTerm(Base):
    """A term for one language pair: keep it as written (empty target) or translate it this way."""

    __tablename__ = "glossary_terms"
    __table_args__ = (Index("ix_glossary_pair", "source_lang", "target_lang"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_lang: Mapped[str] = mapped_column(String(16))
    target_lang: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(300))
    target: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Rendition(Base):
    """A checked output of one work for one language and channel profile, stored under its content key."""

    __tablename__ = "renditions"
    # One record per work and revision: works with identical content share the files under `key`.
    __table_args__ = (UniqueConstraint("key", "work_id", "revision", name="uq_rendition_key_work_revision"),
                      Index("ix_renditions_key", "key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    language: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    # [{"role": "audio"|"video"|"srt"|"vtt"|"still", "key", "mime", "size", "sha256"}]
    files: Mapped[list] = mapped_column(JSON, default=list)
    cues: Mapped[list] = mapped_column(JSON, default=list)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    lufs: Mapped[float | None]
    true_peak: Mapped[float | None]
    approximate: Mapped[bool] = mapped_column(default=False)
    engine: Mapped[str] = mapped_column(String(64), default="")
    # Speech check of synthesized narration: {"cer", "threshold", "flagged", "passages", "transcript"}.
    speech_check: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# A job's states in the order of its life (studio/jobs); the last three are final.
JOB_STATES = ("waiting", "queued", "running", "succeeded", "failed", "cancelled")
JOB_FINAL = JOB_STATES[3:]


class Job(Base):
    """A background job with its state, progress, log and error, visible to editors."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "rank", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="render")
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(16), default="")
    profile: Mapped[str] = mapped_column(String(64), default="")
    # A transcription job's recording (render jobs have none).
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    # waiting (for the jobs in depends_on) -> queued -> running -> succeeded | failed | cancelled
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    # The lane order workers claim in: 0 emergency, 1 delivery, 2 priority, 3 normal (studio.jobs).
    rank: Mapped[int] = mapped_column(default=3)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    run_after: Mapped[datetime | None] = mapped_column(DateTime)   # backoff: not claimed before this
    depends_on: Mapped[list] = mapped_column(JSON, default=list)  # job ids to wait for
    wait_for: Mapped[str] = mapped_column(String(8), default="success")  # success: each must succeed; end: any
    revision: Mapped[int | None] = mapped_column()                 # render this revision, not the current one
    timeout_s: Mapped[int] = mapped_column(default=0)              # 0: the kind's default
    progress: Mapped[int] = mapped_column(default=0)
    log: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")          # English, for logs and the API
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")  # msgid, translated when shown
    error_params: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    worker: Mapped[str] = mapped_column(String(100), default="")
    rendition_id: Mapped[int | None] = mapped_column(ForeignKey("renditions.id"))
    cached: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class MemoryUnit(Base):
    """One translation-memory pair: a source segment and its approved or imported translation."""

    __tablename__ = "memory_units"
    # Long segments would overflow a btree on the text itself: index a hash of the normalised source.
    __table_args__ = (Index("ix_memory_pair_hash", "source_lang", "target_lang", "source_hash"),
                      Index("ix_memory_pair_length", "source_lang", "target_lang", "length"))
    id: Mapped[int] = mapped_column(primary_key=True)
    source_lang: Mapped[str] = mapped_column(String(16))
    target_lang: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    source_norm: Mapped[str] = mapped_column(Text)  # lower-case, single spaces: exact lookups ignore case
    source_hash: Mapped[str] = mapped_column(String(64))  # sha256 of source_norm
    length: Mapped[int]  # of source_norm, to narrow fuzzy candidates
    origin: Mapped[str] = mapped_column(String(32), default="approved")  # approved | tmx
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Package(Base):
    """One published version of a work: an immutable manifest in the object store listing content-addressed media."""

    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("work_id", "version", name="uq_package_work_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    revision: Mapped[int]
    # queued -> published (manifest written) -> retracted | superseded; failed when delivery gave up
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    valid_until: Mapped[datetime | None] = mapped_column(DateTime)
    area_codes: Mapped[list] = mapped_column(JSON, default=list)  # empty: everywhere
    channels: Mapped[list] = mapped_column(JSON, default=list)
    manifest: Mapped[dict] = mapped_column(JSON, default=dict)
    manifest_key: Mapped[str] = mapped_column(String(200), default="")
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    retracted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime)
    retract_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PackageFile(Base):
    """One file a package lists, as rows the feed query filters in SQL (the manifest keeps the same list)."""

    __tablename__ = "package_files"
    __table_args__ = (Index("ix_package_files_package_channel", "package_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)  # order in the manifest
    channel: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)   # videos and stills: the frame size; None for the rest
    height: Mapped[int | None] = mapped_column(Integer)
    entry: Mapped[dict] = mapped_column(JSON, default=dict)  # the manifest's entry for the file, as sent


class PackageArea(Base):
    """An area code a package is sent to (none: everywhere), for the feed query's area chain."""

    __tablename__ = "package_areas"
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class Endpoint(Base):
    """A distribution endpoint: a loudspeaker controller, board player, screen controller, portal or kiosk."""

    __tablename__ = "endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    area: Mapped[Area | None] = relationship()
    display: Mapped[str] = mapped_column(String(32), default="")  # e.g. 1920x1080 for boards
    languages: Mapped[list] = mapped_column(JSON, default=list)    # the languages it plays; [] for all
    contact: Mapped[str] = mapped_column(String(300), default="")
    zone: Mapped[str] = mapped_column(String(100), default="")  # a named group of a commune's clusters (a village)
    token_prefix: Mapped[str] = mapped_column(String(16), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_heartbeat: Mapped[dict] = mapped_column(JSON, default=dict)


class EndpointReport(Base):
    """A playback report or heartbeat from an endpoint; the client's id makes a resent report count once."""

    __tablename__ = "endpoint_reports"
    __table_args__ = (UniqueConstraint("endpoint_id", "client_id", name="uq_report_client_id"),
                      # Counting plays and hours of contact per endpoint reads this, not the wide rows.
                      Index("ix_endpoint_reports_cover", "endpoint_id", "type", "started_at", "ended_at",
                            "received_at"),
                      # The as-run reads a period's plays of programme items by the occurrence they played.
                      Index("ix_endpoint_reports_scheduled", "scheduled_at", "endpoint_id", "item_id", "outcome"))
    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))  # play | heartbeat
    package_id: Mapped[int | None] = mapped_column(Integer, index=True)
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(16), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # A play of a programme item: the occurrence it played (the as-run matches on these).
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime)
    item_id: Mapped[int | None] = mapped_column(Integer)


# offered -> accepted | declined (a province's normal item); scheduled (priority, emergency, the commune's own);
# any -> cancelled. Accepted and scheduled items play.
PROGRAMME_STATES = ("offered", "accepted", "declined", "scheduled", "cancelled")
PLAYING_STATES = ("accepted", "scheduled")


class Schedule(Base):
    """A schedule as asked for (POST /api/v1/works/{id}/schedule): a work, its areas, when, how often. Each
    commune it reaches gets a `ProgrammeItem`, offered or scheduled by the work's priority."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    area_codes: Mapped[list] = mapped_column(JSON, default=list)
    zone: Mapped[str] = mapped_column(String(100), default="")
    start_at: Mapped[datetime] = mapped_column(DateTime)          # naive UTC
    rrule: Mapped[str] = mapped_column(Text, default="")          # RFC 5545 RRULE value; "" for once
    replays: Mapped[int] = mapped_column(default=0)
    replay_gap_s: Mapped[int] = mapped_column(default=0)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ProgrammeItem(Base):
    """One item of a commune's programme (lịch phát): a work, or a live relay with a stored fallback, in a
    commune (or a zone of it), from a start and an optional recurrence rule, each occurrence played
    1 + `replays` times `replay_gap_s` apart. A province's normal item is `offered` until the commune's
    operator accepts (`scheduled`) or declines it; priority and emergency items and the commune's own are
    `scheduled` at once. Items in one slot (the same start) play in `position` order."""

    __tablename__ = "programme_items"
    __table_args__ = (Index("ix_programme_items_area_state", "area_id", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    area: Mapped[Area] = relationship()
    zone: Mapped[str] = mapped_column(String(100), default="")    # "" for the whole commune
    origin: Mapped[str] = mapped_column(String(16), default="province")  # province | commune
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    start_at: Mapped[datetime] = mapped_column(DateTime)          # naive UTC
    rrule: Mapped[str] = mapped_column(Text, default="")
    replays: Mapped[int] = mapped_column(default=0)
    replay_gap_s: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    relay_url: Mapped[str] = mapped_column(String(500), default="")  # a live stream played for the slot
    duration_s: Mapped[int] = mapped_column(default=0)           # a relay's slot length
    title: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")  # why it was declined
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Feedback(Base):
    """A citizen's question or comment on a published work, and the staff's answer.

    new -> assigned -> answered -> closed. The phone number is seen only by the assignee and admins and is
    erased after FEEDBACK_PHONE_DAYS; the sender's address is kept only as a salted hash, for throttling."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_state_created", "state", "created_at"),
                      Index("ix_feedback_sender_created", "sender_hash", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # About a published work, or (work_id None) a question to an area's site ("Hỏi đáp", area_id).
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="SET NULL"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("endpoints.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16), default="page")  # page | api | kiosk | portal | site
    message: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    publish: Mapped[bool] = mapped_column(default=False)  # the citizen agreed to show question and answer
    state: Mapped[str] = mapped_column(String(16), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sender_hash: Mapped[str] = mapped_column(String(64), default="")
    phone_erased_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The citizen's address, when they want the answer by e-mail (`notify`); seen by staff like the phone.
    email: Mapped[str] = mapped_column(String(200), default="", server_default="")
    notify: Mapped[bool] = mapped_column(default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """Admin-editable data: channel profiles, voices per language, voice mappings (system counters are in
    `Counter`)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Counter(Base):
    """A system counter: `feeds` is the feeds generation, moved on by every publish and retraction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Who did what, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(80), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")


class CapSender(Base):
    """A sender of CAP alerts the studio knows (its `sender` field), with what to do with its alerts: `draft`
    (a person approves; the default for anyone) or `publish` (an alert signed under `certificate` is approved
    and published at once). `require_signature`: an unsigned alert from it is refused."""

    __tablename__ = "cap_senders"
    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    policy: Mapped[str] = mapped_column(String(16), default="draft")
    certificate: Mapped[str] = mapped_column(Text, default="")  # PEM; the signatures it verifies
    require_signature: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CapAlert(Base):
    """A CAP alert taken in: the work it made or changed, and what it asked for (one per sender and
    identifier: the same alert twice is a duplicate)."""

    __tablename__ = "cap_alerts"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_cap_alert_sender_identifier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(String(200))
    sent: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    msg_type: Mapped[str] = mapped_column(String(16))
    references: Mapped[list] = mapped_column(JSON, default=list)
    work_id: Mapped[int | None] = mapped_column(ForeignKey("works.id", ondelete="SET NULL"), index=True)
    origin: Mapped[str] = mapped_column(String(500), default="api")  # api, or the polled source's URL
    signed: Mapped[bool] = mapped_column(default=False)  # its signature verified under the sender's certificate
    outcome: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published | cancelled
    # event, categories, urgency, severity, certainty, and per studio language {headline, description,
    # instruction}: what CAP out says of a work the alert made
    info: Mapped[dict] = mapped_column(JSON, default=dict)
    document: Mapped[str] = mapped_column(Text, default="")
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CapSource(Base):
    """A CAP or CAP-in-Atom feed the studio polls (STUDIO_CAP_SOURCES), with its validators and its health."""

    __tablename__ = "cap_sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    etag: Mapped[str] = mapped_column(String(200), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")
    next_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    failures: Mapped[int] = mapped_column(default=0)  # in a row; the backoff grows with them
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(String(500), default="")  # English, for logs
    alerts: Mapped[int] = mapped_column(default=0)  # taken in from it
    seen: Mapped[list] = mapped_column(JSON, default=list)  # Atom entries already read: "id updated"


class Site(Base):
    """An area's public site (/x/<code>/): its name, logo, contact and the people's committee's address, kept by
    the area's staff. Without a row the site uses the area's name."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    contact: Mapped[str] = mapped_column(Text, default="")  # phone, e-mail, office hours
    address: Mapped[str] = mapped_column(Text, default="")  # the people's committee's address
    logo_key: Mapped[str] = mapped_column(String(200), default="")
    logo_width: Mapped[int | None] = mapped_column(Integer)
    logo_height: Mapped[int | None] = mapped_column(Integer)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class MailMessage(Base):
    """An e-mail in the outbox: queued -> sent, or failed after the mail job's attempts (STUDIO_SMTP_URL)."""

    __tablename__ = "mail_messages"
    __table_args__ = (Index("ix_mail_messages_state", "state", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32), default="")  # feedback_new | feedback_assigned | feedback_answer
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
