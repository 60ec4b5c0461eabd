"""Canonical times: every format, fed hostile times, either rejects the entry (saying what it
expected) or hands on an `@timestamp` that is canonical UTC, `YYYY-MM-DDTHH:MM:SS[.f]Z` with 1
to 6 fraction digits, ASCII digits, and a real date and time. The daily index is named after
it: a week date returned as written once named the index `logs-cloudtrail-2023.W1.-1`."""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from logferry.formats import FORMATS, get_format
from logferry.formats.elb import is_iso_utc
from logferry.formats.times import is_canonical_utc
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.support import nlb_line

CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", re.ASCII)


def assert_canonical(value: Any) -> None:
    """`value` is a canonical UTC time, of a day and a time that exist."""
    assert isinstance(value, str), value
    assert CANONICAL.fullmatch(value), f"not a canonical UTC time: {value!r}"
    datetime.fromisoformat(value)  # raises for 02-30, 24:00, year 0


CTX = ParseContext(ObjectRef("bucket", "key"), datetime(2024, 8, 30, 12, tzinfo=UTC))


def run(name: str, data: bytes | str) -> tuple[list[dict[str, Any]], list[Rejection]]:
    """The documents' sources and the rejections (the parser's and the reader's) of an object."""
    raw = data.encode() if isinstance(data, str) else data
    reader = LineReader(io.BytesIO(raw))
    out = list(get_format(name).parse_object(reader, CTX))
    docs = [item.source for item in out if isinstance(item, Document)]
    rejections = [item for item in out if isinstance(item, Rejection)] + reader.rejections
    return docs, rejections


def outcome(name: str, data: bytes | str) -> str | Rejection:
    """The one entry of an object: its @timestamp (checked canonical) or its rejection."""
    docs, rejections = run(name, data)
    for doc in docs:
        assert_canonical(doc.get("@timestamp"))
    assert len(docs) + len(rejections) == 1, (docs, rejections)
    return docs[0]["@timestamp"] if docs else rejections[0]


# ISO 8601 in its many spellings, none of them canonical: each is normalised or rejected.
HOSTILE_ISO = [
    "2023-W15-1T15:24:00Z",  # week date (datetime.fromisoformat takes it)
    "2023-W15T15:24:00Z",
    "2023-100T15:24:00Z",  # ordinal date
    "2023100T152400Z",
    "2023-04-11 15:24:00Z",  # a space for the T
    "2023-04-11t15:24:00z",
    "2023-04-11T15:24:00+02:00",  # offsets
    "2023-04-11T15:24:00-0530",
    "2023-04-11T15:24:00+02",
    "2023-04-11T15:24:00+25:00",
    "\uff12\uff10\uff12\uff13-04-11T15:24:00Z",  # fullwidth digits
    "2023-04-1\u0661T15:24:00Z",  # an Arabic-Indic digit
    "2023-04-11T15:2\u0664:00Z",
    "2023-02-30T15:24:00Z",  # days that do not exist
    "2023-02-29T15:24:00Z",
    "2023-04-31T15:24:00Z",
    "2023-13-01T15:24:00Z",
    "2023-00-10T15:24:00Z",
    "2023-04-00T15:24:00Z",
    "2023-04-11T24:00:00Z",  # times that do not exist
    "2023-04-11T23:60:00Z",
    "2023-04-11T23:59:60Z",
    "0000-01-01T00:00:00Z",  # year 0, and offsets that leave the years 1 to 9999
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
    "0999-06-01T10:00:00+01:00",  # strftime writes year 999 as "999"
    "2023-04-11T15:24:00.1234567Z",  # more than 6 fraction digits
    "2023-04-11T15:24:00.123456789Z",
    "2023-04-11T15:24:00.Z",
    "2023-04-11T15:24:00,5Z",
    "20230411T152400Z",  # basic form
    "2023-04-11T15:24Z",  # no seconds
    "2023-04-11",  # no time
    "2023-04-11T15:24:00",  # no zone
    "+2023-04-11T15:24:00Z",
    "12023-04-11T15:24:00Z",
    "2023-04-11T15:24:00\u200bZ",
    "2023-04-11T15:24:00ZZ",
]
# Canonical at the edges of the calendar: they pass the parsers (a window is the pipeline's).
EDGES = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-02-29T23:59:59Z"]


