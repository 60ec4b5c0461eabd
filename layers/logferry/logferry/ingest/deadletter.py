"""What could not be indexed, kept with its reason for replay.

Three kinds of record, one NDJSON object per record:
- "line":     a line the parser rejected (object, line number, reason, the raw text)
- "document": a parsed document OpenSearch refused for good (index, id, status, reason, body)
- "object":   an object that could not be read or recognised (object, reason)

In S3 they land under `<prefix><kind>/<YYYY>/<MM>/<DD>/<object identity>-<part>.ndjson`,
one file per object and part. The names are deterministic, so processing an object again
overwrites its dead letters instead of adding a second copy.

Memory stays flat whatever an object holds: rejected lines are written while the object is
read (`DeadLetters.lines`), in parts of at most PART_RECORDS records or PART_BYTES bytes; a
record keeps the first RAW_KEPT_BYTES of its line with the line's full length and SHA-256
(replay reads the object again, not the kept text); past `max_rejections_kept` rejections of
one object the rest are counted, not kept, and one summary record says how many and where.
Measured (`python -m tools.bench --hostile`): 5,000,000 rejected one-byte lines, or 400 rejected
lines of 1 MiB, cost the handler no more memory than a valid object.
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import orjson

from ..model import ObjectRef, Rejection

if TYPE_CHECKING:  # (the sink module brings the OpenSearch client)
    from ..output.sink import FailedDocument

PART_RECORDS = 10_000
PART_BYTES = 8 << 20
# Of a rejected line, the record keeps this much (UTF-8 bytes) and the length and digest.
RAW_KEPT_BYTES = 64 << 10


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


def _line_fields(rejection: Rejection) -> dict[str, Any]:
    """The part of a line record that is the line's own: a long line is cut to RAW_KEPT_BYTES,
    with its full length and digest, so that it can be recognised but not cost its size."""
    raw = rejection.raw
    fields: dict[str, Any] = {"line": rejection.position, "reason": rejection.reason, "raw": raw}
    if len(raw) > RAW_KEPT_BYTES // 4:  # may be over RAW_KEPT_BYTES once encoded
        data = raw.encode("utf-8", "surrogatepass")
        if len(data) > RAW_KEPT_BYTES:
            fields["raw"] = data[:RAW_KEPT_BYTES].decode("utf-8", "ignore")
            fields["raw_truncated"] = True
            fields["raw_bytes"] = len(data)
            fields["raw_sha256"] = hashlib.sha256(data).hexdigest()
    return fields


def line_record(ref: ObjectRef, fmt: str | None, rejection: Rejection) -> dict[str, Any]:
    return {**_about("line", ref, fmt), **_line_fields(rejection)}


def summary_record(
    ref: ObjectRef, fmt: str | None, rejected: int, kept: int, first: int, last: int
) -> dict[str, Any]:
    """The record that stands for the rejections of an object past the ones kept."""
    return {
        **_about("line", ref, fmt),
        "summary": True,
        "line": first,
        "last_line": last,
        "reason": (
            f"{rejected - kept} more rejected lines, from line {first} to {last}, are counted"
            f" but not kept one by one (LOGFERRY_MAX_REJECTIONS_KEPT={kept})"
        ),
        "rejected": rejected,
        "kept": kept,
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


class LineLetters(Protocol):
    """The rejected lines of one object (or segment), kept as they come."""

    rejected: int  # every rejection added, kept or only counted

    def add(self, rejection: Rejection) -> None: ...

    def close(self) -> int:
        """Keep what is still buffered; return how many records were written in all."""
        ...


class DocumentLetters(Protocol):
    """The documents OpenSearch refused for good, of one object (or segment), kept as the
    bulk requests that refused them end."""

    failed: int

    def add(self, failures: list[FailedDocument]) -> None: ...

    def close(self) -> int: ...


class DeadLetters(Protocol):
    def write(self, ref: ObjectRef, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Keep the records of one kind for one object; return how many were kept."""
        ...

    def lines(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None, keep: int) -> LineLetters:
        """A writer of `ref`'s rejected lines, under `kept_as`'s name, keeping `keep` at most."""
        ...

    def documents(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None) -> DocumentLetters:
        """A writer of `ref`'s refused documents, under `kept_as`'s name."""
        ...


