"""NLB TLS listener access logs (versions 1.0 with 18 fields, 2.0 with 22; extras kept).

tls 2.0 2018-12-20T02:59:40 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd 72.21.218.154:51341
172.100.100.185:443 5 2 98 246 - arn:aws:acm:...:certificate/... - ECDHE-RSA-AES128-SHA tlsv12 -
my-nlb.elb.us-east-2.amazonaws.com h2 h2 "h2","http/1.1" 2018-12-20T02:59:30

Times have no zone: they are UTC. `-` is the null marker, also in numeric fields.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from ..model import ParseError, Source
from .base import (
    DATE,
    INTEGER,
    KEYWORD,
    LONG,
    TLS_VERSIONS,
    LineFormat,
    obj,
    to_int,
)
from .elb import host_port, is_iso_utc

V1_FIELDS = 18
V2_FIELDS = 22
# Numeric fields by position, for the rejection reason.
NUMBERS = (
    (7, "connection_time"),
    (8, "tls_handshake_time"),
    (9, "received_bytes"),
    (10, "sent_bytes"),
    (11, "incoming_tls_alert"),
)


def _timestamp(value: str) -> str:
    # 2018-12-20T02:59:40 -> 2018-12-20T02:59:40Z, checked in full (ASCII digits, ranges, the
    # calendar): a week date (2023-W15-1T...) or a space for the T would name an index of its
    # own. Called on a cache miss only (see _TIMES).
    ts = value + "Z"
    if len(value) != 19 or not is_iso_utc(ts):
        raise ParseError(f"time: expected YYYY-MM-DDTHH:MM:SS (UTC), got {value[:40]!r}")
    return ts


# Times checked lately -> @timestamp: an object's lines share a few hundred seconds, so a
# lookup replaces the call and the checks. Bounded: cleared when full. With the literals and
# the single unpacking in parse_line: 4.1 -> 3.4 us and 46.2k -> 41.1k instructions a line.
_TIMES: dict[str, str] = {}


def _cached_timestamp(value: str) -> str:
    if len(_TIMES) >= 4096:
        _TIMES.clear()
    ts = _TIMES[value] = _timestamp(value)
    return ts


@lru_cache(maxsize=256)
def _alpn_items(value: str) -> tuple[str, ...]:
    # "h2","http/1.1" (URL-encoded, truncated at 256 bytes: a cut-off last item is kept as is).
    # A handful of distinct lists fill whole objects: each is split and decoded once.
    return tuple(unquote(item.strip('"')) for item in value.split(",") if item.strip('"'))


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
        if n != V2_FIELDS:
            f = _to_v2_width(f, n)
        # Fields named once by unpacking, numbers converted inline, the reason worked out only
        # for a bad line: ~10% faster than a helper call per field (7.9 -> 6.9 us a line).
        (
            kind, log_version, time, name, listener, client, dest, connection, handshake,
            received, sent, alert, cert_arn, cert_serial, cipher, protocol, keyexchange, sni,
            fe, be, preferences, created,
        ) = f[:V2_FIELDS] if n > V2_FIELDS else f  # fmt: skip
        client_ip, _, client_port = client.rpartition(":")
        dest_ip, _, dest_port = dest.rpartition(":")
        if not (client_ip and dest_ip and client_port.isdecimal() and dest_port.isdecimal()):
            host_port(client, strict=False)  # raises with the reason
            host_port(dest, strict=False)
        # NLB writes tlsv10 .. tlsv13 (the table's lower-case keys): another spelling, even
        # one the table knows, is not NLB's and is refused.
        version = TLS_VERSIONS.get(protocol) if protocol.startswith("tlsv") else None
        # Dict literals where the keys are known (one instruction builds them) rather than a
        # key stored at a time: the usual line takes the literal of each branch.
        if version is not None:
            tls: Source = {"version_protocol": "tls", "established": True, "version": version}
        elif protocol == "-":
            tls = {"version_protocol": "tls", "established": False}
        else:
            raise ParseError(f"tls_protocol_version: unknown value {protocol[:40]!r}")
        try:
            if connection != "-" and handshake != "-" and received != "-" and sent != "-":
                elb: Source = {
                    "type": kind,
                    "log_version": log_version,
                    "name": name,
                    "listener": listener,
                    "connection_time_ms": int(connection),
                    "tls_handshake_time_ms": int(handshake),
                    "received_bytes": int(received),
                    "sent_bytes": int(sent),
                }
            else:
                elb = {"type": kind, "log_version": log_version, "name": name, "listener": listener}
                if connection != "-":
                    elb["connection_time_ms"] = int(connection)
                if handshake != "-":
                    elb["tls_handshake_time_ms"] = int(handshake)
                if received != "-":
                    elb["received_bytes"] = int(received)
                if sent != "-":
                    elb["sent_bytes"] = int(sent)
            if alert != "-":
                elb["incoming_tls_alert"] = int(alert)
        except ValueError:
            for i, field in NUMBERS:  # which one: the reason names it
                to_int(f[i], field)
            raise
        if cert_arn != "-":
            elb["chosen_cert_arn"] = cert_arn
        if cert_serial != "-":
            elb["chosen_cert_serial"] = cert_serial
        if keyexchange != "-":
            elb["tls_keyexchange"] = keyexchange
        if fe != "-":
            elb["alpn_fe_protocol"] = fe
        if be != "-":
            elb["alpn_be_protocol"] = be
        if preferences != "-":
            elb["alpn_client_preference_list"] = list(_alpn_items(preferences))
        if created != "-":
            elb["tls_connection_creation_time"] = _TIMES.get(created) or _cached_timestamp(created)
        if n > V2_FIELDS:
            elb["unparsed_tail"] = " ".join(f[V2_FIELDS:])
        if cipher != "-":
            tls["cipher"] = cipher
        if sni != "-":
            tls["client"] = {"server_name": unquote(sni) if "%" in sni else sni}
        return {
            "@timestamp": _TIMES.get(time) or _cached_timestamp(time),
            "event": {"dataset": "aws.nlb", "kind": "event"},
            "source": {"ip": client_ip, "port": int(client_port)},
            "destination": {"ip": dest_ip, "port": int(dest_port)},
            "tls": tls,
            "aws": {"elb": elb},
        }


def _to_v2_width(f: list[str], n: int) -> list[str]:
    """A 1.0 line (18 fields), or a 2.0 line cut short, padded with the null marker to the
    22 fields of 2.0; a longer line is kept whole (the extra fields are its unparsed tail)."""
    if n < V1_FIELDS:
        raise ParseError(f"expected at least {V1_FIELDS} fields, got {n}")
    return f + ["-"] * (V2_FIELDS - n) if n < V2_FIELDS else f


FORMAT = NlbFormat()
