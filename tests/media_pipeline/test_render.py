"""Each channel profile's output, checked by an independent ffprobe and loudness reading."""
from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from media_pipeline import profiles, render
from media_pipeline.profiles import Profile, ProfileInvalid
from media_pipeline.tts import make_engines
from tests.helpers import make_png
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
    im = frame(next(o.path for o in result.outputs if o.role == "video"), 1.0, tmp_path / "f.png")
    assert not [y for y in range(im.height) if max(im.getpixel((round(im.width * 0.05) + 1, y))) < 30]  # no box


def test_impossible_profile_is_refused_before_any_work(narration, tmp_path):
    bad = Profile("odd", "eboard", "video", "mp4", audio=False, width=383, height=192)
    with pytest.raises(ProfileInvalid, match="width 383 must be even") as refused:
        render.render(bad, "t", "", [VI], None, [], tmp_path, quiet)
    assert (refused.value.setting, refused.value.value, refused.value.rule) == ("width", 383, "even")
    huge = Profile("huge", "eboard", "video", "mp4", audio=False, width=100000, height=192)
    with pytest.raises(ProfileInvalid, match="width 100000 is outside 16..7680"):
        huge.validate_settings()
    blurred = Profile("blurred", "eboard", "video", "mp4", audio=False, width=384, height=192, video_crf=60)
    with pytest.raises(ProfileInvalid, match="video_crf 60 is outside 0..51"):
        blurred.validate_settings()
    Profile("sharp", "eboard", "video", "mp4", audio=False, width=384, height=192, video_crf=18).validate_settings()


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
    side, right, top = 1080 // 4, 1920 - 96, 54  # the top right corner of the safe area (5 % margins)
    box = (right - side, top, right, top + side)
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


# ---- layout, measured on frames taken from the real outputs ------------------------------------------------

ZH_LONG = ["同登乡人民委员会通知五岁以下儿童扩大免疫接种时间表，家长请携带疫苗接种本并准时到达卫生站。",
           "居民请携带医疗保险卡和身份证，按照通知的时间到达。"]
VI_LONG = ["Ủy ban nhân dân xã Đồng Đăng thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi tại trạm y tế xã.",
           "Người dân mang theo thẻ bảo hiểm y tế và căn cước công dân."]
EN_LONG = ["The Dong Dang commune people's committee announces the vaccination schedule for children under five.",
           "Residents bring their health insurance card and identity card."]


def frame(video: Path, t: float, out: Path):
    import subprocess

    from PIL import Image
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(t), "-i", str(video), "-frames:v", "1", str(out)],
                   check=True)
    return Image.open(out).convert("RGB")


def box_rows(im, x: int) -> tuple[int, int]:
    """First and last row of the dark caption box, read down column x (inside the box's padding)."""
    rows = [y for y in range(im.height) if max(im.getpixel((x, y))) < 30]
    assert rows, "no caption box in the frame"
    run_end = rows[-1]
    start = run_end
    while start - 1 in rows:
        start -= 1
    return start, run_end


def pixels(im, test, box=None):
    x0, y0, x1, y1 = box or (0, 0, im.width, im.height)
    return [(x, y) for y in range(y0, y1) for x in range(x0, x1) if test(im.getpixel((x, y)))]


