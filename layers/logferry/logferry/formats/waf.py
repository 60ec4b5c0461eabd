"""AWS WAF (v2) web ACL logs: one JSON object per line, sometimes several back to back (`}{`).

{"timestamp":1576280412771,"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-southeast-2:1234:
regional/webacl/STMTest/1EXAMPLE","terminatingRuleId":"STMTest_SQLi_XSS","terminatingRuleType":
"REGULAR","action":"BLOCK","terminatingRuleMatchDetails":[{"conditionType":"SQL_INJECTION",
"location":"HEADER","matchedData":["10","AND","1"]}],...,"httpRequest":{"clientIp":"1.1.1.1",
"country":"AU","headers":[{"name":"Host","value":"localhost:1989"},...],"uri":"/foo","args":"",
"httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"rid"},"labels":[{"name":"value"}]}

- `timestamp` is epoch milliseconds (UTC); @timestamp keeps the milliseconds.
- event.action is the WAF action in lower case, as ECS writes actions: block, allow, count,
  captcha, challenge. The value as logged (BLOCK) is in aws.waf.action.
- Ids: each object on a line is a document with `sub` = its index on the line, 0 for the first,
  so a line holding one object gets the same id as any line format would give it.
- Headers stay a list of {name, value} (names repeat; order matters); user_agent.original is
  the first User-Agent header and url.domain the Host (any case).
- The rule lists (ruleGroupList, rateBasedRuleList, nonTerminatingMatchingRules) are
  `flat_object`: deep, varied shapes, still queryable by dotted path with their own key names
  (`aws.waf.rule_group_list.terminatingRule.ruleId`). matchedData holds attack payloads: it is
  a keyword list, never an object.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ..model import ParseError, Source
from .base import DATE, INTEGER, KEYWORD, LONG, obj
from .cloudtrail_records import ip_or_none
from .jsonlines import JsonLinesFormat
from .jsonstream import FLAT, check_serialisable, flat_object_value, pick

_KNOWN = frozenset(
    [
        "timestamp",
        "formatVersion",
        "webaclId",
        "terminatingRuleId",
        "terminatingRuleType",
        "action",
        "terminatingRuleMatchDetails",
        "httpSourceName",
        "httpSourceId",
        "ruleGroupList",
        "rateBasedRuleList",
        "nonTerminatingMatchingRules",
        "requestHeadersInserted",
        "responseCodeSent",
        "httpRequest",
        "labels",
        "captchaResponse",
        "challengeResponse",
        "ja3Fingerprint",
        "ja4Fingerprint",
        "oversizeFields",
        "requestBodySize",
        "requestBodySizeInspectedByWAF",
    ]
)
_KNOWN_REQUEST = frozenset(
    [
        "clientIp",
        "country",
        "headers",
        "uri",
        "args",
        "httpVersion",
        "httpMethod",
        "requestId",
        "host",
        "scheme",
        "fragment",
    ]
)
# (source key, our name) of the rule lists kept as flat_object.
_FLAT_PARTS = (
    ("ruleGroupList", "rule_group_list"),
    ("rateBasedRuleList", "rate_based_rule_list"),
    ("nonTerminatingMatchingRules", "non_terminating_matching_rules"),
)
_WAF_KEYWORDS = (
    ("action", "action"),
    ("webaclId", "web_acl_id"),
    ("terminatingRuleId", "terminating_rule_id"),
    ("terminatingRuleType", "terminating_rule_type"),
    ("httpSourceName", "http_source_name"),
    ("httpSourceId", "http_source_id"),
    ("ja3Fingerprint", "ja3_fingerprint"),
    ("ja4Fingerprint", "ja4_fingerprint"),
)
# Until 9999-12-31: later times are not dates OpenSearch (or anyone) will search.
_MAX_MS = 253402300800000
_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
# (source key, our name, upper bound of the field's type)
_WAF_COUNTS = (
    ("formatVersion", "format_version", _INT_MAX),
    ("responseCodeSent", "response_code_sent", _INT_MAX),
    ("requestBodySize", "request_body_size", _LONG_MAX),
    ("requestBodySizeInspectedByWAF", "request_body_size_inspected_by_waf", _LONG_MAX),
)
_URL_KEYWORDS = (("uri", "path"), ("args", "query"), ("scheme", "scheme"), ("fragment", "fragment"))
_MATCH_KEYWORDS = (
    ("conditionType", "condition_type"),
    ("location", "location"),
    ("matchedFieldName", "matched_field_name"),
    ("sensitivityLevel", "sensitivity_level"),
)
_CHALLENGE_KEYWORDS = (("failureReason", "failure_reason"),)


def epoch_ms_to_iso(value: Any) -> str:
    """2019-12-13T23:40:12.771Z from 1576280412771 (epoch milliseconds, UTC)."""
    if (type(value) is float and value.is_integer()) or (
        type(value) is str and value.isascii() and value.isdecimal()
    ):
        value = int(value)
    if type(value) is not int:
        if value is None:
            raise ParseError("timestamp missing: not a WAF log entry")
        raise ParseError(f"timestamp: expected epoch milliseconds, got {str(value)[:40]!r}")
    if not 0 <= value < _MAX_MS:
        raise ParseError(f"timestamp: {value} is out of range for epoch milliseconds")
    seconds, millis = divmod(value, 1000)
    return f"{datetime.fromtimestamp(seconds, UTC).isoformat()[:19]}.{millis:03d}Z"


def _acl(arn: str) -> tuple[str | None, str | None, str | None]:
    """(name, region, account) from arn:aws:wafv2:<region>:<acct>:<scope>/webacl/<name>/<id>."""
    parts = arn.split(":", 5)
    resource = parts[-1]
    name = None
    at = resource.find("webacl/")
    if at >= 0:
        name = resource[at + 7 :].partition("/")[0] or None
    region = (parts[3] or None) if len(parts) > 4 else None
    account = parts[4] if len(parts) == 6 and parts[4].isdecimal() else None
    return name, region, account


def _domain(host: str) -> str:
    """The host without a port: example.com:8443 -> example.com, [::1]:80 -> ::1."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _headers(value: list[Any]) -> tuple[list[Source], str | None, str | None]:
    """The headers as {name, value} objects, the first User-Agent and the first Host."""
    out: list[Source] = []
    agent = host = None
    for item in value:
        if type(item) is not dict:
            continue
        name = item.get("name")
        text = item.get("value")
        if type(name) is not str:
            continue
        if type(text) is str and len(item) == 2:
            out.append(item)  # already the shape we index: no copy
        else:
            text = pick(item, (("value", "value"),)).get("value")
            out.append({"name": name} if text is None else {"name": name, "value": text})
            if text is None:
                continue
        size = len(name)
        if size == 10 and agent is None and name.lower() == "user-agent":
            agent = text
        elif size == 4 and host is None and name.lower() == "host":
            host = text
    return out, agent, host


