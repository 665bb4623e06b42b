"""The channel registry: channels, their profiles, endpoint kinds, defaults and admins' overrides, in one place.

- A **profile** is everything that shapes one output file (container, codecs, size, loudness, captions).
- A **channel** is where a work goes (loudspeakers, e-boards, border screens, web, e-publications); it renders
  its default profiles, and its *sized* channels also render one profile per display size its endpoints have.
- An **endpoint kind** is what a registered device is (a loudspeaker controller, a board player, ...); it takes
  the files of some channels, and a kind with a screen has a display size.

Admins override profiles as data (`effective`); the OpenAPI enums, the forms and the CLI help read the tuples
below, so nothing else lists a channel, a kind or a profile name.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace

from media_pipeline.errors import EngineError


SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


class ProfileInvalid(EngineError):
    """A profile whose settings no encoder can meet: which setting, its value, and what it may be.

    `rule` is "range" (between `low` and `high`), "even" or "choice" (one of `allowed`), so that the studio
    can say it in the admin's language; the text is for logs and the command line.
    """

    def __init__(self, profile: str, setting: str, value, rule: str, low=None, high=None, allowed=()):
        self.profile, self.setting, self.value, self.rule = profile, setting, value, rule
        self.low, self.high, self.allowed = low, high, tuple(allowed)
        why = {"range": f"is outside {low}..{high}", "even": "must be even for H.264 with yuv420p",
               "choice": "is not one of " + ", ".join(map(str, self.allowed))}[rule]
        super().__init__(f"profile {profile}: {setting} {value} {why}")


@dataclass
class Profile:
    """Everything that shapes a channel's output, and what validation checks."""

    name: str
    channel: str
    kind: str                      # audio | video | epub | pdf
    container: str                 # mp3 | mp4 | epub | pdf
    audio: bool = True
    sample_rate: int = 44100
    channels: int = 1
    audio_bitrate: int = 64000
    audio_codec: str = "mp3"       # mp3 | aac
    lufs: float = -16.0
    true_peak: float = -1.5
    width: int = 0
    height: int = 0
    fps: int = 25
    video_codec: str = "h264"
    pix_fmt: str = "yuv420p"
    video_crf: int = 23  # x264 quality number, lower is sharper (slideshows encode it as a constant quantizer)
    burn_captions: bool = True
    caption_languages: int = 1
    max_duration_s: float = 1800.0
    slide_seconds: float = 5.0     # silent boards: minimum time per slide
    stills: bool = False           # also produce PNG slides
    qr: bool = False               # QR code to the item's public page on the title card (needs a public URL)
    intro: str = ""                # object key of an intro jingle (content-addressed), "" for none
    outro: str = ""                # object key of an outro jingle
    sidecars: list = field(default_factory=list)  # srt, vtt

    def validate_settings(self) -> None:
        """Refuse impossible settings with a message an admin can act on."""
        def within(setting: str, low, high) -> None:
            if not low <= getattr(self, setting) <= high:
                raise ProfileInvalid(self.name, setting, getattr(self, setting), "range", low, high)
        if self.kind == "video":
            within("width", 16, 7680)
            within("height", 16, 4320)
            for setting in ("width", "height"):
                if getattr(self, setting) % 2:
                    raise ProfileInvalid(self.name, setting, getattr(self, setting), "even")
            within("fps", 1, 60)
            within("video_crf", 0, 51)  # x264's quantizer for 8-bit video; 18..28 is usual
        if self.audio and self.sample_rate not in SAMPLE_RATES:
            raise ProfileInvalid(self.name, "sample_rate", self.sample_rate, "choice", allowed=SAMPLE_RATES)
        within("lufs", -40, -5)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


DEFAULTS: dict[str, Profile] = {p.name: p for p in [
    Profile("loudspeaker", "loudspeaker", "audio", "mp3", sample_rate=44100, channels=1, audio_bitrate=64000,
            max_duration_s=900),
    Profile("eboard-1080p", "eboard", "video", "mp4", audio=False, width=1920, height=1080, stills=True, qr=True),
    Profile("eboard-portrait", "eboard", "video", "mp4", audio=False, width=1080, height=1920, stills=True),
    Profile("eboard-led-384x192", "eboard", "video", "mp4", audio=False, width=384, height=192, stills=True),
    Profile("eboard-led-768x512", "eboard", "video", "mp4", audio=False, width=768, height=512, stills=True),
    Profile("border-screen", "border_screen", "video", "mp4", audio_codec="aac", channels=2, sample_rate=48000,
            audio_bitrate=128000, width=1920, height=1080, caption_languages=3, sidecars=["srt", "vtt"], qr=True),
    Profile("web-audio", "web", "audio", "mp3", audio_bitrate=96000, channels=1, sidecars=["vtt"]),
    Profile("web-video", "web", "video", "mp4", audio_codec="aac", channels=2, sample_rate=48000,
            audio_bitrate=128000, width=1280, height=720, burn_captions=False, sidecars=["vtt", "srt"]),
    # Publications: EPUB 3, EPUB 3 with media overlays over a mono narration, print-ready PDF.
    Profile("epub", "epub", "epub", "epub", audio=False, max_duration_s=1e9),
    Profile("epub-narrated", "epub", "epub", "epub", audio_bitrate=48000, max_duration_s=36000),
    Profile("pdf", "epub", "pdf", "pdf", audio=False, max_duration_s=1e9),
]}