def test_the_shared_check_and_the_compiled_elb_check_agree() -> None:
    more = ["2023-04-11T15:24:00.1Z", "2023-04-11T15:24:00.123456Z", "2024-02-29T00:00:00Z"]
    for value in HOSTILE_ISO + EDGES + more:
        assert is_iso_utc(value) == is_canonical_utc(value), value
        assert is_canonical_utc(value) == (CANONICAL.fullmatch(value) is not None and real(value))


def real(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


# -- the ELB text formats (times UTC with Z, NLB without) -------------------------------------

ALB_LINE = (
    "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817"
    ' 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1"'
    ' "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/'
    'my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0'
    ' 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"'
)
ALB_CONNECTION_LINE = (
    "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
    ' 4.036 "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US"'
    " NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success"
)
CLB_LINE = (
    "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073"
    ' 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'
)
ELB_LINES = {
    "alb": (ALB_LINE, "2018-07-02T22:23:00.186641Z"),
    "alb-connection": (ALB_CONNECTION_LINE, "2024-10-04T17:05:15.514108Z"),
    "clb": (CLB_LINE, "2015-05-13T23:39:43.945958Z"),
}


@pytest.mark.parametrize("name", sorted(ELB_LINES))
def test_elb_line_keeps_its_canonical_time(name: str) -> None:
    line, time = ELB_LINES[name]
    assert outcome(name, line) == time


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
@pytest.mark.parametrize("name", sorted(ELB_LINES))
def test_elb_line_with_a_hostile_time_is_rejected_or_canonical(name: str, time: str) -> None:
    line, original = ELB_LINES[name]
    result = outcome(name, line.replace(original, time, 1))
    if time in EDGES:
        assert result == time
    elif isinstance(result, Rejection):
        assert "expected" in result.reason


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
def test_nlb_line_with_a_hostile_time_is_rejected_or_canonical(time: str) -> None:
    original = "2026-11-20T12:00:00"
    for written in {time, time.removesuffix("Z")}:
        line = nlb_line(0)
        assert line.count(original) == 2  # the time, and the connection's creation time
        for at_end in (False, True):
            hostile = line.replace(original, written, 2 if at_end else 1)
            result = outcome("nlb", hostile)
            if time in EDGES and written != time:
                assert result == time  # NLB writes no zone: the time is UTC
            elif isinstance(result, Rejection) and " " not in written:  # a space moves fields
                assert "expected YYYY-MM-DDTHH:MM:SS" in result.reason


def test_nlb_week_date_is_rejected_not_indexed_as_written() -> None:
    line = nlb_line(0).replace("2026-11-20T12:00:00", "2023-W15-1T15:24:00", 1)
    result = outcome("nlb", line)
    assert isinstance(result, Rejection)
    assert result.reason == "time: expected YYYY-MM-DDTHH:MM:SS (UTC), got '2023-W15-1T15:24:00'"


# -- CloudFront: date and time columns, or epoch (ms) in v2 -----------------------------------

CLOUDFRONT_FIELDS = (
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs-uri-stem sc-status"
)


def cloudfront_object(date: str, time: str) -> str:
    return (
        f"#Version: 1.0\n{CLOUDFRONT_FIELDS}\n{date}\t{time}\tLAX1\t392\t192.0.2.100\tGET\t/\t200\n"
    )


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
def test_cloudfront_hostile_date_and_time_are_rejected_or_canonical(time: str) -> None:
    day, _, clock = time.partition("T")
    result = outcome("cloudfront", cloudfront_object(day, clock.removesuffix("Z") or "-"))
    if time in EDGES:
        assert result == time
    elif isinstance(result, Rejection):
        assert "expected" in result.reason or "a record needs a time" in result.reason


@pytest.mark.parametrize(
    ("day", "clock"),
    [
        ("2019-02-30", "21:02:31"),
        ("0000-12-04", "21:02:31"),
        ("2019-W49-3", "21:02:31"),
        ("2019-338", "21:02:31"),
        ("2019-12-04", "21:02:31.123456789"),
        ("2019-12-04", "24:00:00"),
        ("\uff12019-12-04", "21:02:31"),
    ],
)
def test_cloudfront_impossible_date_or_time_is_rejected_saying_what_was_expected(
    day: str, clock: str
) -> None:
    result = outcome("cloudfront", cloudfront_object(day, clock))
    assert isinstance(result, Rejection)
    assert "expected YYYY-MM-DD and HH:MM:SS" in result.reason


@pytest.mark.parametrize(
    "value",
    ["1575493351001", "-62135596800000", "253402300799999", "253402300800000", "1e400", "nan",
     "-inf", "\uff11575493351001", "0x10", "1_575_493_351_001", " 1575493351001"],
)  # fmt: skip
def test_cloudfront_v2_epoch_milliseconds_are_rejected_or_canonical(value: str) -> None:
    record = json.dumps({"timestamp(ms)": value, "c-ip": "192.0.2.1", "cs-uri-stem": "/"})
    result = outcome("cloudfront", record + "\n")
    if value == "1575493351001":
        assert result == "2019-12-04T21:02:31.001Z"


# -- S3 server access logs: [dd/Mon/yyyy:HH:MM:SS +zzzz] -------------------------------------

S3_LINE = (
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1"
    " [06/Feb/2019:00:00:38 +0000] 192.0.2.3"
    " 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE"
    ' REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-"'
    ' "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi3'
    "1234= SigV2 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader"
    " awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.1"
)


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("06/Feb/2019:00:00:38 +0000", "2019-02-06T00:00:38Z"),
        ("06/Feb/2019:00:00:38 +0130", "2019-02-05T22:30:38Z"),
        ("06/Feb/2019:23:00:38 -0130", "2019-02-07T00:30:38Z"),
        ("01/Jan/0100:00:30:00 +0100", "0099-12-31T23:30:00Z"),
        ("31/Dec/9999:23:59:59 +0000", "9999-12-31T23:59:59Z"),
        ("01/Jan/0001:00:00:00 +0000", "0001-01-01T00:00:00Z"),
        ("29/Feb/2024:00:00:38 +0000", "2024-02-29T00:00:38Z"),
        ("30/Feb/2019:00:00:38 +0000", None),
        ("29/Feb/2019:00:00:38 +0000", None),
        ("31/Apr/2019:00:00:38 +0000", None),
        ("06/Feb/0000:00:00:38 +0000", None),
        ("01/Jan/0001:00:30:00 +0100", None),
        ("31/Dec/9999:23:30:00 -0100", None),
        ("06/Feb/2019:00:00:38 +2500", None),
        ("06/Feb/2019:00:00:38 +0160", None),
        ("06/Feb/\uff12\uff10\uff11\uff19:00:00:38 +0000", None),
        ("06/Feb/2019:24:00:00 +0000", None),
        ("06/Feb/2019:00:00:60 +0000", None),
        ("06/feb/2019:00:00:38 +0000", None),
        ("06/Feb/2019 00:00:38 +0000", None),
        ("2019-02-06T00:00:38Z", None),
        ("06/Feb/2019:00:00:38.123 +0000", None),
    ],
)
def test_s3_access_time_is_converted_to_utc_or_rejected(time: str, expected: str | None) -> None:
    line = S3_LINE.replace("06/Feb/2019:00:00:38 +0000", time)
    result = outcome("s3access", line)
    if expected is None:
        assert isinstance(result, Rejection)
        assert result.reason.startswith("time: ")
        assert "expected" in result.reason or "no such" in result.reason or "years" in result.reason
    else:
        assert result == expected


