"""API Gateway access logs of REST and HTTP APIs: the JSON access-log format, or CLF.

    {"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"192.0.2.10","caller":"-",
     "user":"-","requestTime":"20/Nov/2026:12:00:01 +0000","httpMethod":"GET",
     "resourcePath":"/pets/{petId}","status":"200","protocol":"HTTP/1.1","responseLength":"85"}
    192.0.2.10 - - [20/Nov/2026:12:00:01 +0000] "GET GET /pets HTTP/1.1" 200 85 Kx3fLjzXoAMEQ4A=

The format is the operator's: any subset and order of `$context` variables, under names they
choose, and API Gateway writes it verbatim (values quoted as the template quotes them, `-` for
a value it does not have). Keys are read by the names AWS's own examples and the variables use
(`requestId`, `ip`, `httpMethod`, `routeKey`, `status`, `integrationLatency` or
`integration.latency`, ...), flat or nested (`"error": {"message": ...}`); the keys no name
here fits are kept in aws.apigateway.extra (flat_object), so nothing the operator logged is lost.
Reached S3 only through a Firehose stream named `amazon-apigateway-*` (objects concatenated
without a separator: see jsonlines), or through CloudWatch Logs.

- @timestamp: `requestTimeEpoch` (epoch milliseconds) when logged, else `requestTime` (CLF
  time, `dd/Mon/yyyy:HH:MM:SS +zzzz`, converted to UTC); an entry with neither is rejected:
  add one of them to the access-log format.
- The request id is http.request.id. aws.apigateway.route is the HTTP API's routeKey
  (`GET /pets`, `$default`) or, for a REST API, the method and resource path
  (`GET /pets/{petId}`), so one field answers "errors by route" for both kinds of API.
  url.path is only the request path (`$context.path`), never a route template.
- CLF: `ip caller user [time] "method route-or-resource protocol" status length requestId`.
  The HTTP API console template puts routeKey, which holds the method again, inside the quotes
  (`"GET GET /pets HTTP/1.1"`). Fields after the request id are kept in unparsed_tail.
- Latencies (ms): responseLatency is also event.duration (ns); integrationLatency and the
  status the integration returned are aws.apigateway.*. responseLength is
  http.response.bytes.
Rejected alternatives: the console's XML and CSV templates (no self-describing shape to tell
their fields apart from a changed template); guessing fields by value instead of by name.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import ParseError, Source
from .base import KEYWORD, LONG, TEXT_AND_KEYWORD, obj
from .cloudtrail_records import ip_or_none
from .jsonlines import JsonLinesFormat, as_int, as_text, keep_extra
from .jsonstream import FLAT, check_serialisable, json_values
from .s3access import _timestamp as clf_time  # the same CLF time S3 access logs write
from .waf import epoch_ms_to_iso

# our name -> the keys access-log formats use for it, most common first (AWS's examples, then
# the variable's own path).
_NAMES: dict[str, tuple[str, ...]] = {
    "request_id": ("requestId", "requestID"),
    "extended_request_id": ("extendedRequestId",),
    "ip": ("ip", "sourceIp", "identity.sourceIp"),
    "caller": ("caller", "identity.caller"),
    "user": ("user", "identity.user"),
    "user_arn": ("userArn", "identity.userArn"),
    "time_epoch": ("requestTimeEpoch",),
    "time": ("requestTime",),
    "method": ("httpMethod", "method"),
    "resource_path": ("resourcePath",),
    "route_key": ("routeKey",),
    "path": ("path",),
    "status": ("status", "statusCode"),
    "protocol": ("protocol",),
    "length": ("responseLength",),
    "integration_latency": ("integrationLatency", "integration.latency"),
    "response_latency": ("responseLatency",),
    "integration_status": ("integrationStatus", "integration.status"),
    "integration_error": ("integrationErrorMessage", "integration.error"),
    "domain": ("domainName",),
    "api_id": ("apiId",),
    "stage": ("stage",),
    "account": ("accountId",),
    "user_agent": ("userAgent", "identity.userAgent"),
    "error_message": ("error.message", "errorMessage"),
    "error_type": ("error.responseType",),
    "trace": ("xrayTraceId",),
    "waf_response_code": ("wafResponseCode",),
}
# Copied as text into aws.apigateway.<name>.
_KEPT = (
    "extended_request_id", "caller", "user", "user_arn", "resource_path", "route_key",
    "integration_status", "integration_error", "api_id", "stage", "waf_response_code",
)  # fmt: skip
_CLF = re.compile(r'(\S+) (\S+) (\S+) \[([^\]]*)\] "([^"]*)" (\S+) (\S+) (\S+)(?: (.*))?')
_CLF_START = re.compile(
    r"\S+ \S+ \S+ \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\] \""
)
# Keys that make a JSON object with a requestId an access log (content detection).
_ACCESS_LOG_KEYS = frozenset(["httpMethod", "routeKey", "resourcePath"])
# A routeKey inside CLF's quotes: `GET /pets`, `ANY /{proxy+}`, `$default`.
_ROUTE_KEY = re.compile(r"[A-Z]+ /\S*|\$default")


def _lookup(entry: dict[str, Any], key: str) -> Any:
    """entry[key], or the nested entry["error"]["message"] for key "error.message"."""
    if key in entry:
        return entry[key]
    head, dot, rest = key.partition(".")
    if dot:
        inner = entry.get(head)
        if type(inner) is dict:
            return inner.get(rest)
    return None


def _fields(entry: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Our names -> the entry's values (None and `-` left out), and the keys they came from."""
    found: dict[str, Any] = {}
    used: set[str] = set()
    for name, keys in _NAMES.items():
        for key in keys:
            value = _lookup(entry, key)
            if value is not None and value != "-" and value != "":
                found[name] = value
                used.add(key)
                break
    return found, used


