"""Feed-change notices over MQTT, the way IoT radio controllers in the field are usually reached.

STUDIO_MQTT_URL: "" (off), `embedded` (start Debian's mosquitto on a loopback port with generated passwords,
like the embedded object store), or `mqtt://USER:PASSWORD@host:port` of a fleet's own broker.
When any feed changes, the studio publishes `{"generation", "priority", "at"}` (QoS 1, retained) on
`studio/feeds/<area code>` for every area whose packages changed (`all` for packages sent everywhere);
an endpoint subscribes to its area's code, the codes above it and `all`, and syncs its feed when told.
The embedded broker refuses anonymous clients: the studio writes as `studio`, endpoints read as `endpoint`
(read-only on `studio/feeds/#`), passwords in INSTANCE/mqtt/credentials.json (mode 0600).
"""
from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)
TOPIC = "studio/feeds/{code}"


def _find(program: str) -> str:
    """Debian installs the broker in /usr/sbin, which is not on every PATH."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError(f"{program} is not installed; on Debian: apt-get install mosquitto")
    return found


class EmbeddedMosquitto:
    """A mosquitto broker on 127.0.0.1 with password and ACL files under `root`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.credentials: dict = {}

    def _credentials(self) -> dict:
        path = self.root / "credentials.json"
        if path.exists():
            return json.loads(path.read_text())
        creds = {"studio": secrets.token_urlsafe(24), "endpoint": secrets.token_urlsafe(24)}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(creds, f)
        return creds

    def start(self, timeout: float = 20.0) -> "EmbeddedMosquitto":
        """Write the configuration, start the broker and wait until it accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.credentials = self._credentials()
        passwd = self.root / "passwd"
        passwd.unlink(missing_ok=True)
        for user, password in self.credentials.items():
            subprocess.run([_find("mosquitto_passwd"), "-b", *([] if passwd.exists() else ["-c"]), str(passwd),
                            user, password], check=True, capture_output=True)
        os.chmod(passwd, 0o600)
        (self.root / "acl").write_text("user studio\ntopic readwrite studio/#\n\n"
                                       "user endpoint\ntopic read studio/feeds/#\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = self.root / "mosquitto.conf"
        # `user`: stay the account the studio runs as (mosquitto started by root would otherwise switch to
        # the `mosquitto` account, which cannot read these 0600 files).
        conf.write_text(f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
                        f"listener {self.port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
                        f"acl_file {self.root / 'acl'}\npersistence false\nlog_dest stderr\n")
        logf = open(self.root / "mosquitto.log", "ab")
        from media_pipeline.tools import launch_prefix  # dies with the studio, even one killed with SIGKILL
        self.proc = subprocess.Popen([*launch_prefix(), _find("mosquitto"), "-c", str(conf)], stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited ({self.proc.returncode}); see {self.root / 'mosquitto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("mosquitto did not start")

    def url(self, user: str = "studio") -> str:
        """mqtt://user:password@127.0.0.1:port for `studio` (the publisher) or `endpoint` (subscribers)."""
        return f"mqtt://{user}:{self.credentials[user]}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def client(url: str, client_id: str = ""):
    """A connected paho client for mqtt://user:password@host:port (loop running in its thread)."""
    import paho.mqtt.client as mqtt
    u = urlparse(url)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"studio-{secrets.token_hex(4)}")
    if u.username:
        c.username_pw_set(u.username, u.password or "")
    c.connect(u.hostname or "127.0.0.1", u.port or 1883, keepalive=30)
    c.loop_start()
    return c


class Announcer:
    """Publishes which areas' feeds changed; called with the new feeds generation (from the server's watcher)."""

    def __init__(self, app, url: str):
        self.app, self.url = app, url
        self._client = None
        self.since = datetime.utcnow()

    def __call__(self, generation: int) -> None:
        from studio.extensions import db
        from studio.services import feeds
        now = datetime.utcnow()
        with self.app.app_context():
            codes, priority = feeds.changed_areas(db.session, self.since)
        self.since = now
        if not codes:
            return
        try:
            if self._client is None:
                self._client = client(self.url)
            body = json.dumps({"generation": generation, "priority": priority, "at": now.isoformat() + "Z"})
            for code in codes:
                self._client.publish(TOPIC.format(code=code), body, qos=1, retain=True)
        except Exception:  # noqa: BLE001 - endpoints still poll; the next change is announced again
            log.warning("MQTT announcement failed", exc_info=True)
            self._client = None

    def close(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
