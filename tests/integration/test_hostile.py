"""Hostile objects and queue messages, as someone with write access to a log bucket or to the
ingest queue would send them: the real handler, moto for AWS, the real local OpenSearch. What
is rejected or out of range is bounded, kept and said; nothing of it reaches the cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from tests.support import (
    NLB_KEY,
    FakeLambdaContext,
    Setup,
    emf_sums,
    gz,
    nlb_line,
    s3_notification,
    sqs_record,
)

pytestmark = pytest.mark.integration

VPC_KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1205Z_{name}.log.gz"
)
CLOUDTRAIL_KEY = (
    "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/"
    "123456789012_CloudTrail_us-east-1_20261120T1205Z_{name}.json.gz"
)
# The default window: LOGFERRY_ACCEPT_DAYS_BACK unset (tests/conftest.py sets a wide one).
DEFAULT_WINDOW = {"LOGFERRY_ACCEPT_DAYS_BACK": ""}


def vpc_line(day: date, n: int = 0) -> str:
    start = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp()) + n
    return (
        f"2 123456789012 eni-0a1b2c3d 10.0.0.{n % 250 + 1} 10.0.1.5 49152 443 6 10 840"
        f" {start} {start + 60} ACCEPT OK"
    )


def run(setup: Setup, key: str, body: bytes, **env: str) -> tuple[Any, dict[str, Any]]:
    """Put one object, hand its notification to a fresh container; (result, batch response)."""
    setup.wiring.put(key, body)
    app = setup.container(**env)
    response = app.lambda_handler({"Records": setup.wiring.receive()}, FakeLambdaContext())
    [result] = app.service.results
    return result, response


def indices(os_client: Any, prefix: str) -> set[str]:
    return {row["index"] for row in os_client.cat.indices(index=f"{prefix}-*", format="json")}


def _reads(app: Any, field: str) -> list[str]:
    """The `field` (Bucket or Key) of every GetObject the handler makes from now on."""
    reads: list[str] = []
    get_object = app.s3.get_object

    def counted(**kwargs: Any) -> Any:
        reads.append(kwargs[field])
        return get_object(**kwargs)

    app.s3.get_object = counted
    return reads


def buckets_read(app: Any) -> list[str]:
    return _reads(app, "Bucket")


def keys_read(app: Any) -> list[str]:
    return _reads(app, "Key")


# -- 1. rejected lines cost no memory -----------------------------------------------------------


def test_rejections_past_the_kept_number_are_counted_and_summed_up_in_one_record(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    body = gz("x\n" * 25_000)
    result, response = run(
        setup, VPC_KEY.format(name="tiny"), body, LOGFERRY_MAX_REJECTIONS_KEPT="12000"
    )
    metrics = emf_sums(capsys.readouterr().out)
    assert response == {"batchItemFailures": []}
    assert (result.outcome, result.lines, result.rejected) == ("rejected", 25_000, 25_000)
    assert metrics["LinesRejected"] == 25_000  # every line accounted for
    records = setup.deadletters("line")
    kept = [r for r in records if not r.get("summary")]
    [summary] = [r for r in records if r.get("summary")]
    assert len(kept) == 12_000 and result.dead_lettered == 12_001
    assert [r["line"] for r in kept] == list(range(1, 12_001))
    assert (summary["rejected"], summary["kept"]) == (25_000, 12_000)
    assert (summary["line"], summary["last_line"]) == (12_001, 25_000)
    listed = setup.s3.list_objects_v2(
        Bucket="logferry-deadletter", Prefix="logferry-deadletter/line/"
    )["Contents"]
    assert len(listed) == 2  # parts of at most 10,000 records


def test_a_rejected_long_line_is_kept_as_its_prefix_length_and_digest(setup: Setup) -> None:
    import hashlib

    wide = "y" * (900 * 1024)
    result, _ = run(setup, VPC_KEY.format(name="wide"), gz(f"{wide}\n{wide}\n"))
    assert (result.outcome, result.rejected) == ("rejected", 2)
    for record in setup.deadletters("line"):
        assert len(record["raw"].encode()) == 64 * 1024 and record["raw_truncated"] is True
        assert record["raw_bytes"] == len(wide)
        assert record["raw_sha256"] == hashlib.sha256(wide.encode()).hexdigest()


# -- 2. bounded indices -----------------------------------------------------------------------


def test_event_times_outside_the_window_are_rejected_and_create_no_index(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    today = datetime.now(UTC).date()
    inside = [today, today - timedelta(days=1), today - timedelta(days=90)]
    outside = [
        today - timedelta(days=200),
        date(1970, 1, 1),
        date(2999, 12, 31),
        today + timedelta(days=5),
    ]
    lines = [vpc_line(day, n) for n, day in enumerate(inside + outside)]
    result, _ = run(setup, VPC_KEY.format(name="window"), gz("\n".join(lines)), **DEFAULT_WINDOW)
    assert (result.outcome, result.documents, result.rejected) == ("indexed", 3, 4)
    reasons = [r["reason"] for r in setup.deadletters("line")]
    assert len(reasons) == 4
    assert all(r.startswith("event time outside the accepted window") for r in reasons)
    expected = {f"{index_prefix}-vpcflow-{d:%Y.%m.%d}" for d in inside}
    assert indices(os_client, index_prefix) == expected


def test_one_object_with_a_line_a_day_over_a_thousand_years_writes_only_window_days(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    first = date(1970, 1, 1)
    days = [first + timedelta(days=n) for n in range(0, (date(2999, 1, 1) - first).days, 7)]
    today = datetime.now(UTC).date()
    days.append(today)
    result, _ = run(
        setup, VPC_KEY.format(name="ages"), gz("\n".join(map(vpc_line, days))), **DEFAULT_WINDOW
    )
    within = [d for d in days if today - timedelta(days=97) <= d <= today + timedelta(days=1)]
    assert result.documents == len(within) and result.rejected == len(days) - len(within)
    assert len(indices(os_client, index_prefix)) == len(set(within)) <= 16


def test_an_object_writes_at_most_the_configured_number_of_indices(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    today = datetime.now(UTC).date()
    lines = [vpc_line(today - timedelta(days=n), n) for n in range(12)]
    lines += [vpc_line(today, 100 + n) for n in range(3)]  # a day already written: accepted
    result, _ = run(
        setup, VPC_KEY.format(name="fan"), gz("\n".join(lines)), LOGFERRY_MAX_INDICES_PER_OBJECT="5"
    )
    assert (result.documents, result.rejected) == (5 + 3, 7)
    assert len(indices(os_client, index_prefix)) == 5
    reasons = {r["reason"] for r in setup.deadletters("line")}
    assert reasons == {"object writes more than 5 indices (LOGFERRY_MAX_INDICES_PER_OBJECT)"}


def test_logferry_parse_applies_the_window(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    path = tmp_path / VPC_KEY.format(name="cli").rsplit("/", 1)[-1]
    path.write_text(f"{vpc_line(today)}\n{vpc_line(date(2018, 1, 1))}\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "logferry"), "parse", "--format", "vpcflow", str(path)],
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "LOGFERRY_ACCEPT_DAYS_BACK": "30"},
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 1
    assert f"{path}:2: event time outside the accepted window" in done.stderr.decode()


# -- 3. canonical times, valid index names ----------------------------------------------------


def test_an_iso_week_date_never_reaches_the_cluster_as_an_index_name(setup: Setup) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [
        {"eventVersion": "1.08", "eventTime": t, "eventSource": "s3.amazonaws.com",
         "eventName": "GetObject", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1"}
        for t in (today, "2023-W15-1T15:24:00Z")
    ]  # fmt: skip
    body = gz(json.dumps({"Records": records}))
    result, response = run(setup, CLOUDTRAIL_KEY.format(name="week"), body)
    assert response == {"batchItemFailures": []}
    assert (result.documents, result.rejected) == (1, 1)
    assert setup.deadletters("document") == []  # no invalid_index_name_exception
    [rejected] = setup.deadletters("line")
    assert "2023-W15-1" in rejected["raw"]


# -- 4. say what happened ---------------------------------------------------------------------


def test_lines_of_another_format_under_an_aws_key_are_read_as_what_they_are(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    body = gz("\n".join(nlb_line(n) for n in range(400)) + "\n")
    result, _ = run(setup, CLOUDTRAIL_KEY.format(name="nlb"), body)
    assert (result.format, result.outcome, result.documents) == ("nlb", "indexed", 400)
    assert indices(os_client, index_prefix) == {f"{index_prefix}-nlb-2026.11.20"}


def test_an_object_with_no_line_indexed_is_not_reported_indexed(setup: Setup) -> None:
    result, _ = run(setup, VPC_KEY.format(name="junk"), gz("junk\nmore junk\n"))
    assert (result.outcome, result.documents, result.rejected) == ("rejected", 0, 2)


def test_an_eventbridge_key_is_url_decoded_as_aws_encodes_it(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    key = NLB_KEY.replace("us-east-1/2026", "us-east-1 (copy)/2026")
    setup.wiring.put(key, gz(nlb_line(1) + "\n"))
    setup.wiring.receive()
    event = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2026-11-20T12:05:00Z",
        "detail": {
            "bucket": {"name": setup.wiring.bucket},
            "object": {"key": quote_plus(key, safe="/"), "size": 10, "etag": "e"},
        },
    }
    app = setup.container()
    app.lambda_handler({"Records": [sqs_record(json.dumps(event))]}, FakeLambdaContext())
    [result] = app.service.results
    assert result.ref.key == key
    assert (result.outcome, result.documents) == ("indexed", 1)


# -- 5. read only what is ours ----------------------------------------------------------------


def test_a_bucket_that_is_not_a_source_is_never_read(setup: Setup) -> None:
    app = setup.container(LOGFERRY_SOURCE_BUCKETS="logs-*,archive")
    reads = buckets_read(app)
    record = sqs_record(s3_notification("someone-elses-bucket", NLB_KEY))
    response = app.lambda_handler({"Records": [record]}, FakeLambdaContext())
    [result] = app.service.results
    assert response == {"batchItemFailures": []} and reads == []
    assert result.outcome == "refused" and result.documents == 0
    [kept] = setup.deadletters("object")
    assert kept["bucket"] == "someone-elses-bucket" and "LOGFERRY_SOURCE_BUCKETS" in kept["reason"]


def test_a_forged_continuation_is_refused(setup: Setup) -> None:
    setup.wiring.put(NLB_KEY, gz(nlb_line(1) + "\n"))
    [genuine] = setup.wiring.receive()
    setup.s3.create_bucket(Bucket="secrets")
    setup.s3.put_object(Bucket="secrets", Key="payroll.gz", Body=gz(nlb_line(2) + "\n"))
    app = setup.container()
    reads = buckets_read(app)
    obj = {"bucket": setup.wiring.bucket, "key": NLB_KEY}
    forged = [
        {"part": {"bucket": "secrets", "key": "payroll.gz"}},  # not a work part
        {"part": {"bucket": "logferry-deadletter", "key": "logferry-work/other/1.gz"}},
        {"resume_line": 0},
        {"round": -1},
        {"format": "no-such-format"},
    ]
    records = [
        sqs_record(
            json.dumps({"logferry": "continue", "object": obj, "format": "nlb", **fields}),
            f"m-{n}",
        )
        for n, fields in enumerate(forged)
    ]
    response = app.lambda_handler({"Records": [genuine, *records]}, FakeLambdaContext())
    failures = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failures == {f"m-{n}" for n in range(len(forged))}  # to the queue's DLQ, unread
    assert reads == [setup.wiring.bucket]  # the genuine notification only
    assert [r.outcome for r in app.service.results] == ["indexed"]


def test_a_message_naming_thousands_of_objects_reads_a_bounded_number(setup: Setup) -> None:
    app = setup.container()
    reads = keys_read(app)
    one = json.loads(s3_notification(setup.wiring.bucket, "missing-0"))["Records"][0]
    many = [
        {**one, "s3": {**one["s3"], "object": {**one["s3"]["object"], "key": f"missing-{n}"}}}
        for n in range(10_000)
    ]
    record = sqs_record(json.dumps({"Records": many}))
    response = app.lambda_handler({"Records": [record]}, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(reads) == 10
    refused = [r for r in setup.deadletters("object") if "LOGFERRY_MAX_OBJECTS" in r["reason"]]
    assert sorted(r["key"] for r in refused) == sorted(f"missing-{n}" for n in range(10, 10_000))