def _match_details(value: list[Any]) -> list[Source]:
    out = []
    for item in value:
        if type(item) is not dict:
            continue
        detail = pick(item, _MATCH_KEYWORDS)
        data = item.get("matchedData")
        if isinstance(data, list):  # attack payloads: keyword values, never objects
            matched = [v if type(v) is str else json.dumps(v) for v in data if v is not None]
            if matched:
                detail["matched_data"] = matched
        elif type(data) is str and data:
            detail["matched_data"] = data
        if detail:
            out.append(detail)
    return out


def _challenge(value: dict[str, Any]) -> Source:
    """captchaResponse / challengeResponse."""
    out = pick(value, _CHALLENGE_KEYWORDS)
    code = value.get("responseCode")
    if type(code) is int and 0 <= code <= _INT_MAX:
        out["response_code"] = code
    solved = value.get("solveTimestamp")  # epoch seconds
    if type(solved) is int and 0 <= solved < _MAX_MS // 1000:
        out["solve_timestamp"] = epoch_ms_to_iso(solved * 1000)
    return out


def _pairs(value: list[Any]) -> list[Source]:
    """requestHeadersInserted: [{name, value}]."""
    return [
        {"name": item["name"], **pick(item, (("value", "value"),))}
        for item in value
        if type(item) is dict and type(item.get("name")) is str
    ]


