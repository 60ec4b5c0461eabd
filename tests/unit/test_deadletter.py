"""Dead-letter records: each names the exact object version it came from, and why."""

from __future__ import annotations

from logferry.deadletter import document_record, line_record, object_record
from logferry.model import ObjectRef, Rejection
from logferry.sink import FailedDocument

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
