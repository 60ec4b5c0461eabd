"""CloudTrail: streamed Records envelopes, lone events, skips, rejections, peers, memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logferry.formats import format_for_content, format_for_key, skip_reason
from logferry.formats.cloudtrail import FORMAT as CLOUDTRAIL
from logferry.formats.cloudtrail import CloudTrailFormat
from logferry.formats.cloudtrail_records import iso_time
from logferry.formats.jsonstream import FLAT_LEAF_MAX_BYTES, KEPT_RAW
from logferry.ingest.pipeline import take_over
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.conftest import REALWORLD, examples

DIR = REALWORLD / "cloudtrail"
KEY = (
    "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail/us-east-1/2023/04/11/"
    "123456789012_CloudTrail_us-east-1_20230411T1525Z_Ab12Cd34Ef56Gh78.json.gz"
)
CTX = ParseContext(ObjectRef("bucket", KEY))


def real_events(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DIR / name).read_text().splitlines() if line.strip()]


# A handful of real events (CrowdSec, Elastic, Panther samples) to build objects from.
EVENTS = (
    real_events("crowdsec-aws-bf.log")[:1]
    + real_events("crowdsec-aws-cloudtrail-postexploit.log")
    + real_events("elastic-test-console-login.log")
    + real_events("panther-cloudtrail-tests.log")[:2]
)


class SmallChunks(LineReader):
    """A reader whose decompressed bytes arrive a few at a time (UTF-8 sequences split too)."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(io.BytesIO(data))
        self._size = size

    def chunks(self) -> Iterator[bytes]:
        for chunk in super().chunks():
            for at in range(0, len(chunk), self._size):
                yield chunk[at : at + self._size]


def run(
    data: bytes, *, chunk: int | None = None, ctx: ParseContext = CTX
) -> tuple[list[Document], list[Rejection], LineReader]:
    reader = LineReader(io.BytesIO(data)) if chunk is None else SmallChunks(data, chunk)
    docs: list[Document] = []
    rejections: list[Rejection] = []
    for item in CLOUDTRAIL.parse_object(reader, ctx):
        (docs if isinstance(item, Document) else rejections).append(item)  # type: ignore[arg-type]
    take_over(reader, ctx)  # what the pipeline does with the format's account of the object
    return docs, rejections, reader


def envelope(records: list[Any], **kwargs: Any) -> bytes:
    return json.dumps({"Records": records}, **kwargs).encode()


def event(n: int, **changes: Any) -> dict[str, Any]:
    record = dict(EVENTS[n % len(EVENTS)])
    record["eventID"] = f"event-{n}"
    record.update(changes)
    return record


# -- the real files ---------------------------------------------------------------------

# file -> (documents, rejections). Digest objects yield neither; Insight records are events.
REAL_FILES = {
    "clo-cloudtrail.log": (4, 0),  # one Records envelope on one line
    "crowdsec-aws-bf.log": (6, 0),
    "crowdsec-aws-cloudtrail-postexploit.log": (4, 0),
    "crowdsec-aws-cloudtrail.log": (2, 0),
    "crowdsec-aws-nwo-login.log": (1, 0),
    "elastic-test-cloudtrail-digest.log": (0, 0),  # a digest: skipped by shape
    "elastic-test-console-login.log": (3, 0),
    "panther-cloudtrail-tests.log": (4, 0),  # 2 events, 2 digests skipped, 2 Insight records
    "sekoia-cloudtrail.log": (15, 0),
}


def test_every_real_file_is_listed() -> None:
    assert sorted(p.name for p in DIR.glob("*.log")) == sorted(REAL_FILES)


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_file_gives_documents_with_unique_ids_and_no_surprises(name: str) -> None:
    docs, rejections, reader = run((DIR / name).read_bytes())
    assert (len(docs), len(rejections)) == REAL_FILES[name], [r.reason for r in rejections]
    assert reader.problem is None
    assert len({(d.position, d.sub) for d in docs}) == len(docs)
    for doc in docs:
        source = doc.source
        assert source["event"]["dataset"] == "aws.cloudtrail"
        assert source["@timestamp"].endswith("Z") and source["@timestamp"][10] == "T"
        orjson.dumps(source)  # what the sink does: must not raise


def test_one_line_envelope_records_are_line_1_with_subs_from_1() -> None:
    docs, _, reader = run((DIR / "clo-cloudtrail.log").read_bytes())
    assert [(d.position, d.sub) for d in docs] == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert [d.source["event"]["action"] for d in docs] == [
        "DescribeInstances",
        "AssumeRole",
        "DescribeInstances",
        "StartAutomationExecution",
    ]
    assert reader.lines_read == 1


