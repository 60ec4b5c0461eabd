"""`logferry backfill` against moto's S3 and SQS (in process): which objects are enqueued, in
what shape, what is retried, and where an interrupted run goes on from."""

from __future__ import annotations

import io
import json
import shlex
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import boto3
import pytest

from logferry.backfill import Selection, Sender, command, object_day
from logferry.cli import main
from logferry.ingest.notifications import refs_from_message
from logferry.output.retry import Backoff
from tools.localaws import Wiring

BUCKET = "archive"
ACCOUNT = "123456789012"


def vpc_key(day: date, name: str = "a1b2") -> str:
    return (
        f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/{day:%Y/%m/%d}/"
        f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_{day:%Y%m%d}T1205Z_{name}.log.gz"
    )


def alb_key(day: date, name: str = "a1b2") -> str:
    return (
        f"AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/{day:%Y/%m/%d}/"
        f"{ACCOUNT}_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_{day:%Y%m%d}T1205Z"
        f"_10.0.0.1_{name}.log.gz"
    )


@pytest.fixture
def aws(aws_env: None) -> tuple[Any, Any, str]:
    """An archive bucket and an ingest queue, without S3 notifications between them."""
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    return s3, sqs, sqs.create_queue(QueueName="ingest")["QueueUrl"]


def put(s3: Any, *keys: str) -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"body of {key}".encode())


def queued(sqs: Any, queue_url: str) -> list[str]:
    """The bodies of every message on the queue (received once each, left invisible)."""
    bodies: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
    ).get("Messages", []):
        bodies.extend(message["Body"] for message in batch)
    return bodies


def queued_keys(sqs: Any, queue_url: str) -> list[str]:
    return [ref.key for body in queued(sqs, queue_url) for ref in refs_from_message(body)]


def no_wait() -> Backoff:
    return Backoff(sleep=lambda seconds: None)


def run(
    s3: Any, sqs: Any, queue_url: str, selection: Selection | None = None, **options: Any
) -> tuple[int, str]:
    """`command` on the archive; (exit status, what it printed)."""
    out = io.StringIO()
    options.setdefault("sender", Sender(sqs, queue_url, backoff=no_wait()))
    status = command(
        s3, sqs, f"s3://{BUCKET}/", queue_url, selection or Selection(), out=out, **options
    )
    return status, out.getvalue()


# -- which objects ------------------------------------------------------------------------


def test_days_from_the_awslogs_layout_are_selected_inclusively_at_both_ends(
    aws: tuple[Any, Any, str],
) -> None:
    s3, sqs, url = aws
    days = [date(2026, 6, 30), date(2026, 7, 1), date(2026, 7, 15), date(2026, 8, 31)]
    days.append(date(2026, 9, 1))
    put(s3, *(vpc_key(day) for day in days), *(alb_key(day) for day in days))
    selection = Selection(since=date(2026, 7, 1), until=date(2026, 8, 31))

    status, printed = run(s3, sqs, url, selection)

    assert status == 0
    # LastModified is today (December): the key's day is the one that counts.
    expected = {make(day) for day in days[1:4] for make in (vpc_key, alb_key)}
    assert sorted(queued_keys(sqs, url)) == sorted(expected)
    assert "10 listed, 6 selected" in printed and "6 enqueued, 0 failed" in printed


def test_keys_without_a_layout_are_selected_by_their_last_modified_utc_day(
    aws: tuple[Any, Any, str],
) -> None:
    s3, sqs, url = aws
    put(s3, "exports/one.log", "exports/two.log.gz", vpc_key(date(2026, 7, 1)))
    modified = s3.head_object(Bucket=BUCKET, Key="exports/one.log")["LastModified"]
    day = modified.astimezone(UTC).date()
    one_day = timedelta(days=1)

    assert run(s3, sqs, url, Selection(since=day, until=day))[0] == 0
    assert sorted(queued_keys(sqs, url)) == ["exports/one.log", "exports/two.log.gz"]
    run(s3, sqs, url, Selection(since=day + one_day))
    run(s3, sqs, url, Selection(until=day - one_day))
    assert queued_keys(sqs, url) == [vpc_key(date(2026, 7, 1))]


