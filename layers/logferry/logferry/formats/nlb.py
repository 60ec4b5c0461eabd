"""NLB TLS listener access logs (versions 1.0 with 18 fields, 2.0 with 22; extras kept).

tls 2.0 2018-12-20T02:59:40 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341
172.100.100.185:443 5 2 98 246 - arn:aws:acm:...:certificate/... - ECDHE-RSA-AES128-SHA tlsv12 -
my-nlb.elb.us-east-2.amazonaws.com h2 h2 "h2","http/1.1" 2018-12-20T02:59:30

Times have no zone: they are UTC. `-` is the null marker, also in numeric fields.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ..model import ParseError, Source
from .base import (
    DATE,
    INTEGER,
    KEYWORD,
    LONG,
    LineFormat,
    obj,
    split_host_port,
    to_int,
)

V1_FIELDS = 18
V2_FIELDS = 22
# tlsv10 .. tlsv13 -> ECS tls.version
TLS_VERSIONS = {"tlsv10": "1.0", "tlsv11": "1.1", "tlsv12": "1.2", "tlsv13": "1.3"}


def _timestamp(value: str) -> str:
    # 2018-12-20T02:59:40 -> 2018-12-20T02:59:40Z; a cheap shape check instead of a full parse.
    if len(value) != 19 or value[4] != "-" or value[10] != "T" or value[13] != ":":
        raise ParseError(f"time: expected YYYY-MM-DDTHH:MM:SS, got {value[:40]!r}")
    return value + "Z"


def _alpn_list(value: str) -> list[str]:
    # "h2","http/1.1" (URL-encoded, truncated at 256 bytes: a cut-off last item is kept as is)
    return [unquote(item.strip('"')) for item in value.split(",") if item.strip('"')]


class NlbFormat(LineFormat):
    name = "nlb"
    index_source = "nlb"
    # .../elasticloadbalancing/<region>/YYYY/MM/DD/<acct>_elasticloadbalancing_<region>_net.<lb>...
    key_pattern = re.compile(r"_elasticloadbalancing_[^_/]+_net\.[^/]*$")
    mapping = {
        "aws": obj(
            elb=obj(
                type=KEYWORD,
                log_version=KEYWORD,
                name=KEYWORD,
                listener=KEYWORD,
                connection_time_ms=LONG,
                tls_handshake_time_ms=LONG,
                received_bytes=LONG,
                sent_bytes=LONG,
                incoming_tls_alert=INTEGER,
                chosen_cert_arn=KEYWORD,
                chosen_cert_serial=KEYWORD,
                tls_keyexchange=KEYWORD,
                alpn_fe_protocol=KEYWORD,
                alpn_be_protocol=KEYWORD,
                alpn_client_preference_list=KEYWORD,
                tls_connection_creation_time=DATE,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        fields = first_line.split(" ", 3)
        return len(fields) == 4 and fields[0] == "tls" and fields[1] in ("1.0", "2.0")

    def parse_line(self, line: str) -> Source:
        f = line.split(" ")
        n = len(f)
        if n < V1_FIELDS:
            raise ParseError(f"expected at least {V1_FIELDS} fields, got {n}")
        client_ip, client_port = split_host_port(f[5])
        dest_ip, dest_port = split_host_port(f[6])
        protocol = f[15]
        version = TLS_VERSIONS.get(protocol)
        cipher = f[14]
        sni = f[17]
        elb: Source = {
            "type": f[0],
            "log_version": f[1],
            "name": f[3],
            "listener": f[4],
            "connection_time_ms": to_int(f[7], "connection_time"),
            "received_bytes": to_int(f[9], "received_bytes"),
            "sent_bytes": to_int(f[10], "sent_bytes"),
        }
        handshake = f[8]
        if handshake != "-":
            elb["tls_handshake_time_ms"] = to_int(handshake, "tls_handshake_time")
        if f[11] != "-":
            elb["incoming_tls_alert"] = to_int(f[11], "incoming_tls_alert")
        if f[12] != "-":
            elb["chosen_cert_arn"] = f[12]
        if f[13] != "-":
            elb["chosen_cert_serial"] = f[13]
        if f[16] != "-":
            elb["tls_keyexchange"] = f[16]
        if n > 18:
            if f[18] != "-":
                elb["alpn_fe_protocol"] = f[18]
            if n > 19 and f[19] != "-":
                elb["alpn_be_protocol"] = f[19]
            if n > 20 and f[20] != "-":
                elb["alpn_client_preference_list"] = _alpn_list(f[20])
            if n > 21 and f[21] != "-":
                elb["tls_connection_creation_time"] = _timestamp(f[21])
            if n > V2_FIELDS:
                elb["unparsed_tail"] = " ".join(f[V2_FIELDS:])
        tls: Source = {"version_protocol": "tls", "established": version is not None}
        if version is not None:
            tls["version"] = version
        elif protocol != "-":
            raise ParseError(f"tls_protocol_version: unknown value {protocol[:40]!r}")
        if cipher != "-":
            tls["cipher"] = cipher
        if sni != "-":
            tls["client"] = {"server_name": unquote(sni) if "%" in sni else sni}
        return {
            "@timestamp": _timestamp(f[2]),
            "event": {"dataset": "aws.nlb", "kind": "event"},
            "source": {"ip": client_ip, "port": client_port},
            "destination": {"ip": dest_ip, "port": dest_port},
            "tls": tls,
            "aws": {"elb": elb},
        }


FORMAT = NlbFormat()