def test_lone_events_one_per_line_get_line_ids_like_a_line_format() -> None:
    docs, _, reader = run((DIR / "sekoia-cloudtrail.log").read_bytes())
    assert [(d.position, d.sub) for d in docs] == [(n, 0) for n in range(1, 16)]
    assert reader.lines_read == 15


def test_line_by_line_parse_gives_what_the_stream_gives() -> None:
    for name in ("sekoia-cloudtrail.log", "clo-cloudtrail.log", "panther-cloudtrail-tests.log"):
        data = (DIR / name).read_bytes()
        streamed, _, _ = run(data)
        by_lines = list(CLOUDTRAIL.parse(LineReader(io.BytesIO(data)), CTX))
        assert [(d.position, d.sub, d.source) for d in streamed] == [
            (d.position, d.sub, d.source) for d in by_lines if isinstance(d, Document)
        ]


def test_failed_console_login_maps_to_ecs() -> None:
    docs, _, _ = run((DIR / "elastic-test-console-login.log").read_bytes())
    failed = docs[1].source
    assert failed["@timestamp"] == "2014-07-08T17:35:27Z"
    assert failed["event"] == {
        "dataset": "aws.cloudtrail",
        "kind": "event",
        "action": "ConsoleLogin",
        "provider": "signin.amazonaws.com",
        "outcome": "failure",  # from responseElements.ConsoleLogin: there is no errorCode
    }
    assert failed["source"] == {"address": "89.160.20.156", "ip": "89.160.20.156"}
    assert failed["user"] == {"name": "JaneDoe", "id": "AIDACKCEVSQ6C2EXAMPLE"}
    assert failed["cloud"] == {"region": "us-east-2"}
    assert failed["aws"]["cloudtrail"]["error_message"] == "Failed authentication"
    assert failed["aws"]["cloudtrail"]["additional_event_data"]["MFAUsed"] == "No"
    assert docs[0].source["event"]["outcome"] == "success"


def test_compact_creation_date_of_old_events_becomes_an_iso_date() -> None:
    docs, _, _ = run((DIR / "elastic-test-console-login.log").read_bytes())
    session = docs[2].source["aws"]["cloudtrail"]["user_identity"]["session_context"]
    assert session["creation_date"] == "2013-11-02T01:06:28Z"  # was 20131102T010628Z
    assert session["mfa_authenticated"] is False
    assert session["session_issuer"]["user_name"] == "RoleToBeAssumed"
    # an assumed role acts as its session: the session name is the user
    assert docs[2].source["user"]["name"] == "MySessionName"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2014-07-16T15:49:27Z", "2014-07-16T15:49:27Z"),
        ("20131102T010628Z", "2013-11-02T01:06:28Z"),
        ("2014-07-16T17:49:27.5+02:00", "2014-07-16T15:49:27.500Z"),
        ("2014-07-16T15:49:27", "2014-07-16T15:49:27Z"),
        ("2014-13-16T15:49:27Z", None),
        ("yesterday", None),
        (1405525767, None),
    ],
)
def test_iso_time_accepts_cloudtrail_forms_and_refuses_the_rest(
    value: Any, expected: str | None
) -> None:
    assert iso_time(value) == expected


def test_access_denied_call_is_a_failure_with_its_error_code() -> None:
    docs, _, _ = run((DIR / "crowdsec-aws-cloudtrail-postexploit.log").read_bytes())
    first = docs[0].source
    assert first["event"]["outcome"] == "failure"
    assert first["aws"]["cloudtrail"]["error_code"] == "AccessDenied"
    assert first["user"]["name"] == "<userName>"
    assert docs[3].source["event"]["outcome"] == "success"
    tls = first["tls"]
    assert tls == {"version": "1.3", "version_protocol": "tls", "cipher": "TLS_AES_128_GCM_SHA256"}


def test_service_name_as_source_is_an_address_and_domain_never_an_ip() -> None:
    docs, _, _ = run((DIR / "clo-cloudtrail.log").read_bytes())
    assert docs[0].source["source"] == {
        "address": "ssm.amazonaws.com",
        "domain": "ssm.amazonaws.com",
    }
    record = event(0, sourceIPAddress="AWS Internal")
    docs, _, _ = run(envelope([record, event(1, sourceIPAddress="2001:db8::1")]))
    assert docs[0].source["source"] == {"address": "AWS Internal"}
    assert docs[1].source["source"]["ip"] == "2001:db8::1"


def test_booleans_are_booleans_and_resources_are_normalised() -> None:
    docs, _, _ = run((DIR / "panther-cloudtrail-tests.log").read_bytes())
    trail = docs[0].source["aws"]["cloudtrail"]
    assert trail["read_only"] is True
    assert trail["resources"] == [
        {
            "arn": "arn:aws:kms:us-west-2:888888888888:key/72c37aae-1000-4058-93d4-86374c0fe9a0",
            "account_id": "888888888888",
            "type": "AWS::KMS::Key",
        }
    ]
    assert trail["shared_event_id"] == "238c190c-1a30-4756-8e08-19fc36ad1b9f"
    assert docs[0].source["cloud"]["account"]["id"] == "777777777777"  # recipientAccountId


