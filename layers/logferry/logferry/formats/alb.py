"""ALB access logs: 20 fields (2016) to 36 (2026), unknown trailing fields kept.

https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817
10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1"
"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:...:targetgroup/...
"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:...:certificate/..." 1
2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-"
TID_d7917035eabacb42bea251b01fb60ab4 "-" "-" "-" 100.51.96.60 "-" "-"

AWS's examples of 2016 end at chosen_cert_arn (20 fields), and write its and domain_name's
null markers unquoted; a line is read from those 20 fields up, and the fields a shorter (older)
line lacks are absent from its document. A line that ends before chosen_cert_arn is rejected
(rejected alternative: any length from the trace id on, which would let a line cut short pass
for an old one; no AWS example of a shorter layout is known).

Times are UTC with microseconds. `-` (quoted or not) is the null marker; the three timing
fields say `-1` when the request could not be dispatched, which is absent here too.

What every ELB text format shares (the quote-aware tokenizer, the request line, TLS names,
times, ip:port) is in `elb`.
"""

from __future__ import annotations

import re

from ..model import ParseError, Source
from .base import DATE, FLOAT, INTEGER, IP, KEYWORD, LONG, LineFormat, obj
from .elb import (
    host_port,
    is_iso_utc,
    iso_utc,
    looks_like_ip,
    number_error,
    request_into,
    tls_into,
    tokenize,
)

MIN_FIELDS = 20  # AWS's 2016 examples end at chosen_cert_arn (2018-2019 lines: error_reason)
# type names an ALB line starts with
ALB_TYPES = frozenset(("http", "https", "h2", "grpcs", "ws", "wss"))
_NUMBERS = (
    (5, "request_processing_time"),
    (6, "target_processing_time"),
    (7, "response_processing_time"),
    (8, "elb_status_code"),
    (9, "target_status_code"),
    (10, "received_bytes"),
    (11, "sent_bytes"),
    (20, "matched_rule_priority"),
)
NODE_IP = 33  # its position (from 2026 on)
# The widest layout known (2026): the node's IP and two quoted fields not yet named. Shorter
# lines are padded to it with null markers.
WIDTH = 36


class AlbFormat(LineFormat):
    name = "alb"
    index_source = "alb"
    # .../elasticloadbalancing/<region>/YYYY/MM/DD/<acct>_elasticloadbalancing_<region>_app.<lb>.
    # <id>_<end>_<node-ip>_<rand>.log.gz; anchored on the file name so that connection logs
    # (conn_log.<acct>_...) do not match.
    key_pattern = re.compile(r"(?:^|/)[0-9]{12}_elasticloadbalancing_[^_/]+_app\.[^/]+$")
    mapping = {
        "aws": obj(
            elb=obj(
                type=KEYWORD,
                name=KEYWORD,
                request_processing_time_s=FLOAT,
                target_processing_time_s=FLOAT,
                response_processing_time_s=FLOAT,
                target_status_code=INTEGER,
                received_bytes=LONG,
                sent_bytes=LONG,
                ssl_protocol=KEYWORD,
                target_group_arn=KEYWORD,
                domain_name=KEYWORD,
                chosen_cert_arn=KEYWORD,
                matched_rule_priority=INTEGER,
                request_creation_time=DATE,
                actions_executed=KEYWORD,
                redirect_url=KEYWORD,
                error_reason=KEYWORD,
                target_port_list=KEYWORD,
                target_status_code_list=KEYWORD,
                classification=KEYWORD,
                classification_reason=KEYWORD,
                conn_trace_id=KEYWORD,
                transformed_host=KEYWORD,
                transformed_uri=KEYWORD,
                request_transform_status=KEYWORD,
                node_ip=IP,
                unparsed_tail=KEYWORD,
            )
        )
    }

    def matches_content(self, first_line: str) -> bool:
        fields = first_line.split(" ", 3)
        return (
            len(fields) == 4
            and fields[0] in ALB_TYPES
            and is_iso_utc(fields[1])
            and fields[2].startswith("app/")
        )

    def parse_line(self, line: str) -> Source:
        t = fields_2026(line)
        n = WIDTH
        if t is None:
            t = tokenize(line)
            n = len(t)
            if n != WIDTH:
                t = _to_width(t, n)
        # Fields named once by unpacking (a local is cheaper than a subscript, and this line
        # reads them some sixty times), numbers converted inline, the reason for a bad number
        # worked out only when one fails.
        (
            kind, time, name, client, target, request_time, target_time, response_time,
            status, target_status, received, sent, request, agent, cipher, protocol, group,
            trace, domain, cert, priority, created, actions, redirect, error, target_ports,
            target_statuses, classification, classification_reason, conn_trace,
            transformed_host, transformed_uri, transform_status, node_ip, _, _,
        ) = t[:WIDTH] if n > WIDTH else t  # fmt: skip
        if not is_iso_utc(time):
            raise ParseError(f"time: expected YYYY-MM-DDTHH:MM:SS.ffffffZ, got {time[:40]!r}")
        client_ip, client_port = host_port(client, "client:port")
        if kind != "-" and name != "-":
            elb: Source = {"type": kind, "name": name}
        else:
            elb = {"type": kind} if kind != "-" else {}
            if name != "-":
                elb["name"] = name
        try:
            if request_time != "-" and request_time != "-1":
                elb["request_processing_time_s"] = float(request_time)
            if target_time != "-" and target_time != "-1":
                elb["target_processing_time_s"] = float(target_time)
            if response_time != "-" and response_time != "-1":
                elb["response_processing_time_s"] = float(response_time)
            if target_status != "-":
                elb["target_status_code"] = int(target_status)
            if received != "-":
                elb["received_bytes"] = int(received)
            if sent != "-":
                elb["sent_bytes"] = int(sent)
            doc: Source = {
                "@timestamp": time,
                "event": {"dataset": "aws.alb", "kind": "event"},
                "source": {"ip": client_ip, "port": client_port},
                "http": {"response": {"status_code": int(status)}} if status != "-" else {},
                "aws": {"elb": elb},
            }
            # -1 is a value here: rule evaluation failed. The AWS docs once printed
            # `"-"1` (no space before this field): the tokenizer ends a field at its closing
            # quote, so that line reads as the docs meant it, priority 1, not a rejection.
            rule = int(priority) if priority != "-" else None
        except ValueError:
            raise ParseError(number_error(t, _NUMBERS)) from None
        if target != "-":
            target_ip, target_port = host_port(target, "target:port")
            doc["destination"] = {"ip": target_ip, "port": target_port}
        request_into(doc, request)
        if agent != "-":
            doc["user_agent"] = {"original": agent}
        tls: Source = {}
        if cipher != "-" or protocol != "-":
            tls_into(tls, elb, cipher, protocol)
        if group != "-":
            elb["target_group_arn"] = group
        if trace != "-":
            doc["trace"] = {"id": trace}
        if domain != "-":
            elb["domain_name"] = domain
            tls["client"] = {"server_name": domain}
        if tls:
            doc["tls"] = tls
        if cert != "-":
            elb["chosen_cert_arn"] = cert  # or "session-reused"
        if rule is not None:
            elb["matched_rule_priority"] = rule
        if created != "-":
            elb["request_creation_time"] = iso_utc(created, "request_creation_time")
        if actions != "-":
            elb["actions_executed"] = actions.split(",")
        if redirect != "-":
            elb["redirect_url"] = redirect
        if error != "-":
            elb["error_reason"] = error
        # Quoted "ip:port ip:port" and "200 200"; peers also show them unquoted, one item.
        if target_ports != "-":
            elb["target_port_list"] = target_ports.split()
        if target_statuses != "-":
            elb["target_status_code_list"] = target_statuses.split()
        if classification != "-":
            elb["classification"] = classification
        if classification_reason != "-":
            elb["classification_reason"] = classification_reason
        if conn_trace != "-":
            elb["conn_trace_id"] = conn_trace
        if transformed_host != "-":
            elb["transformed_host"] = transformed_host
        if transformed_uri != "-":
            elb["transformed_uri"] = transformed_uri
        if transform_status != "-":
            elb["request_transform_status"] = transform_status
        # The LB node's IP (2026): unquoted. Anything else there is an unknown field.
        tail = NODE_IP
        if node_ip != "-" and looks_like_ip(node_ip):
            elb["node_ip"] = node_ip
            tail += 1
        if n > tail:
            rest = t[tail:n]
            if rest.count("-") != n - tail:  # null markers alone say nothing (2026's two)
                elb["unparsed_tail"] = rest
        if not doc["http"]:
            del doc["http"]
        if not elb:  # every field was a null marker
            del doc["aws"]
        return doc


