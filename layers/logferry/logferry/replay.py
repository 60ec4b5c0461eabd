"""`logferry replay`: what could not be indexed, through the pipeline again.

Two sources:
- Dead letters in S3 (logferry.ingest.deadletter). Every record names its source object, and
  re-ingesting that object is the replay: ids are deterministic, so the documents already
  indexed are overwritten, not duplicated, and a parser or template fixed since gets its
  chance at every line. (Re-parsing only the kept raw line was not chosen: an over-long line is
  kept cut short, and a format that reads whole objects has no "line" to re-parse.) Each
  source object is ingested once however many records name it. If it no longer exists,
  `document` records are sent again as kept (under their `_id`); `line` and `object` records
  are left in place and counted as gone.
  A dead-letter file is removed once its object went through again, unless the replay wrote it
  anew (what is still rejected is kept again, under the same deterministic name).
- The ingest queue's DLQ: each message goes through IngestService.process_message, the
  Lambda's own path, and is deleted once it succeeds; a message that fails again stays (it
  becomes visible in the DLQ again after the visibility timeout).
Running it twice is safe: everything it does is idempotent, and what it cleared is gone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from .config import ResumeSettings, Settings
from .ingest.service import RETURNED, IngestService
from .model import ObjectRef

log = logging.getLogger(__name__)

KINDS = ("object", "line", "document")
# Seconds a DLQ message stays hidden once received: failed ones must not come round again in
# the same run.
VISIBILITY_SECONDS = 900


@dataclass
class ReplaySummary:
    files: int = 0  # dead-letter files read
    records: int = 0  # records in them
    objects: int = 0  # source objects ingested again
    documents: int = 0  # documents indexed by the replay (objects and messages)
    rejected: int = 0  # lines rejected again (kept again)
    resent: int = 0  # kept documents sent again, their object being gone
    gone: int = 0  # records whose object is gone and that could not be replayed (kept)
    failed: int = 0  # objects or messages that failed again (kept)
    cleared: int = 0  # dead-letter files removed: all they held went through again
    messages: int = 0  # DLQ messages processed
    deleted: int = 0  # DLQ messages deleted after success

    def text(self) -> str:
        return (
            f"dead letters: {self.files} files, {self.records} records -> {self.objects}"
            f" objects ingested again, {self.resent} documents sent again, {self.cleared}"
            f" files cleared, {self.gone} records whose object is gone\n"
            f"DLQ: {self.messages} messages, {self.deleted} done and deleted\n"
            f"{self.documents} documents indexed, {self.rejected} lines rejected again,"
            f" {self.failed} failed again (kept for the next replay)"
        )


class _WriteLog:
    """The S3 client, noting every key it writes (the dead letters the replay writes anew)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.written: set[tuple[str, str]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_object(self, **kwargs: Any) -> Any:
        self.written.add((kwargs["Bucket"], kwargs["Key"]))
        return self._client.put_object(**kwargs)


@dataclass
class _File:
    key: str
    kind: str
    records: list[dict[str, Any]]


@dataclass
class _Source:
    bucket: str
    key: str
    etag: str | None
    version_id: str | None = None
    day: datetime | None = None
    files: list[_File] = field(default_factory=list)


class Progress:
    """A counter on one line of stderr (a terminal's progress bar without a dependency)."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._shown = False

    def show(self, text: str) -> None:
        if self._stream is not None:
            self._stream.write(f"\r{text}\033[K")
            self._stream.flush()
            self._shown = True

    def done(self) -> None:
        if self._stream is not None and self._shown:
            self._stream.write("\n")
            self._shown = False


class Replay:
    def __init__(
        self,
        settings: Settings,
        s3: Any,
        opensearch: Any,
        sqs: Any = None,
        progress: TextIO | None = None,  # where the progress counter goes (stderr)
    ) -> None:
        self.s3 = _WriteLog(s3)
        self.sqs = sqs
        # No time budget and no continuations: a replay reads every object to its end.
        whole = dataclasses.replace(settings, resume=ResumeSettings())
        self.service = IngestService.build(whole, self.s3, opensearch)
        self.summary = ReplaySummary()
        self.progress = Progress(progress)

    # -- dead letters --------------------------------------------------------------------

    def _files(self, bucket: str, prefix: str) -> Iterator[tuple[str, str]]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for kind in KINDS:
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}{kind}/"):
                for item in page.get("Contents", []):
                    yield kind, item["Key"]

    def _sources(self, bucket: str, prefix: str) -> list[_Source]:
        sources: dict[tuple[str, str, str | None], _Source] = {}
        for kind, key in self._files(bucket, prefix):
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            records = [orjson.loads(line) for line in body.splitlines() if line.strip()]
            self.summary.files += 1
            self.summary.records += len(records)
            self.progress.show(f"replay: reading dead letters: {self.summary.files} files")
            if not records:
                continue
            first = records[0]
            ident = (first["bucket"], first["key"], first.get("etag"))
            source = sources.get(ident)
            if source is None:
                source = sources[ident] = _Source(*ident, day=_day_of(key, prefix, kind))
            source.version_id = source.version_id or first.get("version_id")
            source.files.append(_File(key, kind, records))
        return list(sources.values())

    def deadletters(self, bucket: str, prefix: str) -> None:
        sources = self._sources(bucket, prefix)
        for number, source in enumerate(sources, 1):
            self.progress.show(f"replay: dead letters: {number}/{len(sources)} objects")
            self._replay_source(bucket, source)
        self.progress.done()

    def _replay_source(self, bucket: str, source: _Source) -> None:
        if not source.bucket:  # a local file ingested from a terminal: nothing to fetch
            self.summary.gone += sum(len(f.records) for f in source.files)
            return
        ref = ObjectRef(
            source.bucket,
            source.key,
            etag=source.etag,
            version_id=source.version_id or self._version_of(source),
            event_time=source.day,
        )
        self.service.sink.start_object()
        try:
            result = self.service.pipeline.ingest(ref)
        except RETURNED as exc:
            self.service.sink.discard()
            log.warning("replay: %s failed again: %s", ref.uri, exc)
            self.summary.failed += 1
            return
        if result.outcome == "missing":
            for file in source.files:
                self._replay_kept(bucket, file)
            return
        self.summary.objects += 1
        self.summary.documents += result.documents
        self.summary.rejected += result.rejected
        for file in source.files:
            self._clear(bucket, file)

    def _replay_kept(self, bucket: str, file: _File) -> None:
        """The object is gone: documents are sent again as kept; other records stay."""
        if file.kind != "document":
            self.summary.gone += len(file.records)
            return
        sink = self.service.sink
        failed_before = len(sink.failures)
        indexed_before = sink.stats.indexed
        try:
            for record in file.records:
                sink.add(record["index"], record["_id"], orjson.dumps(record["document"]))
            sink.flush()
        except RETURNED as exc:
            sink.discard()
            log.warning("replay: documents of %s failed again: %s", file.key, exc)
            self.summary.failed += 1
            return
        refused = len(sink.failures) - failed_before
        del sink.failures[failed_before:]
        self.summary.resent += sink.stats.indexed - indexed_before
        self.summary.documents += sink.stats.indexed - indexed_before
        if refused:
            self.summary.failed += 1  # still refused: the file stays as it is
        else:
            self._clear(bucket, file)

    def _clear(self, bucket: str, file: _File) -> None:
        if (bucket, file.key) in self.s3.written:
            return  # written anew by this replay: what it holds is still rejected
        self.s3.delete_object(Bucket=bucket, Key=file.key)
        self.summary.cleared += 1

    def _version_of(self, source: _Source) -> str | None:
        """The version an S3 notification named, for a versioned bucket (ids derive from it);
        dead-letter records of lines and documents carry only the ETag."""
        if not source.etag:
            return None
        try:
            status = self.s3.get_bucket_versioning(Bucket=source.bucket).get("Status")
            if status != "Enabled":
                return None
            listed = self.s3.list_object_versions(Bucket=source.bucket, Prefix=source.key)
        except Exception as exc:  # no permission to look: the ETag identity is the best guess
            log.warning("replay: versions of s3://%s/%s: %s", source.bucket, source.key, exc)
            return None
        for version in listed.get("Versions", []):
            if version["Key"] == source.key and version["ETag"].strip('"') == source.etag.strip(
                '"'
            ):
                return str(version["VersionId"])
        return None

    # -- the ingest queue's DLQ ----------------------------------------------------------

    def queue(self, url: str) -> None:
        if self.sqs is None:
            raise ValueError("replaying a queue needs an SQS client")
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=VISIBILITY_SECONDS,
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.summary.messages += 1
                self.progress.show(f"replay: DLQ: {self.summary.messages} messages")
                try:
                    results = self.service.process_message(message["Body"])
                except Exception as exc:
                    log.warning("replay: message %s failed again: %s", message["MessageId"], exc)
                    self.summary.failed += 1
                    continue
                self.summary.documents += sum(r.documents for r in results)
                self.summary.rejected += sum(r.rejected for r in results)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self.summary.deleted += 1
        self.progress.done()


def _day_of(key: str, prefix: str, kind: str) -> datetime | None:
    """The day in a dead-letter key (<prefix><kind>/YYYY/MM/DD/...): replayed records of the
    object are written back under the same name."""
    parts = key[len(prefix) + len(kind) + 1 :].split("/")
    try:
        return datetime(int(parts[0]), int(parts[1]), int(parts[2]), tzinfo=UTC)
    except (ValueError, IndexError):
        return None
