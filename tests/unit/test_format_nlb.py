"""NLB TLS access logs: every field, both versions, nulls, IPv6, extras, real lines."""

from __future__ import annotations

import json

import pytest

from logferry.formats import format_for_content, format_for_key
from logferry.formats.elb import host_port
from logferry.formats.nlb import FORMAT as NLB
from logferry.model import ParseError
from tests.conftest import REALWORLD
from tests.support import NLB_KEY

V2 = (
    "tls 2.0 2020-04-01T08:51:42 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd "
    "72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - "
    "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19 - ECDHE-RSA-AES128-SHA tlsv12 "
    'x25519 my-nlb.example.com h2 h2 "h2","http/1.1" 2020-04-01T08:51:20'
)
V1 = (
    "tls 1.0 2018-12-20T02:59:40 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd "
    "89.160.20.112:51341 172.100.100.185:443 5 2 98 246 - "
    "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19 - ECDHE-RSA-AES128-SHA tlsv12 - "
    "my-nlb.example.com"
)
# A connection that never completed a handshake: a scanner, most often.
NO_HANDSHAKE = (
    "tls 2.0 2024-10-25T17:33:59 net/mail-nlb/c88927aafc9abafe 52878890095341b5 "
    "192.168.131.39:2817 10.0.0.1:80 0 - 0 0 - - - - - - - - - - 2024-10-25T17:33:59"
)


def test_v2_line_maps_every_field_to_ecs_and_aws_elb() -> None:
    doc = NLB.parse_line(V2)
    assert doc["@timestamp"] == "2020-04-01T08:51:42Z"
    assert doc["source"] == {"ip": "72.21.218.154", "port": 51341}
    assert doc["destination"] == {"ip": "172.100.100.185", "port": 443}
    assert doc["tls"] == {
        "version": "1.2",
        "version_protocol": "tls",
        "established": True,
        "cipher": "ECDHE-RSA-AES128-SHA",
        "client": {"server_name": "my-nlb.example.com"},
    }
    assert doc["event"]["dataset"] == "aws.nlb"
    elb = doc["aws"]["elb"]
    assert elb["name"] == "net/my-nlb/c6e77e28c25b2234"
    assert elb["listener"] == "g3d4b5e8bb8464cd"
    assert elb["connection_time_ms"] == 5
    assert elb["tls_handshake_time_ms"] == 2
    assert (elb["received_bytes"], elb["sent_bytes"]) == (98, 246)
    assert elb["chosen_cert_arn"].endswith("certificate/2a108f19")
    assert elb["tls_keyexchange"] == "x25519"
    assert elb["alpn_fe_protocol"] == elb["alpn_be_protocol"] == "h2"
    assert elb["alpn_client_preference_list"] == ["h2", "http/1.1"]
    assert elb["tls_connection_creation_time"] == "2020-04-01T08:51:20Z"
    assert "incoming_tls_alert" not in elb and "chosen_cert_serial" not in elb


def test_v1_line_with_18_fields_parses_without_alpn_fields() -> None:
    doc = NLB.parse_line(V1)
    assert doc["aws"]["elb"]["log_version"] == "1.0"
    assert doc["tls"]["client"]["server_name"] == "my-nlb.example.com"
    assert not any(key.startswith("alpn") for key in doc["aws"]["elb"])


def test_failed_handshake_has_no_tls_version_and_is_not_established() -> None:
    doc = NLB.parse_line(NO_HANDSHAKE)
    assert doc["tls"] == {"version_protocol": "tls", "established": False}
    assert "tls_handshake_time_ms" not in doc["aws"]["elb"]
    assert doc["aws"]["elb"]["connection_time_ms"] == 0


def test_dash_means_absent_never_null_or_dash() -> None:
    doc = NLB.parse_line(NO_HANDSHAKE)
    text = json.dumps(doc)
    assert '"-"' not in text and "null" not in text


def test_incoming_tls_alert_is_an_integer() -> None:
    line = V2.replace(" 98 246 - ", " 98 246 40 ")
    assert NLB.parse_line(line)["aws"]["elb"]["incoming_tls_alert"] == 40


def test_ipv6_client_is_split_on_the_last_colon() -> None:
    line = V2.replace("72.21.218.154:51341", "2001:db8::1:51341")
    assert NLB.parse_line(line)["source"] == {"ip": "2001:db8::1", "port": 51341}


def test_extra_trailing_fields_are_kept_not_rejected() -> None:
    doc = NLB.parse_line(V2 + " future-field another")
    assert doc["aws"]["elb"]["unparsed_tail"] == "future-field another"


def test_sni_is_url_decoded() -> None:
    line = V2.replace("my-nlb.example.com", "xn--bcher-kva.example%2Ecom")
    assert NLB.parse_line(line)["tls"]["client"]["server_name"] == "xn--bcher-kva.example.com"


@pytest.mark.parametrize(
    "protocol,version", [("tlsv10", "1.0"), ("tlsv11", "1.1"), ("tlsv13", "1.3")]
)
def test_every_tls_protocol_version_maps_to_ecs(protocol: str, version: str) -> None:
    assert NLB.parse_line(V2.replace("tlsv12", protocol))["tls"]["version"] == version


