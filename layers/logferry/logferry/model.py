"""The data shapes that pass between the stages of the pipeline."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One log object to ingest: an S3 object, or a local file (bucket is empty)."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    event_time: datetime | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket else self.key

    @property
    def identity(self) -> str:
        """A short stable digest of what makes this object unique.

        Document ids derive from it, so re-ingesting the same object (same bucket, key and
        version or etag) always yields the same ids and overwrites instead of duplicating.
        """
        version = self.version_id or (self.etag or "").strip('"')
        raw = f"{self.bucket}\0{self.key}\0{version}".encode()
        return hashlib.blake2b(raw, digest_size=12).hexdigest()


Source = dict[str, Any]
# One line of an object: (1-based line number, text without the newline).
Line = tuple[int, str]


@dataclass(slots=True)
class Document:
    """A parsed entry: its ECS body and where it came from in the object.

    `position` is the 1-based line number; `sub` tells apart several entries found on one
    line (CloudTrail records, concatenated WAF objects). `doc_id` overrides the positional id
    for documents that have a natural key (mail transactions). `index_source` overrides the
    format's index source for an entry of another format carried inside this one (CloudWatch
    Logs subscription data: logferry.formats.cloudwatch_logs).
    """

    source: Source
    position: int
    sub: int = 0
    doc_id: str | None = None
    index_source: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line that could not become a document, with the reason, kept for replay."""

    position: int
    reason: str
    raw: str


@dataclass(slots=True)
class ParseContext:
    """What a parser may know about the object besides its lines."""

    ref: ObjectRef
    # The object's own time (S3 LastModified / notification time / file mtime): mail logs
    # without a year take theirs from it.
    object_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    keep_original: bool = False
    # Mail logs: the zone of syslog times without an offset (None: UTC), and the queue
    # lifetime, how far apart the lines of one transaction may be (Settings).
    timezone: tzinfo | None = None
    mail_queue_days: int = 5
    # CloudWatch Logs subscription data: log group pattern -> format (LOGFERRY_LOG_GROUPS).
    log_groups: tuple[tuple[str, str], ...] = ()
    # What a format that reads the object whole (a JSON stream, not lines) reports of it: the
    # lines it went through and the damage that ended it. The pipeline takes them over.
    lines_read: int | None = None
    problem: str | None = None


class UnsupportedObject(Exception):
    """Raised by a format for an object it recognises but cannot read (e.g. VPC flow logs in
    Parquet): the object gets the outcome "unsupported" and is kept as a dead letter."""


class ParseError(ValueError):
    """Raised by a line parser: the message is the rejection reason."""
