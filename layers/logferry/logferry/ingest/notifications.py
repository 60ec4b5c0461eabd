"""Notifications -> object references.

Accepted shapes: SQS messages whose body is an S3 event notification (the deployed path), an
SNS notification wrapping one, or an EventBridge "Object Created" event; and the same three
delivered directly to a function. `s3:TestEvent` and events other than object creation are
acknowledged and skipped: they yield no reference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from ..model import ObjectRef

Event = dict[str, Any]


class MalformedNotification(ValueError):
    """The message is not a notification logferry understands (kept by the queue's DLQ)."""


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _from_s3_record(record: Event) -> ObjectRef | None:
    if not str(record.get("eventName", "")).startswith("ObjectCreated"):
        return None
    s3 = record["s3"]
    obj = s3["object"]
    return ObjectRef(
        bucket=s3["bucket"]["name"],
        # S3 notifications URL-encode keys, with "+" for spaces.
        key=unquote_plus(obj["key"]),
        size=obj.get("size"),
        etag=obj.get("eTag"),
        version_id=obj.get("versionId"),
        event_time=_time(record.get("eventTime")),
    )


def _from_eventbridge(event: Event) -> ObjectRef | None:
    if event.get("detail-type") != "Object Created":
        return None
    # (imported here: Powertools' data classes cost `logferry parse` 10 MiB and 40 ms at start)
    from aws_lambda_powertools.utilities.data_classes.s3_event import (
        S3EventBridgeNotificationEvent,
    )

    detail = S3EventBridgeNotificationEvent(event).detail
    obj = detail.object
    return ObjectRef(
        bucket=detail.bucket.name,
        # URL-encoded as in S3 notifications ("+" for a space): Powertools' typed event, AWS's
        # own reading of the event, decodes it with unquote_plus.
        key=obj.key,
        size=obj.size,
        etag=obj.etag or None,
        version_id=obj.get("version-id"),  # absent in an unversioned bucket
        event_time=_time(event.get("time")),
    )


# A message logferry sends itself to finish an object another invocation could not
# (logferry.ingest.checkpoint): {"logferry": "continue", "object": {...}, "part": ..., ...}.
CONTINUATION = "continue"


def object_fields(ref: ObjectRef) -> Event:
    """An ObjectRef as JSON-ready fields (continuation messages)."""
    return {
        "bucket": ref.bucket,
        "key": ref.key,
        "size": ref.size,
        "etag": ref.etag,
        "version_id": ref.version_id,
        "event_time": ref.event_time.isoformat() if ref.event_time else None,
    }


def ref_from_fields(fields: Event) -> ObjectRef:
    return ObjectRef(
        bucket=fields["bucket"],
        key=fields["key"],
        size=fields.get("size"),
        etag=fields.get("etag"),
        version_id=fields.get("version_id"),
        event_time=_time(fields.get("event_time")),
    )


def continuation_of(body: str) -> Event | None:
    """The checkpoint a continuation message carries; None for any other message."""
    if '"logferry"' not in body:
        return None
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return None
    if isinstance(event, dict) and event.get("logferry") == CONTINUATION:
        return event
    return None


def refs_from_event(event: Event) -> Iterator[ObjectRef]:
    """Object references in one notification of any accepted shape."""
    try:
        if "Records" in event:
            for record in event["Records"]:
                source = record.get("eventSource") or record.get("EventSource")
                if source == "aws:s3":
                    ref = _from_s3_record(record)
                    if ref is not None:
                        yield ref
                elif source == "aws:sqs":
                    yield from refs_from_message(record["body"])
                elif source == "aws:sns":
                    yield from refs_from_message(record["Sns"]["Message"])
                else:
                    raise MalformedNotification(f"unexpected record source {source!r}")
        elif event.get("source") == "aws.s3" and "detail" in event:
            ref = _from_eventbridge(event)
            if ref is not None:
                yield ref
        elif event.get("logferry") == CONTINUATION:
            # Read whole, a continuation still names its object: ingesting it is idempotent.
            yield ref_from_fields(event["object"])
        elif event.get("Event") == "s3:TestEvent":
            return
        elif event.get("Type") == "Notification" and "Message" in event:  # SNS raw envelope
            yield from refs_from_message(event["Message"])
        else:
            raise MalformedNotification("not an S3, SNS, SQS or EventBridge notification")
    except (KeyError, TypeError) as exc:
        raise MalformedNotification(f"notification is missing {exc}") from None


def refs_from_message(body: str) -> Iterator[ObjectRef]:
    """Object references in the body of one SQS message (or SNS message text)."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedNotification(f"message body is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise MalformedNotification("message body is not a JSON object")
    yield from refs_from_event(event)