def test_insight_records_keep_their_details_and_have_no_outcome() -> None:
    docs, _, _ = run((DIR / "panther-cloudtrail-tests.log").read_bytes())
    insight = docs[2].source
    assert (docs[2].position, docs[2].sub) == (5, 1)
    assert "outcome" not in insight["event"]
    details = insight["aws"]["cloudtrail"]["insight_details"]
    assert details["state"] == "Start"
    assert details["insight_type"] == "ApiCallRateInsight"
    assert details["insight_context"]["statistics"]["insight"]["average"] == 50.1


# -- peers -----------------------------------------------------------------------------------


def test_agrees_with_crowdsec_on_the_fields_both_extract() -> None:
    entries = json.loads((DIR / "crowdsec-aws-cloudtrail.expected.json").read_text())["entries"]
    docs, _, _ = run((DIR / "crowdsec-aws-cloudtrail.log").read_bytes())
    assert len(docs) == len(entries)
    for doc, entry in zip(docs, entries, strict=True):
        meta, got = entry["meta"], doc.source
        trail = got["aws"]["cloudtrail"]
        assert got["event"]["action"] == meta["event_name"]
        assert got["event"]["provider"] == meta["event_source"]
        assert got["cloud"]["region"] == meta["region"]
        assert got["source"]["address"] == meta["source_ip"]
        assert got["user_agent"]["original"] == meta["user_agent"]
        assert trail["user_identity"]["type"] == meta["user_type"]
        assert trail["user_identity"]["account_id"] == meta["account_id"]
        # Deliberate: CrowdSec's user_arn falls back to the user name when the event has no
        # arn; we keep the arn (absent here) and the name (user.name) apart.
        assert trail["user_identity"].get("arn", got["user"].get("name")) == meta["user_arn"]
    # CrowdSec's event_id differs in case from the event's own ("<eventid>" vs "<eventId>")
    assert docs[0].source["aws"]["cloudtrail"]["event_id"] == entries[0]["meta"]["event_id"]


def test_agrees_with_panther_on_the_events_and_deliberately_skips_digests() -> None:
    entries = json.loads((DIR / "panther-cloudtrail-tests.expected.json").read_text())["entries"]
    docs, _, _ = run((DIR / "panther-cloudtrail-tests.log").read_bytes())
    by_line = {doc.position: doc.source for doc in docs if doc.sub == 0}
    for entry in entries:
        want = entry["expected_result"]
        if entry["logType"] != "AWS.CloudTrail":
            # Deliberate: Panther parses digests as their own log type (we skip them, they hold
            # no events) and has no expected output for the Insight records (we index them).
            assert entry["line_no"] not in by_line
            continue
        got = by_line[entry["line_no"]]
        trail = got["aws"]["cloudtrail"]
        assert got["@timestamp"] == want["p_event_time"] == want["eventTime"]
        assert got["event"]["action"] == want["eventName"]
        assert got["event"]["provider"] == want["eventSource"]
        assert got["cloud"]["region"] == want["awsRegion"]
        assert got["source"]["address"] == want["sourceIPAddress"]
        ip = got["source"].get("ip")
        assert ([ip] if ip else None) == want.get("p_any_ip_addresses")
        assert got["user_agent"]["original"] == want["userAgent"]
        assert trail["request_parameters"] == want["requestParameters"]
        assert "response_elements" not in trail and want["responseElements"] is None
        assert trail["event_id"] == want["eventID"] and trail["request_id"] == want["requestID"]
        assert trail["read_only"] is want["readOnly"]
        assert trail["resources"] == [
            {"arn": r["arn"], "account_id": r["accountId"], "type": r["type"]}
            for r in want["resources"]
        ]
        identity, theirs = trail["user_identity"], want["userIdentity"]
        assert identity["type"] == theirs["type"]
        assert identity.get("arn") == theirs.get("arn")
        assert identity.get("invoked_by") == theirs.get("invokedBy")


