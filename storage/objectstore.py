"""S3 object store on the minio SDK: put, get, stat, list, delete, presign."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import unquote, urlsplit

import urllib3
from minio import Minio
from minio.error import S3Error

from storage.errors import ObjectNotFound, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

# Parts of 16 MiB keep memory flat for large media while keeping the part count low.
PART_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object."""

    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime | None
    metadata: dict


def parse_s3_url(url: str) -> dict:
    """Split `http(s)://ACCESS:SECRET@host:port/bucket` into client settings."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "s3"):
        raise StorageError(f"Object store URL must start with http://, https:// or s3://, got {url!r}")
    bucket = parts.path.strip("/")
    if not bucket or "/" in bucket:
        raise StorageError(f"Object store URL must name exactly one bucket as its path, got {parts.path!r}")
    if not parts.username or not parts.password:
        raise StorageError("Object store URL must carry credentials (ACCESS:SECRET@host); anonymous access is not used")
    return {
        "endpoint": parts.netloc.rsplit("@", 1)[1],
        "access_key": unquote(parts.username),
        "secret_key": unquote(parts.password),
        "secure": parts.scheme == "https",
        "bucket": bucket,
    }


class ObjectStore:
    """One bucket on an S3 endpoint."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str,
                 secure: bool = False, region: str = "us-east-1", timeout: float = 30.0):
        """Create a client; nothing is contacted until the first call."""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=16,
        )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region, http_client=http)
        self.bucket = bucket
        self.endpoint = endpoint

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "ObjectStore":
        """Build a store from an `http(s)://ACCESS:SECRET@host:port/bucket` URL."""
        return cls(**parse_s3_url(url), **kwargs)

    def _call(self, what: str, fn, *args, **kwargs):
        """Run one SDK call, turning its failures into StorageError with a readable message."""
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NoSuchBucket"):
                raise ObjectNotFound(f"{what}: {exc.code} ({exc.resource or ''})") from exc
            if exc.code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageUnavailable(f"{what}: the object store refused our credentials ({exc.code})") from exc
            raise StorageError(f"{what}: {exc.code}: {exc.message}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"{what}: object store at {self.endpoint} unreachable: {exc}") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        if not self._call("check bucket", self.client.bucket_exists, self.bucket):
            self._call("create bucket", self.client.make_bucket, self.bucket)

    def ping(self) -> None:
        """Raise StorageError unless the bucket is reachable with our credentials."""
        if not self._call("ping", self.client.bucket_exists, self.bucket):
            raise StorageUnavailable(f"bucket {self.bucket!r} does not exist")

    def put_file(self, key: str, path: str | Path, content_type: str = "application/octet-stream",
                 metadata: dict | None = None) -> ObjectInfo:
        """Upload a local file in parts; it is never read whole into memory."""
        self._call(f"put {key}", self.client.fput_object, self.bucket, key, str(path),
                   content_type=content_type, metadata=metadata, part_size=PART_SIZE)
        return self.stat(key)

    def put_stream(self, key: str, stream: BinaryIO, length: int = -1,
                   content_type: str = "application/octet-stream", metadata: dict | None = None) -> ObjectInfo:
        """Upload from a readable stream; unknown length (-1) uploads in parts of PART_SIZE."""
        self._call(f"put {key}", self.client.put_object, self.bucket, key, stream, length,
                   content_type=content_type, metadata=metadata, part_size=PART_SIZE)
        return self.stat(key)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> ObjectInfo:
        """Upload a small in-memory object (manifests, thumbnails)."""
        import io
        return self.put_stream(key, io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """The object's bytes in chunks, optionally from a byte range.

        The request is made here, before anything is yielded, so a missing object or an unreachable store
        raises at the call (a web response can still become a proper error) rather than mid-body.
        """
        resp = self._call(f"get {key}", self.client.get_object, self.bucket, key, offset=offset, length=length)
        return self._chunks(resp)

    @staticmethod
    def _chunks(resp) -> Iterator[bytes]:
        try:
            yield from resp.stream(256 * 1024)
        finally:
            resp.close()
            resp.release_conn()

    def get_bytes(self, key: str) -> bytes:
        """Read a small object whole."""
        return b"".join(self.get(key))

    def download(self, key: str, path: str | Path) -> None:
        """Copy an object into a local file."""
        self._call(f"download {key}", self.client.fget_object, self.bucket, key, str(path))

    def stat(self, key: str) -> ObjectInfo:
        """Return size, etag and type of an object; ObjectNotFound if missing."""
        st = self._call(f"stat {key}", self.client.stat_object, self.bucket, key)
        return ObjectInfo(key=key, size=st.size, etag=st.etag, content_type=st.content_type,
                          last_modified=st.last_modified, metadata=dict(st.metadata or {}))

    def exists(self, key: str) -> bool:
        """True when the object exists."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def list(self, prefix: str = "", recursive: bool = True) -> Iterator[ObjectInfo]:
        """Yield objects under a prefix."""
        objs = self._call(f"list {prefix}", self.client.list_objects, self.bucket, prefix=prefix, recursive=recursive)
        try:
            for o in objs:
                yield ObjectInfo(key=o.object_name, size=o.size or 0, etag=o.etag or "",
                                 content_type=None, last_modified=o.last_modified, metadata={})
        except S3Error as exc:
            raise StorageError(f"list {prefix}: {exc.code}") from exc

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy an object inside the bucket on the server (no bytes pass through us)."""
        from minio.commonconfig import CopySource
        self._call(f"copy {src_key} to {dst_key}", self.client.copy_object, self.bucket, dst_key,
                   CopySource(self.bucket, src_key))
        return self.stat(dst_key)

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error."""
        self._call(f"delete {key}", self.client.remove_object, self.bucket, key)

    def presign_get(self, key: str, expires: timedelta = timedelta(hours=1),
                    filename: str | None = None) -> str:
        """A time-limited GET URL; the store honours Range headers on it."""
        params = None
        if filename:
            params = {"response-content-disposition": f'attachment; filename="{filename}"'}
        return self._call(f"presign {key}", self.client.presigned_get_object, self.bucket, key,
                          expires=expires, response_headers=params)
