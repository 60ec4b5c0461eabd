"""Dashboards saved objects: well formed, self-consistent, naming only mapped fields of suitable
types, rendered per index prefix; and our import client's request, checked against a local
recording HTTP server (a test of our client code, not of Dashboards)."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from logferry.config import Settings
from logferry.formats import index_properties
from logferry.formats.base import TEXT_AND_KEYWORD
from logferry.provisioning import dashboards
from tests import field_checks

# Fields the saved objects name that no format declares yet (empty once every format has
# landed). The contract test prints them; a second test fails once one of them is declared, so
# this list cannot go stale.
PENDING_FIELDS: frozenset[str] = frozenset()

SOURCES = (
    "nlb",
    "alb",
    "alb-connection",
    "clb",
    "vpcflow",
    "cloudfront",
    "s3access",
    "cloudtrail",
    "waf",
    "mail",
)
TYPES = {"index-pattern", "search", "visualization", "dashboard"}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return dashboards.saved_objects()


def by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["type"] == kind]


# -- shape ------------------------------------------------------------------------------


def test_every_object_has_type_id_attributes_and_references(objects: list[dict[str, Any]]) -> None:
    assert len(objects) > 40
    for obj in objects:
        assert obj["type"] in TYPES, obj
        assert isinstance(obj["id"], str) and obj["id"].startswith("logferry-"), obj["id"]
        assert isinstance(obj["attributes"], dict) and obj["attributes"]["title"], obj["id"]
        assert isinstance(obj["references"], list), obj["id"]
        for ref in obj["references"]:
            assert set(ref) == {"name", "type", "id"}, (obj["id"], ref)
        assert obj["type"] in obj["migrationVersion"], obj["id"]


def test_object_ids_are_unique(objects: list[dict[str, Any]]) -> None:
    ids = [obj["id"] for obj in objects]
    assert len(ids) == len(set(ids))


def test_embedded_json_strings_parse(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        attributes = obj["attributes"]
        meta = attributes.get("kibanaSavedObjectMeta")
        if meta:
            assert isinstance(json.loads(meta["searchSourceJSON"]), dict), obj["id"]
        if obj["type"] == "visualization":
            state = json.loads(attributes["visState"])
            assert state["title"] == attributes["title"]
            assert state["type"] in {"table", "pie", "histogram", "tile_map"}, obj["id"]
            assert state["aggs"] and state["aggs"][0]["schema"] == "metric", obj["id"]
        if obj["type"] == "dashboard":
            assert json.loads(attributes["panelsJSON"]), obj["id"]


def test_every_reference_resolves_to_an_object_of_its_type(objects: list[dict[str, Any]]) -> None:
    known = {(obj["type"], obj["id"]) for obj in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, (obj["id"], ref)


def test_reference_names_used_inside_objects_exist_and_every_reference_is_used(
    objects: list[dict[str, Any]],
) -> None:
    for obj in objects:
        names = {ref["name"] for ref in obj["references"]}
        used = set()
        attributes = obj["attributes"]
        meta = attributes.get("kibanaSavedObjectMeta")
        if meta:
            index_ref = json.loads(meta["searchSourceJSON"]).get("indexRefName")
            if index_ref:
                used.add(index_ref)
        if "savedSearchRefName" in attributes:
            used.add(attributes["savedSearchRefName"])
        if obj["type"] == "dashboard":
            used |= {panel["panelRefName"] for panel in json.loads(attributes["panelsJSON"])}
        assert used == names, obj["id"]
        if obj["type"] in ("search", "visualization"):
            assert len(used) == 1, f"{obj['id']}: needs exactly one index pattern or saved search"


# -- what analysts get ------------------------------------------------------------------


def test_one_index_pattern_per_source_and_one_over_all_logs_with_timestamp_time_field(
    objects: list[dict[str, Any]],
) -> None:
    patterns = {obj["id"]: obj["attributes"] for obj in by_type(objects, "index-pattern")}
    assert set(patterns) == {f"logferry-ip-{s}" for s in (*SOURCES, "all")}
    assert patterns["logferry-ip-all"]["title"] == "logs-*"
    for source in SOURCES:
        title = patterns[f"logferry-ip-{source}"]["title"]
        assert title.split(",")[0] == f"logs-{source}-*"
    assert all(p["timeFieldName"] == "@timestamp" for p in patterns.values())


def test_alb_index_pattern_excludes_the_connection_log_indices(
    objects: list[dict[str, Any]],
) -> None:
    # logs-alb-* alone also matches logs-alb-connection-*.
    (alb,) = [obj for obj in objects if obj["id"] == "logferry-ip-alb"]
    assert alb["attributes"]["title"] == "logs-alb-*,-logs-alb-connection-*"


def test_saved_searches_are_lucene_query_strings_sorted_by_time(
    objects: list[dict[str, Any]],
) -> None:
    searches = by_type(objects, "search")
    assert {obj["id"] for obj in searches} >= {
        "logferry-search-nlb-connections",
        "logferry-search-nlb-handshake-failures",
        "logferry-search-nlb-deprecated-tls",
        "logferry-search-alb-connection-failures",
        "logferry-search-mail-transactions",
        "logferry-search-vpc-admin-port-rejects",
        "logferry-search-alb-5xx",
    }
    for obj in searches:
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        assert source["query"]["language"] == "lucene", obj["id"]
        assert source["query"]["query"].strip(), obj["id"]
        assert source["filter"] == [], obj["id"]  # everything is in the query string
        assert obj["attributes"]["sort"] == [["@timestamp", "desc"]]
        assert obj["attributes"]["columns"], obj["id"]


def test_one_dashboard_per_source_family_and_every_visualization_is_on_one(
    objects: list[dict[str, Any]],
) -> None:
    boards = {obj["attributes"]["title"]: obj for obj in by_type(objects, "dashboard")}
    assert set(boards) == {
        "TLS posture",
        "Load balancers: traffic and errors",
        "VPC traffic",
        "Mail flow",
    }
    on_boards = {ref["id"] for board in boards.values() for ref in board["references"]}
    orphans = {obj["id"] for obj in by_type(objects, "visualization")} - on_boards
    assert not orphans
    for board in boards.values():
        panels = json.loads(board["attributes"]["panelsJSON"])
        assert len(panels) >= 5
        cells = {(p["gridData"]["x"], p["gridData"]["y"]) for p in panels}
        assert len(cells) == len(panels), "panels overlap"


# -- fields against the index mapping ---------------------------------------------------


def test_every_field_an_object_names_is_mapped_with_a_type_that_supports_its_use(
    objects: list[dict[str, Any]],
) -> None:
    uses = field_checks.field_uses(objects)
    assert len(uses) > 100
    problems, missing = field_checks.check_fields(uses, index_properties())
    assert not problems
    unexpected = sorted({f"{u.where}: {u.field}" for u in missing if u.field not in PENDING_FIELDS})
    assert not unexpected, f"fields no format declares: {unexpected}"
    pending = sorted({u.field for u in missing})
    if pending:
        print(f"pending fields (not declared by any format yet): {pending}")


def test_pending_fields_are_really_missing_and_really_used(objects: list[dict[str, Any]]) -> None:
    properties = index_properties()
    declared = sorted(f for f in PENDING_FIELDS if field_checks.field_mapping(properties, f))
    assert not declared, f"declared now: remove from PENDING_FIELDS: {declared}"
    used = {use.field for use in field_checks.field_uses(objects)}
    assert used >= PENDING_FIELDS, f"not used any more: {sorted(PENDING_FIELDS - used)}"


def test_field_checks_catch_text_aggregations_unindexed_fields_and_nested_paths() -> None:
    properties = {
        "url": {"properties": {"original": TEXT_AND_KEYWORD}},
        "event": {"properties": {"original": {"type": "text", "index": False}}},
        "mail": {
            "properties": {
                "recipients": {"type": "nested", "properties": {"status": {"type": "keyword"}}}
            }
        },
    }
    uses = [
        field_checks.FieldUse("a", "url.original", "terms"),
        field_checks.FieldUse("b", "url.original.keyword", "terms"),
        field_checks.FieldUse("c", "event.original", "query"),
        field_checks.FieldUse("d", "mail.recipients.status", "terms"),
        field_checks.FieldUse("e", "no.such.field", "column"),
    ]
    problems, missing = field_checks.check_fields(uses, properties)
    assert problems == [
        "a: url.original is text, cannot be used for terms",
        "c: event.original is not indexed, cannot be used for query",
        "d: mail.recipients.status is nested:keyword, cannot be used for terms",
    ]
    assert [u.where for u in missing] == ["e"]


def test_query_string_fields_reads_field_clauses_and_ignores_quoted_values() -> None:
    query = 'tls.version:("1.0" OR "1.1") AND NOT event.outcome:failure AND x:"a:b"'
    assert field_checks.query_string_fields(query) == ["tls.version", "event.outcome", "x"]
    assert field_checks.query_string_fields("*") == []


# -- other prefixes ---------------------------------------------------------------------


def test_objects_for_another_prefix_rename_ids_titles_and_patterns_consistently() -> None:
    base = {obj["id"]: obj for obj in dashboards.saved_objects()}
    other = dashboards.saved_objects("acme")
    assert len(other) == len(base)
    known = {(obj["type"], obj["id"]) for obj in other}
    for obj in other:
        original = base[obj["id"].removeprefix("acme-")]
        assert obj["id"] == f"acme-{original['id']}"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known
        if obj["type"] == "index-pattern":
            assert "logs-" not in obj["attributes"]["title"]
        else:
            assert obj["attributes"]["title"] == f"{original['attributes']['title']} [acme]"
    titles = {o["id"]: o["attributes"]["title"] for o in other if o["type"] == "index-pattern"}
    assert titles["acme-logferry-ip-alb"] == "acme-alb-*,-acme-alb-connection-*"


# -- import client, against a local recording server ------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Records each request; answers like the saved-objects import API."""

    requests: list[dict[str, Any]]
    answer: tuple[int, dict[str, Any]] | None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        status, answer = self.server.answer or (  # type: ignore[attr-defined]
            200,
            {"success": True, "successCount": body.count(b'{"type":')},
        )
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture
def recording_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    server.requests = []  # type: ignore[attr-defined]
    server.answer = None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server: HTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/_dashboards"


