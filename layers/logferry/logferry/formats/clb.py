"""Classic ELB access logs: 15 fields (12 before 2015), plain text (not gzipped).

2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048
0.001337 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.38.0"
DHE-RSA-AES128-SHA TLSv1.2

The time is when the request was received (UTC, microseconds). TCP and SSL listeners log
`-` status codes and the request `"- - - "` (a trailing space inside the quotes). `-` is the
null marker; the timing fields say -1 when the request could not be dispatched.
"""

from __future__ import annotations

import re

from ..model import ParseError, Source
from .base import FLOAT, INTEGER, KEYWORD, LONG, LineFormat, obj
from .elb import (
    host_port,
    is_iso_utc,
    iso_utc,
    number_error,
    request_into,
    tls_into,
    tokenize,
)

MIN_FIELDS = 12  # lines before 2015 end after the request
KNOWN_FIELDS = 15
_NO_TIME = ("-1", "-")
_NUMBERS = (
    (4, "request_processing_time"),
    (5, "backend_processing_time"),
    (6, "response_processing_time"),
    (7, "elb_status_code"),
    (8, "backend_status_code"),
    (9, "received_bytes"),
    (10, "sent_bytes"),
)
_is_lb_name = re.compile(r"[A-Za-z0-9-]+").fullmatch


class ClbFormat(LineFormat):
    name = "clb"
    index_source = "clb"
    # .../DD/<acct>_elasticloadbalancing_<region>_<lb-name>_<end>_<node-ip>_<rand>.log: the LB
    # name has only letters, digits and hyphens, which tells it from ALB's "app." and NLB's
    # "net." names.
    key_pattern = re.compile(
        r"(?:^|/)[0-9]{12}_elasticloadbalancing_[^_/]+_[A-Za-z0-9-]+_[0-9]{8}T[0-9]{4}Z_"
        r"[^_/]+_[^_/]+\.log(?:\.gz)?$"
    )
    mapping = {
        "aws": obj(
            elb=obj(
                name=KEYWORD,
                request_processing_time_s=FLOAT,
                backend_processing_time_s=FLOAT,
                response_processing_time_s=FLOAT,
                backend_status_code=INTEGER,
                received_bytes=LONG,
                sent_bytes=LONG,
                ssl_protocol=KEYWORD,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        fields = first_line.split(" ", 3)
        if len(fields) != 4 or not is_iso_utc(fields[0]) or not _is_lb_name(fields[1]):
            return False
        try:
            host_port(fields[2], "client:port")
        except ParseError:
            return False
        return True

    def parse_line(self, line: str) -> Source:
        t = tokenize(line)
        n = len(t)
        if n < MIN_FIELDS:
            raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
        timestamp = iso_utc(t[0], "time")
        client_ip, client_port = host_port(t[2], "client:port")
        try:
            request_time = None if t[4] in _NO_TIME else float(t[4])
            backend_time = None if t[5] in _NO_TIME else float(t[5])
            response_time = None if t[6] in _NO_TIME else float(t[6])
            status = None if t[7] == "-" else int(t[7])
            backend_status = None if t[8] == "-" else int(t[8])
            received = None if t[9] == "-" else int(t[9])
            sent = None if t[10] == "-" else int(t[10])
        except ValueError:
            raise ParseError(number_error(t, _NUMBERS)) from None
        elb: Source = {}
        if t[1] != "-":
            elb["name"] = t[1]
        if request_time is not None:
            elb["request_processing_time_s"] = request_time
        if backend_time is not None:
            elb["backend_processing_time_s"] = backend_time
        if response_time is not None:
            elb["response_processing_time_s"] = response_time
        if backend_status is not None:
            elb["backend_status_code"] = backend_status
        if received is not None:
            elb["received_bytes"] = received
        if sent is not None:
            elb["sent_bytes"] = sent
        doc: Source = {
            "@timestamp": timestamp,
            "event": {"dataset": "aws.clb", "kind": "event"},
            "source": {"ip": client_ip, "port": client_port},
            "http": {"response": {"status_code": status}} if status is not None else {},
            "aws": {"elb": elb},
        }
        if t[3] != "-":
            backend_ip, backend_port = host_port(t[3], "backend:port")
            doc["destination"] = {"ip": backend_ip, "port": backend_port}
        request_into(doc, t[11])
        if not doc["http"]:
            del doc["http"]
        if n > 12:
            if t[12] != "-":
                doc["user_agent"] = {"original": t[12]}
            if n > 13:
                tls: Source = {}
                tls_into(tls, elb, t[13], t[14] if n > 14 else "-")
                if tls:
                    doc["tls"] = tls
            if n > KNOWN_FIELDS:
                elb["unparsed_tail"] = t[KNOWN_FIELDS:]
        if not elb:  # every field was a null marker
            del doc["aws"]
        return doc


FORMAT = ClbFormat()