def parse_entry(entry: Any, text: str) -> Source:
    """The ECS document for one WAF log object (`text` is its JSON), or ParseError."""
    if type(entry) is not dict:
        raise ParseError(f"expected a JSON object, got {type(entry).__name__}")
    get = entry.get
    timestamp = epoch_ms_to_iso(get("timestamp"))
    request = get("httpRequest")
    if request is None:
        request = {}
    elif type(request) is not dict:
        raise ParseError("httpRequest: expected an object")
    waf = pick(entry, _WAF_KEYWORDS)
    if waf.get("http_source_name") == "-":  # the null marker of requests with no source
        del waf["http_source_name"]
    if waf.get("http_source_id") == "-":
        del waf["http_source_id"]
    for key, name, limit in _WAF_COUNTS:
        count = get(key)
        if type(count) is int and 0 <= count <= limit:
            waf[name] = count
    event: Source = {"dataset": "aws.waf", "kind": "event"}
    action = waf.get("action")
    if action is not None:
        event["action"] = action.lower()
    doc: Source = {"@timestamp": timestamp, "event": event}

    details = get("terminatingRuleMatchDetails")
    if type(details) is list and details:
        matches = _match_details(details)
        if matches:
            waf["terminating_rule_match_details"] = matches
    inserted = get("requestHeadersInserted")
    if type(inserted) is list and inserted:
        pairs = _pairs(inserted)
        if pairs:
            waf["request_headers_inserted"] = pairs
    labels = get("labels")
    if type(labels) is list and labels:
        names = [
            label["name"]
            for label in labels
            if type(label) is dict and type(label.get("name")) is str
        ]
        if names:
            waf["labels"] = names
    for key, name in (
        ("captchaResponse", "captcha_response"),
        ("challengeResponse", "challenge_response"),
    ):
        response = get(key)
        if type(response) is dict:
            picked = _challenge(response)
            if picked:
                waf[name] = picked
    oversize = get("oversizeFields")
    if type(oversize) is list:
        fields = [f for f in oversize if type(f) is str and f]
        if fields:
            waf["oversize_fields"] = fields
    elif type(oversize) is str and oversize:
        waf["oversize_fields"] = oversize
    acl_id = waf.get("web_acl_id")
    if acl_id is not None:
        acl_name, region, account = _acl(acl_id)
        if acl_name is not None:
            waf["web_acl_name"] = acl_name
        cloud: Source = {}
        if region is not None:
            cloud["region"] = region
        if account is not None:
            cloud["account"] = {"id": account}
        if cloud:
            doc["cloud"] = cloud

    client = request.get("clientIp")
    if type(client) is str and client:
        source: Source = {"address": client}
        if ip_or_none(client) is not None:
            source["ip"] = client
        doc["source"] = source
    country = request.get("country")
    if type(country) is str and country and country != "-":
        doc.setdefault("source", {})["geo"] = {"country_iso_code": country}
    method = request.get("httpMethod")
    version = request.get("httpVersion")
    http: Source = {}
    if type(version) is str and version:
        http["version"] = version[5:] if version.startswith("HTTP/") else version
    if type(method) is str and method:
        http["request"] = {"method": method}
    if http:
        doc["http"] = http
    url = pick(request, _URL_KEYWORDS)
    headers = request.get("headers")
    host = agent = None
    if type(headers) is list and headers:
        listed, agent, host = _headers(headers)
        if listed:
            waf["request_headers"] = listed
    named_host = request.get("host")  # newer logs name it; older ones only have the header
    if type(named_host) is str and named_host:
        host = named_host
    if host:
        url["domain"] = _domain(host)
    if url:
        doc["url"] = url
    if agent:
        doc["user_agent"] = {"original": agent}
    request_id = request.get("requestId")
    if type(request_id) is str and request_id:
        waf["request_id"] = request_id

    cut: list[str] = []
    for key, name in _FLAT_PARTS:
        value = get(key)
        if value:  # None and [] are nothing
            value = flat_object_value(value, name, text, cut)
            if value is not None:
                waf[name] = value
    if not _KNOWN.issuperset(entry):
        extra = {k: v for k, v in entry.items() if k not in _KNOWN}
        extra_value = flat_object_value(extra, "extra", text, cut)
        if extra_value is not None:
            waf["extra"] = extra_value
    if not _KNOWN_REQUEST.issuperset(request):
        extra_request = {k: v for k, v in request.items() if k not in _KNOWN_REQUEST}
        request_value = flat_object_value(extra_request, "http_request_extra", text, cut)
        if request_value is not None:
            waf["http_request_extra"] = request_value
    if cut:
        waf["truncated_fields"] = cut
    doc["aws"] = {"waf": waf}
    check_serialisable(doc, text)
    return doc


