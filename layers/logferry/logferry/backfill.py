"""`logferry backfill`: objects already in a bucket, announced to the ingest queue as S3 would
have announced them, so that the Lambda fleet ingests them with its retries, dead letters and
deterministic ids.

The bucket is listed page by page (ListObjectsV2, at most 1,000 keys a page, in key order). An
object is selected when its day lies within `--since`/`--until` (both inclusive) and, with
`--format`, when its key says that format. Its day is the one its AWS key layout states
(logferry.awskeys), else its LastModified's UTC date. Each selected object becomes one
ObjectCreated:Put notification, in the shape S3 sends to SQS, sent in SendMessageBatch calls of
10; entries SQS fails are sent again with backoff, a bounded number of times.

Invariants:
- Memory is bounded by one page of the listing and one batch: nothing grows with the number
  of keys (a bucket of 100M keys is walked like one of 100), except the first few failed keys
  kept to be named.
- One message per selected object, one object per message: a message the fleet cannot finish
  is retried and dead-lettered alone.
- `resume_key` is the last listed key up to which every selected object was enqueued. An
  interrupt or an AWS error leaves it behind the batch in flight (which SQS may or may not have
  taken), and a message that could not be sent holds it before that message's batch; passed
  back as `--start-after`, it repeats at most one batch, and the ids make the repeat harmless.
- A dry run lists and selects exactly as a real run does and calls SQS not at all.

Rejected alternatives: listing everything first (to count, sort or show a total) holds every
key in memory, which a large archive does not survive, and starts sending only once the whole
bucket is listed. S3 Inventory would spare the listing, but needs a configuration made a day in
advance and reports on a schedule: a backfill is run when it is needed. Sending batches from
several threads at once would enqueue faster, but the fleet, not the enqueueing, sets the pace
of a backfill, and a sequential sender keeps `resume_key` exact.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote_plus

from botocore.exceptions import BotoCoreError, ClientError

from .awskeys import key_facts
from .formats import format_for_key, get_format
from .output.retry import Backoff

# SendMessageBatch takes at most 10 entries.
BATCH = 10
# Tries of one message (the first and the retries) before it counts as not sent.
SEND_ATTEMPTS = 5
# Failed messages named at the end; the rest are counted.
FAILURES_NAMED = 10
# Names the notifications a backfill sent (S3 puts the notification configuration's id here).
CONFIGURATION_ID = "logferry-backfill"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_URI = re.compile(r"s3://(?P<bucket>[^/]+)/?(?P<prefix>.*)", re.DOTALL)
# GetBucketLocation answers None for us-east-1 and "EU" for buckets made long ago in Ireland.
_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket[/prefix]`."""
    match = _URI.fullmatch(uri)
    if match is None:
        raise ValueError(f"expected s3://BUCKET[/PREFIX], got {uri!r}")
    return match["bucket"], match["prefix"]


