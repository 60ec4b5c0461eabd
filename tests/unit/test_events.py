"""Notifications of every accepted shape become object references; the rest is skipped."""

from __future__ import annotations

import json

import pytest

from logferry.ingest.notifications import MalformedNotification, refs_from_event, refs_from_message
from tests.conftest import ROOT
from tests.support import s3_notification


def test_s3_notification_in_an_sqs_message_gives_the_object() -> None:
    [ref] = refs_from_message(s3_notification("b", "AWSLogs/x.log.gz", etag="e1", size=42))
    assert (ref.bucket, ref.key, ref.etag, ref.size) == ("b", "AWSLogs/x.log.gz", "e1", 42)
    assert ref.event_time is not None and ref.event_time.year == 2026


def test_keys_are_url_decoded_plus_and_percent() -> None:
    [ref] = refs_from_message(s3_notification("b", "logs/my+fil%C3%A9+%2B1.log"))
    assert ref.key == "logs/my filé +1.log"


def test_test_event_and_non_create_events_are_skipped() -> None:
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert list(refs_from_message(test_event)) == []
    removed = json.loads(s3_notification("b", "k"))
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert list(refs_from_event(removed)) == []


def test_sns_wrapped_notification_is_unwrapped() -> None:
    envelope = json.dumps({"Type": "Notification", "Message": s3_notification("b", "k1")})
    assert [ref.key for ref in refs_from_message(envelope)] == ["k1"]
    direct_sns = {
        "Records": [{"EventSource": "aws:sns", "Sns": {"Message": s3_notification("b", "k2")}}]
    }
    assert [ref.key for ref in refs_from_event(direct_sns)] == ["k2"]


def test_eventbridge_object_created_event_gives_the_object_with_its_key_url_decoded() -> None:
    # EventBridge encodes keys as S3 notifications do ("+" for a space); Powertools' typed
    # S3EventBridgeNotificationEvent decodes them with unquote_plus.
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": "2026-11-20T12:05:00Z",
        "detail": {
            "bucket": {"name": "existing-logs"},
            "object": {"key": "AWSLogs/a+b%2B.log.gz", "size": 7, "etag": "e", "version-id": "v1"},
        },
    }
    [ref] = refs_from_event(event)
    assert (ref.bucket, ref.key, ref.version_id) == ("existing-logs", "AWSLogs/a b+.log.gz", "v1")
    del event["detail"]["object"]["version-id"]
    [ref] = refs_from_event(event)
    assert ref.version_id is None


def test_direct_sqs_event_records_are_read() -> None:
    event = {"Records": [{"eventSource": "aws:sqs", "body": s3_notification("b", "k3")}]}
    assert [ref.key for ref in refs_from_event(event)] == ["k3"]


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"hello": "world"})])
def test_unknown_messages_raise_a_clear_error(body: str) -> None:
    with pytest.raises(MalformedNotification):
        list(refs_from_message(body))


def test_same_object_same_identity_other_version_other_identity() -> None:
    [a] = refs_from_message(s3_notification("b", "k", etag="e1"))
    [b] = refs_from_message(s3_notification("b", "k", etag="e1"))
    [c] = refs_from_message(s3_notification("b", "k", etag="e2"))
    assert a.identity == b.identity != c.identity


def test_sample_events_for_sam_local_invoke_name_the_sample_objects() -> None:
    events = ROOT / "events"
    for name in ("sqs-s3-notification.json", "eventbridge-object-created.json"):
        [ref] = refs_from_event(json.loads((events / name).read_text()))
        assert (events / "logs" / ref.key).is_file(), name
