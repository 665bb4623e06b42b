"""Each channel profile's output, checked by an independent ffprobe and loudness reading."""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from media_pipeline import profiles, render
from media_pipeline.errors import EngineError
from media_pipeline.profiles import Profile
from media_pipeline.tts import make_engines
from tests.conftest import make_png
from tests.media_pipeline.conftest import ffprobe, lufs

VI = ["UBND xã Đồng Đăng thông báo lịch tiêm chủng ngày 25/11/2024.", "Người dân mang theo thẻ BHYT."]
ZH = ["同登乡人民委员会通知2024年11月25日的疫苗接种。", "居民请携带医疗保险卡。"]
EN = ["Dong Dang commune announces vaccinations on 25 November 2024.", "Bring your health insurance card."]


def quiet(_pct, _msg):
    pass


@pytest.fixture(scope="module")
def narration(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("narration")
    engines = {e.name: e for e in make_engines(["espeak"])}
    return render.synthesize(VI, render.VoiceChoice("espeak", "vi", "vi"), engines, workdir, quiet)


def run(profile_name: str, narration, tmp_path: Path, tracks=None):
    pic = make_png(tmp_path / "pic.png", size=(1200, 800))
    profile = profiles.DEFAULTS[profile_name]
    return render.render(profile, "Lịch tiêm chủng", "Xã Đồng Đăng", tracks or [VI, ZH, EN],
                         narration if profile.audio else None, [pic], tmp_path, quiet)


def test_loudspeaker_mp3(narration, tmp_path):
    result = run("loudspeaker", narration, tmp_path)
    path = result.outputs[0].path
    info = ffprobe(path)
    a = info["streams"][0]
    assert (info["format"]["format_name"], a["codec_name"], a["channels"], a["sample_rate"]) == \
        ("mp3", "mp3", 1, "44100")
    assert abs(int(a["bit_rate"]) - 64000) < 3000
    integrated, peak = lufs(path)
    assert abs(integrated + 16) <= 1.0 and peak <= -1.0


@pytest.mark.parametrize("name,size", [("eboard-1080p", (1920, 1080)), ("eboard-portrait", (1080, 1920)),
                                       ("eboard-led-384x192", (384, 192)), ("eboard-led-768x512", (768, 512))])
def test_eboard_video_is_silent_h264_at_board_size(narration, tmp_path, name, size):
    result = run(name, narration, tmp_path)
    video = next(o.path for o in result.outputs if o.role == "video")
    info = ffprobe(video)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    v = info["streams"][0]
    assert (v["codec_name"], v["pix_fmt"], (v["width"], v["height"])) == ("h264", "yuv420p", size)
    assert Fraction(v["r_frame_rate"]) == 25
    stills = [o.path for o in result.outputs if o.role == "still"]
    assert len(stills) == 2 and all(ffprobe(s)["streams"][0]["width"] == size[0] for s in stills)


def test_border_screen_has_stereo_aac_and_three_caption_languages(narration, tmp_path):
    result = run("border-screen", narration, tmp_path)
    video = next(o.path for o in result.outputs if o.role == "video")
    info = ffprobe(video)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["width"] == 1920 and kinds["video"]["height"] == 1080
    assert (kinds["audio"]["codec_name"], kinds["audio"]["channels"], kinds["audio"]["sample_rate"]) == \
        ("aac", 2, "48000")
    integrated, _ = lufs(video)
    assert abs(integrated + 16) <= 1.0
    ass = (tmp_path / "border-screen.ass").read_text(encoding="utf-8")
    assert "Đồng Đăng" in ass and "医疗保险卡" in ass and "health insurance" in ass
    srt = next(o.path for o in result.outputs if o.role == "srt").read_text(encoding="utf-8")
    vtt = next(o.path for o in result.outputs if o.role == "vtt").read_text(encoding="utf-8")
    assert "thẻ BHYT" in srt and vtt.startswith("WEBVTT")
    duration = float(info["format"]["duration"])
    times = [(_s(a), _s(b)) for a, b in re.findall(r"(\d\d:\d\d:\d\d[.,]\d{3}) --> (\d\d:\d\d:\d\d[.,]\d{3})", srt)]
    assert len(times) == 2
    for (s1, e1), (s2, e2) in zip(times, times[1:]):
        assert s1 < e1 <= s2 < e2
    assert times[-1][1] <= duration + 0.05


def test_captions_in_the_frame_are_burned_in(narration, tmp_path):
    """The middle of a caption line differs between a frame with captions and the same frame without."""
    import subprocess
    result = run("eboard-led-384x192", narration, tmp_path, tracks=[VI])
    video = next(o.path for o in result.outputs if o.role == "video")
    frame = tmp_path / "f.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1.0", "-i", str(video), "-frames:v", "1", str(frame)],
                   check=True)
    from PIL import Image
    im = Image.open(frame).convert("RGB")
    bottom = im.crop((0, 150, 384, 192))
    colors = bottom.getcolors(maxcolors=1 << 16) or []
    assert len(colors) > 20  # text and its outline over the flat background


