"""`logferry replay` drives dead letters and the ingest DLQ through the pipeline again: what
was fixed since gets indexed, what still fails is kept, and running it twice changes nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from logferry import cli
from tests.support import (
    NLB_KEY,
    QueueDriver,
    Wiring,
    census,
    gz,
    load_ingest_handler,
    marked_nlb_line,
)

pytestmark = pytest.mark.integration

DEADLETTERS = "logferry-deadletter"


def lines_of(tag: str, count: int, day: str = "2026-11-20") -> list[str]:
    return [marked_nlb_line(tag, n).replace("2026-11-20", day) for n in range(count)]


def deadletter_keys(s3: Any) -> set[str]:
    listed = s3.list_objects_v2(Bucket=DEADLETTERS).get("Contents", [])
    return {item["Key"].split("/")[1] for item in listed}  # the kinds present


def replay(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["replay"])
    return code, capsys.readouterr().err


def test_replay_indexes_what_was_fixed_keeps_what_still_fails_and_is_safe_twice(
    aws_env: None,
    index_prefix: str,
    opensearch_url: str,
    os_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wiring = Wiring.create()
    s3, sqs = wiring.s3, wiring.sqs
    s3.create_bucket(Bucket=DEADLETTERS)
    dlq = sqs.create_queue(QueueName="logferry-ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=wiring.queue_url,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        },
    )
    env = {
        "OPENSEARCH_URL": opensearch_url,
        "LOGFERRY_INDEX_PREFIX": index_prefix,
        "LOGFERRY_DEADLETTER_BUCKET": DEADLETTERS,
    }
    driver = QueueDriver(sqs, wiring.queue_url)

    # A: every document refused (an index created by hand with source.port as a byte), and one
    # line no parser takes. B: a bucket layout no format recognises (a header line first).
    os_client.indices.create(
        index=f"{index_prefix}-nlb-2026.11.20",
        body={"mappings": {"properties": {"source": {"properties": {"port": {"type": "byte"}}}}}},
    )
    a = lines_of("a", 200)
    wiring.put(NLB_KEY, gz("\n".join([*a[:50], "not a log line", *a[50:]])))
    b = lines_of("b", 100, day="2026-11-21")
    wiring.put("custom/export-b.log", gz("\n".join(["# exported by a tool", *b])))
    app = load_ingest_handler(env)
    driver.drain(lambda event: app.lambda_handler(event, _context()))
    assert census(os_client, index_prefix).total == 0
    assert deadletter_keys(s3) == {"document", "line", "object"}

    # C, D: OpenSearch unreachable: each message fails twice and is moved to the DLQ.
    c, d = lines_of("c", 300), lines_of("d", 300)
    wiring.put(NLB_KEY.replace("a1b2c3d4", "c"), gz("\n".join(c)))
    wiring.put(NLB_KEY.replace("a1b2c3d4", "d"), gz("\n".join(d)))
    down = load_ingest_handler({**env, "OPENSEARCH_URL": "http://127.0.0.1:9"})
    down.service.sink.base_backoff = down.service.sink.max_backoff = 0.001
    driver.drain(lambda event: down.lambda_handler(event, _context()))
    sqs.send_message(QueueUrl=dlq, MessageBody="not a notification")
    in_dlq = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert in_dlq["Attributes"]["ApproximateNumberOfMessages"] == "3"

    # The fixes: the hand-made index goes (the template applies again), B's layout is named.
    os_client.indices.delete(index=f"{index_prefix}-nlb-2026.11.20")
    for name, value in {
        **env,
        "LOGFERRY_FORMAT_PREFIXES": "custom/=nlb",
        "LOGFERRY_DLQ_URL": dlq,
    }.items():
        monkeypatch.setenv(name, value)

    first_code, first = replay(capsys)
    after_first = census(os_client, index_prefix)
    kinds_after_first = deadletter_keys(s3)
    second_code, second = replay(capsys)
    after_second = census(os_client, index_prefix)

    expected = {line.split()[17] for line in [*a, *b, *c, *d]}
    with capsys.disabled():
        print(f"\n[replay, first run]\n{first.splitlines()[-3:]}")
        print(f"[replay, second run]\n{second.splitlines()[-3:]}")
        print(after_second.report("replay twice", expected))
    assert after_first.total == after_second.total == len(expected) == 900
    assert after_second.duplicates == 0 and after_second.missing(expected) == set()
    assert "2 objects ingested again" in first and "3 messages, 2 done and deleted" in first
    assert "1 failed again" in first  # the message that is not a notification
    assert first_code == second_code == cli.EXIT_REJECTED  # two lines are still rejected
    # Only what is still rejected is kept: A's odd line and B's header line.
    assert kinds_after_first == deadletter_keys(s3) == {"line"}
    kept = [
        json.loads(line)
        for item in s3.list_objects_v2(Bucket=DEADLETTERS)["Contents"]
        for line in s3.get_object(Bucket=DEADLETTERS, Key=item["Key"])["Body"].read().splitlines()
    ]
    assert sorted(r["raw"] for r in kept) == ["# exported by a tool", "not a log line"]
    assert "2 objects ingested again" in second and "DLQ: 0 messages" in second
    hidden = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert hidden["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


def _context() -> Any:
    from tests.support import FakeLambdaContext

    return FakeLambdaContext()


def test_replay_without_anything_to_replay_is_a_usage_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGFERRY_DEADLETTER_BUCKET", raising=False)
    monkeypatch.delenv("LOGFERRY_DLQ_URL", raising=False)
    assert cli.main(["replay"]) == cli.EXIT_USAGE
    assert boto3.client("s3").list_buckets()["Buckets"] == []
