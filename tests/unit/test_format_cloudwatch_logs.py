"""CloudWatch Logs subscription data of any log group: each record becomes the document its S3
twin gives, under its own format's indices, with the envelope's owner as its account and the log
event's time where the record has none."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from logferry.config import Settings
from logferry.formats.cloudwatch_logs import FORMAT
from logferry.formats.vpcflow import FORMAT as VPCFLOW
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.unit.test_format_cloudwatch_mail import FROM, TO

OWNER = "111122223333"
VPC_RECORD = (
    "2 444455556666 eni-0a1b2c3d 10.0.0.7 10.0.1.5 49152 443 6 10 840 1795694400 1795694460"
    " ACCEPT OK"
)
REPORT = (
    "REPORT RequestId: 8f5c1a2e-0d4b-4c3e-9a55-1b2c3d4e5f60\tDuration: 12.34 ms\t"
    "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t"
)


def envelope(group: str, *messages: str, kind: str = "DATA_MESSAGE") -> bytes:
    events = [
        {"id": str(n), "timestamp": 1795694400000 + n, "message": m} for n, m in enumerate(messages)
    ]
    body = {
        "messageType": kind,
        "owner": OWNER,
        "logGroup": group,
        "logStream": "stream-1",
        "subscriptionFilters": ["all"],
        "logEvents": events,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def parse(*envelopes: bytes, log_groups: tuple[tuple[str, str], ...] = ()) -> list[Any]:
    ctx = ParseContext(
        ObjectRef("b", "firehose/2026/11/20/12/stream-1"),
        datetime(2026, 11, 20, 12, tzinfo=UTC),
        log_groups=log_groups,
    )
    data = b"".join(gzip.compress(e) for e in envelopes)  # Firehose: one gzip member each
    return list(FORMAT.parse_object(LineReader(io.BytesIO(data)), ctx))


def test_a_vpc_flow_record_is_its_s3_twin_under_the_vpcflow_indices() -> None:
    [doc] = parse(envelope("/aws/vpc/flowlogs", VPC_RECORD))
    assert isinstance(doc, Document)
    assert doc.index_source == "vpcflow"
    twin = VPCFLOW.new_parser().record(VPC_RECORD)
    twin["cloud"]["provider"] = "aws"  # what the pipeline adds to an S3 twin too
    assert doc.source == twin
    assert doc.source["cloud"]["account"] == {"id": "444455556666"}  # the record's, not owner's


def test_a_lambda_platform_line_takes_the_log_event_s_time_and_the_owner_s_account() -> None:
    [doc] = parse(envelope("/aws/lambda/checkout", REPORT))
    assert doc.index_source == "lambda"
    assert doc.source["@timestamp"] == "2026-11-26T12:00:00.000Z"  # the event's epoch ms
    assert doc.source["event"]["duration"] == 12_340_000
    assert doc.source["cloud"] == {"provider": "aws", "account": {"id": OWNER}}


def test_log_groups_of_several_formats_in_one_object_keep_positional_ids() -> None:
    out = parse(
        envelope("/aws/lambda/checkout", REPORT),
        envelope("/aws/vpc/flowlogs", VPC_RECORD, VPC_RECORD),
    )
    assert [(d.index_source, d.position) for d in out] == [
        ("lambda", 1),
        ("vpcflow", 2),
        ("vpcflow", 3),
    ]
    assert [d.position for d in parse(envelope("/aws/vpc/flowlogs", VPC_RECORD))] == [1]


def test_a_log_group_is_named_by_setting_then_by_content() -> None:
    [doc] = parse(envelope("network/edge", VPC_RECORD), log_groups=(("network/*", "vpcflow"),))
    assert doc.index_source == "vpcflow"
    [unknown] = parse(envelope("apps/orders", "order 42 shipped"))
    assert isinstance(unknown, Rejection)
    assert "log group 'apps/orders': format not recognised" in unknown.reason
    assert "LOGFERRY_LOG_GROUPS" in unknown.reason


def test_mail_log_groups_still_reduce_to_transactions() -> None:
    out = parse(envelope("/mail/maillog", FROM, TO))
    docs = [o for o in out if isinstance(o, Document)]
    assert docs
    assert {d.source["email"]["from"]["address"] for d in docs} == {"bob@foo.com"}


def test_a_control_message_is_skipped_and_a_bad_record_rejected_with_its_reason() -> None:
    out = parse(
        envelope("", kind="CONTROL_MESSAGE"),
        envelope("/aws/vpc/flowlogs", "2 444455556666 eni-0a1b2c3d 10.0.0.7"),
    )
    [rejection] = out
    assert isinstance(rejection, Rejection)
    assert "expected 14 fields" in rejection.reason


def test_log_groups_setting_is_checked_at_start() -> None:
    assert Settings.from_env({"LOGFERRY_LOG_GROUPS": "/app/*=lambda"}).log_groups == (
        ("/app/*", "lambda"),
    )
    with pytest.raises(ValueError, match="LOGFERRY_LOG_GROUPS"):
        Settings.from_env({"LOGFERRY_LOG_GROUPS": "/app/*"})
    from logferry.ingest.deadletter import StreamDeadLetters
    from logferry.ingest.objects import LocalFiles
    from logferry.ingest.pipeline import Pipeline

    settings = Settings.from_env({"LOGFERRY_LOG_GROUPS": "/app/*=nosuchformat"})
    with pytest.raises(ValueError, match="unknown format 'nosuchformat'"):
        Pipeline(settings, LocalFiles(), None, StreamDeadLetters())


def test_mail_without_its_syslog_header_is_known_by_its_queue_id() -> None:
    headerless_from = FROM.split(": ", 1)[1]  # "pBFERI8l019936: from=<bob@foo.com>, ..."
    headerless_to = TO.split(": ", 1)[1]
    out = parse(envelope("/corp/smtp", headerless_from, headerless_to))
    docs = [o for o in out if isinstance(o, Document)]
    assert [d.source["email"]["local_id"] for d in docs] == ["pBFERI8l019936"]
    assert all(not isinstance(o, Rejection) for o in out)


def test_an_envelope_past_the_cap_is_skipped_to_the_next_not_held() -> None:
    from logferry.formats.envelopes import OversizedEnvelope, split_envelopes

    small = envelope("/aws/vpc/flowlogs", VPC_RECORD)
    huge = envelope("/aws/vpc/flowlogs", "x" * 5000)
    chunks = [small, huge[:1000], huge[1000:3000], huge[3000:], small]  # cut anywhere
    out = list(split_envelopes(chunks, max_bytes=2048))
    assert out[0] == small and out[2] == small
    assert isinstance(out[1], OversizedEnvelope)
    assert out[1].size == len(huge) and out[1].head == huge[:2048]
    # At the end of the object too.
    [last] = list(split_envelopes([huge], max_bytes=2048))
    assert isinstance(last, OversizedEnvelope) and last.size == len(huge)


def test_an_oversized_envelope_is_rejected_and_the_next_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from logferry.formats import envelopes

    monkeypatch.setattr(envelopes, "MAX_ENVELOPE_BYTES", 4096)
    out = parse(
        envelope("/aws/vpc/flowlogs", *["x" * 100] * 100),
        envelope("/aws/vpc/flowlogs", VPC_RECORD),
    )
    [rejection, doc] = out
    assert isinstance(rejection, Rejection)
    assert "envelope 1:" in rejection.reason and "skipped to the next envelope" in rejection.reason
    assert isinstance(doc, Document) and doc.index_source == "vpcflow"


def test_log_groups_of_one_object_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from logferry.formats import cloudwatch_logs

    monkeypatch.setattr(cloudwatch_logs, "MAX_LOG_GROUPS", 3)
    out = parse(*(envelope(f"/aws/vpc/flow-{n}", VPC_RECORD) for n in range(5)))
    assert [isinstance(o, Document) for o in out] == [True, True, True, False, False]
    assert "more than 3 log groups in one object" in out[3].reason