# -- VPC flow logs (epoch seconds) and WAF (epoch milliseconds) -------------------------------

VPC_LINE = (
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249"
    " 1418530010 1418530070 ACCEPT OK"
)


@pytest.mark.parametrize(
    "value",
    ["1418530010", "0", "99999999999", "999999999999", "-1", "1e9", "0x10", "1418530010.5",
     "\uff11418530010", "\u0661418530010", "+1418530010", "-"],
)  # fmt: skip
def test_vpc_flow_epoch_seconds_are_rejected_or_canonical(value: str) -> None:
    as_start = VPC_LINE.replace("1418530010", value)
    as_end = VPC_LINE.replace("1418530010 1418530070", f"- {value}")  # the time when no start
    for line in (as_start, as_end):
        result = outcome("vpcflow", line)
        if value == "1418530010":
            assert result == "2014-12-14T04:06:50Z"


@pytest.mark.parametrize(
    "value",
    [1576280412771, "1576280412771", 1576280412771.0, 1576280412771.5, -1, 0, 253402300799999,
     253402300800000, 10**30, "\uff11576280412771", "1e12", None, True, [1], {"a": 1}],
)  # fmt: skip
def test_waf_epoch_milliseconds_are_rejected_or_canonical(value: Any) -> None:
    entry = {"timestamp": value, "formatVersion": 1, "action": "ALLOW",
             "httpRequest": {"clientIp": "1.2.3.4", "uri": "/"}}  # fmt: skip
    result = outcome("waf", json.dumps(entry) + "\n")
    if value == 1576280412771:
        assert result == "2019-12-13T23:40:12.771Z"
    elif value == 253402300799999:
        assert result == "9999-12-31T23:59:59.999Z"