def test_agrees_with_sekoia_on_the_ecs_fields_both_have() -> None:
    entries = json.loads((DIR / "sekoia-cloudtrail.expected.json").read_text())["entries"]
    docs, _, _ = run((DIR / "sekoia-cloudtrail.log").read_bytes())
    assert len(docs) == len(entries)
    for doc, entry in zip(docs, entries, strict=True):
        want, got = entry["expected"], doc.source
        trail = got["aws"]["cloudtrail"]
        assert got["@timestamp"] == want["@timestamp"]
        assert got["event"].get("action") == want["event"]["action"] or (
            # Deliberate: for an Insight record Sekoia takes the action from insightDetails;
            # the record itself has no eventName, so ours stays in aws.cloudtrail.insight_details
            trail["insight_details"]["event_name"] == want["event"]["action"]
        )
        assert (
            got["event"].get("provider", trail.get("insight_details", {}).get("event_source"))
            == (want["event"]["provider"])
        )
        assert got["cloud"]["region"] == want["cloud"]["region"]
        theirs = want.get("source") or {}
        if theirs:
            assert got["source"]["address"] == theirs["address"]
            assert got["source"].get("ip") == theirs.get("ip")
            assert got["source"].get("domain") == theirs.get("domain")
        else:
            # Deliberate: Sekoia drops a sourceIPAddress it cannot classify ("AWS Internal",
            # the redacted "00.000.000.00"); we keep it in source.address, never as source.ip.
            assert "ip" not in got.get("source", {})
        assert got.get("user_agent") == (
            {"original": want["user_agent"]["original"]} if want.get("user_agent") else None
        )
        if "code" in want["event"] and trail.get("event_type") != "AwsCloudTrailInsight":
            assert trail["error_code"] == want["event"]["code"]
            # Deliberate: a call with an errorCode failed; Sekoia says "success" regardless.
            assert got["event"]["outcome"] == "failure" != want["event"]["outcome"]
        flattened = want.get("aws", {}).get("cloudtrail", {}).get("flattened", {})
        for name in ("request_parameters", "response_elements"):
            if name in flattened:  # Sekoia keeps these as JSON text, we as flat_object
                assert trail[name] == json.loads(flattened[name])
        # Deliberate: Sekoia's cloud.account.id and user.id are the caller's account
        # (userIdentity.accountId); ours are recipientAccountId (the account whose trail logged
        # it) and the principal id. The caller's account is aws.cloudtrail.user_identity.account_id.
        if want.get("user"):
            assert trail["user_identity"]["account_id"] == want["user"]["id"]


# -- free-form parts, unknown fields, hostile values --------------------------------------


def test_polymorphic_request_parameters_stay_whole_under_one_flat_field() -> None:
    as_text = event(0, requestParameters={"filter": "abc", "n": None})
    as_object = event(1, requestParameters={"filter": {"name": "x", "values": [1, 2]}})
    docs, _, _ = run(envelope([as_text, as_object]))
    assert docs[0].source["aws"]["cloudtrail"]["request_parameters"] == {"filter": "abc", "n": None}
    assert docs[1].source["aws"]["cloudtrail"]["request_parameters"] == {
        "filter": {"name": "x", "values": [1, 2]}
    }


def test_a_non_object_free_form_part_is_wrapped_for_flat_object() -> None:
    docs, _, _ = run(envelope([event(0, responseElements="OK", requestParameters=["a", "b"])]))
    trail = docs[0].source["aws"]["cloudtrail"]
    assert trail["response_elements"] == {"value": "OK"}
    assert trail["request_parameters"] == {"value": ["a", "b"]}


def test_unknown_fields_are_kept_in_extra_not_dropped() -> None:
    record = event(0, brandNewField={"x": 1}, inScopeOf="y")
    record["userIdentity"] = {**record["userIdentity"], "newIdentityKey": "z"}
    docs, _, _ = run(envelope([record]))
    extra = docs[0].source["aws"]["cloudtrail"]["extra"]
    assert extra["brandNewField"] == {"x": 1}
    assert extra["inScopeOf"] == "y"
    assert extra["userIdentity"]["newIdentityKey"] == "z"


def test_an_over_long_leaf_is_cut_so_opensearch_can_index_it_and_is_named() -> None:
    policy = "é" * 40000  # 80000 UTF-8 bytes: over Lucene's 32766-byte term limit
    docs, _, _ = run(envelope([event(0, requestParameters={"policy": policy, "name": "p"})]))
    trail = docs[0].source["aws"]["cloudtrail"]
    kept = trail["request_parameters"]["policy"]
    assert len(kept.encode()) <= FLAT_LEAF_MAX_BYTES and policy.startswith(kept)
    assert trail["request_parameters"]["name"] == "p"
    assert trail["truncated_fields"] == ["request_parameters.policy"]


def test_lone_surrogate_escape_is_replaced_so_the_sink_can_serialise() -> None:
    text = json.dumps({"Records": [event(0, userAgent="PLACEHOLDER")]})
    docs, rejections, _ = run(text.replace("PLACEHOLDER", "bad\\ud800agent").encode())
    assert not rejections
    assert docs[0].source["user_agent"]["original"] == "bad\ufffdagent"
    orjson.dumps(docs[0].source)


