"""`python -m tools.bench --hostile`: what a broken or hostile object costs the Lambda handler.

Each object goes through the real handler (functions/ingest/app.py) in a fresh process, against
moto's S3 in a server process of its own (so what moto stores, dead letters included, is not
counted as the handler's) and the local OpenSearch; the handler process's peak RSS (ru_maxrss)
and wall time are printed beside those of a valid 2,000-line NLB object:

- `rejected 1-byte lines`: a 10 KB gzip of 5,000,000 one-byte lines under a VPC flow key;
- `rejected 1 MiB lines`: 400 lines of just under 1 MiB each, all rejected (400 KB gzip).

Targets (issue "Hostile objects"): each within 128 MiB of the valid object's peak, each under
60 s. Figures go with the machine: compare within one run.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

LOG_BUCKET = "bench-logs"
DEADLETTER_BUCKET = "bench-deadletters"
VPC_KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1205Z_{name}.log.gz"
)
MEMORY_MARGIN_MIB = 128
SECONDS_CAP = 60


def _valid() -> tuple[str, bytes]:
    from tools.localaws import NLB_KEY, nlb_line

    return NLB_KEY, gzip.compress(("\n".join(nlb_line(n) for n in range(2000)) + "\n").encode())


def _one_byte_lines() -> tuple[str, bytes]:
    return VPC_KEY.format(name="tiny"), gzip.compress(b"x\n" * 5_000_000, compresslevel=9)


def _wide_lines() -> tuple[str, bytes]:
    compressor = gzip.zlib.compressobj(9, wbits=31)  # type: ignore[attr-defined]
    line = b"y" * (1024**2 - 64) + b"\n"
    body = b"".join(compressor.compress(line) for _ in range(400)) + compressor.flush()
    return VPC_KEY.format(name="wide"), body


OBJECTS = {
    "valid 2,000 NLB lines": _valid,
    "rejected 1-byte lines": _one_byte_lines,
    "rejected 1 MiB lines": _wide_lines,
}


def run_one(label: str) -> dict[str, Any]:
    """In this (fresh) process: the handler on one object; what it reported."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    import boto3

    from tools.localaws import FakeLambdaContext, load_ingest_handler, s3_notification, sqs_record

    key, body = OBJECTS[label]()
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (LOG_BUCKET, DEADLETTER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=body)
    size = len(body)
    del body  # the handler's memory is measured, not the object's
    if True:  # the handler, as a new Lambda container would load it
        app = load_ingest_handler(
            {
                "OPENSEARCH_URL": os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"),
                "LOGFERRY_INDEX_PREFIX": "benchhostile",
                "LOGFERRY_DEADLETTER_BUCKET": DEADLETTER_BUCKET,
                "LOGFERRY_ACCEPT_DAYS_BACK": "36600",
            }
        )
        record = sqs_record(s3_notification(LOG_BUCKET, key, size=size))
        response = app.lambda_handler({"Records": [record]}, FakeLambdaContext())
        [result] = app.service.results
        listed = s3.list_objects_v2(Bucket=DEADLETTER_BUCKET).get("Contents", [])
    return {
        "outcome": result.outcome,
        "lines": result.lines,
        "documents": result.documents,
        "rejected": result.rejected,
        "dead_letter_records": result.dead_lettered,
        "dead_letter_objects": len(listed),
        "dead_letter_bytes": sum(item["Size"] for item in listed),
        "returned": len(response["batchItemFailures"]),
    }


def measure(label: str, endpoint: str) -> dict[str, Any]:
    """One object in a child process: its report, peak RSS (MiB) and wall seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.hostile", "_one", label],
        stdout=subprocess.PIPE,
        env={**os.environ, "AWS_ENDPOINT_URL": endpoint},
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{label}: the handler process failed")
    return {**json.loads(output), "peak_mib": round(usage.ru_maxrss / 1024, 1), "seconds": seconds}


def _moto_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return server, endpoint
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("moto_server did not start")


def bench_hostile(report: dict[str, Any]) -> None:
    print("\nHostile objects: the Lambda handler against moto's S3 server, a fresh process each\n")
    server, endpoint = _moto_server()
    try:
        rows = {}
        for label in OBJECTS:
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            )
            rows[label] = measure(label, endpoint)
    finally:
        server.kill()
    valid = rows["valid 2,000 NLB lines"]
    verdicts = {}
    for label, row in rows.items():
        print(
            f"  {label:<24} {row['peak_mib']:7.1f} MiB {row['seconds']:6.1f} s  {row['outcome']:<9}"
            f" {row['lines']:>9,} lines {row['documents']:>6,} docs {row['rejected']:>9,} rejected"
            f"  dead letters: {row['dead_letter_records']:,} records in"
            f" {row['dead_letter_objects']} objects, {row['dead_letter_bytes'] / 2**20:.1f} MiB"
        )
        if row is not valid:
            over = row["peak_mib"] - valid["peak_mib"]
            ok = over <= MEMORY_MARGIN_MIB and row["seconds"] < SECONDS_CAP
            verdicts[label] = {"over_valid_mib": round(over, 1), "target_met": ok}
    for label, verdict in verdicts.items():
        print(
            f"  {label}: {verdict['over_valid_mib']:+.1f} MiB over the valid object"
            f" (<= {MEMORY_MARGIN_MIB}), under {SECONDS_CAP} s:"
            f" {'yes' if verdict['target_met'] else 'NO'}"
        )
    report["hostile"] = {"objects": rows, "verdicts": verdicts}


if __name__ == "__main__":
    if sys.argv[1:2] == ["_one"]:
        print(json.dumps(run_one(sys.argv[2])))
    else:
        bench_hostile({})