# -- CloudTrail ---------------------------------------------------------------------------------


def cloudtrail_record(event_time: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": "alice"},
        "eventTime": event_time,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "eventID": "e-1",
    }


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
def test_cloudtrail_hostile_event_time_is_rejected_or_canonical(time: str) -> None:
    body = json.dumps({"Records": [cloudtrail_record(time)]})
    result = outcome("cloudtrail", gzip.compress(body.encode()))
    lone = outcome("cloudtrail", json.dumps(cloudtrail_record(time)) + "\n")
    assert result == lone or (isinstance(result, Rejection) and isinstance(lone, Rejection))
    if time in EDGES:
        assert result == time
    elif isinstance(result, Rejection):
        assert "eventTime: expected an ISO 8601 time" in result.reason


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2023-04-11T15:24:00Z", "2023-04-11T15:24:00Z"),
        ("2023-04-11T15:24:00+02:00", "2023-04-11T13:24:00Z"),
        ("2023-04-11T15:24:00-0530", "2023-04-11T20:54:00Z"),
        ("2023-04-11 15:24:00Z", "2023-04-11T15:24:00Z"),
        ("2023-04-11T15:24:00.123456789Z", "2023-04-11T15:24:00.123Z"),
        ("0999-06-01T10:00:00+01:00", "0999-06-01T09:00:00Z"),
        ("20230411T152400Z", "2023-04-11T15:24:00Z"),
        ("2023-W15-1T15:24:00Z", None),
        ("2023-W15-1T15:24:00+00:00", None),
        ("2023-100T15:24:00Z", None),
        ("2023-02-30T15:24:00Z", None),
        ("\uff12\uff10\uff12\uff13-04-11T15:24:00Z", None),
        ("0001-01-01T00:30:00+01:00", None),
        ("9999-12-31T23:30:00-01:00", None),
        (1681226640, None),
    ],
)
def test_cloudtrail_event_time_is_normalised_or_rejected(time: Any, expected: str | None) -> None:
    result = outcome("cloudtrail", json.dumps({"Records": [cloudtrail_record(time)]}))
    if expected is None:
        assert isinstance(result, Rejection)
        assert result.reason.startswith("record 1: eventTime: expected an ISO 8601 time")
    else:
        assert result == expected


def test_cloudtrail_week_date_does_not_name_an_index_of_its_own() -> None:
    # It was returned as written and indexed into logs-cloudtrail-2023.W1.-1.
    result = outcome(
        "cloudtrail", json.dumps({"Records": [cloudtrail_record("2023-W15-1T15:24:00Z")]})
    )
    assert isinstance(result, Rejection)


# -- mail: syslog envelopes (postfix, sendmail) and CloudWatch Logs deliveries ------------------

# (host, program, pid, message) of a line that is a document of its own
MAIL_LINES = {
    "postfix": (
        "mx1",
        "postfix/smtpd",
        "60203",
        "NOQUEUE: reject: RCPT from unknown[192.168.1.1]: 554 5.7.1 <victim@domain.tld>: Relay"
        " access denied; from=<spammer@domain.tld> to=<victim@domain.tld> proto=ESMTP helo=<x>",
    ),
    "sendmail": (
        "smtp",
        "sendmail",
        "19936",
        "pBFERI8l019936: ruleset=check_rcpt, arg1=<x@y.z>, relay=host [10.0.0.1],"
        " reject=550 5.7.1 <x@y.z>... Relaying denied",
    ),
}
NOQUEUE = " mx1 postfix/smtpd[60203]: " + MAIL_LINES["postfix"][3]
HOSTILE_CLASSIC = [
    "Aug 26 01:33:38",
    "Feb 30 10:00:00",
    "Feb 29 10:00:00",
    "Apr 31 10:00:00",
    "Aug 00 10:00:00",
    "Aug 26 24:00:00",
    "Aug 26 23:59:60",
    "Aug 26 01:33:38.123456789",
    "Aug 26 01:33:38.5",
    "Aug 2\uff16 01:33:38",
    "Aug 26 0\u0661:33:38",
    "aug 26 01:33:38",
]