def test_last_modified_counts_by_its_utc_date_and_a_key_layout_before_it() -> None:
    half_past_one_in_paris = datetime(2026, 7, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert object_day("exports/x.log", half_past_one_in_paris) == date(2026, 6, 30)
    assert object_day(vpc_key(date(2024, 1, 15)), half_past_one_in_paris) == date(2024, 1, 15)
    # A day no calendar has (February 31) is not a day: LastModified decides.
    feb_31 = vpc_key(date(2024, 2, 1)).replace("/02/01/", "/02/31/")
    assert object_day(feb_31, half_past_one_in_paris) == date(2026, 6, 30)


def test_start_after_lists_only_the_keys_after_it(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    keys = sorted(vpc_key(date(2026, 7, day)) for day in range(1, 8))
    put(s3, *keys)

    status, printed = run(s3, sqs, url, start_after=keys[2])

    assert status == 0
    assert sorted(queued_keys(sqs, url)) == keys[3:]
    assert "4 listed" in printed


def test_format_keeps_only_the_objects_whose_key_says_it(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    day = date(2026, 7, 1)
    put(s3, vpc_key(day), alb_key(day), "exports/unknown.log")

    assert main(["backfill", f"s3://{BUCKET}", "--queue-url", url, "--format", "alb"]) == 0
    assert queued_keys(sqs, url) == [alb_key(day)]


def test_an_unknown_format_or_a_bad_day_is_a_usage_error(aws: tuple[Any, Any, str]) -> None:
    _, sqs, url = aws
    for wrong in (["--format", "apache"], ["--since", "2026-7-1"], ["--until", "20260701"]):
        with pytest.raises(SystemExit) as exit:
            main(["backfill", f"s3://{BUCKET}", "--queue-url", url, *wrong])
        assert exit.value.code == 2
    args = ["--since", "2026-08-01", "--until", "2026-07-01"]
    assert main(["backfill", f"s3://{BUCKET}", "--queue-url", url, *args]) == 2
    assert main(["backfill", "archive", "--queue-url", url]) == 2
    assert main(["backfill", "s3://no-such-bucket", "--queue-url", url]) == 2
    assert queued(sqs, url) == []


def test_a_dry_run_counts_and_sizes_and_calls_sqs_not_at_all(
    aws: tuple[Any, Any, str], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, sqs, url = aws
    put(s3, *(vpc_key(date(2026, 7, day)) for day in range(1, 4)), vpc_key(date(2026, 6, 1)))
    size = sum(len(f"body of {vpc_key(date(2026, 7, day))}") for day in range(1, 4))

    # No SQS client at all: any call would raise.
    status, printed = run(s3, None, url, Selection(since=date(2026, 7, 1)), dry_run=True)
    assert status == 0
    assert f"4 listed, 3 selected ({size} B), nothing sent" in printed

    assert main(["backfill", f"s3://{BUCKET}", "--queue-url", url, "--dry-run"]) == 0
    assert "dry run s3://archive: 4 listed, 4 selected" in capsys.readouterr().err
    assert queued(sqs, url) == []


# -- sending --------------------------------------------------------------------------------


class FlakySQS:
    """The real (moto) SQS client, whose SendMessageBatch fails the entries of chosen keys, each
    as many times as `failures` says (a server-side fault: worth trying again)."""

    def __init__(self, sqs: Any, failures: dict[str, int]) -> None:
        self.sqs = sqs
        self.failures = failures
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        keys = [key_of(entry["MessageBody"]) for entry in Entries]
        self.calls.append(keys)
        passed, failed = [], []
        for entry, key in zip(Entries, keys, strict=True):
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                failed.append(
                    {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}
                    | {"Message": "injected"}
                )
            else:
                passed.append(entry)
        response = (
            self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=passed)
            if passed
            else {"Successful": []}
        )
        response["Failed"] = response.get("Failed", []) + failed
        return response


def key_of(body: str) -> str:
    return unquote_plus(json.loads(body)["Records"][0]["s3"]["object"]["key"])


def test_failed_entries_are_sent_again_with_backoff(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    keys = sorted(vpc_key(date(2026, 7, day)) for day in range(1, 26))
    put(s3, *keys)
    flaky = FlakySQS(sqs, {keys[3]: 2, keys[12]: 4})
    pauses: list[float] = []
    sender = Sender(flaky, url, backoff=Backoff(sleep=pauses.append))

    status, printed = run(s3, flaky, url, sender=sender)

    assert status == 0
    assert Counter(queued_keys(sqs, url)) == Counter(keys)  # each once
    assert [len(call) for call in flaky.calls] == [10, 1, 1, 10, 1, 1, 1, 1, 5]
    assert len(pauses) == 6
    assert "25 enqueued, 0 failed" in printed


def test_a_message_that_keeps_failing_exits_one_naming_it(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    keys = sorted(vpc_key(date(2026, 7, day)) for day in range(1, 26))
    put(s3, *keys)
    flaky = FlakySQS(sqs, {keys[13]: 1000})

    status, printed = run(s3, flaky, url, sender=Sender(flaky, url, backoff=no_wait()))

    assert status == 1
    assert sorted(queued_keys(sqs, url)) == sorted(set(keys) - {keys[13]})
    assert [len(call) for call in flaky.calls] == [10, 10, 1, 1, 1, 1, 5]  # 5 tries, bounded
    assert f"not sent: s3://{BUCKET}/{keys[13]}: InternalError: injected" in printed
    assert "24 enqueued, 1 failed" in printed
    # Going on from where it says sends that message's batch again, and the rest.
    flaky.failures.clear()
    status, _ = run(s3, flaky, url, sender=Sender(flaky, url), start_after=resume_key(printed))
    assert status == 0
    assert sorted(queued_keys(sqs, url)) == keys[10:]


def test_a_sender_fault_is_not_tried_again(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    key = vpc_key(date(2026, 7, 1))
    put(s3, key)

    class Refusing(FlakySQS):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
            self.calls.append([key_of(entry["MessageBody"]) for entry in Entries])
            failed = {"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}
            return {"Successful": [], "Failed": [failed]}

    refusing = Refusing(sqs, {})
    status, printed = run(s3, refusing, url, sender=Sender(refusing, url, backoff=no_wait()))
    assert status == 1
    assert len(refusing.calls) == 1
    assert "InvalidMessageContents" in printed


# -- what the messages say ------------------------------------------------------------------

ODD_KEYS = [
    "exports/with space.log",
    "exports/with+plus.log",
    "exports/ünïcødé 日本.log",
    "exports/100%25 & a=b;c:d?.log",
    vpc_key(date(2026, 7, 1), name="a b+c"),
]


def test_messages_read_back_as_the_same_objects_s3_would_announce(aws_env: None) -> None:
    wiring = Wiring.create(bucket=BUCKET)  # moto's own S3 -> SQS notifications, for comparison
    sqs = wiring.sqs
    for key in ODD_KEYS:
        wiring.put(key, f"body of {key}".encode())
    theirs = queued(sqs, wiring.queue_url)
    announced = {ref.key: ref for body in theirs for ref in refs_from_message(body)}
    url = sqs.create_queue(QueueName="backfill")["QueueUrl"]

    assert run(wiring.s3, sqs, url)[0] == 0

    bodies = queued(sqs, url)
    assert len(bodies) == len(ODD_KEYS)
    their_record = json.loads(theirs[0])["Records"][0]
    for body in bodies:
        [ref] = refs_from_message(body)
        stored = wiring.s3.head_object(Bucket=BUCKET, Key=ref.key)
        assert ref.bucket == BUCKET and ref.key in ODD_KEYS
        assert (ref.size, ref.etag) == (stored["ContentLength"], stored["ETag"].strip('"'))
        assert ref.event_time == stored["LastModified"]
        assert ref.identity == announced[ref.key].identity  # so the same document ids
        [record] = json.loads(body)["Records"]
        assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
        assert record["s3"]["bucket"] == {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}
        assert record["s3"]["object"]["key"] == quote_plus(ref.key, safe="/")
        # The fields S3 (as moto writes it) sends, at each level.
        assert record.keys() == their_record.keys()
        assert record["s3"].keys() == their_record["s3"].keys()
        assert record["s3"]["object"].keys() == their_record["s3"]["object"].keys()


# -- interrupted --------------------------------------------------------------------------


class InterruptedSQS(FlakySQS):
    """Ctrl-C arrives during the n-th SendMessageBatch, before SQS answers it."""

    def __init__(self, sqs: Any, at_call: int) -> None:
        super().__init__(sqs, {})
        self.at_call = at_call

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        if len(self.calls) + 1 == self.at_call:
            self.calls.append([])
            raise KeyboardInterrupt
        return super().send_message_batch(QueueUrl=QueueUrl, Entries=Entries)


def resume_key(printed: str) -> str:
    [line] = [line for line in printed.splitlines() if line.startswith("  --start-after ")]
    option, key = shlex.split(line)
    assert option == "--start-after"
    return key


def test_an_interrupt_prints_a_start_after_key_that_loses_nothing(
    aws: tuple[Any, Any, str],
) -> None:
    s3, sqs, url = aws
    selected = [vpc_key(date(2026, 7, day), name=f"part {n}") for day in (1, 2) for n in range(20)]
    others = [vpc_key(date(2026, 6, 30), name=f"part {n}") for n in range(5)]
    put(s3, *selected, *others)
    selection = Selection(since=date(2026, 7, 1))
    interrupted = InterruptedSQS(sqs, at_call=3)

    status, printed = run(s3, interrupted, url, selection, sender=Sender(interrupted, url))

    assert status == 130
    assert "interrupted" in printed
    key = resume_key(printed)
    first = queued_keys(sqs, url)
    assert len(first) == 20 and max(first) == key  # two batches in, the third in doubt
    status, printed = run(s3, sqs, url, selection, start_after=key)
    assert status == 0 and "--start-after" not in printed
    assert Counter(first + queued_keys(sqs, url)) == Counter(selected)


def test_an_interrupt_before_anything_was_sent_says_so(aws: tuple[Any, Any, str]) -> None:
    s3, sqs, url = aws
    put(s3, vpc_key(date(2026, 7, 1)))
    interrupted = InterruptedSQS(sqs, at_call=1)
    status, printed = run(s3, interrupted, url, sender=Sender(interrupted, url))
    assert status == 130
    assert "nothing was enqueued yet: run the same command again" in printed