def parse_multipart(content_type: str, body: bytes) -> list[Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return list(message.iter_parts())


def test_import_posts_one_multipart_ndjson_file_with_the_xsrf_header(
    recording_server: HTTPServer, objects: list[dict[str, Any]]
) -> None:
    count = dashboards.import_objects(url_of(recording_server), objects)
    (request,) = recording_server.requests  # type: ignore[attr-defined]
    assert request["path"] == "/_dashboards/api/saved_objects/_import?overwrite=true"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["osd-xsrf"] == "true"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    (part,) = parse_multipart(headers["content-type"], request["body"])
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename().endswith(".ndjson")
    lines = part.get_payload(decode=True).decode().splitlines()
    assert [json.loads(line) for line in lines] == objects
    assert count == len(objects)


def test_import_raises_with_the_errors_dashboards_reports(
    recording_server: HTTPServer, objects: list[dict[str, Any]]
) -> None:
    recording_server.answer = (  # type: ignore[attr-defined]
        200,
        {
            "success": False,
            "successCount": 1,
            "errors": [{"id": "x", "type": "search", "error": {"type": "missing_references"}}],
        },
    )
    with pytest.raises(dashboards.DashboardsError, match="search/x: missing_references"):
        dashboards.import_objects(url_of(recording_server), objects)


def test_import_raises_on_an_http_error_with_its_status(
    recording_server: HTTPServer, objects: list[dict[str, Any]]
) -> None:
    recording_server.answer = (403, {"message": "no permissions"})  # type: ignore[attr-defined]
    with pytest.raises(dashboards.DashboardsError, match=r"HTTP 403.*no permissions"):
        dashboards.import_objects(url_of(recording_server), objects)


def test_import_request_is_sigv4_signed_for_service_es_on_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Signing is local computation: credentials from the environment, no AWS call.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIDLOGFERRYTEST",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    request = dashboards.import_request(
        "https://search-logs-abc.us-east-1.es.amazonaws.com/_dashboards",
        [{"type": "index-pattern", "id": "x", "attributes": {"title": "logs-*"}}],
        boundary="b0undary",
    )
    headers = {k.lower(): v for k, v in request.header_items()}
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDLOGFERRYTEST/")
    assert "/eu-west-1/es/aws4_request" in auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "osd-xsrf", "content-type", "x-amz-date"} <= set(signed)
    assert headers["x-amz-security-token"] == "token"
    assert headers["content-type"] == "multipart/form-data; boundary=b0undary"
    assert request.full_url.endswith("/_dashboards/api/saved_objects/_import?overwrite=true")


def test_import_request_is_not_signed_for_a_plain_local_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOGFERRY_SIGV4", raising=False)
    request = dashboards.import_request("http://127.0.0.1:5601", [])
    assert "Authorization" not in dict(request.header_items())


def test_apply_notes_a_missing_url_and_imports_when_one_is_set(
    recording_server: HTTPServer,
) -> None:
    (note,) = dashboards.apply(Settings())
    assert note.startswith("LOGFERRY_DASHBOARDS_URL not set:")
    (line,) = dashboards.apply(
        Settings(index_prefix="acme", dashboards_url=url_of(recording_server))
    )
    assert line.startswith(f"Dashboards: {len(dashboards.saved_objects())} saved objects imported")
    (request,) = recording_server.requests  # type: ignore[attr-defined]
    assert b'"title":"acme-nlb-*"' in request["body"]


def test_apply_notes_an_unreachable_dashboards_instead_of_failing() -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    port = server.server_address[1]
    server.server_close()  # nothing listens on that port any more
    (note,) = dashboards.apply(Settings(dashboards_url=f"http://127.0.0.1:{port}"))
    assert note.startswith(f"Dashboards not reachable at http://127.0.0.1:{port}")