@pytest.mark.parametrize(
    "line,reason",
    [
        ("tls 2.0 2020-04-01T08:51:42 net/x", "expected at least 18 fields"),
        (V2.replace("72.21.218.154:51341", "72.21.218.154"), "expected ip:port"),
        (V2.replace(" 5 2 98 ", " five 2 98 "), "connection_time: expected an integer"),
        (V2.replace("2020-04-01T08:51:42", "yesterday"), "time: expected"),
        (V2.replace("tlsv12", "sslv3"), "unknown value"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        NLB.parse_line(line)


def test_nlb_is_recognised_by_key_and_by_first_line() -> None:
    assert format_for_key(NLB_KEY) is NLB
    assert format_for_key(NLB_KEY.replace("_net.", "_app.")) is not NLB
    assert format_for_content(V2) is NLB
    assert format_for_content("2023-12-05T14:39:18.169062Z 54.92.36.1 49823 443") is not NLB


def test_every_real_world_nlb_line_parses() -> None:
    lines = [
        line
        for path in sorted((REALWORLD / "nlb").glob("*.log"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert len(lines) == 10
    for line in lines:
        doc = NLB.parse_line(line)
        assert doc["@timestamp"].endswith("Z")
        assert doc["source"]["ip"]


def test_agrees_with_dynatrace_on_the_fields_both_sides_have() -> None:
    peer = json.loads((REALWORLD / "nlb" / "dynatrace-nlb-test.expected.json").read_text())
    for entry in peer["entries"]:
        want = entry["expected_attributes"]
        doc = NLB.parse_line(entry["raw"])
        elb = doc["aws"]["elb"]
        assert doc["@timestamp"] == want["timestamp"] + "Z"
        assert elb["listener"] == want["listener"]
        assert elb["name"] == want["aws.resource.id"]
        assert (doc["source"]["ip"], str(doc["source"]["port"])) == (
            want["client_ip"],
            want["client_port"],
        )
        assert (doc["destination"]["ip"], str(doc["destination"]["port"])) == (
            want["destination_ip"],
            want["destination_port"],
        )
        assert str(elb["connection_time_ms"]) == want["connection_time"]
        assert str(elb["tls_handshake_time_ms"]) == want["tls_handshake_time"]
        assert str(elb["received_bytes"]) == want["received_bytes"]
        assert str(elb["sent_bytes"]) == want["sent_bytes"]
        assert elb["chosen_cert_arn"] == want["chosen_cert_arn"]
        assert doc["tls"]["cipher"] == want["tls_cipher"]
        # Deliberate: we store ECS tls.version ("1.2"), the peer keeps AWS's "tlsv12".
        assert want["tls_protocol_version"] == "tlsv12" and doc["tls"]["version"] == "1.2"
        assert doc["tls"]["client"]["server_name"] == want["domain_name"]


def test_agrees_with_elastic_on_the_fields_both_sides_have() -> None:
    peer = json.loads((REALWORLD / "nlb" / "elastic-test-alb-nlb.expected.json").read_text())
    lines = (REALWORLD / "nlb" / "elastic-test-alb-nlb.log").read_text().splitlines()
    for line, want in zip(lines, peer["expected"], strict=True):
        doc = NLB.parse_line(line)
        # Elastic writes milliseconds; the instant is the same.
        assert doc["@timestamp"].replace("Z", ".000Z") == want["@timestamp"]
        assert doc["source"]["ip"] == want["source"]["ip"]
        assert doc["source"]["port"] == want["source"]["port"]
        elb, peer_elb = doc["aws"]["elb"], want["aws"]["elb"]
        assert elb["name"] == peer_elb["name"]
        assert elb["listener"] == peer_elb["listener"]
        assert elb["connection_time_ms"] == peer_elb["connection_time"]["ms"]
        if "tls_handshake_time" in peer_elb:
            assert elb["tls_handshake_time_ms"] == peer_elb["tls_handshake_time"]["ms"]
        if "tls" in want:
            assert doc["tls"]["version"] == want["tls"]["version"]
            assert doc["tls"]["cipher"] == want["tls"]["cipher"]
        # Deliberate: Elastic calls the listener side "backend" (aws.elb.backend.*) and keeps
        # the ALPN list as one string with inner quotes; we use ECS destination.* and a list.
        assert doc["destination"]["ip"] == peer_elb["backend"]["ip"]


@pytest.mark.parametrize("value", ["10.0.0.1:²", "10.0.0.1:", ":443", "10.0.0.1"])
def test_host_port_rejects_what_is_not_ip_colon_decimal_port(value: str) -> None:
    # "²" passes str.isdigit() but not int(): it must be a ParseError, not a parser crash.
    with pytest.raises(ParseError, match="expected ip:port"):
        host_port(value, strict=False)


def test_host_port_is_strict_only_for_alb_and_clb() -> None:
    # NLB's check, as it always was: the null marker as a host, any decimal port, no field named
    assert host_port("-:70000", strict=False) == ("-", 70000)
    with pytest.raises(ParseError, match=r"^client:port: expected ip:port, got '-:80'$"):
        host_port("-:80", "client:port")
    with pytest.raises(ParseError, match=r"^client:port: port out of range in '1\.2\.3\.4:70000'$"):
        host_port("1.2.3.4:70000", "client:port")