def test_huge_integer_becomes_a_float_as_orjson_reads_it() -> None:
    text = json.dumps({"Records": [event(0, requestParameters={"n": 0})]})
    docs, _, _ = run(text.replace('"n": 0', '"n": ' + "9" * 30).encode())
    assert docs[0].source["aws"]["cloudtrail"]["request_parameters"]["n"] == 1e30
    orjson.dumps(docs[0].source)


def test_absurd_nesting_is_rejected_not_raised() -> None:
    deep = '{"a":' * 400 + "1" + "}" * 400
    text = json.dumps({"Records": [event(0, requestParameters={})]})
    body = text.replace('"requestParameters": {}', f'"requestParameters": {deep}')
    docs, rejections, _ = run(body.encode())
    assert not docs
    assert "cannot be indexed" in rejections[0].reason


# -- rejections and skips -----------------------------------------------------------------


def test_record_that_is_not_an_object_is_rejected_with_its_index() -> None:
    docs, rejections, _ = run(envelope([event(0), 42, event(2)]))
    assert [(d.position, d.sub) for d in docs] == [(1, 1), (1, 3)]  # ids do not shift
    assert len(rejections) == 1
    assert rejections[0].position == 1
    assert rejections[0].reason == "record 2: expected a JSON object, got int"
    assert rejections[0].raw == "42"


def test_record_without_event_time_is_rejected_with_its_text() -> None:
    bad = event(1)
    del bad["eventTime"]
    docs, rejections, _ = run(envelope([event(0), bad]))
    assert len(docs) == 1
    assert rejections[0].reason == "record 2: eventTime missing: not a CloudTrail event"
    assert json.loads(rejections[0].raw)["eventID"] == "event-1"


def test_rejected_record_text_is_cut_to_a_few_kb() -> None:
    bad = {"eventName": "x", "padding": "p" * 100000}
    _, rejections, _ = run(envelope([bad]))
    assert 0 < len(rejections[0].raw) <= 4096


def test_digest_object_is_skipped_by_shape() -> None:
    docs, rejections, _ = run((DIR / "elastic-test-cloudtrail-digest.log").read_bytes())
    assert docs == [] and rejections == []


def test_digest_and_write_check_keys_are_skipped_before_reading() -> None:
    digest = (
        "AWSLogs/123456789123/CloudTrail-Digest/us-west-2/2020/09/11/"
        "123456789123_CloudTrail-Digest_us-west-2_trail_us-west-2_20200911T193649Z.json.gz"
    )
    assert skip_reason(digest) is not None
    assert skip_reason("AWSLogs/123456789012/CloudTrail/ConfigWritabilityCheckFile") is not None
    assert skip_reason(KEY) is None


def test_s3_test_message_is_skipped() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2023-01-01T00:00:00Z"}
    docs, rejections, _ = run(json.dumps(test_event).encode())
    assert docs == [] and rejections == []


def test_json_broken_mid_array_keeps_earlier_records_and_rejects_the_rest_once() -> None:
    good = envelope([event(0), event(1)]).decode()
    broken = good[: good.index('"eventID": "event-1"')] + '"eventID": oops}]}'
    docs, rejections, reader = run(broken.encode())
    assert len(docs) == 1
    assert len(rejections) == 1
    assert rejections[0].reason.startswith("record 2: invalid JSON at line 1")
    assert "the rest of the object was not read" in rejections[0].reason
    assert reader.problem is None


@pytest.mark.parametrize("text", ['{"Records":[\n', '{"Records":[\n\n', '{"Records":[{"a":\n'])
def test_an_envelope_cut_at_a_final_newline_is_rejected_on_its_last_line(text: str) -> None:
    # The read position after the last newline is on no line: the rejection names the last.
    last = text.count("\n")
    _, rejections, _ = run(text.encode())
    assert [r.position for r in rejections] == [last]
    assert f"invalid JSON at line {last}:" in rejections[0].reason