def bands(rows: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive rows."""
    out = []
    for r in sorted(set(rows)):
        if out and r == out[-1][1] + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


def test_border_screen_captions_wrap_every_script_inside_a_third_of_the_frame(narration, tmp_path):
    """Three long sentences stacked: Chinese wraps between characters inside the safe area, the block stays
    within a third of the frame, and the title card's text stays clear of it."""
    result = run("border-screen", narration, tmp_path, tracks=[VI_LONG, ZH_LONG, EN_LONG])
    video = next(o.path for o in result.outputs if o.role == "video")
    im = frame(video, 1.0, tmp_path / "title.png")  # the title card, first sentence
    w, h = im.size
    margin_x, margin_y = round(w * 0.05), round(h * 0.05)
    top, bottom = box_rows(im, margin_x + 1)
    assert bottom - top + 1 <= h / 3 + 2, (top, bottom)
    assert bottom <= h - margin_y + 2
    box = (margin_x, top, w - margin_x, bottom + 1)
    yellow = pixels(im, lambda p: p[0] > 150 and p[1] > 120 and p[2] < 70, box)  # the Chinese line's colour
    assert len(yellow) > 500
    xs = [x for x, _ in yellow]
    assert min(xs) > margin_x + 2 and max(xs) < w - margin_x - 2  # nothing cut at either edge
    assert len(bands([y for _, y in yellow])) >= 2  # wrapped onto a second line
    white = pixels(im, lambda p: min(p) > 225, (0, 0, w, top))  # the title above the block
    assert white, "no title text above the captions"
    assert max(y for _, y in white) < top - 4  # clear of the caption block


def test_led_board_captions_are_legible_and_inside_the_frame(narration, tmp_path):
    result = run("eboard-led-384x192", narration, tmp_path, tracks=[VI_LONG])
    video = next(o.path for o in result.outputs if o.role == "video")
    im = frame(video, 1.0, tmp_path / "led.png")
    top, bottom = box_rows(im, round(384 * 0.05) + 1)
    assert bottom - top + 1 <= 192 / 3 + 2
    white = pixels(im, lambda p: min(p) > 200, (0, top, 384, bottom + 1))
    xs = [x for x, _ in white]
    assert min(xs) > 19 and max(xs) < 384 - 19
    # A line of text is at least 10 pixels from the top of its capitals to the baseline.
    assert max(b - a + 1 for a, b in bands([y for _, y in white])) >= 10
    # The long sentence is shown whole, page after page: the second half appears later in the sentence's time.
    first = result.cues[0]
    later = frame(video, first.start + 0.9 * (first.end - first.start), tmp_path / "led2.png")
    assert later.crop((0, top, 384, 192)).tobytes() != im.crop((0, top, 384, 192)).tobytes()


def test_the_encoded_video_shows_each_composed_still_for_its_time(tmp_path):
    """The fast still encode (constant quantizer, a key frame per still, repeated frames as skips) shows what
    was composed: each still's middle frame is the still (PSNR, measured by ffmpeg), not its neighbour, and every
    still begins on a key frame."""
    import subprocess

    from media_pipeline import compose
    from media_pipeline.audio import Cue
    prof = profiles.DEFAULTS["border-screen"]
    size = (prof.width, prof.height)
    slides = [compose.title_card("Lịch tiêm chủng", "Xã Đồng Đăng", size, tmp_path / "t.png"),
              compose.picture_slide(make_png(tmp_path / "p.png", size=(1200, 800), color=(40, 140, 60)), size,
                                    tmp_path / "s.png")]
    tracks = [[Cue(0.5, 2.3, VI[0]), Cue(2.9, 4.7, VI[1])], [Cue(0.5, 2.3, ZH[0]), Cue(2.9, 4.7, ZH[1])]]
    (tmp_path / "stills").mkdir()
    stills = compose.compose_stills(slides, [2.6, 3.0], tracks, size, prof.fps, tmp_path / "stills")
    assert len(stills) == 6  # title; title + 1st caption; title; picture; picture + 2nd caption; picture
    video = compose.encode(stills, prof, tmp_path / "v.mp4")
    frames = ffprobe_frames(video)
    starts, at = [], 0.0
    for s in stills:
        starts.append(at)
        at += s.duration
    keys = [t for t, key in frames if key]
    assert all(min(abs(k - s) for k in keys) < 0.5 / prof.fps for s in starts), (keys, starts)
    assert len(frames) == round(at * prof.fps)

    def psnr(t: float, still: Path) -> float:
        out = subprocess.run(["ffmpeg", "-ss", f"{t:.3f}", "-i", str(video), "-i", str(still), "-frames:v", "1",
                              "-lavfi", "[1:v]format=yuv420p[r];[0:v][r]psnr", "-f", "null", "-"],
                             capture_output=True, text=True, check=True).stderr
        value = re.search(r"average:(\S+)", out).group(1)
        return 100.0 if value == "inf" else float(value)
    for i, (start, s) in enumerate(zip(starts, stills)):
        middle = start + s.duration / 2
        own = psnr(middle, s.path)
        assert own > 38, (i, own)
        for j in (i - 1, i + 1):
            if 0 <= j < len(stills):
                assert psnr(middle, stills[j].path) < own - 3, (i, j)


def ffprobe_frames(video: Path) -> list[tuple[float, bool]]:
    """(time, is a key frame) of every video frame, read by ffprobe."""
    import json
    import subprocess
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                          "frame=pts_time,key_frame", "-of", "json", str(video)],
                         capture_output=True, text=True, check=True).stdout
    return [(float(f["pts_time"]), f["key_frame"] == 1) for f in json.loads(out)["frames"]]
