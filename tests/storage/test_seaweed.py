"""Embedded SeaweedFS: credentials generated once and kept, data kept across restarts, clear failures."""
from __future__ import annotations

import json
import os
import stat

import pytest

from storage.errors import StorageUnavailable
from storage.objectstore import ObjectStore
from storage.seaweed import EmbeddedSeaweed, running_url


@pytest.mark.slow
def test_restart_reuses_credentials_and_data(tmp_path):
    root = tmp_path / "objectstore"
    with EmbeddedSeaweed(root) as first:
        url1 = first.url
        ObjectStore.from_url(first.url).put_bytes("keep/me.txt", b"still here")
    ident = root / "s3-identities.json"
    assert stat.S_IMODE(os.stat(ident).st_mode) == 0o600
    assert json.loads(ident.read_text())["identities"][0]["credentials"][0]["secretKey"] in url1
    assert running_url(root) is None  # stopped: no address left behind
    with EmbeddedSeaweed(root) as second:
        assert second.credentials == first.credentials
        assert ObjectStore.from_url(second.url).get_bytes("keep/me.txt") == b"still here"
        # Where it was: a worker or a client holding the address finds the restarted store.
        assert second.url == url1 and running_url(root) == url1


def test_missing_binary_is_explained(tmp_path):
    with pytest.raises(StorageUnavailable, match="STUDIO_WEED_BIN"):
        EmbeddedSeaweed(tmp_path, binary=str(tmp_path / "no-such-weed")).start()


# Run as another account of the machine (nobody) when the tests run as root, else as this one: it tries to
# read, write and delete through every port and Unix socket weed listens on, without credentials.
PROBE = r'''
import json, socket, ssl, sys, http.client
spec = json.loads(sys.argv[1])
bucket, key = spec["bucket"], spec["key"]
out = {"tcp": {}, "unix": {}}

def ask(port, method, path, body=None, tls=False):
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=body, headers={"Content-Type": "text/plain"})
        resp = conn.getresponse()
        return [resp.status, resp.read(300).decode("utf-8", "replace")]
    except Exception as exc:
        return [type(exc).__name__, str(exc)[:200]]

for port in spec["tcp"]:
    if port == spec["s3"]:
        tries = [("GET", f"/{bucket}/"), ("GET", f"/{bucket}/{key}"), ("PUT", f"/{bucket}/planted.txt"),
                 ("DELETE", f"/{bucket}/{key}")]
        out["tcp"][port] = {"http": [ask(port, m, p, b"x" if m == "PUT" else None) for m, p in tries]}
        continue
    tries = [("GET", f"/buckets/{bucket}/"), ("GET", f"/buckets/{bucket}/{key}"),
             ("POST", f"/buckets/{bucket}/planted.txt"), ("DELETE", f"/buckets/{bucket}/{key}"),
             ("GET", "/dir/assign"), ("GET", "/dir/status"), ("GET", "/status")]
    out["tcp"][port] = {
        "http": [ask(port, m, p, b"x" if m == "POST" else None) for m, p in tries],
        "https": [ask(port, m, p, b"x" if m == "POST" else None, tls=True) for m, p in tries[:4]],
    }
for path in spec["unix"]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        out["unix"][path] = "connected"
    except OSError as exc:
        out["unix"][path] = type(exc).__name__
    finally:
        s.close()
print(json.dumps(out))
'''


def test_no_port_of_the_store_answers_without_credentials(seaweed, store):
    """Every TCP port and Unix socket of the running weed, probed with no credentials: nothing read or changed."""
    import subprocess
    import sys

    store.put_bytes("drafts/unapproved.txt", b"draft text nobody may read")
    listening = seaweed.listening()
    assert seaweed.ports["s3.port"] in listening["tcp"]
    # weed mini's master, volume, filer (HTTP and gRPC), S3 gRPC and admin gRPC listen besides S3.
    assert len(listening["tcp"]) >= 7, listening
    spec = {"bucket": store.bucket, "key": "drafts/unapproved.txt", "s3": seaweed.ports["s3.port"], **listening}
    as_other = os.geteuid() == 0
    proc = subprocess.run(
        ["/usr/bin/python3" if as_other else sys.executable, "-c", PROBE, json.dumps(spec)],
        capture_output=True, text=True, timeout=120, cwd="/",
        user=65534 if as_other else None, group=65534 if as_other else None, extra_groups=[] if as_other else None)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)

    for port, answers in seen["tcp"].items():
        if int(port) == seaweed.ports["s3.port"]:
            assert [a[0] for a in answers["http"]] == [403, 403, 403, 403], answers
            continue
        for status, text in answers["http"]:
            # A refused or dropped connection, or "Client sent an HTTP request to an HTTPS server" (400).
            assert isinstance(status, str) or (status == 400 and "HTTPS" in text), (port, status, text)
        for status, text in answers["https"]:
            assert isinstance(status, str), (port, status, text)  # TLS without a client certificate: refused
    for path, outcome in seen["unix"].items():
        if as_other:
            assert outcome == "PermissionError", (path, outcome)
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path
    # Nothing was changed either.
    assert store.get_bytes("drafts/unapproved.txt") == b"draft text nobody may read"
    assert not store.exists("planted.txt")
    assert stat.S_IMODE(os.stat(seaweed.root / "tls" / "node.key").st_mode) == 0o600