def test_web_video_keeps_captions_as_sidecars(narration, tmp_path):
    result = run("web-video", narration, tmp_path)
    roles = sorted(o.role for o in result.outputs)
    assert roles == ["srt", "video", "vtt"]
    assert not (tmp_path / "web-video.ass").exists()


def test_impossible_profile_is_refused_before_any_work(narration, tmp_path):
    bad = Profile("odd", "eboard", "video", "mp4", audio=False, width=383, height=192)
    with pytest.raises(EngineError, match="even width and height"):
        render.render(bad, "t", "", [VI], None, [], tmp_path, quiet)
    huge = Profile("huge", "eboard", "video", "mp4", audio=False, width=100000, height=192)
    with pytest.raises(EngineError, match="impossible"):
        huge.validate_settings()


def test_validation_rejects_output_that_misses_its_profile(narration, tmp_path):
    from media_pipeline import validate
    result = run("loudspeaker", narration, tmp_path)
    mp3 = result.outputs[0].path
    stereo_48k = Profile("strict", "loudspeaker", "audio", "mp3", sample_rate=48000, channels=2)
    with pytest.raises(validate.RenditionInvalid) as err:
        validate.check(mp3, stereo_48k)
    assert any("sample rate" in p for p in err.value.problems)
    assert any("channels" in p for p in err.value.problems)


def _s(ts: str) -> float:
    h, m, rest = ts.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(rest)


def test_title_card_carries_a_qr_code_only_when_asked(tmp_path):
    from PIL import Image

    from media_pipeline import compose
    with_qr = compose.title_card("Tiêu đề", "Xã Đồng Đăng", (1920, 1080), tmp_path / "a.png",
                                 "https://tttt.example.vn/p/12")
    without = compose.title_card("Tiêu đề", "Xã Đồng Đăng", (1920, 1080), tmp_path / "b.png")
    side, margin = 1080 // 4, 1080 // 4 // 10
    box = (1920 - side - margin, 1080 - side - margin, 1920 - margin, 1080 - margin)
    qr = Image.open(with_qr).convert("L").crop(box)
    plain = Image.open(without).convert("L").crop(box)
    hist = qr.histogram()
    dark, light = sum(hist[:60]), sum(hist[201:])
    assert dark > side * side * 0.25 and light > side * side * 0.25  # black modules on white
    assert len(plain.getcolors()) == 1  # just the background


def test_qr_code_depends_on_the_url():
    """The same URL gives the same modules, another URL different ones (the code carries the data)."""
    from media_pipeline import compose
    a = compose.qr_image("https://tttt.example.vn/p/12", 210).tobytes()
    assert a == compose.qr_image("https://tttt.example.vn/p/12", 210).tobytes()
    assert a != compose.qr_image("https://tttt.example.vn/p/13", 210).tobytes()
