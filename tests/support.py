"""Helpers the tests share: a real S3 -> SQS notification wiring in moto, sample objects."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class Wiring:
    """A bucket whose ObjectCreated notifications moto delivers to an SQS queue."""

    s3: Any
    sqs: Any
    bucket: str
    queue_url: str

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
        return cls(s3, sqs, bucket, queue_url)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def receive(self) -> list[dict[str, Any]]:
        """Every message moto delivered, as SQS event records for the Lambda handler."""
        records = []
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


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


NLB_KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/20/"
    "123456789012_elasticloadbalancing_us-east-1_net.mail-nlb.0123456789abcdef_20261120T1205Z_"
    "a1b2c3d4.log.gz"
)