def test_truncated_gzip_reports_the_object_problem_after_the_complete_records() -> None:
    # incompressible padding, so that half of the gzip stream is about half of the records
    pads = [hashlib.sha512(str(n).encode()).hexdigest() for n in range(400)]
    body = envelope([event(n, padding=pads[n]) for n in range(400)])
    packed = gzip.compress(body)
    docs, rejections, reader = run(packed[: len(packed) // 2])
    assert 0 < len(docs) < 400
    assert rejections == []  # the damage is the object's, reported once
    assert reader.problem is not None and "truncated" in reader.problem


def test_text_that_is_not_json_is_one_rejection() -> None:
    docs, rejections, _ = run(b"this is not json\nat all\n")
    assert docs == []
    assert len(rejections) == 1 and rejections[0].position == 1


# -- streaming ------------------------------------------------------------------------------


def test_tiny_chunks_give_the_same_documents_as_one_piece() -> None:
    # non-ASCII so that 7-byte chunks split UTF-8 sequences; a Records key not first as well
    records = [event(n, userAgent=f"agent-ü-€-😀-{n}") for n in range(300)]
    for body in (
        envelope(records, ensure_ascii=False),
        envelope(records, indent=2, ensure_ascii=False),  # pretty-printed: a line per field
        b"\n".join(json.dumps(r).encode() for r in records[:50]),  # lone events
    ):
        whole, whole_rej, _ = run(gzip.compress(body))
        tiny, tiny_rej, _ = run(gzip.compress(body), chunk=7)
        assert len(whole) == len(tiny) >= 50
        assert [(d.position, d.sub, d.source) for d in whole] == [
            (d.position, d.sub, d.source) for d in tiny
        ]
        assert whole_rej == tiny_rej == []
        assert len({(d.position, d.sub) for d in whole}) == len(whole)


def test_pretty_printed_records_are_at_their_own_physical_lines() -> None:
    body = envelope([event(0), event(1)], indent=2)
    docs, _, _ = run(body)
    text = body.decode().splitlines()
    for doc in docs:
        assert text[doc.position - 1].strip() == "{"  # where the record's text starts
        assert doc.sub == 1


def test_envelope_with_other_keys_first_or_after_is_read() -> None:
    after = json.dumps({"Records": [event(0)], "note": {"x": [1]}}).encode()
    before = json.dumps({"note": 1, "Records": [event(0), event(1)]}).encode()
    assert len(run(after)[0]) == 1 and run(after)[1] == []
    docs, rejections, _ = run(before)
    assert [(d.position, d.sub) for d in docs] == [(1, 1), (1, 2)] and rejections == []


def test_ids_stay_unique_when_envelopes_and_events_share_a_line() -> None:
    body = (json.dumps({"Records": [event(0)]}) + json.dumps(event(1))).encode()
    docs, _, _ = run(body + b"\n" + body)
    assert [(d.position, d.sub) for d in docs] == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_keep_original_keeps_each_record_text() -> None:
    ctx = ParseContext(ObjectRef("bucket", KEY), keep_original=True)
    docs, _, _ = run(envelope([event(0)]), ctx=ctx)
    assert json.loads(docs[0].source["event"]["original"])["eventID"] == "event-0"


# A small data event (an S3 GetObject), ~450 bytes as JSON.
SMALL_RECORD = {
    "eventVersion": "1.08",
    "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "userName": "reader"},
    "eventTime": "2023-04-11T15:24:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "userAgent": "aws-cli/2.13.0",
    "requestParameters": {"bucketName": "data", "key": "reports/2023/04/11.csv"},
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": False,
    "recipientAccountId": "123456789012",
    "eventCategory": "Data",
}


def test_memory_stays_bounded_by_the_record_not_the_object(tmp_path: Path) -> None:
    path = tmp_path / "big.json.gz"
    # 60k records of ~1 KB (a typical CloudTrail record size): the object is ~60 MB. More,
    # smaller records prove nothing more and cost minutes under tracemalloc.
    count = 60_000
    agent = "aws-sdk-java/1.12.500 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.7+7-LTS " * 7
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b'{"Records":[')
        for n in range(count):
            record = json.dumps(
                SMALL_RECORD
                | {"eventID": f"e-{n}", "sourceIPAddress": f"10.0.{n % 256}.1", "userAgent": agent}
            )
            out.write((record if n == 0 else "," + record).encode())
        out.write(b"]}")
    with gzip.open(path, "rb") as raw:
        size = sum(len(block) for block in iter(lambda: raw.read(1 << 20), b""))
    assert size > 50 * 1024**2

    seen = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for item in CLOUDTRAIL.parse_object(LineReader(stream), CTX):
                assert isinstance(item, Document)
                seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(
        f"\n{count} records, {size / 1024**2:.1f} MiB decompressed, peak {peak / 1024**2:.1f} MiB"
    )
    assert seen == count
    assert peak < 20 * 1024**2


# -- over-long records -------------------------------------------------------------------------


def with_limit(limit: int) -> CloudTrailFormat:
    fmt = CloudTrailFormat()
    fmt.max_record_bytes = limit
    return fmt


def run_with(
    fmt: CloudTrailFormat, data: bytes, chunk: int | None = None
) -> tuple[list[Document], list[Rejection], LineReader]:
    reader = LineReader(io.BytesIO(data)) if chunk is None else SmallChunks(data, chunk)
    items = list(fmt.parse_object(reader, CTX))
    docs = [item for item in items if isinstance(item, Document)]
    rejections = [item for item in items if isinstance(item, Rejection)]
    return docs, rejections, reader


# Over the limit, and written to take the skip down every path: brackets and escaped quotes
# inside strings, backslashes, multi-byte characters (the size is in bytes), nesting.
HOSTILE_PADDING = {
    "requestParameters": {
        "policy": '{"Statement":[{"Effect":"Allow"}]} \\" ]]]}}} [[[{{{ ' * 40,
        "nested": [[{"a": ["x]", "y}", '"quoted"']}]] * 30,
        "words": "été 😀 " * 400,
    }
}


@pytest.mark.parametrize("chunk", [None, 1, 7, 1000])
def test_an_over_long_record_mid_envelope_is_skipped_and_the_records_after_it_are_read(
    chunk: int | None,
) -> None:
    big = event(1, **HOSTILE_PADDING)
    size = len(json.dumps(big, ensure_ascii=False).encode())
    body = envelope([event(0), big, event(2), event(3)], ensure_ascii=False)
    fmt = with_limit(8000)
    assert size > 8000 > len(json.dumps(event(2)))
    docs, rejections, reader = run_with(fmt, body, chunk)
    assert [(d.position, d.sub) for d in docs] == [(1, 1), (1, 3), (1, 4)]  # ids do not shift
    assert [d.source["aws"]["cloudtrail"]["event_id"] for d in docs] == [
        "event-0",
        "event-2",
        "event-3",
    ]
    (rejection,) = rejections
    assert rejection.position == 1
    assert rejection.reason == (
        f"record 2: {size} bytes, over the limit of 8000 bytes for one entry; skipped"
    )
    assert rejection.raw == json.dumps(big, ensure_ascii=False)[:KEPT_RAW]  # its head only
    assert reader.problem is None


def test_an_over_long_pretty_printed_record_keeps_the_line_numbers_after_it() -> None:
    records = [event(0), event(1, **HOSTILE_PADDING), event(2)]
    body = envelope(records, indent=2)
    docs, rejections, _ = run_with(with_limit(8000), body)
    lines = body.decode().splitlines()
    starts = [n for n, line in enumerate(lines, 1) if line == "    {"]  # each record's first line
    assert len(starts) == 3
    assert [d.position for d in docs] == [starts[0], starts[2]]
    assert [r.position for r in rejections] == [starts[1]]


def test_an_over_long_lone_event_is_skipped_and_the_next_lines_are_read() -> None:
    lines = [json.dumps(event(0)), json.dumps(event(1, **HOSTILE_PADDING)), json.dumps(event(2))]
    docs, rejections, _ = run_with(with_limit(8000), "\n".join(lines).encode())
    assert [(d.position, d.sub) for d in docs] == [(1, 0), (3, 0)]
    assert [(r.position, r.reason.split(":")[0]) for r in rejections] == [(2, "an entry")]
    assert "bytes, over the limit of 8000 bytes" in rejections[0].reason


def test_an_over_long_record_cut_off_by_the_end_of_the_object_stops_the_reading() -> None:
    body = envelope([event(0), event(1, **HOSTILE_PADDING)])
    docs, rejections, _ = run_with(with_limit(8000), body[:-500])
    assert len(docs) == 1
    (rejection,) = rejections
    assert rejection.reason.startswith("record 2: the text ends inside the value")
    assert "the rest of the object was not read" in rejection.reason


def test_invalid_json_that_only_looks_long_is_not_skipped_as_too_long() -> None:
    # A short record with a syntax error, then more text than the limit: the decoder cannot
    # tell it from an unfinished record, the skip can (it ends well within the limit).
    records = [event(0), {"eventName": "broken"}, *(event(n) for n in range(2, 40))]
    body = envelope(records).replace(b'"eventName": "broken"', b'"eventName": broken', 1)
    docs, rejections, _ = run_with(with_limit(2000), body)
    assert len(docs) == 1
    (rejection,) = rejections
    assert rejection.reason.startswith("record 2: invalid JSON at line 1")
    assert "the rest of the object was not read" in rejection.reason


def test_a_record_over_the_real_16_mib_limit_is_skipped_quickly_in_bounded_memory() -> None:
    limit = CLOUDTRAIL.max_record_bytes
    assert limit == 16 * 1024**2
    big = event(1, requestParameters={"blob": "x" * limit})
    size = len(json.dumps(big).encode())
    packed = gzip.compress(envelope([event(0), big, event(2)]), compresslevel=1)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        docs, rejections, reader = run_with(CLOUDTRAIL, packed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    print(f"\n{size} bytes skipped in {elapsed:.2f} s, peak {peak / 1024**2:.1f} MiB")
    assert [d.source["aws"]["cloudtrail"]["event_id"] for d in docs] == ["event-0", "event-2"]
    assert [r.reason for r in rejections] == [
        f"record 2: {size} bytes, over the limit of {limit} bytes for one entry; skipped"
    ]
    assert len(rejections[0].raw) == KEPT_RAW
    assert reader.problem is None
    assert elapsed < 10
    # the text of one limit's worth, not of the record: the buffer's decoded text (1 byte a
    # character here), a slice of it being decoded, and the copy a failed decode makes
    assert peak < 3 * limit


# -- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "AWSLogs/123456789012/CloudTrail/eu-west-1/2024/01/02/"
        "123456789012_CloudTrail_eu-west-1_20240102T0000Z_abcdef0123456789.json.gz",
        "AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2019/10/17/"
        "123456789012_CloudTrail-Insight_us-east-1_20191017T1015Z_abc.json.gz",
        "custom/prefix/123456789012_CloudTrail_us-east-1_20240102T0000Z_abc.json.gz",
    ],
)
def test_cloudtrail_keys_are_recognised(key: str) -> None:
    assert format_for_key(key) is CLOUDTRAIL