def parse_day(text: str) -> date:
    """A YYYY-MM-DD day (date.fromisoformat alone would also take 20240115 and week dates)."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    return date.fromisoformat(text)


def object_day(key: str, last_modified: datetime) -> date:
    """The day an object holds logs of: its key layout's, else its LastModified's (UTC)."""
    return key_facts(key).day or last_modified.astimezone(UTC).date()


@dataclass(frozen=True)
class Selection:
    """Which listed objects are enqueued: a range of days, both ends included, and a format."""

    since: date | None = None
    until: date | None = None
    format_name: str | None = None
    # LOGFERRY_FORMAT_PREFIXES: the formats of keys not laid out as AWS lays out its logs.
    format_prefixes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"--since {self.since} is after --until {self.until}")
        if self.format_name is not None:
            get_format(self.format_name)  # UnknownFormat: a usage error, before any listing

    def keeps(self, key: str, last_modified: datetime) -> bool:
        if self.since is not None or self.until is not None:
            day = object_day(key, last_modified)
            if (self.since is not None and day < self.since) or (
                self.until is not None and day > self.until
            ):
                return False
        if self.format_name is None:
            return True
        fmt = format_for_key(key, self.format_prefixes)
        return fmt is not None and fmt.name == self.format_name


def notification(bucket: str, item: Mapping[str, Any], region: str, partition: str = "aws") -> str:
    """The body of the SQS message S3 sends for an ObjectCreated:Put of a listed object.

    The key is form-encoded as S3 encodes it (a space as "+", "+" as "%2B"); S3 leaves "/" as
    it is. eventTime is the object's LastModified, so mail logs take their year from it as from a
    live notification. No versionId: ListObjectsV2 lists the current versions, which is what
    reading without a version gets."""
    modified = item["LastModified"].astimezone(UTC)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": f"{modified:%Y-%m-%dT%H:%M:%S}.{modified.microsecond // 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {"name": bucket, "arn": f"arn:{partition}:s3:::{bucket}"},
            "object": {
                "key": quote_plus(item["Key"], safe="/"),
                "size": item["Size"],
                "eTag": item["ETag"].strip('"'),
            },
        },
    }
    return json.dumps({"Records": [record]}, separators=(",", ":"), ensure_ascii=False)


def bucket_region(s3: Any, bucket: str) -> str:
    """The bucket's region (awsRegion of its notifications); the client's when not allowed to
    ask."""
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError:
        return str(s3.meta.region_name)
    return str(_LOCATIONS.get(location, location))


def pages(s3: Any, bucket: str, prefix: str, start_after: str | None) -> Iterator[list[Any]]:
    """The listing one page at a time, in key order, after `start_after`."""
    params = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        params["StartAfter"] = start_after
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        yield page.get("Contents", [])


@dataclass
class Sender:
    """SendMessageBatch with the failed entries sent again: sender faults (the message itself is
    refused) are final at once, others are tried up to `attempts` times with backoff."""

    sqs: Any
    queue_url: str
    attempts: int = SEND_ATTEMPTS
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=5.0))

    def send(self, messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Send (key, body) messages (at most BATCH); return the (key, reason) of those not sent."""
        pending = {str(n): message for n, message in enumerate(messages)}
        lost: list[tuple[str, str]] = []
        for attempt in range(1, self.attempts + 1):
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": n, "MessageBody": body} for n, (_, body) in pending.items()],
            )
            sent = {entry["Id"] for entry in response.get("Successful", [])}
            failed = {entry["Id"]: entry for entry in response.get("Failed", [])}
            retry = {}
            for n, message in pending.items():
                if n in sent:
                    continue
                entry = failed.get(n, {})
                reason = f"{entry.get('Code', 'not acknowledged')}: {entry.get('Message', '')}"
                if entry.get("SenderFault") or attempt == self.attempts:
                    lost.append((message[0], reason.rstrip(": ")))
                else:
                    retry[n] = message
            if not retry:
                break
            pending = retry
            self.backoff.sleep(self.backoff.delay(attempt))
        return lost


@dataclass
class Tally:
    """What a backfill has done so far."""

    listed: int = 0
    selected: int = 0
    selected_bytes: int = 0
    enqueued: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def text(self, dry_run: bool = False) -> str:
        seconds = max(self.seconds(), 1e-9)
        counts = (
            f"{self.listed:,} listed, {self.selected:,} selected ({_size(self.selected_bytes)})"
        )
        if dry_run:
            return f"{counts}, nothing sent; {self.listed / seconds:,.0f} objects listed/s"
        return (
            f"{counts}, {self.enqueued:,} enqueued, {self.failed:,} failed;"
            f" {self.enqueued / seconds:,.0f} messages/s"
        )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000:
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} TB"


