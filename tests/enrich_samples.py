"""Sample records the enrichment tests share."""

from __future__ import annotations

from typing import Any


def cloudtrail_records(count: int, address: str | None = None) -> list[dict[str, Any]]:
    """CloudTrail records, odd ones DescribeInstances, even ones RunInstances, a second apart."""
    records = []
    for n in range(count):
        record: dict[str, Any] = {
            "eventVersion": "1.09",
            "eventTime": f"2026-11-20T12:00:{n:02d}Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances" if n % 2 else "RunInstances",
            "awsRegion": "eu-west-1",
            "eventID": f"{n:08d}-aaaa-bbbb-cccc-dddddddddddd",
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
        }
        if address is not None:
            record["sourceIPAddress"] = address
        records.append(record)
    return records
