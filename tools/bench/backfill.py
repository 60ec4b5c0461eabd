"""`python -m tools.bench --backfill`: what `logferry backfill` costs as the bucket grows.

For each number of objects (10,000, 50,000 and 100,000 by default), a moto server is started in
a process of its own (`python -m tools.bench.backfill _server N`), with a bucket of N
ALB-style AWSLogs keys spread over days, put straight into moto's S3 backend (uploading them
through HTTP would take longer than the measurement). Then, each in a fresh process, the
backfill lists and selects every object and enqueues one message each on a queue of that
server, and a dry run lists and selects without sending. Printed per N: messages/s, objects
listed/s in the dry run, the CPU seconds (user + system) the backfill itself took (its own
share of a machine moto shares, imports left out), and the process's peak RSS (ru_maxrss)
beside its RSS before the first page was listed: the peak must not grow with N (bounded
memory, logferry.backfill). The server counts the messages it received: exactly N, or the
run fails.

Figures go with the machine and with moto, which answers each request in Python: the rate is a
floor of what the code does, not what SQS allows.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from typing import Any

BUCKET = "bench-archive"
QUEUE = "bench-ingest"
ACCOUNT = "123456789012"
FIRST_DAY = date(2026, 1, 1)
OBJECTS_PER_DAY = 288  # one ALB node's objects of a day: one every 5 minutes
SIZES = (10_000, 50_000, 100_000)
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def archive_key(n: int) -> str:
    day = FIRST_DAY + timedelta(days=n // OBJECTS_PER_DAY)
    minute = n % OBJECTS_PER_DAY * 5
    return (
        f"AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/{day:%Y/%m/%d}/{ACCOUNT}"
        f"_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_{day:%Y%m%d}"
        f"T{minute // 60:02d}{minute % 60:02d}Z_10.0.0.1_{n:08x}.log.gz"
    )


def last_day(objects: int) -> date:
    return FIRST_DAY + timedelta(days=(objects - 1) // OBJECTS_PER_DAY)


def serve(objects: int) -> None:
    """In this process: moto's server on a free port (printed), its bucket holding `objects`
    keys, and its queue consumed as the fleet would consume it; on SIGTERM, the number of
    messages consumed is printed."""
    os.environ.update(ENV)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.s3.models import s3_backends
    from moto.sqs.models import sqs_backends

    backend = s3_backends[ACCOUNT]["aws"]
    backend.create_bucket(BUCKET, "us-east-1")
    body = b"x" * 512
    for n in range(objects):
        backend.put_object(BUCKET, archive_key(n), body)
    queue = sqs_backends[ACCOUNT]["us-east-1"].create_queue(QUEUE)
    consumed = 0

    def report(signum: int, frame: Any) -> None:
        print(consumed + len(queue._messages), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    # Each send to a moto queue scans every message it holds (its attributes are computed per
    # message), so a queue left to grow to 100,000 messages measures moto, not the backfill.
    # Taken away as they come (under moto's own lock), as the fleet would take them.
    while True:
        time.sleep(0.2)
        with queue._messages_lock:
            consumed += len(queue._messages)
            queue._messages = []


def run_one(objects: int, queue_url: str, dry_run: bool) -> dict[str, Any]:
    """In this (fresh) process: one backfill of the whole archive; what it did."""
    os.environ.update(ENV)
    import boto3

    from logferry.backfill import Backfill, Selection

    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    selection = Selection(since=FIRST_DAY, until=last_day(objects), format_name="alb")
    job = Backfill(s3, sqs, f"s3://{BUCKET}/AWSLogs/", queue_url, selection, dry_run=dry_run)
    before = resource.getrusage(resource.RUSAGE_SELF)
    tally = job.run()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "listed": tally.listed,
        "selected": tally.selected,
        "enqueued": tally.enqueued,
        "failed": tally.failed,
        "seconds": tally.seconds(),
        "rss_before_mib": round(before.ru_maxrss / 1024, 1),
        "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
    }


def measure(objects: int, endpoint: str, queue_url: str, dry_run: bool) -> dict[str, Any]:
    """One backfill in a child process: its report and its peak RSS (MiB)."""
    mode = "dry" if dry_run else "send"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.backfill", "_one", str(objects), queue_url, mode],
        stdout=subprocess.PIPE,
        env={**os.environ, "AWS_ENDPOINT_URL": endpoint},
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"backfill of {objects:,} objects failed")
    return {**json.loads(output), "peak_mib": round(usage.ru_maxrss / 1024, 1)}


def bench_size(objects: int) -> dict[str, Any]:
    """The archive of `objects` keys on a server of its own: a dry run, then a backfill."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.backfill", "_server", str(objects)],
        stdout=subprocess.PIPE,
        env={**os.environ, **ENV},
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError("the moto server did not start")
        endpoint = f"http://127.0.0.1:{port.decode()}"
        queue_url = f"{endpoint}/{ACCOUNT}/{QUEUE}"
        dry = measure(objects, endpoint, queue_url, dry_run=True)
        sent = measure(objects, endpoint, queue_url, dry_run=False)
        server.terminate()
        queued = int(server.stdout.read().strip() or -1)
    finally:
        server.kill()
        server.wait()
    if not (queued == sent["enqueued"] == sent["selected"] == objects):
        raise RuntimeError(f"{objects:,} objects: {sent} enqueued, {queued} on the queue")
    return {"dry_run": dry, "backfill": sent, "queued": queued}


def bench_backfill(report: dict[str, Any], sizes: tuple[int, ...] = SIZES) -> None:
    print(
        "\nBackfill: list, select and enqueue every object of an archive on moto's server,"
        " a fresh process each\n"
    )
    header = (
        f"{'objects':>9} {'messages/s':>11} {'seconds':>8} {'CPU s':>6} {'listed/s (dry run)':>19}"
        f" {'RSS before listing':>19} {'peak RSS':>9} {'dry-run peak':>13}"
    )
    print(header)
    print("-" * len(header))
    rows = {}
    for objects in sizes:
        row = bench_size(objects)
        sent, dry = row["backfill"], row["dry_run"]
        rate, listing = sent["enqueued"] / sent["seconds"], dry["listed"] / dry["seconds"]
        print(
            f"{objects:>9,} {rate:>11,.0f} {sent['seconds']:>8.1f} {sent['cpu_seconds']:>6.1f}"
            f" {listing:>19,.0f} {sent['rss_before_mib']:>15.1f} MiB"
            f" {sent['peak_mib']:>5.1f} MiB {dry['peak_mib']:>9.1f} MiB",
            flush=True,
        )
        rows[objects] = row
    peaks = [row["backfill"]["peak_mib"] for row in rows.values()]
    print(
        f"\n  peak RSS from {sizes[0]:,} to {sizes[-1]:,} objects: {min(peaks):.1f} to"
        f" {max(peaks):.1f} MiB ({max(peaks) / min(peaks):.2f}x)"
    )
    report["backfill"] = rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["_server"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["_one"]:
        print(json.dumps(run_one(int(sys.argv[2]), sys.argv[3], sys.argv[4] == "dry")))
    else:
        bench_backfill({})
