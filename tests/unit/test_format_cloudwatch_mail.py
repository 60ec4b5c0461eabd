"""Mail logs delivered by a CloudWatch Logs -> Firehose -> S3 subscription: concatenated gzip
members of JSON envelopes, control messages skipped, messages with and without syslog header."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

from logferry.formats import format_for_content
from logferry.formats.cloudwatch import FORMAT as CLOUDWATCH
from logferry.formats.cloudwatch import program_of, split_envelopes
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection

CTX = ParseContext(
    ObjectRef("b", "firehose/2011/12/15/mail-1"), datetime(2011, 12, 15, 16, tzinfo=UTC)
)


def envelope(messages: list[str], stream: str = "i-0abc", kind: str = "DATA_MESSAGE") -> bytes:
    events = [
        {"id": str(n), "timestamp": 1323962839000 + n, "message": m} for n, m in enumerate(messages)
    ]
    body = {
        "messageType": kind,
        "owner": "123456789012" if kind == "DATA_MESSAGE" else "CloudwatchLogs",
        "logGroup": "/mail/maillog" if kind == "DATA_MESSAGE" else "",
        "logStream": stream if kind == "DATA_MESSAGE" else "",
        "subscriptionFilters": ["mail"] if kind == "DATA_MESSAGE" else [],
        "logEvents": events,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def firehose_object(*envelopes: bytes) -> bytes:
    """What Firehose writes: each CloudWatch record is its own gzip member, concatenated."""
    return b"".join(gzip.compress(e) for e in envelopes)


def parse_object(data: bytes) -> tuple[list[dict[str, Any]], list[Rejection]]:
    out = list(CLOUDWATCH.parse_object(LineReader(io.BytesIO(data)), CTX))
    return (
        [o.source for o in out if isinstance(o, Document)],
        [o for o in out if isinstance(o, Rejection)],
    )


FROM = (
    "Dec 15 15:27:19 smtp sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, size=1430,"
    " class=0, nrcpts=1, msgid=<20111215142718.GD23530@smtp.foo.com>, proto=ESMTP,"
    " daemon=MTA, relay=bob.desktop [10.10.10.10]"
)
TO = (
    "Dec 15 15:27:20 smtp sendmail[19938]: pBFERI8l019936: to=<alice@bar.com>,"
    " delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=121430, relay=smtp.bar.com."
    " [10.20.20.20], dsn=2.0.0, stat=Sent (Ok: queued as 5298B228B8B)"
)


def test_concatenated_envelopes_reduce_to_transactions_and_skip_control_messages() -> None:
    data = firehose_object(
        envelope([], kind="CONTROL_MESSAGE"),
        envelope([FROM]),
        envelope([TO, "Dec 15 15:27:21 smtp postfix/qmgr[2]: 7EE668039: removed"]),
    )
    docs, rejections = parse_object(data)
    assert rejections == []
    sendmail = next(d for d in docs if d["email"]["local_id"] == "pBFERI8l019936")
    assert sendmail["event"]["dataset"] == "mail.sendmail"
    assert sendmail["email"]["from"]["address"] == "bob@foo.com"
    assert sendmail["mail"]["recipients"][0]["status"] == "Sent (Ok: queued as 5298B228B8B)"
    postfix = next(d for d in docs if d["email"]["local_id"] == "7EE668039")
    assert postfix["event"]["dataset"] == "mail.postfix"


def test_message_without_syslog_header_takes_event_time_and_stream_as_host() -> None:
    data = firehose_object(envelope([FROM.split(": ", 1)[1]], stream="i-0mail"))
    docs, _ = parse_object(data)
    (doc,) = docs
    assert doc["@timestamp"] == "2011-12-15T15:27:19.000Z"  # 1323962839000 ms
    assert doc["host"] == {"name": "i-0mail"}
    assert doc["event"]["dataset"] == "mail.sendmail"


def test_family_of_a_bare_message() -> None:
    assert program_of("7EE668039: removed") == "postfix"
    assert program_of("pBFERI8l019936: to=<a>, stat=Sent") == "sendmail"
    assert program_of("ruleset=check_relay, arg1=x, relay=[1.2.3.4], reject=421 x") == "sendmail"
    assert program_of("connect from unknown[1.2.3.4]") == "postfix"


def test_envelopes_split_at_the_message_type_even_across_chunks() -> None:
    one, two = envelope(["a"]), envelope(['b with {"messageType" inside'])
    joined = one + two + b"\n" + one
    chunks = [joined[i : i + 7] for i in range(0, len(joined), 7)]
    assert list(split_envelopes(chunks)) == [one, two, one]


def test_broken_envelope_and_foreign_program_are_rejections() -> None:
    data = firehose_object(
        b'{"messageType":"DATA_MESSAGE","logEvents":[',
        envelope(["Dec 15 15:27:19 smtp dovecot[1]: imap-login: x"]),
    )
    docs, rejections = parse_object(data)
    assert docs == []
    assert "invalid JSON" in rejections[0].reason
    assert "'dovecot' is not postfix or sendmail" in rejections[1].reason


def test_detected_by_the_envelope_as_cloudwatch_logs_of_any_log_group() -> None:
    from logferry.formats.cloudwatch_logs import FORMAT as CLOUDWATCH_LOGS

    # The generic reader comes first; `cloudwatch-mail` stays for a forced format.
    assert format_for_content(envelope(["x"]).decode()) is CLOUDWATCH_LOGS
