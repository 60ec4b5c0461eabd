"""ALB access logs: 25 fields (2018) to 36 (2026), unknown trailing fields kept.

https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817
10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1"
"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:...:targetgroup/...
"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:...:certificate/..." 1
2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-"
TID_d7917035eabacb42bea251b01fb60ab4 "-" "-" "-" 100.51.96.60 "-" "-"

Times are UTC with microseconds. `-` (quoted or not) is the null marker; the three timing
fields say `-1` when the request could not be dispatched, which is absent here too.

The helpers every ELB text format shares (the quote-aware tokenizer, the request line, TLS
names, times) live here too; `alb_connection` and `clb` import them.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from functools import lru_cache

from ..model import ParseError, Source
from .base import (
    DATE,
    FLOAT,
    INTEGER,
    IP,
    KEYWORD,
    LONG,
    LineFormat,
    obj,
    tls_version,
)

# -- shared ELB helpers -------------------------------------------------------------------

# Slow-path tokenizer, for lines with a backslash or an unbalanced quote. Possessive
# quantifiers and a quoted field that may end at the end of the line keep it linear on
# hostile input: no position is ever scanned twice.
_TOKEN = re.compile(r'"((?:[^"\\]++|\\.?)*+)(?:"|$)|([^\s"]++)', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

_ISO_UTC = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z"
).fullmatch

# ssl_protocol as ELB writes it -> (ECS tls.version_protocol, tls.version)
TLS_PROTOCOLS = {
    "TLSv1": ("tls", "1.0"),
    "TLSv1.1": ("tls", "1.1"),
    "TLSv1.2": ("tls", "1.2"),
    "TLSv1.3": ("tls", "1.3"),
    "SSLv3": ("ssl", "3.0"),
}


def tokenize(line: str) -> list[str]:
    """The fields of a line of space-separated, optionally double-quoted fields, unquoted.

    Fast path: split on the quotes; odd parts are quoted fields, even parts hold the bare
    fields between them. A closing quote always ends a field, even when no space follows it
    (the AWS docs' `"-"1`, see AlbFormat). A line with a backslash (`\\"` escapes) or an odd
    number of quotes takes `tokenize_exact`.
    """
    if "\\" not in line:
        parts = line.split('"')
        if len(parts) & 1:
            fields = parts[0].split()
            append = fields.append
            # The quoted field before each `between` is parts[i]: indexing it beats zipping two
            # slices (42.9k -> 38.6k instructions for a 36-field ALB line).
            i = 1
            for between in parts[2::2]:
                append(parts[i])
                i += 2
                if between != " ":
                    fields += between.split()
            return fields
    return tokenize_exact(line)


def tokenize_exact(line: str) -> list[str]:
    """`tokenize` by regex: resolves `\\"` and `\\\\` inside quotes, and reads an unterminated
    quote to the end of the line. Gives the same fields as the fast path where both apply."""
    return [
        bare or (_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted)
        for quoted, bare in _TOKEN.findall(line)
    ]


def is_iso_utc(value: str) -> bool:
    """Whether an ELB time is canonical UTC (`YYYY-MM-DDTHH:MM:SS[.f]Z`, 1 to 6 fraction
    digits, ASCII digits) and a real date: it is @timestamp as it is, and names a daily index.
    The same check as times.is_canonical_utc, here for the compiled line parsers."""
    if _ISO_UTC(value) is None:
        return False
    # The pattern lets 02-30, 04-31 and year 0000 through: ask the calendar.
    if value[8:10] >= "29" or value[0] == "0":
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            return False
    return True


def iso_utc(value: str, field: str) -> str:
    """An ELB time, checked (see is_iso_utc)."""
    if not is_iso_utc(value):
        raise ParseError(f"{field}: expected YYYY-MM-DDTHH:MM:SS.ffffffZ, got {value[:40]!r}")
    return value


def host_port(value: str, field: str) -> tuple[str, int]:
    """Split "ip:port" on the last colon (ELB writes IPv6 addresses without brackets)."""
    host, _, port = value.rpartition(":")
    if not host or host == "-" or not port.isdecimal() or not port.isascii() or len(port) > 5:
        raise ParseError(f"{field}: expected ip:port, got {value[:80]!r}")
    number = int(port)
    if number > 65535:
        raise ParseError(f"{field}: port out of range in {value[:80]!r}")
    return host, number


def port(value: str, field: str) -> int:
    if not value.isdecimal() or not value.isascii() or len(value) > 5 or int(value) > 65535:
        raise ParseError(f"{field}: expected a port number, got {value[:40]!r}")
    return int(value)


@lru_cache(maxsize=512)
def looks_like_ip(value: str) -> bool:
    # Cached: the values checked here (LB node IPs) repeat on every line of an object.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def number_error(fields: list[str], positions: tuple[tuple[int, str], ...]) -> str:
    """The reason for a numeric field that did not convert (the slow path of a rejection)."""
    for i, name in positions:
        value = fields[i]
        if value in ("-", "-1"):
            continue
        try:
            float(value)
        except ValueError:
            return f"{name}: expected a number, got {value[:40]!r}"
    return "a numeric field is not a number"


def tls_into(tls: Source, elb: Source, cipher: str, protocol: str) -> None:
    """ECS tls.* from ELB's ssl_cipher and ssl_protocol; an unknown protocol kept raw."""
    if cipher != "-":
        tls["cipher"] = cipher
    if protocol != "-":
        known = TLS_PROTOCOLS.get(protocol)
        if known is None:
            version = tls_version(protocol)
            known = ("tls", version) if version else None
        if known is None:
            elb["ssl_protocol"] = protocol
        else:
            tls["version_protocol"], tls["version"] = known


def request_into(doc: Source, request: str) -> None:
    """http.request.method, url.*, http.version from a logged request line.

    The URI is logged as the client sent it, raw spaces included, so the method is the first
    word and the protocol the last, when that looks like one (`"GET http://h:80/a"` has none).
    Malformed requests are logged as `"- http://host:80- -"`, `"- - -"` (`"- - - "` by CLB).
    """
    method, _, rest = request.strip().partition(" ")
    url, sep, protocol = rest.rpartition(" ")
    version = None
    if protocol.startswith("HTTP/"):
        version = protocol[5:]
    elif protocol != "-" or not sep:
        url = rest
    http: Source = doc["http"]
    if method and method != "-":
        http["request"] = {"method": method}
    if version:
        http["version"] = version
    if not url or url == "-":
        return
    parts: Source = {"original": url}
    path = url if url[0] == "/" else ""
    start = url.find("://") + 3
    if start > 3:
        slash = url.find("/", start)
        if slash < 0:
            authority = url[start:]
        else:
            authority, path = url[start:slash], url[slash:]
        # host:port; an IPv6 host is bracketed ([2001:db8::1]:443)
        if ":" in authority and authority[-1] != "]":
            host = authority.rpartition(":")[0]
        else:
            host = authority
        if host:
            parts["domain"] = host.strip("[]") if host[0] == "[" else host
    if path:
        path, sep, query = path.partition("?")
        parts["path"] = path
        if query:
            parts["query"] = query
    doc["url"] = parts


# -- ALB ----------------------------------------------------------------------------------

MIN_FIELDS = 25  # 2018-2019 lines end at error_reason
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
    """An older line (25 fields and up), padded with the null marker to the fields of the
    widest layout known; a longer line is kept whole (its extra fields are its tail)."""
    if n < MIN_FIELDS:
        raise ParseError(f"expected at least {MIN_FIELDS} fields, got {n}")
    return t + ["-"] * (WIDTH - n) if n < WIDTH else t


FORMAT = AlbFormat()