Put = Callable[[list[bytes]], None]


class _Parts:
    """Encoded records handed to `put` in parts of at most PART_RECORDS records or PART_BYTES
    bytes (one at a time when not `batched`)."""

    def __init__(self, put: Put, batched: bool = True) -> None:
        self._put = put
        self._batched = batched
        self._buffer: list[bytes] = []
        self._bytes = 0
        self.written = 0

    def add(self, record: bytes) -> None:
        self._buffer.append(record)
        self._bytes += len(record) + 1  # and its newline
        if not self._batched or len(self._buffer) >= PART_RECORDS or self._bytes >= PART_BYTES:
            self.flush()

    def flush(self) -> int:
        if self._buffer:
            self._put(self._buffer)
            self.written += len(self._buffer)
            self._buffer, self._bytes = [], 0
        return self.written


class _KeptLines:
    """LineLetters: each record is the object's fields, encoded once, joined to the line's."""

    def __init__(self, parts: _Parts, ref: ObjectRef, fmt: str | None, keep: int) -> None:
        self._parts = parts
        self._ref, self._fmt = ref, fmt
        self._about = orjson.dumps(_about("line", ref, fmt))[:-1] + b","
        self._keep = keep
        self.rejected = 0
        self._unkept: tuple[int, int] | None = None  # first and last line not kept

    def add(self, rejection: Rejection) -> None:
        self.rejected += 1
        if self.rejected > self._keep:
            first = self._unkept[0] if self._unkept else rejection.position
            self._unkept = (first, rejection.position)
            return
        self._parts.add(self._about + orjson.dumps(_line_fields(rejection))[1:])

    def close(self) -> int:
        if self._unkept is not None:
            first, last = self._unkept
            summary = summary_record(self._ref, self._fmt, self.rejected, self._keep, first, last)
            self._parts.add(orjson.dumps(summary))
        return self._parts.flush()


class _KeptDocuments:
    """DocumentLetters over _Parts."""

    def __init__(self, parts: _Parts, ref: ObjectRef, fmt: str | None) -> None:
        self._parts = parts
        self._ref, self._fmt = ref, fmt
        self.failed = 0

    def add(self, failures: list[FailedDocument]) -> None:
        self.failed += len(failures)
        for failed in failures:
            self._parts.add(orjson.dumps(document_record(self._ref, self._fmt, failed)))

    def close(self) -> int:
        return self._parts.flush()


class S3DeadLetters:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def key_for(self, ref: ObjectRef, kind: str, part: int) -> str:
        day = (ref.event_time or datetime.now(UTC)).strftime("%Y/%m/%d")
        return f"{self._prefix}{kind}/{day}/{ref.identity}-{part:04d}.ndjson"

    def write(self, ref: ObjectRef, kind: str, records: Iterable[dict[str, Any]]) -> int:
        parts = self._parts(ref, kind)
        for record in records:
            parts.add(orjson.dumps(record))
        return parts.flush()

    def _parts(self, kept_as: ObjectRef, kind: str) -> _Parts:
        numbers = itertools.count()

        def put(records: list[bytes]) -> None:
            self._put(self.key_for(kept_as, kind, next(numbers)), records)

        return _Parts(put)

    def lines(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None, keep: int) -> LineLetters:
        return _KeptLines(self._parts(kept_as, "line"), ref, fmt, keep)

    def documents(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None) -> DocumentLetters:
        return _KeptDocuments(self._parts(kept_as, "document"), ref, fmt)

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

    def _parts(self, ref: ObjectRef, kind: str) -> _Parts:
        def show(records: list[bytes]) -> None:
            self.write(ref, kind, map(orjson.loads, records))

        return _Parts(show, batched=False)

    def lines(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None, keep: int) -> LineLetters:
        return _KeptLines(self._parts(ref, "line"), ref, fmt, keep)

    def documents(self, kept_as: ObjectRef, ref: ObjectRef, fmt: str | None) -> DocumentLetters:
        return _KeptDocuments(self._parts(ref, "document"), ref, fmt)