def fields_2026(line: str) -> list[str] | None:
    """The 36 fields of a line in the layout ALB writes today, as `tokenize` gives them, or
    None for any other line (older layouts, escapes, unusual spacing): they take `tokenize`.

    Such a line splits on its quotes into 35 parts: its 17 quoted fields, and between them
    single spaces, except in five places that hold bare fields (12, 3, 2, 1 and 1 of them).
    Named by position and checked in one expression each, the parts make the fields without
    `tokenize`'s step per quoted field: 2.6 -> 2.2 us a line, the parser 8.4 -> 7.5.
    """
    parts = line.split('"')
    if len(parts) != 35 or "\\" in line:
        return None
    (
        head, request, s1, agent, middle, trace, s2, domain, s3, cert, rule, actions, s4,
        redirect, s5, error, s6, target_ports, s7, target_statuses, s8, classification, s9,
        classification_reason, conn, transformed_host, s10, transformed_uri, s11,
        transform_status, node, unnamed_1, s12, unnamed_2, end,
    ) = parts  # fmt: skip
    if not (s1 == s2 == s3 == s4 == s5 == s6 == s7 == s8 == s9 == s10 == s11 == s12 == " "):
        return None
    first, tls, timing, trace_id, node_ip = (
        head.split(),
        middle.split(),
        rule.split(),
        conn.split(),
        node.split(),
    )
    if end or (len(first), len(tls), len(timing), len(trace_id), len(node_ip)) != (12, 3, 2, 1, 1):
        return None
    return [
        *first, request, agent, *tls, trace, domain, cert, *timing, actions, redirect, error,
        target_ports, target_statuses, classification, classification_reason, *trace_id,
        transformed_host, transformed_uri, transform_status, *node_ip, unnamed_1, unnamed_2,
    ]  # fmt: skip


def _to_width(t: list[str], n: int) -> list[str]:
    """An older line (20 fields and up), padded with the null marker to the fields of the
    widest layout known; a longer line is kept whole (its extra fields are its tail)."""
    if n < MIN_FIELDS:
        raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
    return t + ["-"] * (WIDTH - n) if n < WIDTH else t


FORMAT = AlbFormat()