@pytest.mark.parametrize(
    "first_line",
    [
        '{"Records":[{"eventVersion":"1.08"',
        '  { "Records" : [ {"eventVersion"',
        '{"eventVersion":"1.08","userIdentity":{},"eventTime":"x","eventSource":"s3.amazonaws.com"',
        '{"awsRegion":"eu-west-3","eventID":"6f","eventName":"LookupEvents","eventSource":"c",'
        '"eventTime":"2020-08-12T12:26:51Z","eventType":"AwsApiCall","eventVersion":"1.05"',
    ],
)
def test_cloudtrail_content_is_recognised(first_line: str) -> None:
    assert format_for_content(first_line) is CLOUDTRAIL


def test_other_json_is_not_taken_for_cloudtrail() -> None:
    assert not CLOUDTRAIL.matches_content('{"timestamp":1,"webaclId":"arn","httpRequest":{}}')
    assert not CLOUDTRAIL.matches_content("tls 2.0 2018-12-20T02:59:40 net/x")


# -- properties -------------------------------------------------------------------------------


def _items(data: bytes, chunk: int | None = None) -> list[Document | Rejection]:
    reader = LineReader(io.BytesIO(data)) if chunk is None else SmallChunks(data, chunk)
    return list(CLOUDTRAIL.parse_object(reader, CTX))