def mail_results(
    name: str, time: str, rfc5424: bool = False
) -> tuple[list[dict[str, Any]], list[Rejection]]:
    host, program, pid, message = MAIL_LINES[name]
    if rfc5424:
        line = f"<22>1 {time} {host} {program} {pid} - - {message}"
    else:
        line = f"{time} {host} {program}[{pid}]: {message}"
    docs, rejections = run(name, line + "\n")
    for doc in docs:
        assert_canonical(doc.get("@timestamp"))
    return docs, rejections


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES + HOSTILE_CLASSIC)
@pytest.mark.parametrize("name", sorted(MAIL_LINES))
def test_mail_envelope_with_a_hostile_time_is_rejected_or_canonical(name: str, time: str) -> None:
    for rfc5424 in (False, True):
        docs, rejections = mail_results(name, time, rfc5424)
        assert len(docs) + len(rejections) == 1
        if time in EDGES:
            assert [doc["@timestamp"] for doc in docs] == [time]
        for rejection in rejections:
            assert "time" in rejection.reason or "syslog" in rejection.reason


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2024-08-26T01:33:38.572449+00:00", "2024-08-26T01:33:38.572449Z"),
        ("2024-08-26T01:33:38.572449123Z", "2024-08-26T01:33:38.572449Z"),
        ("2024-08-26T01:33:38+02:00", "2024-08-25T23:33:38Z"),
        ("0999-06-01T10:00:00+01:00", "0999-06-01T09:00:00Z"),
        ("Aug 26 01:33:38.123456789", "2024-08-26T01:33:38.123456Z"),
        ("0001-01-01T00:30:00+01:00", None),
        ("9999-12-31T23:30:00-01:00", None),
        ("2024-02-30T10:00:00Z", None),
        ("2024-W35-1T01:33:38Z", None),
        ("2024-08-26 01:33:38Z", None),
        ("Feb 30 10:00:00", None),
    ],
)
def test_mail_time_is_converted_to_utc_or_rejected(time: str, expected: str | None) -> None:
    docs, rejections = mail_results("postfix", time)
    if expected is None:
        assert docs == [] and len(rejections) == 1
    else:
        assert [doc["@timestamp"] for doc in docs] == [expected]


def cloudwatch_object(message: str, timestamp: Any, group: str = "/mail/maillog") -> bytes:
    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "i-0abc",
        "subscriptionFilters": ["mail"],
        "logEvents": [{"id": "1", "timestamp": timestamp, "message": message}],
    }
    return gzip.compress(json.dumps(envelope).encode())


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES + HOSTILE_CLASSIC)
def test_cloudwatch_mail_with_a_hostile_syslog_time_is_rejected_or_canonical(time: str) -> None:
    docs, _ = run("cloudwatch-mail", cloudwatch_object(time + NOQUEUE, 1724636018000))
    for doc in docs:
        assert_canonical(doc.get("@timestamp"))


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1724636018000, "2024-08-26T01:33:38.000Z"),
        (1724636018000.0, "2024-08-26T01:33:38.000Z"),
        (-62135596800000, "0001-01-01T00:00:00.000Z"),
        (253402300799999, "9999-12-31T23:59:59.999Z"),
        (-62135596800001, None),
        (253402300800000, None),
        (10**30, None),
        (1e300, None),
        ("1724636018000", None),
        (True, None),
        (None, None),
    ],
)
def test_cloudwatch_mail_event_time_is_canonical_or_the_event_rejected(
    timestamp: Any, expected: str | None
) -> None:
    message = "NOQUEUE:" + NOQUEUE.partition("NOQUEUE:")[2]  # without its syslog header
    docs, rejections = run("cloudwatch-mail", cloudwatch_object(message, timestamp))
    for doc in docs:
        assert_canonical(doc.get("@timestamp"))
    if expected is None:
        assert docs == [] and [r.reason for r in rejections] == ["log event without a time"]
    else:
        assert [doc["@timestamp"] for doc in docs] == [expected]


REPORT = (
    "REPORT RequestId: 8f5c1a2e-0d4b-4c3e-9a55-1b2c3d4e5f60\tDuration: 12.34 ms\t"
    "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t"
)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1724636018000, "2024-08-26T01:33:38.000Z"),
        (253402300799999, "9999-12-31T23:59:59.999Z"),
        (253402300800000, None),
        (1e300, None),
        ("1724636018000", None),
        (True, None),
        (None, None),
    ],
)
def test_cloudwatch_logs_event_time_of_a_record_without_one_is_canonical_or_rejected(
    timestamp: Any, expected: str | None
) -> None:
    # A Lambda platform line has no time of its own: the log event's is taken, or none.
    docs, rejections = run("cloudwatch", cloudwatch_object(REPORT, timestamp, "/aws/lambda/f"))
    for doc in docs:
        assert_canonical(doc.get("@timestamp"))
    if expected is None:
        assert docs == [] and len(rejections) == 1
    else:
        assert [doc["@timestamp"] for doc in docs] == [expected]


