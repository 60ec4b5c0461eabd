"""ALB connection logs: every real file, peers' expected outputs, the seed's failed TLS
negotiations, the format's traps, and properties over arbitrary and mutated lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.formats import FORMATS, format_for_content, format_for_key
from logferry.formats.alb_connection import FORMAT
from logferry.model import Document, ObjectRef, ParseContext, ParseError, Rejection
from tests.conftest import REALWORLD, SHARED, examples
from tests.unit.test_format_alb import check_outcome, get, mutate, replace

CONN_DIR = REALWORLD / "alb-connection"
CONN_FILES = sorted(CONN_DIR.glob("*.log"))
REAL_LINES = [line for path in CONN_FILES for line in path.read_text().splitlines() if line.strip()]

# A 15-field (2026) line written for these tests; fields are replaced one trap at a time.
BASE = (
    "2026-09-23T07:11:27.691358Z 49.36.71.40 64326 443 TLSv1.3 TLS_AES_128_GCM_SHA256 0.337 "
    '"CN=client one, O=Example, Inc., L=Seattle, C=US" '
    "NotBefore=2025-01-01T00:00:00Z;NotAfter=2027-01-01T00:00:00Z 0A1B2C3D Success "
    "TID_9f39d9aa6a47774d97089313f949866b X25519MLKEM768 app/my-alb/98e3a879de9d6b42 3.228.177.57"
)


def seed_lines() -> list[str]:
    """The connection-log lines of the seed write-up (a failed TLS 1.0 negotiation after a
    TLS 1.2+ policy, then a success). Its author masked the last octet as "xxx": restored to
    a number so that the lines are valid as logged."""
    text = (SHARED / "seeds" / "002_9f895c65ec24b134.txt").read_text()
    lines = re.findall(r"^\d{4}-\d\d-\d\dT\S+Z \S+ \d+ \d+ .*$", text, re.MULTILINE)
    return [re.sub(r"\.x{2,3}\b", ".7", line) for line in lines]


SEED_LINES = seed_lines()


@pytest.mark.parametrize("path", CONN_FILES, ids=lambda p: p.name)
def test_every_real_connection_line_becomes_a_document(path: Path) -> None:
    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line]
    out = list(FORMAT.parse(lines, ParseContext(ObjectRef("", str(path)))))
    assert [(r.position, r.reason) for r in out if isinstance(r, Rejection)] == []
    assert [d.position for d in out if isinstance(d, Document)] == [n for n, _ in lines]
    for doc in out:
        assert isinstance(doc, Document)
        assert doc.source["event"]["dataset"] == "aws.alb-connection"
        assert doc.source["destination"]["port"] in (80, 443)


def test_the_seeds_failed_negotiations_are_failures_with_their_error_code() -> None:
    assert len(SEED_LINES) == 8
    docs = [FORMAT.parse_line(line) for line in SEED_LINES]
    failed = [d for d in docs if get(d, "event.outcome") == "failure"]
    assert len(failed) == 7
    for doc in failed:
        assert doc["aws"]["elb"]["tls_verify_status"] == "Failed:UnmappedConnectionError"
        assert doc["aws"]["elb"]["tls_verify_error_code"] == "UnmappedConnectionError"
        assert "tls_handshake_latency_s" not in doc["aws"]["elb"]
    (ok,) = [d for d in docs if get(d, "event.outcome") == "success"]
    assert ok["tls"] == {"version_protocol": "tls", "version": "1.3", "cipher": ok["tls"]["cipher"]}
    assert ok["aws"]["elb"]["tls_handshake_latency_s"] == 0.057


# -- peers -------------------------------------------------------------------------------------


def test_connection_logs_agree_with_elastic_except_where_it_splits_or_keeps_literals() -> None:
    peer = json.loads((CONN_DIR / "elastic-test-alb-alb-connection.expected.json").read_text())
    lines = (CONN_DIR / "elastic-test-alb-alb-connection.log").read_text().splitlines()
    for line, exp in zip(lines, peer["expected"], strict=True):
        doc = FORMAT.parse_line(line)
        elb, their = doc["aws"]["elb"], exp["aws"]["elb"]
        assert doc["@timestamp"][:23] + "Z" == exp["@timestamp"]  # Elastic keeps milliseconds
        # Elastic writes the client as client.*; ECS source.* is the initiator here too.
        assert doc["source"] == exp["client"]
        assert doc["destination"]["port"] == int(their["listener"])
        assert doc.get("tls") == exp.get("tls")
        assert elb.get("tls_handshake_latency_s") == their.get("tls_handshake_latency")
        assert elb.get("leaf_client_cert_serial_number") == their.get(
            "leaf_client_cert_serial_number"
        )
        for edge in ("not_before", "not_after"):  # Elastic adds ".000" milliseconds
            theirs = their.get(f"leaf_client_cert_{edge}")
            mine = elb.get(f"leaf_client_cert_{edge}")
            assert mine == (theirs.replace(".000Z", "Z") if theirs else None)
        # Deliberate: Elastic keeps the subject "-" literally; we drop null markers.
        subject = their.get("leaf_client_cert_subject")
        assert elb.get("leaf_client_cert_subject") == (None if subject == "-" else subject)
        # Deliberate: Elastic splits "Failed:ClientCertUntrusted" into status "Failed" and
        # tls_error_code; we keep the status as logged (what analysts search for) and the
        # code alone in tls_verify_error_code, and add event.outcome.
        status = their.get("tls_verify_status")
        if status == "Failed":
            assert elb["tls_verify_status"] == f"Failed:{their['tls_error_code']}"
            assert elb["tls_verify_error_code"] == their["tls_error_code"]
            assert doc["event"]["outcome"] == "failure"
        else:
            assert elb.get("tls_verify_status") == status
    # Deliberate: Elastic does not read conn_trace_id (its note says so); we do.
    assert FORMAT.parse_line(lines[2])["aws"]["elb"]["conn_trace_id"] == "TID_16132ed0b4112148"


GO_KEYS = {
    "ClientIP": "source.ip",
    "ClientPort": "source.port",
    "Listener": "destination.port",
    "SSLProtocol": "aws.elb.ssl_protocol_as_logged",
    "SSLCipher": "tls.cipher",
    "TLSVerifyStatus": "aws.elb.tls_verify_status",
    "ConnTraceID": "aws.elb.conn_trace_id",
    "TLSKeyExchange": "aws.elb.tls_keyexchange",
    "LB": "aws.elb.name",
    "ClientCertSubject": "aws.elb.leaf_client_cert_subject",
    "TLSHandshakeTime": "aws.elb.tls_handshake_latency_s",
}
PROTOCOL_NAMES = {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}


def test_connection_logs_agree_with_the_go_peer_on_shared_fields() -> None:
    peer = json.loads((CONN_DIR / "unknown-elblog-2026-15fields.expected.json").read_text())
    for entry in peer["entries"]:
        doc = FORMAT.parse_line(entry["raw"])
        version = get(doc, "tls.version")
        doc["aws"]["elb"]["ssl_protocol_as_logged"] = PROTOCOL_NAMES.get(version or "")
        for key, value in entry["expected"].items():
            if key == "HandshakeFailed":
                # Deliberate: the Go peer infers a failed handshake from a TLS listener port
                # without a protocol; event.outcome here says only what the line states (the
                # verify status, "-" on these lines), so it is absent.
                assert "outcome" not in doc["event"]
                continue
            # The peer writes "" for absent and -1 for an unmeasured handshake: absent here.
            expected = None if value in ("", -1) else value
            if key in ("ClientPort", "Listener"):
                expected = int(value)
            assert get(doc, GO_KEYS[key]) == expected, key


# -- traps ------------------------------------------------------------------------------------


def test_a_15_field_line_reads_every_known_field() -> None:
    doc = FORMAT.parse_line(BASE)
    assert doc["source"] == {"ip": "49.36.71.40", "port": 64326}
    assert doc["destination"] == {"port": 443}
    assert doc["tls"] == {
        "version_protocol": "tls",
        "version": "1.3",
        "cipher": "TLS_AES_128_GCM_SHA256",
    }
    assert doc["event"]["outcome"] == "success"
    assert doc["aws"]["elb"] == {
        "tls_handshake_latency_s": 0.337,
        "leaf_client_cert_subject": "CN=client one, O=Example, Inc., L=Seattle, C=US",
        "leaf_client_cert_not_before": "2025-01-01T00:00:00Z",
        "leaf_client_cert_not_after": "2027-01-01T00:00:00Z",
        "leaf_client_cert_serial_number": "0A1B2C3D",
        "tls_verify_status": "Success",
        "conn_trace_id": "TID_9f39d9aa6a47774d97089313f949866b",
        "tls_keyexchange": "X25519MLKEM768",
        "name": "app/my-alb/98e3a879de9d6b42",
        "node_ip": "3.228.177.57",
    }


def test_an_11_field_line_of_2023_ends_at_the_verify_status() -> None:
    line = BASE[: BASE.index(" TID_")]
    doc = FORMAT.parse_line(line)
    assert doc["aws"]["elb"]["tls_verify_status"] == "Success"
    assert not {"conn_trace_id", "tls_keyexchange", "name", "node_ip"} & doc["aws"]["elb"].keys()


def test_fewer_than_11_fields_is_rejected_with_the_count() -> None:
    with pytest.raises(ParseError, match="expected at least 11 fields, got 10"):
        FORMAT.parse_line(BASE[: BASE.index(" Success")])


def test_fields_after_the_node_ip_are_kept_never_rejected() -> None:
    doc = FORMAT.parse_line(BASE + ' "x y" z')
    assert doc["aws"]["elb"]["unparsed_tail"] == ["x y", "z"]
    assert doc["aws"]["elb"]["node_ip"] == "3.228.177.57"


def test_a_failed_verify_status_is_a_failure_with_a_separate_error_code() -> None:
    doc = FORMAT.parse_line(replace(BASE, " Success ", " Failed:ClientCertRevoked "))
    assert doc["event"]["outcome"] == "failure"
    assert doc["aws"]["elb"]["tls_verify_status"] == "Failed:ClientCertRevoked"
    assert doc["aws"]["elb"]["tls_verify_error_code"] == "ClientCertRevoked"


def test_a_dash_verify_status_leaves_outcome_absent() -> None:
    doc = FORMAT.parse_line(replace(BASE, " Success ", " - "))
    assert "outcome" not in doc["event"]
    assert "tls_verify_status" not in doc["aws"]["elb"]


def test_a_plain_http_connection_has_no_tls_fields() -> None:
    line = replace(BASE, " 443 TLSv1.3 TLS_AES_128_GCM_SHA256 0.337 ", " 80 - - - ")
    doc = FORMAT.parse_line(line)
    assert "tls" not in doc
    assert "tls_handshake_latency_s" not in doc["aws"]["elb"]


def test_an_ipv6_client_is_a_bare_address() -> None:
    doc = FORMAT.parse_line(replace(BASE, " 49.36.71.40 64326 ", " 2001:db8::7 64326 "))
    assert doc["source"] == {"ip": "2001:db8::7", "port": 64326}


def test_a_validity_of_another_shape_is_kept_as_logged() -> None:
    odd = "NotBefore=2025-01-01;NotAfter=2027-01-01"
    doc = FORMAT.parse_line(
        replace(BASE, "NotBefore=2025-01-01T00:00:00Z;NotAfter=2027-01-01T00:00:00Z", odd)
    )
    assert doc["aws"]["elb"]["leaf_client_cert_validity"] == odd
    assert "leaf_client_cert_not_before" not in doc["aws"]["elb"]


def test_a_node_ip_field_that_is_not_an_ip_is_kept_with_the_unknown_fields() -> None:
    doc = FORMAT.parse_line(replace(BASE, " 3.228.177.57", " node-a"))
    assert "node_ip" not in doc["aws"]["elb"]
    assert doc["aws"]["elb"]["unparsed_tail"] == ["node-a"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (" 64326 ", " port ", "client_port: expected a port number"),
        (" 443 ", " 70000 ", "listener_port: expected a port number"),
        (" 0.337 ", " slow ", "tls_handshake_latency: expected a number"),
        ("2026-09-23T07:11:27.691358Z", "2026-09-23 07:11:27", "time: expected"),
        (" 49.36.71.40 ", " - ", "client_ip: missing"),
    ],
)
def test_malformed_fields_are_rejected_naming_the_field(old: str, new: str, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        FORMAT.parse_line(replace(BASE, old, new))


# -- detection --------------------------------------------------------------------------------

KEY = (
    "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/09/23/"
    "conn_log.123456789012_elasticloadbalancing_us-east-1_app.my-alb.98e3a879de9d6b42_"
    "20260923T0720Z_3.228.177.57_2kfa7c9x.log.gz"
)


@pytest.mark.parametrize("key", [KEY, KEY.replace("/conn_log.", "/conn_log_")])
def test_connection_log_keys_with_dot_or_underscore_select_the_format(key: str) -> None:
    assert format_for_key(key) is FORMAT


def test_an_access_log_key_is_not_a_connection_log() -> None:
    assert not FORMAT.matches_key(KEY.replace("/conn_log.", "/"))


def test_first_lines_of_connection_files_are_recognised_and_no_other_file_is_claimed() -> None:
    for path in sorted(REALWORLD.glob("*/*.log")):
        lines = path.read_text(errors="replace").splitlines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            continue
        claimed = FORMAT.matches_content(first)
        assert claimed == (path.parent.name == "alb-connection"), path
        if claimed:
            assert format_for_content(first) is FORMAT


def test_only_alb_connection_claims_a_connection_line_among_all_formats() -> None:
    claimed = [f.name for f in FORMATS.values() if f.matches_content(BASE)]
    assert claimed == ["alb-connection"]


# -- properties -------------------------------------------------------------------------------


@given(st.text(max_size=300))
def test_arbitrary_text_is_a_document_or_a_parse_error(text: str) -> None:
    check_outcome(text, FORMAT)


@settings(max_examples=examples(300))
@given(st.sampled_from([*REAL_LINES, BASE]), st.data())
def test_mutated_real_lines_are_a_document_or_a_parse_error(line: str, data: st.DataObject) -> None:
    check_outcome(mutate(line, data), FORMAT)


@settings(max_examples=examples(100))
@given(st.lists(st.one_of(st.sampled_from(REAL_LINES), st.text(max_size=80)), max_size=12))
def test_parse_yields_exactly_one_result_per_line_in_order(lines: list[str]) -> None:
    numbered = list(enumerate(lines, 1))
    out = list(FORMAT.parse(numbered, ParseContext(ObjectRef("", "x"))))
    assert [item.position for item in out] == [n for n, _ in numbered]
    for item in out:
        if isinstance(item, Rejection):
            assert item.reason and not item.reason.startswith("parser error")
