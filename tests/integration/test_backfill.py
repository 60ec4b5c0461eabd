"""`logferry backfill` end to end: an archive of three months in a moto bucket, two of them
announced to the ingest queue, the queue drained through the real handler into the real local
OpenSearch; and `logferry ingest --workers`, against the same cluster."""

from __future__ import annotations

import calendar
import gzip
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from logferry.cli import main
from tests.support import FakeLambdaContext, Setup, census, nlb_line

pytestmark = pytest.mark.integration

ARCHIVE = "log-archive"
ACCOUNT = "123456789012"
MONTHS = ((2026, 6), (2026, 7), (2026, 8))
LINES = 25
PORT = "source.port"  # each line's own: the census tells every line apart by it


def vpc_key(day: date, name: str) -> str:
    return (
        f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/{day:%Y/%m/%d}/"
        f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_{day:%Y%m%d}T1205Z_{name}.log.gz"
    )


def vpc_object(number: int, day: date) -> tuple[bytes, set[int]]:
    """LINES flow records of `day`, each with a source port no other line of the archive has."""
    start = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())
    ports = [1024 + number * LINES + n for n in range(LINES)]
    text = "".join(
        f"2 {ACCOUNT} eni-0a1b2c3d 10.0.0.{n + 1} 10.0.1.5 {port} 443 6 10 840"
        f" {start + n} {start + n + 60} ACCEPT OK\n"
        for n, port in enumerate(ports)
    )
    return gzip.compress(text.encode()), set(ports)


def put_archive(s3: Any) -> dict[str, tuple[date, set[int]]]:
    """Two objects on the first, the 15th and the last day of each month: each key with its
    day and its lines' ports."""
    s3.create_bucket(Bucket=ARCHIVE)
    archive: dict[str, tuple[date, set[int]]] = {}
    for year, month in MONTHS:
        last = calendar.monthrange(year, month)[1]
        for day in (date(year, month, 1), date(year, month, 15), date(year, month, last)):
            for name in ("eni-a", "eni b+c"):  # a space and a plus: URL-encoded in messages
                key = vpc_key(day, name)
                body, ports = vpc_object(len(archive), day)
                s3.put_object(Bucket=ARCHIVE, Key=key, Body=body)
                archive[key] = (day, ports)
    return archive


def waiting(setup: Setup) -> int:
    attributes = setup.wiring.sqs.get_queue_attributes(
        QueueUrl=setup.wiring.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_two_months_of_three_backfilled_twice_index_each_line_of_them_once(
    setup: Setup, os_client: Any, index_prefix: str
) -> None:
    archive = put_archive(setup.s3)
    since, until = date(2026, 7, 1), date(2026, 8, 31)
    in_range = {key for key, (day, _) in archive.items() if since <= day <= until}
    expected_ports = {port for key in in_range for port in archive[key][1]}
    assert len(in_range) == 12 and len(archive) == 18
    command = ["backfill", f"s3://{ARCHIVE}/AWSLogs/", "--queue-url", setup.wiring.queue_url]
    command += ["--since", f"{since}", "--until", f"{until}"]

    for run in (1, 2):
        assert main(command) == 0
        assert waiting(setup) == len(in_range)  # exactly the objects in range, once each
        app = setup.container()
        setup.driver.drain(lambda event, app=app: app.lambda_handler(event, FakeLambdaContext()))
        ingested = [result.ref.key for result in app.service.results]
        assert sorted(ingested) == sorted(in_range), f"run {run}"
        assert {result.outcome for result in app.service.results} == {"indexed"}

        found = census(os_client, index_prefix, field=PORT)
        assert found.total == len(expected_ports) == 12 * LINES, f"run {run}"
        assert found.duplicates == 0
        assert set(map(int, found.counts)) == expected_ports


def test_ingest_with_two_workers_gives_the_totals_and_status_of_one(
    tmp_path: Path,
    opensearch_url: str,
    os_client: Any,
    index_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(7):
        lines = [nlb_line(n * 100 + i) for i in range(40 + n)]
        (tmp_path / f"nlb-{n}.log.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.log").write_text(f"{nlb_line(999)}\ntls 2.0 broken\n")
    command = ["ingest", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    command += ["--format", "nlb"]
    documents = sum(40 + n for n in range(7)) + 1

    summaries = {}
    for workers in ("2", "1"):
        assert main([*command, "--workers", workers, str(tmp_path)]) == 1  # one line rejected
        summaries[workers] = capsys.readouterr().err.splitlines()[-1]
        os_client.indices.refresh(index=f"{index_prefix}-*")
        assert os_client.count(index=f"{index_prefix}-*")["count"] == documents

    assert (
        summaries["2"]
        == summaries["1"]
        == (f"8 objects, {documents} documents indexed, 1 lines rejected")
    )


def test_workers_are_for_local_files(opensearch_url: str, index_prefix: str) -> None:
    command = ["ingest", "--opensearch-url", opensearch_url, "--index-prefix", index_prefix]
    assert main([*command, "--workers", "2", "s3://bucket/prefix"]) == 2
    assert main([*command, "--workers", "0", "."]) == 2