# -- Route 53 Resolver, Network Firewall, Lambda (ISO 8601), API Gateway (CLF time, epoch ms) --

# A JSON record of each format with its time at the key path given, and the time it holds.
ISO_RECORDS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "route53resolver": (
        {"query_timestamp": "", "query_name": "example.com.", "query_type": "A", "rcode": "NOERROR",
         "srcaddr": "10.0.0.5", "srcport": "53000"},
        ("query_timestamp",),
    ),
    "networkfirewall": (
        {"firewall_name": "fw", "availability_zone": "us-east-1a",
         "event": {"timestamp": "", "event_type": "alert", "src_ip": "10.0.0.5", "proto": "TCP",
                   "alert": {"action": "blocked", "signature_id": 1, "signature": "s"}}},
        ("event", "timestamp"),
    ),
    "lambda": ({"timestamp": "", "level": "INFO", "message": "hello"}, ("timestamp",)),
}  # fmt: skip


def with_time(name: str, time: Any) -> str:
    entry, path = ISO_RECORDS[name]
    entry = json.loads(json.dumps(entry))
    node = entry
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = time
    return json.dumps(entry) + "\n"


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
@pytest.mark.parametrize("name", sorted(ISO_RECORDS))
def test_json_service_record_with_a_hostile_time_is_rejected_or_canonical(
    name: str, time: str
) -> None:
    result = outcome(name, with_time(name, time))
    if time in EDGES:
        assert result == time
    elif isinstance(result, Rejection):
        assert "expected" in result.reason or "time" in result.reason


@pytest.mark.parametrize("time", HOSTILE_ISO + EDGES)
def test_lambda_export_line_with_a_hostile_time_is_rejected_or_canonical(time: str) -> None:
    line = f"{time} START RequestId: 8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b Version: $LATEST\n"
    result = outcome("lambda", line)
    if time in EDGES:
        assert result == time
    elif isinstance(result, Rejection):
        assert "time" in result.reason


def apigateway_entry(**time: Any) -> str:
    entry = {"requestId": "r-1", "ip": "192.0.2.1", "httpMethod": "GET", "status": "200", **time}
    return json.dumps(entry) + "\n"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("20/Nov/2026:12:00:01 +0000", "2026-11-20T12:00:01Z"),
        ("20/Nov/2026:12:00:01 -0130", "2026-11-20T13:30:01Z"),
        ("30/Feb/2026:12:00:01 +0000", None),
        ("20/Nov/2026:24:00:01 +0000", None),
        ("2026-11-20T12:00:01Z", None),
        ("20/Nov/\uff12026:12:00:01 +0000", None),
    ],
)
def test_apigateway_request_time_is_converted_to_utc_or_rejected(
    time: str, expected: str | None
) -> None:
    for line in (
        apigateway_entry(requestTime=time),
        f'192.0.2.1 - - [{time}] "GET /pets HTTP/1.1" 200 12 r-1\n',
    ):
        result = outcome("apigateway", line)
        if expected is None:
            assert isinstance(result, Rejection) and "requestTime" in result.reason
        else:
            assert result == expected


@pytest.mark.parametrize(
    "value",
    [1795176001123, "1795176001123", -1, 253402300800000, "1e12", None, True, [1]],
)
def test_apigateway_epoch_milliseconds_are_rejected_or_canonical(value: Any) -> None:
    result = outcome("apigateway", apigateway_entry(requestTimeEpoch=value))
    if value in (1795176001123, "1795176001123"):
        assert result == "2026-11-20T12:00:01.123Z"
    elif isinstance(result, Rejection):
        assert "request" in result.reason


def test_every_format_is_covered_here() -> None:
    covered = {
        *ELB_LINES, "nlb", "cloudfront", "s3access", "vpcflow", "waf", "cloudtrail",
        "postfix", "sendmail", "cloudwatch-mail", "cloudwatch", *ISO_RECORDS, "apigateway",
    }  # fmt: skip
    assert covered == set(FORMATS)