class WafFormat(JsonLinesFormat):
    """Objects back to back on a line (Firehose) are read as JsonLinesFormat reads them."""

    name = "waf"
    index_source = "waf"
    # aws-waf-logs-*/AWSLogs/<acct>/WAFLogs/<region>/<acl>/.../<acct>_waflogs_<region>_<acl>_...
    key_pattern = re.compile(r"(?:^|/)WAFLogs/|_waflogs_|(?:^|/)aws-waf-logs-")
    mapping = {
        "source": obj(geo=obj(country_iso_code=KEYWORD)),
        "url": obj(scheme=KEYWORD, fragment=KEYWORD),
        "aws": obj(
            waf=obj(
                action=KEYWORD,
                format_version=INTEGER,
                web_acl_id=KEYWORD,
                web_acl_name=KEYWORD,
                terminating_rule_id=KEYWORD,
                terminating_rule_type=KEYWORD,
                terminating_rule_match_details=obj(
                    condition_type=KEYWORD,
                    location=KEYWORD,
                    matched_data=KEYWORD,
                    matched_field_name=KEYWORD,
                    sensitivity_level=KEYWORD,
                ),
                http_source_name=KEYWORD,
                http_source_id=KEYWORD,
                rule_group_list=FLAT,
                rate_based_rule_list=FLAT,
                non_terminating_matching_rules=FLAT,
                request_headers=obj(name=KEYWORD, value=KEYWORD),
                request_headers_inserted=obj(name=KEYWORD, value=KEYWORD),
                response_code_sent=INTEGER,
                request_id=KEYWORD,
                labels=KEYWORD,
                captcha_response=obj(
                    response_code=INTEGER, solve_timestamp=DATE, failure_reason=KEYWORD
                ),
                challenge_response=obj(
                    response_code=INTEGER, solve_timestamp=DATE, failure_reason=KEYWORD
                ),
                ja3_fingerprint=KEYWORD,
                ja4_fingerprint=KEYWORD,
                oversize_fields=KEYWORD,
                request_body_size=LONG,
                request_body_size_inspected_by_waf=LONG,
                http_request_extra=FLAT,
                extra=FLAT,
                truncated_fields=KEYWORD,
            )
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        # The first line may be cut at 64 KiB: look only for what comes early in an entry.
        return (
            first_line.lstrip().startswith("{")
            and '"webaclId"' in first_line
            and ('"httpRequest"' in first_line or '"terminatingRuleId"' in first_line)
        )

    def parse_entry(self, entry: Any, text: str) -> Source:
        return parse_entry(entry, text)


FORMAT = WafFormat()