def _check(items: list[Document | Rejection]) -> None:
    for item in items:
        assert isinstance(item, Document | Rejection)
        if isinstance(item, Document):
            assert isinstance(item.source["@timestamp"], str)
            orjson.dumps(item.source)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    _check(_items(data, chunk))


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_after_an_envelope_start_never_raises(text: str) -> None:
    _check(_items(('{"Records":[' + text).encode("utf-8", "surrogatepass")))


@settings(max_examples=examples(300), deadline=None)
@given(
    st.lists(st.sampled_from(['{"a":', "[", "]", "{", "}", '"', "\\", ",", "1", " ", "\n", '"x"']),
             max_size=60),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=13),
)  # fmt: skip
def test_over_long_hostile_records_are_stepped_over_without_raising(
    pieces: list[str], limit: int, chunk: int
) -> None:
    # Brackets, quotes and escapes in any order, over a tiny limit, in tiny chunks: the skip
    # takes every path, and never raises nor loses the records after a skipped one.
    middle = "".join(pieces)
    body = envelope([event(0)]).decode().replace("]}", f",{middle}, {json.dumps(event(2))}]}}")
    reader = SmallChunks(body.encode(), chunk)
    items = list(with_limit(limit).parse_object(reader, CTX))
    _check(items)
    assert items and isinstance(items[0], Rejection)
    assert "over the limit" in items[0].reason
    try:
        json.loads(middle)
    except ValueError:
        return
    # a valid record in the middle, skipped or not: the reading goes on to the last one
    assert len(items) == 3
    assert isinstance(items[2], Rejection) and items[2].reason.startswith("record 3: ")
    assert "over the limit" in items[2].reason


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0, max_value=len(EVENTS) - 1),
    st.lists(st.tuples(st.text(max_size=3), JSON_VALUES), max_size=4),
    st.integers(min_value=0, max_value=10_000),
    st.binary(max_size=6),
)
def test_mutated_real_records_only_give_documents_or_rejections(
    pick: int, changes: list[tuple[str, Any]], cut: int, noise: bytes
) -> None:
    record = dict(EVENTS[pick])
    keys = sorted(record)
    for name, value in changes:  # overwrite real fields (or add new ones) with any JSON
        key = next((k for k in keys if k.startswith(name)), name) if name else keys[0]
        record[key] = value
    body = envelope([record, EVENTS[0]])
    _check(_items(body))
    # and the same bytes damaged: cut short, with noise spliced in
    at = cut % (len(body) + 1)
    _check(_items(body[:at] + noise + body[at:]))
