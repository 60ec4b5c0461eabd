"""ALB connection logs: one line per connection attempt, 11 fields (2023) to 15 (2026).

2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036
"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US"
NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success
TID_9f39d9aa6a47774d97089313f949866b secp256r1 app/my-alb/98e3a879de9d6b42 3.228.177.57

Unlike access logs, the client IP and port are two fields. The certificate subject is quoted
(it holds commas and spaces). tls_verify_status is `Success`, `Failed:<error code>` or `-`.
"""

from __future__ import annotations

import re

from ..model import ParseError, Source
from .base import DATE, FLOAT, IP, KEYWORD, LineFormat, obj
from .elb import is_iso_utc, iso_utc, looks_like_ip, port, tls_into, tokenize

MIN_FIELDS = 11  # 2023 lines end at tls_verify_status
KNOWN_FIELDS = 15
_VALIDITY = re.compile(
    r"NotBefore=([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z);NotAfter=([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z)"
)


class AlbConnectionFormat(LineFormat):
    name = "alb-connection"
    index_source = "alb-connection"
    # .../DD/conn_log.<acct>_elasticloadbalancing_<region>_app.<lb>.<id>_<end>_<node-ip>_<rand>
    # .log.gz (AWS docs); "conn_log_" is also seen in the wild.
    key_pattern = re.compile(
        r"(?:^|/)conn_log[._][0-9]{12}_elasticloadbalancing_[^_/]+_app\.[^/]+$"
    )
    mapping = {
        "aws": obj(
            elb=obj(
                name=KEYWORD,
                ssl_protocol=KEYWORD,
                tls_handshake_latency_s=FLOAT,
                leaf_client_cert_subject=KEYWORD,
                leaf_client_cert_not_before=DATE,
                leaf_client_cert_not_after=DATE,
                leaf_client_cert_validity=KEYWORD,
                leaf_client_cert_serial_number=KEYWORD,
                tls_verify_status=KEYWORD,
                tls_verify_error_code=KEYWORD,
                conn_trace_id=KEYWORD,
                tls_keyexchange=KEYWORD,
                node_ip=IP,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        fields = first_line.split(" ", 4)
        return (
            len(fields) == 5
            and is_iso_utc(fields[0])
            and looks_like_ip(fields[1])
            and fields[2].isdecimal()
            and fields[3].isdecimal()
        )

    def parse_line(self, line: str) -> Source:
        t = tokenize(line)
        n = len(t)
        if n < MIN_FIELDS:
            raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
        timestamp = iso_utc(t[0], "time")
        client_ip = t[1]
        if client_ip == "-":
            raise ParseError("client_ip: missing")
        elb: Source = {}
        latency = t[6]
        if latency not in ("-", "-1"):
            try:
                elb["tls_handshake_latency_s"] = float(latency)
            except ValueError:
                raise ParseError(
                    f"tls_handshake_latency: expected a number, got {latency[:40]!r}"
                ) from None
        doc: Source = {
            "@timestamp": timestamp,
            "event": {"dataset": "aws.alb-connection", "kind": "event"},
            "source": {"ip": client_ip, "port": port(t[2], "client_port")},
            "destination": {"port": port(t[3], "listener_port")},
            "aws": {"elb": elb},
        }
        tls: Source = {}
        tls_into(tls, elb, t[5], t[4])
        if tls:
            doc["tls"] = tls
        if t[7] != "-":
            elb["leaf_client_cert_subject"] = t[7]
        validity = t[8]
        if validity != "-":
            match = _VALIDITY.fullmatch(validity)
            # An unexpected shape, or a time that is not one (date fields: OpenSearch would
            # refuse the document): kept as text, not a reason to lose the line.
            if match is None or not (is_iso_utc(match[1]) and is_iso_utc(match[2])):
                elb["leaf_client_cert_validity"] = validity
            else:
                elb["leaf_client_cert_not_before"] = match[1]
                elb["leaf_client_cert_not_after"] = match[2]
        if t[9] != "-":
            elb["leaf_client_cert_serial_number"] = t[9]
        status = t[10]
        if status != "-":
            elb["tls_verify_status"] = status
            if status == "Success":
                doc["event"]["outcome"] = "success"
            elif status.startswith("Failed"):
                doc["event"]["outcome"] = "failure"
                code = status.partition(":")[2]
                if code:
                    elb["tls_verify_error_code"] = code
        if n > 11:
            self._later_fields(t, n, elb)
        if not elb:  # every field was a null marker
            del doc["aws"]
        return doc

    @staticmethod
    def _later_fields(t: list[str], n: int, elb: Source) -> None:
        if t[11] != "-":
            elb["conn_trace_id"] = t[11]
        if n > 12 and t[12] != "-":
            elb["tls_keyexchange"] = t[12]
        if n > 13 and t[13] != "-":
            elb["name"] = t[13]
        tail = KNOWN_FIELDS
        if n > 14 and t[14] != "-":
            if looks_like_ip(t[14]):
                elb["node_ip"] = t[14]
            else:  # not the node IP after all: keep it with the unknown fields
                tail = 14
        if n > tail:
            elb["unparsed_tail"] = t[tail:]


FORMAT = AlbConnectionFormat()
