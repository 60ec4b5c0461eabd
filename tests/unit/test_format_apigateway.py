"""API Gateway access logs: AWS's JSON and CLF templates for REST and HTTP APIs, operator-chosen
formats (nested keys, dotted keys, keys no name fits), Firehose concatenation, rejections,
detection.

Sources of the facts: API Gateway Developer Guide, "Set up CloudWatch logging" (the console's
CLF and JSON templates for REST APIs: requestId, ip, caller, user, requestTime, httpMethod,
resourcePath, status, protocol, responseLength) and "Customizing HTTP API access logs" (the
HTTP API templates with routeKey, CLF included); "Variables for access logging" ($context
names: requestTimeEpoch in epoch ms, requestTime as dd/MMM/yyyy:HH:mm:ss +-hhmm,
integrationLatency / integration.latency, responseLatency, error.message,
error.responseType, xrayTraceId); "Log REST API calls to Firehose" (the stream must be named
amazon-apigateway-*, hence the object names).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry.formats import format_for_content, format_for_key
from logferry.formats.apigateway import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.format_checks import REAL_FIRST_LINES, claimed_by, only_document, parse_lines

KEY = (
    "apigw/2026/11/20/12/"
    "amazon-apigateway-shop-prod-1-2026-11-20-12-05-01-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
)
CTX = ParseContext(ObjectRef("logs", KEY))
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
# The console's JSON template for a REST API, as API Gateway fills it in.
REST_JSON = {
    "requestId": REQUEST_ID,
    "ip": "192.0.2.10",
    "caller": "-",
    "user": "-",
    "requestTime": "20/Nov/2026:13:00:01 +0100",
    "httpMethod": "GET",
    "resourcePath": "/pets/{petId}",
    "status": "200",
    "protocol": "HTTP/1.1",
    "responseLength": "85",
}
# The HTTP API template.
HTTP_JSON = {
    "requestId": "Kx3fLjzXoAMEQ4A=",
    "ip": "2001:db8::7",
    "requestTime": "20/Nov/2026:12:00:02 +0000",
    "httpMethod": "POST",
    "routeKey": "POST /orders",
    "status": "502",
    "protocol": "HTTP/1.1",
    "responseLength": "35",
}
# An operator's own choice: epoch time, nested and dotted keys, a key of their own.
RICH_JSON = {
    "requestId": REQUEST_ID,
    "extendedRequestId": "Kx3fLjzXoAMEQ4B=",
    "requestTimeEpoch": 1795176003123,
    "requestTime": "20/Nov/2026:12:00:03 +0000",
    "sourceIp": "198.51.100.7",
    "httpMethod": "GET",
    "path": "/prod/pets/42",
    "resourcePath": "/pets/{petId}",
    "status": 504,
    "protocol": "HTTP/2.0",
    "responseLength": "36",
    "domainName": "api.shop.example.com",
    "apiId": "a1b2c3d4e5",
    "stage": "prod",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    "integrationLatency": "29001",
    "responseLatency": "29015",
    "integration.status": "-",
    "error": {"message": "Endpoint request timed out", "responseType": "INTEGRATION_TIMEOUT"},
    "xrayTraceId": "1-6737d4c3-0a1b2c3d4e5f60718293a4b5",
    "tenant": "acme",
}
REST_CLF = (
    "192.0.2.10 arn:aws:iam::111122223333:user/alice - [20/Nov/2026:12:00:01 +0000] "
    f'"GET /pets/{{petId}} HTTP/1.1" 200 85 {REQUEST_ID}'
)
HTTP_CLF = '203.0.113.9 - - [20/Nov/2026:12:00:04 +0000] "GET GET /pets HTTP/1.1" 404 23 Kx3fM='


def run(*lines: str) -> tuple[list[Document], list[Rejection]]:
    return parse_lines(FORMAT, CTX, *lines)


def one(entry: dict[str, Any] | str) -> dict[str, Any]:
    return only_document(FORMAT, CTX, entry if isinstance(entry, str) else json.dumps(entry))


def test_rest_json_template() -> None:
    doc = one(REST_JSON)
    assert doc == {
        "@timestamp": "2026-11-20T12:00:01Z",  # +0100 converted
        "event": {"dataset": "aws.apigateway", "kind": "event"},
        "source": {"address": "192.0.2.10", "ip": "192.0.2.10"},
        "http": {
            "request": {"id": REQUEST_ID, "method": "GET"},
            "response": {"status_code": 200, "bytes": 85},
            "version": "1.1",
        },
        "aws": {"apigateway": {"resource_path": "/pets/{petId}", "route": "GET /pets/{petId}"}},
    }


def test_http_api_json_template_routes_by_route_key() -> None:
    doc = one(HTTP_JSON)
    assert doc["source"]["ip"] == "2001:db8::7"
    assert doc["http"]["response"]["status_code"] == 502
    assert doc["aws"]["apigateway"] == {"route_key": "POST /orders", "route": "POST /orders"}
    assert "url" not in doc  # a route is not a path


def test_operator_format_with_epoch_nested_and_dotted_keys() -> None:
    doc = one(RICH_JSON)
    assert doc["@timestamp"] == "2026-11-20T12:00:03.123Z"  # requestTimeEpoch, to the ms
    assert doc["url"] == {"path": "/prod/pets/42", "domain": "api.shop.example.com"}
    assert doc["http"] == {
        "request": {"id": REQUEST_ID, "method": "GET"},
        "response": {"status_code": 504, "bytes": 36},
        "version": "2.0",
    }
    assert doc["event"]["duration"] == 29_015_000_000
    assert doc["error"] == {"message": "Endpoint request timed out", "type": "INTEGRATION_TIMEOUT"}
    assert doc["trace"] == {"id": "1-6737d4c3-0a1b2c3d4e5f60718293a4b5"}
    assert doc["user_agent"] == {"original": "Mozilla/5.0 (X11; Linux x86_64)"}
    assert doc["aws"]["apigateway"] == {
        "extended_request_id": "Kx3fLjzXoAMEQ4B=",
        "resource_path": "/pets/{petId}",
        "api_id": "a1b2c3d4e5",
        "stage": "prod",
        "route": "GET /pets/{petId}",
        "response_latency_ms": 29015,
        "integration_latency_ms": 29001,
        "extra": {"tenant": "acme"},  # what no name fits is kept; `-` values are not
    }


def test_rest_clf_template() -> None:
    doc = one(REST_CLF)
    assert doc["@timestamp"] == "2026-11-20T12:00:01Z"
    assert doc["http"]["request"] == {"id": REQUEST_ID, "method": "GET"}
    assert doc["http"]["version"] == "1.1"
    assert doc["aws"]["apigateway"] == {
        "caller": "arn:aws:iam::111122223333:user/alice",
        "resource_path": "/pets/{petId}",
        "route": "GET /pets/{petId}",
    }


def test_http_api_clf_template_has_the_method_twice() -> None:
    doc = one(HTTP_CLF)
    assert doc["http"]["response"] == {"status_code": 404, "bytes": 23}
    assert doc["aws"]["apigateway"]["route"] == "GET /pets"
    default = one(HTTP_CLF.replace('"GET GET /pets', '"PUT $default'))
    assert default["aws"]["apigateway"]["route_key"] == "$default"
    assert default["http"]["request"]["method"] == "PUT"


def test_clf_fields_after_the_request_id_are_kept() -> None:
    doc = one(HTTP_CLF + " 31 extra")
    assert doc["aws"]["apigateway"]["unparsed_tail"] == "31 extra"


def test_entries_concatenated_by_firehose_are_documents_each() -> None:
    line = json.dumps(REST_JSON) + json.dumps(HTTP_JSON) + json.dumps(RICH_JSON)
    docs, rejections = run(line, REST_CLF)
    assert rejections == []
    assert [(d.position, d.sub) for d in docs] == [(1, 0), (1, 1), (1, 2), (2, 0)]


def test_dash_means_absent() -> None:
    entry = {**HTTP_JSON, "status": "-", "responseLength": "-", "integrationLatency": "-"}
    doc = one(entry)
    assert "response" not in doc["http"]
    assert "integration_latency_ms" not in doc["aws"]["apigateway"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            json.dumps({k: v for k, v in REST_JSON.items() if k != "requestTime"}),
            "no request time: the access-log format needs $context.requestTime",
        ),
        (json.dumps({**REST_JSON, "requestTime": "2026-11-20T12:00:01Z"}), "requestTime: expected"),
        (json.dumps({**REST_JSON, "requestTime": "30/Feb/2026:12:00:01 +0000"}), "no such date"),
        (json.dumps({**REST_JSON, "requestTimeEpoch": "soon"}), "requestTimeEpoch: expected epoch"),
        (json.dumps({**REST_JSON, "status": "OK"}), "status: expected a whole number"),
        (json.dumps({**REST_JSON, "responseLength": -1}), "responseLength: -1 is out of range"),
        ("<request id=\"x\"><ip>192.0.2.1</ip></request>", "expected CLF"),
        ('192.0.2.10 - - [20/Nov/2026:12:00:01 +0000] "GET /pets HTTP/1.1" 200', "expected CLF"),
        ("[1]", "expected CLF"),
    ],
)  # fmt: skip
def test_bad_entries_are_rejected_with_the_reason(line: str, reason: str) -> None:
    docs, rejections = run(line)
    assert docs == [] and len(rejections) == 1
    assert reason in rejections[0].reason


# -- detection --------------------------------------------------------------------------------


def test_detected_by_the_firehose_stream_name() -> None:
    assert format_for_key(KEY) is FORMAT
    assert format_for_key("apigw/2026/11/20/12/my-stream-1-2026-11-20-12-05-01-0f1e2d3c") is None


@pytest.mark.parametrize("entry", [REST_JSON, HTTP_JSON, RICH_JSON, REST_CLF, HTTP_CLF])
def test_detected_by_content_and_claimed_by_no_other_format(entry: dict[str, Any] | str) -> None:
    line = entry if isinstance(entry, str) else json.dumps(entry)
    assert claimed_by(line) == ["apigateway"]
    assert format_for_content(line) is FORMAT


@pytest.mark.parametrize(
    "line",
    [
        # a function logging the proxy event it was given, and an application's JSON log
        json.dumps({"level": "INFO", "message": "got", "requestId": "r", "httpMethod": "GET"}),
        json.dumps({"resource": "/", "httpMethod": "GET", "requestContext": {"requestId": "r"}}),
        # S3 server access logs also write a CLF time in brackets
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be bucket"
        ' [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /',
    ],
)
def test_lines_that_only_look_alike_are_not_claimed(line: str) -> None:
    assert not FORMAT.matches_content(line)


@pytest.mark.parametrize(("name", "first"), REAL_FIRST_LINES, ids=[n for n, _ in REAL_FIRST_LINES])
def test_no_other_formats_real_first_line_is_taken(name: str, first: str) -> None:
    assert not FORMAT.matches_content(first)