class Backfill:
    """One backfill: `run` lists, selects and enqueues; `resume_key`, `tally` and `failures`
    say where it got to, also after an interrupt (see the module's invariants)."""

    def __init__(
        self,
        s3: Any,
        sqs: Any,
        uri: str,
        queue_url: str,
        selection: Selection,
        *,
        dry_run: bool = False,
        sender: Sender | None = None,
    ) -> None:
        self.s3 = s3
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.selection = selection
        self.dry_run = dry_run
        self.sender = None if dry_run else sender or Sender(sqs, queue_url)
        self.tally = Tally()
        self.resume_key: str | None = None
        self.failures: list[tuple[str, str]] = []
        # A message that could not be sent holds resume_key where it was.
        self._held = False

    def run(
        self, start_after: str | None = None, progress: Callable[[Tally], None] | None = None
    ) -> Tally:
        self.resume_key = start_after
        region = partition = ""
        if self.sender is not None:
            region = bucket_region(self.s3, self.bucket)
            partition = str(getattr(self.s3.meta, "partition", "aws"))
        keeps, tally = self.selection.keeps, self.tally
        batch: list[tuple[str, str]] = []
        key = start_after
        for page in pages(self.s3, self.bucket, self.prefix, start_after):
            for item in page:
                key = item["Key"]
                tally.listed += 1
                if keeps(key, item["LastModified"]):
                    tally.selected += 1
                    tally.selected_bytes += item.get("Size", 0)
                    if self.sender is not None:
                        batch.append((key, notification(self.bucket, item, region, partition)))
                        if len(batch) == BATCH:
                            self._send(batch)
                            batch = []
                            if progress is not None:
                                progress(tally)
                if not batch and not self._held:
                    self.resume_key = key
            if progress is not None:
                progress(tally)
        if batch:
            self._send(batch)
        if not self._held:
            self.resume_key = key  # the whole listing
        if progress is not None:
            progress(tally)
        return tally

    def _send(self, batch: list[tuple[str, str]]) -> None:
        assert self.sender is not None
        lost = self.sender.send(batch)
        self.tally.enqueued += len(batch) - len(lost)
        if lost:
            self.tally.failed += len(lost)
            self._held = True
            self.failures.extend(lost[: FAILURES_NAMED - len(self.failures)])


class TerminalStatus:
    """One status line, redrawn in place on a terminal (rich) at most 10 times a second; on
    anything else (a pipe, a file, a test) nothing is drawn and `echo` prints plain lines, so
    logs keep only the lines and the summary. rich is imported only on a terminal."""

    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self._progress: Any = None
        self._task: Any = None
        self._shown = 0.0

    def __enter__(self) -> TerminalStatus:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(file=self.stream),
                transient=True,  # the summary line takes its place
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=None)
        return self

    def show(self, text: Callable[[], str]) -> None:
        """Redraw with `text()`, unless drawn less than `interval` ago."""
        if self._progress is None:
            return
        now = time.monotonic()
        if now - self._shown >= self.interval:
            self._shown = now
            self._progress.update(self._task, description=text())

    def echo(self, line: str) -> None:
        """A line above the status line (as is, no markup)."""
        if self._progress is None:
            print(line, file=self.stream)
        else:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def command(
    s3: Any,
    sqs: Any,
    uri: str,
    queue_url: str,
    selection: Selection,
    *,
    start_after: str | None = None,
    dry_run: bool = False,
    out: TextIO,
    sender: Sender | None = None,
) -> int:
    """`logferry backfill`: run it with a status line on `out`, then the summary, what could not
    be sent, and where to go on from; the exit status."""
    job = Backfill(s3, sqs, uri, queue_url, selection, dry_run=dry_run, sender=sender)
    stopped: BaseException | None = None
    with TerminalStatus(out) as status:
        try:
            job.run(start_after, lambda tally: status.show(lambda: tally.text(dry_run)))
        except (KeyboardInterrupt, ClientError, BotoCoreError) as exc:
            stopped = exc
    tally = job.tally
    what = "dry run" if dry_run else "backfill"
    print(f"{what} {uri}: {tally.text(dry_run)} over {tally.seconds():.1f} s", file=out)
    for key, reason in job.failures:
        print(f"not sent: s3://{job.bucket}/{key}: {reason}", file=out)
    if tally.failed > len(job.failures):
        print(f"not sent: {tally.failed - len(job.failures):,} more", file=out)
    if stopped is None and not tally.failed:
        return EXIT_OK
    interrupted = isinstance(stopped, KeyboardInterrupt)
    if stopped is not None:
        print(f"logferry backfill: {'interrupted' if interrupted else stopped}", file=out)
        if not interrupted and tally.listed == 0:
            return EXIT_USAGE  # the bucket cannot be listed (or does not exist)
    if job.resume_key is None:
        print("nothing was enqueued yet: run the same command again", file=out)
    else:
        print(
            f"everything selected up to {job.resume_key!r} is enqueued; to go on from there,"
            f" add:\n  --start-after {shlex.quote(job.resume_key)}",
            file=out,
        )
    return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
