"""S3 server access logs: bracketed time, quoted fields with spaces, unquoted "-" request,
nulls everywhere, extra fields kept, keys without extension, every real file, peers compared,
properties under fuzzing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats import format_for_content, format_for_key
from logferry.formats.s3access import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, ParseError, Rejection
from tests.conftest import REALWORLD, examples

S3 = REALWORLD / "s3access"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
GET = (
    f"{OWNER} amzn-s3-demo-bucket [20/Nov/2026:12:00:01 +0000] 192.0.2.3 "
    "arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.OBJECT photos/2026/cat.jpg "
    '"GET /amzn-s3-demo-bucket/photos/2026/cat.jpg?versionId=3 HTTP/1.1" 200 - 2662992 3462992 '
    '70 10 "https://example.com/gallery" "aws-cli/2.15.0 Python/3.11.6 Linux/6.1, exec-env/x" '
    "3HL4kqtJvjVBH40Nrjfkd s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6Ukk= SigV4 "
    "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com "
    "TLSv1.3 arn:aws:s3:us-west-1:123456789012:accesspoint/ap1 Yes"
)
BATCH_DELETE = (
    f"{OWNER} amzn-s3-demo-bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 "
    "arn:aws:iam::123456789012:user/alice 8CD7A4A71E2E5C9E BATCH.DELETE.OBJECT old.war - 204 - "
    "- 344017 - - - - - IeDW5I3wefFxU8iHOcAzi5qr+O+1bdRlcQ0= SigV4 ECDHE-RSA-AES128-SHA "
    "AuthHeader s3.eu-central-1.amazonaws.com TLSv1.2"
)
KEY = "s3-access/2026-11-20-12-05-01-0123456789ABCDEF"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def parse(lines: list[str]) -> list[Document | Rejection]:
    return list(FORMAT.parse(list(enumerate(lines, 1)), ParseContext(ObjectRef("", KEY))))


# -- fields ------------------------------------------------------------------------------


def test_every_field_maps_to_ecs_or_aws_s3access() -> None:
    doc = FORMAT.parse_line(GET)
    assert doc["@timestamp"] == "2026-11-20T12:00:01Z"
    assert doc["event"] == {"dataset": "aws.s3access", "kind": "event", "outcome": "success"}
    assert doc["source"] == {"ip": "192.0.2.3"}
    assert doc["http"] == {
        "request": {"method": "GET"},
        "response": {"status_code": 200},
        "version": "1.1",
    }
    assert doc["url"] == {
        "original": "/amzn-s3-demo-bucket/photos/2026/cat.jpg?versionId=3",
        "path": "/amzn-s3-demo-bucket/photos/2026/cat.jpg",
        "query": "versionId=3",
    }
    assert doc["user_agent"] == {"original": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1, exec-env/x"}
    assert doc["tls"] == {
        "version": "1.3",
        "version_protocol": "tls",
        "cipher": "ECDHE-RSA-AES128-GCM-SHA256",
    }
    assert doc["aws"]["s3access"] == {
        "bucket_owner": OWNER,
        "bucket": "amzn-s3-demo-bucket",
        "requester": "arn:aws:iam::123456789012:user/alice",
        "request_id": "3E57427F3EXAMPLE",
        "operation": "REST.GET.OBJECT",
        "key": "photos/2026/cat.jpg",
        "bytes_sent": 2662992,
        "object_size": 3462992,
        "total_time": 70,
        "turnaround_time": 10,
        "referrer": "https://example.com/gallery",
        "version_id": "3HL4kqtJvjVBH40Nrjfkd",
        "host_id": "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6Ukk=",
        "signature_version": "SigV4",
        "cipher_suite": "ECDHE-RSA-AES128-GCM-SHA256",
        "authentication_type": "AuthHeader",
        "host_header": "amzn-s3-demo-bucket.s3.us-west-1.amazonaws.com",
        "tls_version": "TLSv1.3",
        "access_point_arn": "arn:aws:s3:us-west-1:123456789012:accesspoint/ap1",
        "acl_required": True,
    }


def test_an_unquoted_dash_request_uri_of_a_batch_delete_is_absent_and_columns_hold() -> None:
    doc = FORMAT.parse_line(BATCH_DELETE)
    assert "url" not in doc and "request" not in doc["http"]
    assert doc["http"]["response"]["status_code"] == 204
    s3 = doc["aws"]["s3access"]
    assert s3["operation"] == "BATCH.DELETE.OBJECT"
    assert s3["object_size"] == 344017 and "bytes_sent" not in s3
    assert s3["tls_version"] == "TLSv1.2"


def test_a_quoted_user_agent_with_spaces_commas_and_escaped_quotes_stays_one_field() -> None:
    line = GET.replace('"aws-cli/2.15.0', '"my \\"agent\\", v1 aws-cli/2.15.0')
    doc = FORMAT.parse_line(line)
    assert doc["user_agent"]["original"].startswith('my "agent", v1 aws-cli/2.15.0')
    assert doc["aws"]["s3access"]["version_id"] == "3HL4kqtJvjVBH40Nrjfkd"


def test_any_field_can_be_a_dash_and_becomes_absent() -> None:
    line = (
        f"{OWNER} amzn-s3-demo-bucket [25/Mar/2025:19:28:02 +0000] - AmazonS3 366DB3C4B325AB11 "
        'S3.EXPIRE.OBJECT some/key "-" - - - 317 - - "-" "-" - DMlPb9al4CvVBck1= - - - - - - -'
    )
    doc = FORMAT.parse_line(line)
    assert set(doc) == {"@timestamp", "event", "aws"}
    assert "outcome" not in doc["event"]
    assert doc["aws"]["s3access"]["object_size"] == 317
    assert '"-"' not in json.dumps(doc)


def test_the_bracketed_time_with_another_offset_is_converted_to_utc() -> None:
    line = GET.replace("[20/Nov/2026:12:00:01 +0000]", "[20/Nov/2026:23:30:00 -0130]")
    assert FORMAT.parse_line(line)["@timestamp"] == "2026-11-21T01:00:00Z"


def test_extra_trailing_fields_are_kept_as_the_tail() -> None:
    doc = FORMAT.parse_line(GET + " future-1 future-2")
    assert doc["aws"]["s3access"]["unparsed_tail"] == "future-1 future-2"
    assert doc["aws"]["s3access"]["acl_required"] is True


def test_unknown_fields_right_after_the_tls_version_are_kept_not_misread() -> None:
    line = BATCH_DELETE + " test1 test2"
    s3 = FORMAT.parse_line(line)["aws"]["s3access"]
    assert s3["unparsed_tail"] == "test1 test2"
    assert "access_point_arn" not in s3 and "acl_required" not in s3


def test_an_original_18_field_record_leaves_the_later_fields_absent() -> None:
    line = (
        "79a5 mybucket [12/May/2014:07:54:01 +0000] 10.0.1.2 - 7ACC4BE89EXAMPLE REST.GET.OBJECT "
        'foo/bar.html "GET /foo/bar.html HTTP/1.1" 304 - - 1718 10 - "-" "Mozilla/5.0" -'
    )
    doc = FORMAT.parse_line(line)
    assert doc["http"]["response"]["status_code"] == 304
    assert "host_id" not in doc["aws"]["s3access"] and "tls" not in doc


# The layout of 2006, before Version Id (S3's versioning came in 2010): the field examples the
# S3 Developer Guide's server-access-log-format page gave then (bucket mybucket, 04/Aug/2006,
# 72.21.206.5, puppy.jpg, curl/7.15.1), as peers' parsers written against that page kept them.
RECORD_2006 = (
    "314159b66967d86f031c7249d1d9a80249109428335cd0ef1cdc487b4566cb1b mybucket "
    "[04/Aug/2006:22:34:02 +0000] 72.21.206.5 "
    "314159b66967d86f031c7249d1d9a80249109428335cd0ef1cdc487b4566cb1b 3E57427F33A59F07 "
    'REST.GET.OBJECT /photos/2006/08/puppy.jpg "GET /mybucket/photos/2006/08/puppy.jpg?x-foo=bar '
    'HTTP/1.1" 200 - 2662992 3462992 70 10 "http://www.amazon.com/webservices" "curl/7.15.1"'
)


def test_a_2006_record_of_17_fields_ends_at_the_user_agent() -> None:
    doc = FORMAT.parse_line(RECORD_2006)
    s3 = doc["aws"]["s3access"]
    assert doc["@timestamp"] == "2006-08-04T22:34:02Z"
    assert doc["user_agent"]["original"] == "curl/7.15.1"
    assert s3["referrer"] == "http://www.amazon.com/webservices"
    assert s3["bytes_sent"] == 2662992 and s3["turnaround_time"] == 10
    assert doc["url"]["query"] == "x-foo=bar"
    assert not {"version_id", "host_id", "unparsed_tail"} & s3.keys()
    assert format_for_content(RECORD_2006) is FORMAT
    with pytest.raises(ParseError, match="expected at least 17 fields, got 16"):
        FORMAT.parse_line(RECORD_2006.rpartition(" ")[0])


def test_a_record_with_an_offset_is_dated_in_utc_and_detected() -> None:
    line = RECORD_2006.replace("+0000]", "+0530]")
    assert FORMAT.parse_line(line)["@timestamp"] == "2006-08-04T17:04:02Z"
    assert format_for_content(line) is FORMAT


def test_a_remote_ip_that_is_no_address_is_kept_out_of_the_ip_field() -> None:
    doc = FORMAT.parse_line(GET.replace(" 192.0.2.3 ", " internal-host "))
    assert "source" not in doc
    assert doc["aws"]["s3access"]["remote_ip"] == "internal-host"


def test_client_errors_are_failures() -> None:
    line = GET.replace(" 200 - 2662992 ", " 404 NoSuchKey 2662992 ")
    doc = FORMAT.parse_line(line)
    assert doc["event"]["outcome"] == "failure"
    assert doc["aws"]["s3access"]["error_code"] == "NoSuchKey"


@pytest.mark.parametrize(
    "line,reason",
    [
        (GET.split(' "GET')[0], "expected at least 17 fields"),
        (GET.replace("[20/Nov/2026:12:00:01 +0000]", "[20/Nov/2026 12:00:01]"), "time:"),
        (GET.replace("20/Nov/2026", "31/Foo/2026"), "time:"),
        (GET.replace("12:00:01 +0000", "25:00:01 +0000"), "time:"),
        (GET.replace(" 200 - ", " OK - "), "http_status"),
        (GET.replace(" 2662992 ", " lots "), "bytes_sent: expected an integer"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        FORMAT.parse_line(line)


# -- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "2026-11-20-12-05-01-0123456789ABCDEF",
        "logs/123456789012/us-east-1/amzn-s3-demo-bucket/2026/11/20/"
        "2026-11-20-12-05-01-0123456789ABCDEF",
    ],
)
def test_s3_access_keys_are_recognised(key: str) -> None:
    assert format_for_key(key) is FORMAT


@pytest.mark.parametrize(
    "key",
    [
        KEY + ".gz",
        "s3-access/2026-11-20-12-05-01-0123456789abcdef",
        "cf/E2ABCDEFGHIJKL.2026-11-20-12.a1b2c3d4.gz",
    ],
)
def test_other_keys_are_not_claimed(key: str) -> None:
    assert not FORMAT.matches_key(key)


def test_content_is_recognised_by_owner_bucket_and_bracketed_time() -> None:
    assert format_for_content(GET) is FORMAT
    assert not FORMAT.matches_content("2026-11-20T12:00:01Z something [20/Nov/2026:12:00:01")
    assert not FORMAT.matches_content("#Version: 1.0")


# -- every real file ---------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(S3.glob("*.log")), ids=lambda p: p.name)
def test_every_real_line_becomes_a_document(path: Path) -> None:
    lines = [(n, s) for n, s in enumerate(path.read_text().splitlines(), 1) if s.strip()]
    out = list(FORMAT.parse(lines, ParseContext(ObjectRef("", str(path)))))
    assert [item.position for item in out] == [n for n, _ in lines]
    for item in out:
        assert isinstance(item, Document), item
        assert ISO.fullmatch(item.source["@timestamp"])
        assert item.source["aws"]["s3access"]["bucket"]
        assert item.source["aws"]["s3access"]["operation"]
        assert '"-"' not in json.dumps(item.source)


def test_real_elastic_lines_keep_batch_deletes_expiries_and_dash_statuses() -> None:
    out = parse((S3 / "elastic-test-s3-server-access.log").read_text().splitlines())
    sources = [item.source for item in out if isinstance(item, Document)]
    operations = [s["aws"]["s3access"]["operation"] for s in sources]
    assert operations.count("BATCH.DELETE.OBJECT") == 2 and "S3.EXPIRE.OBJECT" in operations
    assert sum("response" not in s.get("http", {}) for s in sources) == 2  # "-" statuses
    assert sum(s["aws"]["s3access"].get("acl_required", False) for s in sources) == 1
    agents = [s["user_agent"]["original"] for s in sources if "user_agent" in s]
    assert agents[0].startswith("AWS-Support-TrustedAdvisor, aws-internal/3 aws-sdk-java")


# -- peers -------------------------------------------------------------------------------

PANTHER_FIELDS = {
    "BucketOwner": "bucket_owner",
    "Bucket": "bucket",
    "Requester": "requester",
    "RequestID": "request_id",
    "Operation": "operation",
    "Key": "key",
    "ErrorCode": "error_code",
    "BytesSent": "bytes_sent",
    "ObjectSize": "object_size",
    "TotalTime": "total_time",
    "TurnAroundTime": "turnaround_time",
    "HostID": "host_id",
    "SignatureVersion": "signature_version",
    "CipherSuite": "cipher_suite",
    "AuthenticationType": "authentication_type",
    "HostHeader": "host_header",
    "TLSVersion": "tls_version",
}


def test_agrees_with_panther_on_the_fields_both_sides_have() -> None:
    peer = json.loads((S3 / "panther-s3access-tests.expected.json").read_text())
    for entry in peer["entries"]:
        want = entry["expected_struct"]
        doc = FORMAT.parse_line(entry["raw"])
        s3 = doc["aws"]["s3access"]
        for theirs, ours in PANTHER_FIELDS.items():
            assert s3.get(ours) == want.get(theirs), theirs
        if "RemoteIP" in want:
            assert doc["source"]["ip"] == want["RemoteIP"]
        if "HTTPStatus" in want:
            assert doc["http"]["response"]["status_code"] == want["HTTPStatus"]
        if "UserAgent" in want:
            assert doc["user_agent"]["original"] == want["UserAgent"]
        if "RequestURI" in want:
            # Deliberate: the request line is split into ECS method / url / version.
            method, uri, version = want["RequestURI"].split(" ")
            assert doc["http"]["request"]["method"] == method
            assert doc["url"]["original"] == uri
            assert "HTTP/" + doc["http"]["version"] == version


def test_agrees_with_dynatrace_on_bucket_and_time() -> None:
    peer = json.loads((S3 / "dynatrace-s3access-test.expected.json").read_text())
    for entry in peer["entries"]:
        want = entry["expected_attributes"]
        doc = FORMAT.parse_line(entry["raw"])
        assert doc["aws"]["s3access"]["bucket"] == want["aws.resource.id"]
        # The same instant: Dynatrace writes +00:00, we write Z.
        assert doc["@timestamp"] == want["timestamp"].replace("+00:00", "Z")


# -- properties --------------------------------------------------------------------------

TOKENS = st.sampled_from(
    ["-", '"-"', '"a b"', '"', "[", "]", "[06/Feb/2019:00:00:38", "+0000]", "200", "٣٣٣",
     "99999999999999999999", "Yes", "arn:x", "TLSv1.2", '"GET / HTTP/1.1"', "\\"]
)  # fmt: skip


def mutated(line: str, data: st.DataObject) -> str:
    fields = line.split(" ")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(fields) - 1))
        action = data.draw(st.sampled_from(["replace", "drop", "insert", "text"]))
        if action == "replace":
            fields[i] = data.draw(TOKENS)
        elif action == "drop" and len(fields) > 1:
            del fields[i]
        elif action == "insert":
            fields.insert(i, data.draw(TOKENS))
        else:
            fields[i] = data.draw(st.text(max_size=12))
    return " ".join(fields)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_raises_nothing_but_parse_error(line: str) -> None:
    try:
        doc = FORMAT.parse_line(line)
    except ParseError:
        return
    assert ISO.fullmatch(doc["@timestamp"])


@settings(max_examples=examples(300), deadline=None)
@given(st.data(), st.sampled_from([GET, BATCH_DELETE]))
def test_mutated_lines_raise_nothing_but_parse_error(data: st.DataObject, line: str) -> None:
    try:
        doc = FORMAT.parse_line(mutated(line, data))
    except ParseError:
        return
    assert ISO.fullmatch(doc["@timestamp"])


@settings(max_examples=examples(100), deadline=None)
@given(st.data(), st.lists(st.sampled_from(["get", "delete", "mutated", "junk"]), max_size=10))
def test_parse_yields_one_outcome_per_line(data: st.DataObject, kinds: list[str]) -> None:
    pick = {"get": lambda: GET, "delete": lambda: BATCH_DELETE}
    lines = [
        pick[kind]()
        if kind in pick
        else mutated(GET, data)
        if kind == "mutated"
        else data.draw(st.text(st.characters(exclude_characters="\r\n"), min_size=1))
        for kind in kinds
    ]
    out = parse(lines)
    assert [item.position for item in out] == list(range(1, len(lines) + 1))
    for item in out:
        if isinstance(item, Rejection):
            assert not item.reason.startswith("parser error"), item
