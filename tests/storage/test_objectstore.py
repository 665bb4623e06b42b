"""The object store against a real SeaweedFS S3 server."""
from __future__ import annotations

import io
import os
import tracemalloc
import urllib.error
import urllib.request

import pytest

from storage.errors import ObjectNotFound, StorageError, StorageUnavailable
from storage.objectstore import ObjectStore, parse_s3_url


def test_put_get_stat_list_delete(store, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(300_000))
    info = store.put_file("media/a.bin", src, content_type="audio/mpeg")
    assert info.size == 300_000
    assert store.stat("media/a.bin").content_type == "audio/mpeg"
    assert b"".join(store.get("media/a.bin")) == src.read_bytes()
    assert b"".join(store.get("media/a.bin", offset=10, length=5)) == src.read_bytes()[10:15]
    store.put_stream("media/b.txt", io.BytesIO("xin chào".encode()), -1, content_type="text/plain")
    assert store.get_bytes("media/b.txt").decode() == "xin chào"
    assert sorted(o.key for o in store.list("media/")) == ["media/a.bin", "media/b.txt"]
    store.delete("media/a.bin")
    assert not store.exists("media/a.bin")
    with pytest.raises(ObjectNotFound):
        store.stat("media/a.bin")


def test_presigned_get_supports_range(store):
    store.put_bytes("x/range.txt", b"0123456789")
    url = store.presign_get("x/range.txt")
    req = urllib.request.Request(url, headers={"Range": "bytes=3-6"})
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 206
        assert resp.read() == b"3456"


def test_anonymous_access_is_refused(store, seaweed):
    store.put_bytes("secret/doc.txt", b"not for everyone")
    base = f"http://{seaweed.endpoint}/{store.bucket}"
    with pytest.raises(urllib.error.HTTPError) as read:
        urllib.request.urlopen(f"{base}/secret/doc.txt")
    assert read.value.code == 403
    put = urllib.request.Request(f"{base}/anon.txt", data=b"x", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as write:
        urllib.request.urlopen(put)
    assert write.value.code == 403
    assert not store.exists("anon.txt")
    with pytest.raises(urllib.error.HTTPError) as listing:
        urllib.request.urlopen(f"{base}?list-type=2")
    assert listing.value.code == 403


def test_wrong_credentials_are_refused(store, seaweed):
    bad = ObjectStore(seaweed.endpoint, "nobody", "wrong-secret-key", store.bucket)
    with pytest.raises(StorageUnavailable, match="credentials"):
        bad.ping()


def test_large_upload_streams_with_bounded_memory(store, tmp_path, monkeypatch):
    """A 96 MB file is uploaded in parts: Python never holds more than a few parts."""
    import storage.objectstore as mod
    monkeypatch.setattr(mod, "PART_SIZE", 5 * 1024 * 1024)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        store.put_file("big/big.bin", big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.stat("big/big.bin").size == 96 * 1024 * 1024
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 96 MiB upload"


def test_unreachable_store_raises_storage_unavailable():
    dead = ObjectStore("127.0.0.1:9", "a", "b", "bucket", timeout=1)
    with pytest.raises(StorageUnavailable, match="unreachable"):
        dead.ping()


@pytest.mark.parametrize("url,msg", [
    ("ftp://a:b@host/bucket", "must start with"),
    ("http://a:b@host:9000/", "exactly one bucket"),
    ("http://host:9000/bucket", "credentials"),
])
def test_bad_urls_are_explained(url, msg):
    with pytest.raises(StorageError, match=msg):
        parse_s3_url(url)


def test_url_with_escaped_secret():
    cfg = parse_s3_url("https://AK:se%2Fcret@s3.example.org/media")
    assert cfg == {"endpoint": "s3.example.org", "access_key": "AK", "secret_key": "se/cret", "secure": True,
                   "bucket": "media"}
