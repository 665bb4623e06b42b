"""Embedded SeaweedFS: credentials generated once and kept, data kept across restarts, clear failures."""
from __future__ import annotations

import json
import os
import stat

import pytest

from storage.errors import StorageUnavailable
from storage.objectstore import ObjectStore
from storage.seaweed import EmbeddedSeaweed


@pytest.mark.slow
def test_restart_reuses_credentials_and_data(tmp_path):
    root = tmp_path / "objectstore"
    with EmbeddedSeaweed(root) as first:
        url1 = first.url
        ObjectStore.from_url(first.url).put_bytes("keep/me.txt", b"still here")
    ident = root / "s3-identities.json"
    assert stat.S_IMODE(os.stat(ident).st_mode) == 0o600
    assert json.loads(ident.read_text())["identities"][0]["credentials"][0]["secretKey"] in url1
    with EmbeddedSeaweed(root) as second:
        assert second.credentials == first.credentials
        assert ObjectStore.from_url(second.url).get_bytes("keep/me.txt") == b"still here"


def test_missing_binary_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_WEED_BIN", str(tmp_path / "no-such-weed"))
    with pytest.raises(StorageUnavailable, match="STUDIO_WEED_BIN"):
        EmbeddedSeaweed(tmp_path).start()
