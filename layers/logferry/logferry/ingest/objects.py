"""Where objects are read from: S3 (the Lambda, `logferry ingest s3://...`, replay) or local files
(`logferry parse`, `logferry ingest PATH`). An object is a byte stream and its own time.

What went wrong is told apart for the caller: an object that is gone (deleted before it was
read) will never come back, while one that cannot be read now (access denied, throttled) may be
read later, so its message returns to the queue.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from ..model import ObjectRef
from .reader import Readable


class ObjectUnavailable(Exception):
    """The object could not be fetched now (access denied, throttled): retry later."""


class ObjectGone(Exception):
    """The object no longer exists (deleted before we read it): nothing to retry."""


@dataclass
class OpenedObject:
    stream: Readable | BinaryIO
    last_modified: datetime | None


class ObjectSource(Protocol):
    def open(self, ref: ObjectRef) -> OpenedObject: ...


class S3Objects:
    """Objects read with one client, or with each bucket's own (`client_for`: a role assumed
    for the buckets of another account, logferry.accounts.BucketClients)."""

    def __init__(self, s3: Any, client_for: Callable[[str], Any] | None = None) -> None:
        self._client_for = client_for or (lambda bucket: s3)

    def client(self, bucket: str) -> Any:
        """The client that reads `bucket`."""
        return self._client_for(bucket)

    @classmethod
    def reading(cls, s3: Any, source_role_arns: tuple[tuple[str, str], ...] = ()) -> S3Objects:
        """Objects of the buckets LOGFERRY_SOURCE_ROLE_ARNS names read through their role's
        client, the others through `s3`."""
        if not source_role_arns:
            return cls(s3)
        from ..accounts import BucketClients  # boto3's sessions: only when a role is set

        return cls(s3, BucketClients(s3, source_role_arns))

    def open(self, ref: ObjectRef) -> OpenedObject:
        args: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id:
            args["VersionId"] = ref.version_id
        s3 = self.client(ref.bucket)
        try:
            response = s3.get_object(**args)
        except s3.exceptions.NoSuchKey:
            raise ObjectGone(f"{ref.uri} does not exist (deleted?)") from None
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchVersion", "NoSuchBucket"):
                raise ObjectGone(f"{ref.uri}: {code}") from None
            raise ObjectUnavailable(f"{ref.uri}: {code or type(exc).__name__}: {exc}") from exc
        return OpenedObject(response["Body"], response.get("LastModified"))


class LocalFiles:
    def open(self, ref: ObjectRef) -> OpenedObject:
        try:
            stream = open(ref.key, "rb")  # noqa: SIM115 - closed by the pipeline
        except FileNotFoundError:
            raise ObjectGone(f"{ref.key} does not exist") from None
        mtime = datetime.fromtimestamp(os.fstat(stream.fileno()).st_mtime, UTC)
        return OpenedObject(stream, mtime)


class Objects:
    """S3 objects and local files (a reference without a bucket), for the command line."""

    def __init__(self, s3: Any | None, source_role_arns: tuple[tuple[str, str], ...] = ()) -> None:
        self._s3 = S3Objects.reading(s3, source_role_arns) if s3 is not None else None
        self._files = LocalFiles()

    def open(self, ref: ObjectRef) -> OpenedObject:
        if not ref.bucket:
            return self._files.open(ref)
        if self._s3 is None:
            raise ObjectUnavailable(f"{ref.uri}: no S3 client")
        return self._s3.open(ref)