def _leftovers(entry: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """The keys no name fits (nested objects less what was read of them), `-` values left out."""
    rest: dict[str, Any] = {}
    for key, value in entry.items():
        if key in used or value == "-":
            continue
        if type(value) is dict:
            value = {k: v for k, v in value.items() if f"{key}.{k}" not in used and v != "-"}
            if not value:
                continue
        rest[key] = value
    return rest


def _time(found: dict[str, Any]) -> str:
    epoch = found.get("time_epoch")
    if epoch is not None:
        try:
            return epoch_ms_to_iso(epoch)
        except ParseError as exc:
            raise ParseError(f"requestTimeEpoch: {str(exc).removeprefix('timestamp: ')}") from None
    written = found.get("time")
    if written is None:
        raise ParseError(
            "no request time: the access-log format needs $context.requestTime"
            " or $context.requestTimeEpoch"
        )
    if type(written) is not str:
        raise ParseError(f"requestTime: expected dd/Mon/yyyy:HH:MM:SS +zzzz, got {written!r:.40}")
    try:
        return clf_time(written)
    except ParseError as exc:
        raise ParseError(f"requestTime: {str(exc).removeprefix('time: ')}") from None


def document(found: dict[str, Any]) -> Source:
    """The ECS document from the fields of an entry, by our names (`_NAMES`)."""
    event: Source = {"dataset": "aws.apigateway", "kind": "event"}
    doc: Source = {"@timestamp": _time(found), "event": event}
    api: Source = {}
    for name in _KEPT:
        text = as_text(found.get(name))
        if text is not None:
            api[name] = text
    method = as_text(found.get("method"))
    if "route_key" in api:
        api["route"] = api["route_key"]
    elif method is not None and "resource_path" in api:
        api["route"] = f"{method} {api['resource_path']}"
    address = as_text(found.get("ip"))
    if address is not None:
        doc["source"] = (
            {"address": address, "ip": address}
            if ip_or_none(address) is not None
            else {"address": address}
        )
    http: Source = {}
    request_id = as_text(found.get("request_id"))
    if request_id is not None or method is not None:
        request = http["request"] = {}
        if request_id is not None:
            request["id"] = request_id
        if method is not None:
            request["method"] = method
    status = as_int(found.get("status"), "status", 999)
    length = as_int(found.get("length"), "responseLength")
    if status is not None or length is not None:
        response = http["response"] = {}
        if status is not None:
            response["status_code"] = status
        if length is not None:
            response["bytes"] = length
    protocol = as_text(found.get("protocol"))
    if protocol is not None:
        http["version"] = protocol.removeprefix("HTTP/")
    if http:
        doc["http"] = http
    url: Source = {}
    path = as_text(found.get("path"))
    if path is not None:
        url["path"] = path
    domain = as_text(found.get("domain"))
    if domain is not None:
        url["domain"] = domain
    if url:
        doc["url"] = url
    for name, ms_name in (
        ("response_latency", "response_latency_ms"),
        ("integration_latency", "integration_latency_ms"),
    ):
        latency = as_int(found.get(name), name)
        if latency is not None:
            api[ms_name] = latency
    if "response_latency_ms" in api:
        event["duration"] = api["response_latency_ms"] * 1_000_000
    agent = as_text(found.get("user_agent"))
    if agent is not None:
        doc["user_agent"] = {"original": agent}
    account = as_text(found.get("account"))
    if account is not None:
        doc["cloud"] = {"account": {"id": account}}
    error: Source = {}
    for name, ecs in (("error_message", "message"), ("error_type", "type")):
        text = as_text(found.get(name))
        if text is not None:
            error[ecs] = text
    if error:
        doc["error"] = error
    trace = as_text(found.get("trace"))
    if trace is not None:
        doc["trace"] = {"id": trace}
    doc["aws"] = {"apigateway": api}
    return doc


def parse_json(entry: Any, text: str) -> Source:
    """The ECS document for one JSON access-log entry (`text` is its JSON), or ParseError."""
    if type(entry) is not dict:
        raise ParseError(f"expected a JSON object, got {type(entry).__name__}")
    found, used = _fields(entry)
    doc = document(found)
    rest = _leftovers(entry, used)
    if rest:
        keep_extra(rest, text, doc["aws"]["apigateway"])
    if not doc["aws"]["apigateway"]:
        del doc["aws"]
    check_serialisable(doc, text)
    return doc


def parse_clf(line: str) -> Source:
    """The ECS document for one CLF access-log line, or ParseError."""
    m = _CLF.fullmatch(line)
    if m is None:
        raise ParseError(
            'expected CLF: ip caller user [time] "method route protocol" status length requestId'
        )
    ip, caller, user, time, request, status, length, request_id, tail = m.groups()
    found: dict[str, Any] = {
        name: value
        for name, value in (
            ("ip", ip), ("caller", caller), ("user", user), ("time", time), ("status", status),
            ("length", length), ("request_id", request_id),
        )
        if value != "-"
    }  # fmt: skip
    words = request.split(" ")
    if words[0] not in ("", "-"):
        found["method"] = words[0]
    if len(words) >= 3 and words[-1].startswith("HTTP/"):
        found["protocol"] = words[-1]
        middle = " ".join(words[1:-1])
    else:
        middle = " ".join(words[1:])
    if _ROUTE_KEY.fullmatch(middle):
        found["route_key"] = middle
    elif middle.startswith("/"):
        found["resource_path"] = middle
    doc = document(found)
    if tail:
        doc["aws"]["apigateway"]["unparsed_tail"] = tail
    if not doc["aws"]["apigateway"]:
        del doc["aws"]
    return doc


class ApiGatewayFormat(JsonLinesFormat):
    name = "apigateway"
    index_source = "apigateway"
    text_lines = True  # CLF
    # Firehose names its objects after the stream, which API Gateway requires to be
    # amazon-apigateway-<name>: <prefix>YYYY/MM/DD/HH/amazon-apigateway-<name>-1-<time>-<uuid>
    key_pattern = re.compile(r"(?:^|/)amazon-apigateway-[^/]+$")
    mapping = {
        "http": obj(request=obj(id=KEYWORD)),
        "error": obj(message=TEXT_AND_KEYWORD, type=KEYWORD),
        "aws": obj(
            apigateway=obj(
                api_id=KEYWORD,
                stage=KEYWORD,
                route=KEYWORD,
                route_key=KEYWORD,
                resource_path=KEYWORD,
                extended_request_id=KEYWORD,
                caller=KEYWORD,
                user=KEYWORD,
                user_arn=KEYWORD,
                response_latency_ms=LONG,
                integration_latency_ms=LONG,
                integration_status=KEYWORD,
                integration_error=KEYWORD,
                waf_response_code=KEYWORD,
                unparsed_tail=KEYWORD,
                extra=FLAT,
                truncated_fields=KEYWORD,
            )
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        if first_line.lstrip().startswith("{"):
            try:
                entry = next(json_values(first_line))[0]
            except ParseError:
                return False
            # Top-level keys only: WAF logs and logged proxy events name the same variables
            # inside objects of their own; an application's JSON log has a level.
            return (
                type(entry) is dict
                and "requestId" in entry
                and not _ACCESS_LOG_KEYS.isdisjoint(entry)
                and "level" not in entry
            )
        return (
            _CLF_START.match(first_line) is not None
            and ip_or_none(first_line.partition(" ")[0]) is not None
        )

    def parse_entry(self, entry: Any, text: str) -> Source:
        return parse_json(entry, text)

    def parse_text(self, line: str) -> Source:
        return parse_clf(line)


FORMAT = ApiGatewayFormat()