@dataclass(frozen=True)
class Channel:
    """Where a work goes. `profiles` render by default; a `sized` channel's screens get a file at their size."""

    name: str
    profiles: tuple[str, ...]
    sized: bool = False


@dataclass(frozen=True)
class EndpointKind:
    """A kind of registered device: the channels whose files it takes; `screen`: it has a display size;
    `text_items`: it also lists items without files (portals publish the text)."""

    name: str
    channels: tuple[str, ...]
    screen: bool = False
    text_items: bool = False


CHANNELS: dict[str, Channel] = {c.name: c for c in [
    Channel("loudspeaker", ("loudspeaker",)),
    Channel("eboard", ("eboard-1080p",), sized=True),
    Channel("border_screen", ("border-screen",), sized=True),
    Channel("web", ("web-audio", "web-video")),
    Channel("epub", ("epub", "epub-narrated", "pdf")),
]}

ENDPOINT_KINDS: dict[str, EndpointKind] = {k.name: k for k in [
    EndpointKind("loudspeaker", ("loudspeaker",)),
    EndpointKind("eboard", ("eboard",), screen=True),
    EndpointKind("border_screen", ("border_screen",), screen=True),
    EndpointKind("portal", ("web", "epub"), text_items=True),
    EndpointKind("kiosk", ("eboard", "web", "epub"), screen=True),
]}

DISPLAY_RE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
SIZED_NAME_RE = re.compile(r"^([a-z_]+)-([0-9]{2,5})x([0-9]{2,5})$")


def parse_display(display: str) -> tuple[int, int] | None:
    """(width, height) of a display written WIDTHxHEIGHT, None for "" or anything else."""
    m = DISPLAY_RE.match(display or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def effective(overrides: dict[str, dict] | None = None) -> dict[str, Profile]:
    """The default profiles with admins' stored changes applied (a name not among the defaults adds one)."""
    out = {name: replace(p) for name, p in DEFAULTS.items()}
    for name, changes in (overrides or {}).items():
        base = out[name].to_dict() if name in out else {"name": name}
        out[name] = Profile.from_dict({**base, **changes, "name": name})
    return out


def for_display(table: dict[str, Profile], channel: str, width: int, height: int) -> Profile:
    """The profile a sized channel renders for a display: one of its profiles at exactly that size, else one
    derived from its default profile and rendered natively at that size (named `<channel>-<W>x<H>`). Layout
    is computed per frame size, so a derived rendition is made for the display, never scaled to it; pictures
    keep their aspect inside it (letterboxed)."""
    ch = CHANNELS[channel]
    for p in table.values():
        if p.channel == channel and p.kind == "video" and (p.width, p.height) == (width, height):
            return p
    base = table[ch.profiles[0]]
    derived = replace(base, name=f"{channel}-{width}x{height}", width=width, height=height,
                      qr=base.qr and min(width, height) >= 480, sidecars=list(base.sidecars))
    derived.validate_settings()
    return derived


def resolve(table: dict[str, Profile], name: str) -> Profile | None:
    """A profile by name, including one derived for a display (`eboard-1280x720`); None if there is none."""
    if name in table:
        return table[name]
    m = SIZED_NAME_RE.match(name)
    if m and m.group(1) in CHANNELS and CHANNELS[m.group(1)].sized:
        try:
            return for_display(table, m.group(1), int(m.group(2)), int(m.group(3)))
        except ProfileInvalid:
            return None
    return None


def channel_profiles(table: dict[str, Profile], channel: str) -> list[Profile]:
    """The profiles a channel renders by default."""
    return [table[n] for n in CHANNELS[channel].profiles]


def audio_codec_args(p: Profile) -> list[str]:
    """ffmpeg arguments for the profile's audio codec."""
    if p.audio_codec == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", str(p.audio_bitrate)]
    if p.audio_codec == "aac":
        return ["-c:a", "aac", "-b:a", str(p.audio_bitrate)]
    raise EngineError(f"profile {p.name}: unknown audio codec {p.audio_codec}")
