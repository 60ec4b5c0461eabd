"""AWS on this machine, as the demo, the benchmark and the tests drive the Lambda handler:
a real S3 -> SQS notification wiring in moto, the SQS records and S3 notifications Lambda
hands the handler, a Lambda context, the handler imported as a new container would, and
realistic NLB lines under an ELB-style key."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

ROOT = Path(__file__).resolve().parents[1]
INGEST_HANDLER = ROOT / "functions" / "ingest" / "app.py"


@dataclass
class Wiring:
    """A bucket whose ObjectCreated notifications moto delivers to an SQS queue."""

    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    # S3 (and moto) sends an s3:TestEvent when the notification is configured.
    test_event: dict[str, Any] | None = None

    @classmethod
    def create(cls, bucket: str = "logs-bucket", queue: str = "logferry-ingest") -> Wiring:
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
        wiring = cls(s3, sqs, bucket, queue_url)
        [wiring.test_event] = wiring.receive()
        return wiring

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def receive(self) -> list[dict[str, Any]]:
        """Every message moto delivered, as SQS event records for the Lambda handler."""
        records: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return records
            for message in batch:
                records.append(sqs_record(message["Body"], message["MessageId"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def sqs_record(body: str, message_id: str = "m-1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:logferry-ingest",
        "awsRegion": "us-east-1",
    }


def s3_notification(bucket: str, key: str, etag: str = "abc", size: int = 1) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "eventTime": "2026-11-20T12:05:00.000Z",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": size, "eTag": etag},
                    },
                }
            ]
        }
    )


class FakeLambdaContext:
    """The attributes of a Lambda context that Powertools and the handler read."""

    function_name = "logferry-ingest"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:logferry-ingest"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_ingest_handler(env: dict[str, str]) -> Any:
    """Import functions/ingest/app.py afresh, as a new Lambda container would, under `env`.

    Call inside moto (the module creates its boto3 clients at import time)."""
    defaults = {
        "POWERTOOLS_SERVICE_NAME": "logferry",
        "POWERTOOLS_METRICS_NAMESPACE": "logferry-test",
    }
    with mock.patch.dict(os.environ, {**defaults, **env}):
        spec = importlib.util.spec_from_file_location("logferry_ingest_app", INGEST_HANDLER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    # Powertools' JSON handler keeps the stdout of the container that created it first (in
    # tests, a capture that is closed once its test ends): it writes to whatever stdout is now.
    # Only plain StreamHandlers: pytest's own (subclasses) must keep their streams.
    for name in ("logferry", module.logger.service):
        for handler in logging.getLogger(name).handlers:
            if type(handler) is logging.StreamHandler:
                handler.stream = CURRENT_STDOUT
    return module


class _CurrentStdout:
    """A stream that is always the process's current `sys.stdout`."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


CURRENT_STDOUT = _CurrentStdout()


NLB_KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/20/"
    "123456789012_elasticloadbalancing_us-east-1_net.mail-nlb.0123456789abcdef_20261120T1205Z_"
    "a1b2c3d4.log.gz"
)


def nlb_line(n: int, *, day: str = "2026-11-20", protocol: str = "tlsv12", client: str = "") -> str:
    """A realistic NLB TLS log line; `n` varies the client and the time."""
    ip = client or f"198.51.100.{n % 250 + 1}"
    cipher, version = ("-", "-") if protocol == "-" else ("ECDHE-RSA-AES128-GCM-SHA256", protocol)
    handshake = "-" if protocol == "-" else str(n % 40 + 1)
    return (
        f"tls 2.0 {day}T12:{n // 60 % 60:02d}:{n % 60:02d} net/mail-nlb/0123456789abcdef "
        f"fedcba9876543210 {ip}:{40000 + n % 20000} 10.0.1.15:993 {n % 900 + 50} {handshake} "
        f"{n % 5000} {n % 9000} - "
        "arn:aws:acm:us-east-1:123456789012:certificate/0b1e2d3c-4a5b-6c7d-8e9f-0a1b2c3d4e5f - "
        f"{cipher} {version} - imap.example.com - - - {day}T12:00:00"
    )
