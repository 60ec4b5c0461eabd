"""Dead-letter records: each names the exact object version it came from, and why."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import orjson

from logferry.config import Settings
from logferry.ingest.deadletter import (
    PART_BYTES,
    RAW_KEPT_BYTES,
    S3DeadLetters,
    document_record,
    line_record,
    object_record,
)
from logferry.ingest.objects import OpenedObject
from logferry.ingest.pipeline import Pipeline
from logferry.model import ObjectRef, Rejection
from logferry.output.sink import BulkSink, FailedDocument
from tests.conftest import HISTORY_DAYS
from tests.support import NLB_KEY, nlb_line

REF = ObjectRef("logs", "AWSLogs/1/elb.log.gz", etag="abc", version_id="v7")


def test_every_kind_of_record_names_bucket_key_etag_and_version() -> None:
    records = [
        line_record(REF, "nlb", Rejection(3, "expected 22 fields, got 2", "bad line")),
        document_record(REF, "nlb", FailedDocument("logs-nlb-x", "id", b'{"a":1}', 400, "bad")),
        object_record(REF, "nlb", "truncated gzip stream"),
    ]
    assert [r["kind"] for r in records] == ["line", "document", "object"]
    for record in records:
        assert (record["bucket"], record["key"], record["etag"], record["version_id"]) == (
            "logs",
            "AWSLogs/1/elb.log.gz",
            "abc",
            "v7",
        )
        assert record["object"] == "s3://logs/AWSLogs/1/elb.log.gz" and record["format"] == "nlb"
    assert records[0]["line"] == 3 and records[0]["raw"] == "bad line"
    assert records[1]["document"] == {"a": 1} and records[1]["status"] == 400
    assert records[2]["reason"] == "truncated gzip stream"


class _Recorder:
    """An S3 client that keeps what is put, and how far the object had been read then."""

    def __init__(self, stream: io.BytesIO) -> None:
        self.stream = stream
        self.puts: list[tuple[int, str, bytes]] = []

    def put_object(self, **kwargs: Any) -> None:
        self.puts.append((self.stream.tell(), kwargs["Key"], kwargs["Body"]))


def test_rejected_lines_are_written_while_the_object_is_still_being_read() -> None:
    data = b"not a flow record, forty bytes in all.\n" * 60_000
    stream = io.BytesIO(data)
    s3 = _Recorder(stream)
    pipeline = Pipeline(
        Settings(), _OneStream(stream), BulkSink(_NoTransport()), S3DeadLetters(s3, "dl", "p/")
    )
    result = pipeline.ingest(ObjectRef("b", "AWSLogs/1/vpcflowlogs/us-east-1/x_vpcflowlogs_y.log"))
    assert (result.outcome, result.rejected, result.dead_lettered) == ("rejected", 60_000, 60_000)
    assert len(s3.puts) == 6 and all(len(body.splitlines()) == 10_000 for _, _, body in s3.puts)
    first_read_at = s3.puts[0][0]
    assert first_read_at < len(data) // 2  # the first part went out long before the end
    assert len({key for _, key, _ in s3.puts}) == 6


def test_a_long_rejected_line_keeps_a_bounded_prefix_its_length_and_digest() -> None:
    raw = "é" * 100_000  # 200,000 bytes
    record = line_record(REF, "nlb", Rejection(3, "bad", raw))
    assert len(record["raw"].encode()) <= RAW_KEPT_BYTES and record["raw_truncated"] is True
    assert record["raw_bytes"] == 200_000
    assert record["raw_sha256"] == hashlib.sha256(raw.encode()).hexdigest()
    assert "raw_truncated" not in line_record(REF, "nlb", Rejection(3, "bad", "short"))


class _OneStream:
    def __init__(self, stream: io.BytesIO) -> None:
        self.stream = stream

    def open(self, ref: ObjectRef) -> OpenedObject:
        return OpenedObject(self.stream, None)


class _NoTransport:
    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        raise AssertionError("nothing of a rejected object is sent")


class _RefusesEverything:
    """A bulk transport answering as OpenSearch does when every document is refused for good
    (a mapping conflict): no network, the sink's own handling of the answer is what is tested."""

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        count = body.count(b"\n") // 2
        error = {"type": "mapper_parsing_exception", "reason": "failed to parse"}
        return {"errors": True, "items": [{"index": {"status": 400, "error": error}}] * count}


def test_refused_documents_are_written_while_the_object_is_still_being_read() -> None:
    data = ("\n".join(nlb_line(n) for n in range(25_000)) + "\n").encode()
    stream = io.BytesIO(data)
    s3 = _Recorder(stream)
    sink = BulkSink(_RefusesEverything(), max_docs=1000)  # type: ignore[arg-type]
    settings = Settings(accept_days_back=HISTORY_DAYS)
    pipeline = Pipeline(settings, _OneStream(stream), sink, S3DeadLetters(s3, "dl", "p/"))
    result = pipeline.ingest(ObjectRef("b", NLB_KEY))
    assert (result.outcome, result.documents, result.extra["failed_documents"]) == (
        "rejected",
        0,
        25_000,
    )
    # bounded parts, the first written long before the end of the object
    assert s3.puts[0][0] < len(data) // 2 and len(s3.puts) > 2
    assert all(len(body) <= PART_BYTES + 4096 for _, _, body in s3.puts)  # and one record
    assert sink.failures == [] and sink.spill is None
    records = [orjson.loads(line) for _, _, body in s3.puts for line in body.splitlines()]
    assert len(records) == result.dead_lettered == 25_000
    assert {r["kind"] for r in records} == {"document"} and records[0]["status"] == 400
