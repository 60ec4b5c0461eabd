"""AWS WAF logs: epoch milliseconds, concatenated objects, escapes, repeated headers, peers."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logferry.formats import format_for_content, format_for_key
from logferry.formats.jsonstream import FLAT_LEAF_MAX_BYTES
from logferry.formats.waf import FORMAT as WAF
from logferry.formats.waf import epoch_ms_to_iso, parse_entry
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, ParseError, Rejection
from tests.conftest import REALWORLD, examples

DIR = REALWORLD / "waf"
KEY = (
    "AWSLogs/123456789012/WAFLogs/us-east-1/my-acl/2023/01/02/03/05/"
    "123456789012_waflogs_us-east-1_my-acl_20230102T0305Z_a1b2c3d4.log.gz"
)
CTX = ParseContext(ObjectRef("aws-waf-logs-site", KEY))


def run(data: bytes, ctx: ParseContext = CTX) -> tuple[list[Document], list[Rejection]]:
    docs: list[Document] = []
    rejections: list[Rejection] = []
    reader = LineReader(io.BytesIO(data))
    for item in WAF.parse_object(reader, ctx):
        (docs if isinstance(item, Document) else rejections).append(item)  # type: ignore[arg-type]
    rejections.extend(reader.rejections)
    return docs, rejections


def lines(name: str) -> list[str]:
    return [line for line in (DIR / name).read_text().splitlines() if line.strip()]


def parse(line: str) -> dict[str, Any]:
    return parse_entry(json.loads(line), line)


ELASTIC = lines("elastic-test-waf.log")


# -- the real files ---------------------------------------------------------------------

# file -> documents; no file has a rejection. wazuh: 7 objects on 4 lines.
REAL_FILES = {
    "clo-waf.log": 2,
    "dynatrace-waf-test.log": 1,
    "elastic-test-waf.log": 4,
    "panther-waf-tests.log": 6,
    "sekoia-waf.log": 10,
    "wazuh-aws-waf.log": 7,
}


def test_every_real_file_is_listed() -> None:
    assert sorted(p.name for p in DIR.glob("*.log")) == sorted(REAL_FILES)


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_file_gives_one_document_per_object(name: str) -> None:
    docs, rejections = run((DIR / name).read_bytes())
    assert len(docs) == REAL_FILES[name]
    assert rejections == []
    assert len({(d.position, d.sub) for d in docs}) == len(docs)
    for doc in docs:
        assert doc.source["event"]["dataset"] == "aws.waf"
        assert doc.source["event"]["action"] in ("allow", "block", "count")
        assert doc.source["aws"]["waf"]["action"] == doc.source["event"]["action"].upper()
        orjson.dumps(doc.source)


def test_blocked_request_maps_to_ecs_and_aws_waf() -> None:
    doc = parse(ELASTIC[0])
    assert doc["@timestamp"] == "2019-12-13T23:40:12.771Z"
    assert doc["event"] == {"dataset": "aws.waf", "kind": "event", "action": "block"}
    assert doc["source"] == {
        "address": "89.160.20.156",
        "ip": "89.160.20.156",
        "geo": {"country_iso_code": "AU"},
    }
    assert doc["http"] == {"version": "1.1", "request": {"method": "GET"}}
    assert doc["url"] == {"path": "/foo", "domain": "localhost"}  # port dropped, args "" absent
    assert doc["user_agent"] == {"original": "curl/7.61.1"}
    assert doc["cloud"] == {"region": "ap-southeast-2"}  # "EXAMPLE12345" is not an account id
    waf = doc["aws"]["waf"]
    assert waf["action"] == "BLOCK"
    assert waf["web_acl_name"] == "STMTest"
    assert waf["terminating_rule_id"] == "STMTest_SQLi_XSS"
    assert waf["terminating_rule_type"] == "REGULAR"
    assert waf["terminating_rule_match_details"] == [
        {
            "condition_type": "SQL_INJECTION",
            "location": "HEADER",
            "matched_data": ["10", "AND", "1"],
        }
    ]
    assert waf["labels"] == ["value"]
    assert waf["request_id"] == "rid"
    assert "http_source_name" not in waf  # "-" is the null marker
    assert waf["request_headers"][3] == {"name": "x-stm-test", "value": "10 AND 1=1"}


def test_rule_group_list_is_kept_whole_for_flat_object() -> None:
    waf = parse(ELASTIC[2])["aws"]["waf"]
    group = waf["rule_group_list"][0]
    assert group["terminatingRule"] == {
        "ruleId": "RuleA-XSS",
        "action": "BLOCK",
        "ruleMatchDetails": None,
    }
    assert group["nonTerminatingMatchingRules"][0]["ruleMatchDetails"][0]["matchedData"] == [
        "10",
        "and",
        "1",
    ]
    assert "rate_based_rule_list" not in waf  # [] is nothing


def test_rate_based_rule_and_newer_fields() -> None:
    docs, _ = run((DIR / "panther-waf-tests.log").read_bytes())
    rate = docs[4].source["aws"]["waf"]
    assert rate["terminating_rule_type"] == "RATE_BASED"
    assert rate["rate_based_rule_list"][0]["maxRateAllowed"] == 100
    docs, _ = run((DIR / "sekoia-waf.log").read_bytes())
    newer = docs[7].source["aws"]["waf"]
    assert newer["ja4_fingerprint"] == "111_222_333"
    assert newer["request_body_size"] == newer["request_body_size_inspected_by_waf"] == 99
    assert docs[5].source["aws"]["waf"]["response_code_sent"] == 200
    assert docs[5].source["source"]["ip"] == "2600:4040:2974:1c00:5404:1cac:9f62:ffff"


# -- the traps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("millis", "expected"),
    [
        (1576280412771, "2019-12-13T23:40:12.771Z"),
        (1576280412000, "2019-12-13T23:40:12.000Z"),
        (5, "1970-01-01T00:00:00.005Z"),
        ("1648179682260", "2022-03-25T03:41:22.260Z"),
        (1648179682260.0, "2022-03-25T03:41:22.260Z"),
    ],
)
def test_epoch_milliseconds_become_iso_with_milliseconds_and_z(millis: Any, expected: str) -> None:
    assert epoch_ms_to_iso(millis) == expected


@pytest.mark.parametrize("value", [None, "soon", -1, 10**16, True, 1.5, "١٢٣"])
def test_a_timestamp_that_is_not_epoch_milliseconds_is_refused(value: Any) -> None:
    with pytest.raises(ParseError, match="timestamp"):
        epoch_ms_to_iso(value)


def test_concatenated_objects_on_one_line_are_documents_with_subs_from_0() -> None:
    docs, rejections = run((DIR / "wazuh-aws-waf.log").read_bytes())
    assert rejections == []
    assert [(d.position, d.sub) for d in docs] == [
        (1, 0),
        (1, 1),
        (1, 2),
        (2, 0),
        (3, 0),
        (4, 0),
        (4, 1),
    ]
    assert [d.source["@timestamp"] for d in docs[:3]] == [
        "2020-06-17T01:26:32.516Z",
        "2020-06-17T02:43:30.888Z",
        "2019-12-13T23:40:12.771Z",
    ]


def test_one_object_per_line_gets_the_plain_line_id() -> None:
    docs, _ = run((DIR / "panther-waf-tests.log").read_bytes())
    assert [(d.position, d.sub) for d in docs] == [(n, 0) for n in range(1, 7)]


def test_escaped_slashes_are_decoded() -> None:
    docs, _ = run((DIR / "wazuh-aws-waf.log").read_bytes())
    first = docs[0].source
    assert first["aws"]["waf"]["web_acl_id"].startswith(
        "arn:aws:wafv2:us-east-1:123456789012:global/webacl/hello-world/"
    )
    assert first["url"]["path"] == "/foo"
    assert first["user_agent"]["original"] == "curl/7.61.1"
    assert first["http"]["version"] == "1.1"
    assert {"name": "Accept", "value": "*/*"} in first["aws"]["waf"]["request_headers"]


def test_repeated_headers_are_all_kept_in_order_and_the_first_user_agent_wins() -> None:
    entry = json.loads(ELASTIC[0])
    entry["httpRequest"]["headers"] = [
        {"name": "user-agent", "value": "first/1.0"},
        {"name": "Cookie", "value": "a=1"},
        {"name": "Cookie", "value": "b=2"},
        {"name": "USER-AGENT", "value": "second/2.0"},
        {"name": "HOST", "value": "[2001:db8::1]:8443"},
        {"name": "Host", "value": "other.example"},
    ]
    doc = parse(json.dumps(entry))
    assert doc["aws"]["waf"]["request_headers"] == entry["httpRequest"]["headers"]
    assert doc["user_agent"] == {"original": "first/1.0"}
    assert doc["url"]["domain"] == "2001:db8::1"


def test_host_field_of_newer_logs_wins_over_the_header() -> None:
    entry = json.loads(ELASTIC[0])
    entry["httpRequest"].update(host="api.example.com", scheme="https", fragment="top")
    doc = parse(json.dumps(entry))
    assert doc["url"]["domain"] == "api.example.com"
    assert (doc["url"]["scheme"], doc["url"]["fragment"]) == ("https", "top")


def test_unknown_fields_are_kept_in_extra() -> None:
    entry = json.loads(ELASTIC[0])
    entry["brandNew"] = {"a": [1]}
    entry["httpRequest"]["newThing"] = "x"
    waf = parse(json.dumps(entry))["aws"]["waf"]
    assert waf["extra"] == {"brandNew": {"a": [1]}}
    assert waf["http_request_extra"] == {"newThing": "x"}


def test_an_over_long_rule_leaf_is_cut_and_named() -> None:
    entry = json.loads(ELASTIC[2])
    entry["ruleGroupList"][0]["ruleGroupId"] = "x" * 40000
    waf = parse(json.dumps(entry))["aws"]["waf"]
    assert len(waf["rule_group_list"][0]["ruleGroupId"]) == FLAT_LEAF_MAX_BYTES
    assert waf["truncated_fields"] == ["rule_group_list.ruleGroupId"]


def test_invalid_json_after_a_good_object_keeps_the_object_and_rejects_the_line() -> None:
    docs, rejections = run((ELASTIC[0] + '{"timestamp": oops}\n').encode())
    assert [(d.position, d.sub) for d in docs] == [(1, 0)]
    assert len(rejections) == 1
    assert rejections[0].reason.startswith("object 2 on the line: invalid JSON at column")
    assert rejections[0].raw.startswith(ELASTIC[0])  # the whole line, for replay


def test_bad_objects_are_rejected_with_reasons() -> None:
    no_time = json.loads(ELASTIC[0])
    del no_time["timestamp"]
    body = "\n".join(["[1, 2]", json.dumps(no_time), "   ", "not json", ELASTIC[1]]) + "\n"
    docs, rejections = run(body.encode())
    assert [d.position for d in docs] == [5]
    assert [(r.position, r.reason) for r in rejections] == [
        (1, "expected a JSON object, got list"),
        (2, "timestamp missing: not a WAF log entry"),
        (3, "no JSON value on the line (whitespace only)"),
        (4, "invalid JSON at column 1: Expecting value"),
    ]


def test_keep_original_keeps_each_object_text() -> None:
    ctx = ParseContext(ObjectRef("b", KEY), keep_original=True)
    docs, _ = run((DIR / "wazuh-aws-waf.log").read_bytes(), ctx)
    assert json.loads(docs[1].source["event"]["original"])["timestamp"] == 1592361810888


# -- peers --------------------------------------------------------------------------------------


def test_agrees_with_dynatrace_on_acl_action_and_time() -> None:
    expected = json.loads((DIR / "dynatrace-waf-test.expected.json").read_text())["entries"][0]
    doc = parse(expected["raw"])
    want = expected["expected_attributes"]
    assert doc["aws"]["waf"]["web_acl_id"] == want["aws.arn"]
    assert doc["aws"]["waf"]["action"] == want["audit.action"]
    assert doc["@timestamp"] == epoch_ms_to_iso(want["timestamp"])


def test_agrees_with_panther_on_every_field_both_have() -> None:
    entries = json.loads((DIR / "panther-waf-tests.expected.json").read_text())["entries"]
    docs, _ = run((DIR / "panther-waf-tests.log").read_bytes())
    assert len(docs) == len(entries)
    for doc, entry in zip(docs, entries, strict=True):
        want = entry["expected_result"]
        got = doc.source
        waf = got["aws"]["waf"]
        request = want["httpRequest"]
        assert got["@timestamp"] == want["p_event_time"]
        assert waf["web_acl_id"] == want["webaclId"]
        assert waf["action"] == want["action"]
        assert waf["terminating_rule_id"] == want["terminatingRuleId"]
        assert waf["terminating_rule_type"] == want["terminatingRuleType"]
        assert waf["http_source_name"] == want["httpSourceName"]
        assert waf["http_source_id"] == want["httpSourceId"]
        assert waf["request_headers"] == request["headers"]
        assert waf["request_id"] == request["requestId"] == want["p_any_trace_ids"][0]
        assert [got["source"]["ip"]] == want["p_any_ip_addresses"]
        assert got["source"]["geo"]["country_iso_code"] == request["country"]
        assert got["url"]["path"] == request["uri"]
        assert got["url"].get("query", "") == request["args"]
        assert got["http"]["request"]["method"] == request["httpMethod"]
        # Deliberate: ECS http.version is the bare number ("2.0"), Panther keeps "HTTP/2.0".
        assert "HTTP/" + got["http"]["version"] == request["httpVersion"]
        # Deliberate: Panther drops nulls and empty lists inside the rule lists; we keep them
        # as logged (flat_object takes them), so compare with those removed.
        for name, key in (
            ("rule_group_list", "ruleGroupList"),
            ("rate_based_rule_list", "rateBasedRuleList"),
        ):
            assert _without_empty(waf.get(name)) == want.get(key)


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None} or None
    if isinstance(value, list):
        return [_without_empty(v) for v in value] or None
    return value


def test_agrees_with_sekoia_on_the_ecs_fields_both_have() -> None:
    entries = json.loads((DIR / "sekoia-waf.expected.json").read_text())["entries"]
    docs, _ = run((DIR / "sekoia-waf.log").read_bytes())
    assert len(docs) == len(entries)
    for doc, entry in zip(docs, entries, strict=True):
        want = entry["expected"]
        got = doc.source
        assert datetime.fromisoformat(got["@timestamp"]) == datetime.fromisoformat(
            want["@timestamp"]
        )
        assert got["source"]["ip"] == want["source"]["ip"]
        assert got["http"]["request"]["method"] == want["http"]["request"]["method"]
        assert got["url"]["path"] == want["url"]["path"]
        assert got["url"].get("query") == want["url"].get("query")
        assert got["user_agent"]["original"] == want["user_agent"]["original"]
        assert got["cloud"]["region"] == want["cloud"]["region"]
        assert got["aws"]["waf"]["web_acl_id"] == want["aws"]["waf"]["rule"]["arn"]
        assert got["aws"]["waf"]["terminating_rule_id"] == want["rule"]["name"]
        assert got["aws"]["waf"]["terminating_rule_type"] == want["rule"]["category"]
        # Sekoia puts the Host in destination.domain; it is the requested URL's domain here.
        assert got["url"]["domain"] == want["destination"]["domain"]
        # Deliberate: event.action is lower case (ECS style), Sekoia keeps the WAF's "BLOCK";
        # the logged value is in aws.waf.action.
        assert got["event"]["action"] == want["event"]["action"].lower()
        assert got["aws"]["waf"]["action"] == want["event"]["action"]
        # Deliberate: ECS http.version is "1.1"; Sekoia writes "HTTP/1.1".
        assert "HTTP/" + got["http"]["version"] == want["http"]["version"]
        if "ja3" in want.get("tls", {}).get("client", {}):
            assert got["aws"]["waf"]["ja3_fingerprint"] == want["tls"]["client"]["ja3"]
        if "client" in want["aws"]["waf"]:
            assert got["aws"]["waf"]["ja4_fingerprint"] == want["aws"]["waf"]["client"]["ja4"]
        if "response" in want["http"]:
            assert (
                got["aws"]["waf"]["response_code_sent"] == want["http"]["response"]["status_code"]
            )
        # Not compared, deliberately: Sekoia's http.request.body.bytes comes from the
        # Content-Length header (we keep headers as logged and WAF's own requestBodySize),
        # and its user_agent.name/os and domain parts come from enrichment we do not do.


# -- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        KEY,
        "AWSLogs/123456789012/WAFLogs/cloudfront/site-acl/2024/01/02/03/05/"
        "123456789012_waflogs_cloudfront_site-acl_20240102T0305Z_abcd1234.log.gz",
        "aws-waf-logs-site/2024/01/02/03/aws-waf-logs-site-1-2024-01-02-03-05-00-abcd.gz",
    ],
)
def test_waf_keys_are_recognised(key: str) -> None:
    assert format_for_key(key) is WAF


def test_waf_content_is_recognised_even_when_the_first_line_is_cut() -> None:
    line = ELASTIC[2]
    assert format_for_content(line) is WAF
    assert format_for_content(line[:300]) is WAF  # cut before httpRequest
    assert not WAF.matches_content('{"eventVersion":"1.08","eventSource":"wafv2.amazonaws.com"}')


# -- properties ---------------------------------------------------------------------------------


def _check(data: bytes) -> list[Document | Rejection | str]:
    """Everything the input gave: documents, rejections, and the reader's problem when the
    object is damaged as a whole (noise starting with the gzip magic makes it a broken gzip)."""
    reader = LineReader(io.BytesIO(data))
    items = list(WAF.parse_object(reader, CTX))
    for item in items:
        assert isinstance(item, Document | Rejection)
        if isinstance(item, Document):
            orjson.dumps(item.source)
    problems = [reader.problem] if reader.problem else []
    return [*items, *reader.rejections, *problems]


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\n\r"), min_size=1, max_size=200))
def test_every_line_yields_at_least_one_document_or_rejection(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    assert len(_check(data + b"\n")) >= 1


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
REAL_ENTRIES = [
    json.loads(line) for name in REAL_FILES if name != "wazuh-aws-waf.log" for line in lines(name)
]


@settings(max_examples=examples(300), deadline=None)
@given(
    st.integers(min_value=0, max_value=len(REAL_ENTRIES) - 1),
    st.lists(st.tuples(st.text(max_size=3), JSON_VALUES), max_size=4),
    st.lists(st.tuples(st.text(max_size=3), JSON_VALUES), max_size=3),
    st.integers(min_value=0, max_value=5000),
    st.binary(max_size=6),
)
@example(pick=0, changes=[], request_changes=[], cut=0, noise=b"\x1f\x8b")  # reads as gzip
def test_mutated_real_entries_only_give_documents_or_rejections(
    pick: int,
    changes: list[tuple[str, Any]],
    request_changes: list[tuple[str, Any]],
    cut: int,
    noise: bytes,
) -> None:
    entry = json.loads(json.dumps(REAL_ENTRIES[pick]))
    for target, edits in ((entry, changes), (entry["httpRequest"], request_changes)):
        keys = sorted(target)
        for name, value in edits:
            key = next((k for k in keys if k.startswith(name)), name) if name else keys[0]
            target[key] = value
    line = json.dumps(entry).encode()
    assert len(_check(line + b"\n")) >= 1
    # two on a line, then damaged: cut short with noise spliced in
    twice = line + line
    at = cut % (len(twice) + 1)
    damaged = (twice[:at] + noise + twice[at:]).replace(b"\n", b" ").replace(b"\r", b" ")
    assert len(_check(damaged + b"\n")) >= 1
