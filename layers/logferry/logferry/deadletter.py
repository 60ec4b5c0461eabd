"""What could not be indexed, kept with its reason for replay.

Three kinds of record, one NDJSON object per record:
- "line":     a line the parser rejected (object, line number, reason, the raw text)
- "document": a parsed document OpenSearch refused for good (index, id, status, reason, body)
- "object":   an object that could not be read or recognised (object, reason)

In S3 they land under `<prefix><kind>/<YYYY>/<MM>/<DD>/<object identity>-<part>.ndjson`,
one file per object and part. The names are deterministic, so processing an object again
overwrites its dead letters instead of adding a second copy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

import orjson

from .model import ObjectRef, Rejection
from .sink import FailedDocument

PART_RECORDS = 10_000


def _about(kind: str, ref: ObjectRef, fmt: str | None) -> dict[str, Any]:
    """What every record says of its object: enough to fetch that very version again."""
    return {
        "kind": kind,
        "object": ref.uri,
        "bucket": ref.bucket,
        "key": ref.key,
        "etag": ref.etag,
        "version_id": ref.version_id,
        "format": fmt,
    }


def line_record(ref: ObjectRef, fmt: str | None, rejection: Rejection) -> dict[str, Any]:
    return {
        **_about("line", ref, fmt),
        "line": rejection.position,
        "reason": rejection.reason,
        "raw": rejection.raw,
    }


def document_record(ref: ObjectRef, fmt: str | None, failed: FailedDocument) -> dict[str, Any]:
    return {
        **_about("document", ref, fmt),
        "index": failed.index,
        "_id": failed.doc_id,
        "status": failed.status,
        "reason": failed.reason,
        "document": orjson.loads(failed.body),
    }


def object_record(ref: ObjectRef, fmt: str | None, reason: str) -> dict[str, Any]:
    return {**_about("object", ref, fmt), "reason": reason}


class DeadLetters(Protocol):
    def write(self, ref: ObjectRef, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Keep the records of one kind for one object; return how many were kept."""
        ...


class S3DeadLetters:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def key_for(self, ref: ObjectRef, kind: str, part: int) -> str:
        day = (ref.event_time or datetime.now(UTC)).strftime("%Y/%m/%d")
        return f"{self._prefix}{kind}/{day}/{ref.identity}-{part:04d}.ndjson"

    def write(self, ref: ObjectRef, kind: str, records: Iterable[dict[str, Any]]) -> int:
        count = 0
        part: list[bytes] = []
        for record in records:
            part.append(orjson.dumps(record))
            if len(part) == PART_RECORDS:
                self._put(self.key_for(ref, kind, count // PART_RECORDS), part)
                count += len(part)
                part = []
        if part:
            self._put(self.key_for(ref, kind, count // PART_RECORDS), part)
            count += len(part)
        return count

    def _put(self, key: str, lines: list[bytes]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=b"\n".join(lines) + b"\n",
            ContentType="application/x-ndjson",
        )


class StreamDeadLetters:
    """For people at a terminal: one `PATH:LINE: reason` line per record, on stderr."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def write(self, ref: ObjectRef, kind: str, records: Iterable[dict[str, Any]]) -> int:
        stream = self._stream or sys.stderr
        count = 0
        for record in records:
            where = f"{ref.uri}:{record['line']}" if kind == "line" else ref.uri
            detail = f" [{record['_id']} -> {record['index']}]" if kind == "document" else ""
            print(f"{where}: {record['reason']}{detail}", file=stream)
            count += 1
        return count
