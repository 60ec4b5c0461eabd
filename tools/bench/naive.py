"""The naive baselines: what a first Python version looks like, one regex per line and a dict
built from its groups, for the formats `NAIVE` names. Each builds a document comparable to the
parser's (the same ECS fields, nulls and "-" left out); tools.bench.workers runs them the
naive way end to end (the gzip module, json.dumps for the document and for the action line)
on the same files as the pipeline."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from tools.bench.generators import CLOUDFRONT_FIELDS


def _int_or_none(value: str) -> int | None:
    return None if value == "-" else int(value)


def _drop_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            value = _drop_nulls(value)
            if value:
                out[key] = value
        elif value is not None and value != "-":
            out[key] = value
    return out


NAIVE_NLB = re.compile(
    r"(?P<type>\S+) (?P<version>\S+) (?P<time>\S+) (?P<elb>\S+) (?P<listener>\S+) "
    r"(?P<client_ip>\S+):(?P<client_port>\d+) (?P<dest_ip>\S+):(?P<dest_port>\d+) "
    r"(?P<connection_time>\S+) (?P<handshake_time>\S+) (?P<received>\S+) (?P<sent>\S+) "
    r"(?P<alert>\S+) (?P<cert_arn>\S+) (?P<cert_serial>\S+) (?P<cipher>\S+) (?P<protocol>\S+) "
    r"(?P<keyexchange>\S+) (?P<sni>\S+)(?: (?P<alpn_fe>\S+) (?P<alpn_be>\S+) (?P<alpn_prefs>\S+)"
    r" (?P<created>\S+))?"
)
_NAIVE_TLS = {"tlsv10": "1.0", "tlsv11": "1.1", "tlsv12": "1.2", "tlsv13": "1.3"}


def naive_nlb(line: str) -> dict[str, Any] | None:
    m = NAIVE_NLB.match(line)
    if m is None:
        return None
    g = m.groupdict()
    version = _NAIVE_TLS.get(g["protocol"])
    prefs = g["alpn_prefs"]
    created = g["created"]
    return _drop_nulls(
        {
            "@timestamp": g["time"] + "Z",
            "event": {"dataset": "aws.nlb", "kind": "event"},
            "source": {"ip": g["client_ip"], "port": int(g["client_port"])},
            "destination": {"ip": g["dest_ip"], "port": int(g["dest_port"])},
            "tls": {
                "version": version,
                "version_protocol": "tls",
                "established": version is not None,
                "cipher": g["cipher"],
                "client": {"server_name": unquote(g["sni"])},
            },
            "aws": {
                "elb": {
                    "type": g["type"],
                    "log_version": g["version"],
                    "name": g["elb"],
                    "listener": g["listener"],
                    "connection_time_ms": _int_or_none(g["connection_time"]),
                    "tls_handshake_time_ms": _int_or_none(g["handshake_time"]),
                    "received_bytes": _int_or_none(g["received"]),
                    "sent_bytes": _int_or_none(g["sent"]),
                    "incoming_tls_alert": _int_or_none(g["alert"]),
                    "chosen_cert_arn": g["cert_arn"],
                    "chosen_cert_serial": g["cert_serial"],
                    "tls_keyexchange": g["keyexchange"],
                    "alpn_fe_protocol": g["alpn_fe"],
                    "alpn_be_protocol": g["alpn_be"],
                    "alpn_client_preference_list": (
                        None if prefs in (None, "-") else [p.strip('"') for p in prefs.split(",")]
                    ),
                    "tls_connection_creation_time": (
                        None if created in (None, "-") else created + "Z"
                    ),
                }
            },
        }
    )


_Q = r'"(?P<{}>[^"]*)"'
NAIVE_ALB = re.compile(
    r"(?P<type>\S+) (?P<time>\S+) (?P<elb>\S+) (?P<client_ip>\S+):(?P<client_port>\d+) "
    r"(?P<target>\S+) (?P<request_time>\S+) (?P<target_time>\S+) (?P<response_time>\S+) "
    r"(?P<elb_status>\S+) (?P<target_status>\S+) (?P<received>\S+) (?P<sent>\S+) "
    + _Q.format("request")
    + " "
    + _Q.format("user_agent")
    + r" (?P<cipher>\S+) (?P<protocol>\S+) (?P<target_group>\S+) "
    + " ".join(_Q.format(n) for n in ("trace", "domain", "cert"))
    + r" (?P<priority>\S+) (?P<created>\S+) "
    + " ".join(
        _Q.format(n)
        for n in (
            "actions",
            "redirect",
            "error",
            "targets",
            "target_statuses",
            "classification",
            "classification_reason",
        )
    )
    + r" (?P<conn_trace_id>\S+)(?P<tail>.*)"
)


def _naive_seconds(value: str) -> float | None:
    return None if value == "-1" else float(value)


def naive_alb(line: str) -> dict[str, Any] | None:
    m = NAIVE_ALB.match(line)
    if m is None:
        return None
    g = m.groupdict()
    method, _, rest = g["request"].partition(" ")
    url, _, http_version = rest.rpartition(" ")
    target_ip, _, target_port = g["target"].rpartition(":")
    protocol = g["protocol"]
    return _drop_nulls(
        {
            "@timestamp": g["time"],
            "event": {"dataset": "aws.alb", "kind": "event"},
            "source": {"ip": g["client_ip"], "port": int(g["client_port"])},
            "destination": {
                "ip": target_ip or None,
                "port": int(target_port) if target_port.isdigit() else None,
            },
            "http": {
                "request": {"method": method, "bytes": int(g["received"])},
                "response": {
                    "status_code": _int_or_none(g["elb_status"]),
                    "bytes": int(g["sent"]),
                },
                "version": http_version.partition("/")[2] or None,
            },
            "url": {"original": url},
            "user_agent": {"original": g["user_agent"]},
            "tls": {
                "cipher": g["cipher"],
                "version": protocol[4:] if protocol.startswith("TLSv") else None,
                "client": {"server_name": g["domain"]},
            },
            "trace": {"id": g["trace"]},
            "aws": {
                "elb": {
                    "type": g["type"],
                    "name": g["elb"],
                    "request_processing_time": _naive_seconds(g["request_time"]),
                    "target_processing_time": _naive_seconds(g["target_time"]),
                    "response_processing_time": _naive_seconds(g["response_time"]),
                    "target_status_code": _int_or_none(g["target_status"]),
                    "target_group_arn": g["target_group"],
                    "chosen_cert_arn": g["cert"],
                    "matched_rule_priority": _int_or_none(g["priority"]),
                    "request_creation_time": g["created"],
                    "actions_executed": g["actions"].split(","),
                    "redirect_url": g["redirect"],
                    "error_reason": g["error"],
                    "target_port_list": g["targets"].split(" "),
                    "target_status_code_list": g["target_statuses"].split(" "),
                    "classification": g["classification"],
                    "classification_reason": g["classification_reason"],
                    "conn_trace_id": g["conn_trace_id"],
                    "unparsed_tail": g["tail"].strip() or None,
                }
            },
        }
    )


NAIVE_VPC = re.compile(
    r"(?P<version>\S+) (?P<account>\S+) (?P<eni>\S+) (?P<src>\S+) (?P<dst>\S+) (?P<sport>\S+) "
    r"(?P<dport>\S+) (?P<protocol>\S+) (?P<packets>\S+) (?P<bytes>\S+) (?P<start>\S+) "
    r"(?P<end>\S+) (?P<action>\S+) (?P<status>\S+)"
)
_NAIVE_TRANSPORT = {"6": "tcp", "17": "udp", "1": "icmp"}


def _naive_epoch(value: str) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(value)))


def naive_vpcflow(line: str) -> dict[str, Any] | None:
    if line.startswith("version "):
        return None
    m = NAIVE_VPC.match(line)
    if m is None:
        return None
    g = m.groupdict()
    action = g["action"]
    return _drop_nulls(
        {
            "@timestamp": _naive_epoch(g["start"]),
            "event": {
                "dataset": "aws.vpcflow",
                "kind": "event",
                "start": _naive_epoch(g["start"]),
                "end": _naive_epoch(g["end"]),
                "action": action,
                "outcome": {"ACCEPT": "success", "REJECT": "failure"}.get(action),
            },
            "source": {"ip": g["src"], "port": _int_or_none(g["sport"])},
            "destination": {"ip": g["dst"], "port": _int_or_none(g["dport"])},
            "network": {
                "iana_number": g["protocol"],
                "transport": _NAIVE_TRANSPORT.get(g["protocol"]),
                "packets": _int_or_none(g["packets"]),
                "bytes": _int_or_none(g["bytes"]),
            },
            "cloud": {"account": {"id": g["account"]}},
            "aws": {
                "vpcflow": {
                    "version": g["version"],
                    "interface_id": g["eni"],
                    "log_status": g["status"],
                }
            },
        }
    )


_CF_NAMES = CLOUDFRONT_FIELDS.split()
NAIVE_CLOUDFRONT = re.compile(
    "\t".join(f"(?P<f{i}>[^\t]*)" for i in range(len(_CF_NAMES))) + "(?P<tail>.*)"
)


def naive_cloudfront(line: str) -> dict[str, Any] | None:
    if line.startswith("#"):
        return None
    m = NAIVE_CLOUDFRONT.match(line)
    if m is None:
        return None
    c = dict(zip(_CF_NAMES, m.groups(), strict=False))
    query = c["cs-uri-query"]
    return _drop_nulls(
        {
            "@timestamp": f"{c['date']}T{c['time']}Z",
            "event": {"dataset": "aws.cloudfront", "kind": "event"},
            "source": {"ip": c["c-ip"], "port": _int_or_none(c["c-port"])},
            "http": {
                "request": {"method": c["cs-method"], "bytes": _int_or_none(c["cs-bytes"])},
                "response": {
                    "status_code": _int_or_none(c["sc-status"]),
                    "bytes": _int_or_none(c["sc-bytes"]),
                },
                "version": c["cs-protocol-version"].partition("/")[2],
            },
            "url": {
                "path": unquote(c["cs-uri-stem"]),
                "query": None if query == "-" else unquote(query),
                "domain": c["x-host-header"],
            },
            "user_agent": {"original": unquote(c["cs(User-Agent)"])},
            "tls": {"version": c["ssl-protocol"][4:], "cipher": c["ssl-cipher"]},
            "aws": {
                "cloudfront": {
                    "edge_location": c["x-edge-location"],
                    "host": c["cs(Host)"],
                    "referer": unquote(c["cs(Referer)"]),
                    "cookie": c["cs(Cookie)"],
                    "edge_result_type": c["x-edge-result-type"],
                    "edge_request_id": c["x-edge-request-id"],
                    "protocol": c["cs-protocol"],
                    "time_taken": float(c["time-taken"]),
                    "forwarded_for": c["x-forwarded-for"],
                    "edge_response_result_type": c["x-edge-response-result-type"],
                    "time_to_first_byte": float(c["time-to-first-byte"]),
                    "edge_detailed_result_type": c["x-edge-detailed-result-type"],
                    "content_type": c["sc-content-type"],
                    "content_len": _int_or_none(c["sc-content-len"]),
                }
            },
        }
    )


NAIVE_S3ACCESS = re.compile(
    r"(?P<owner>\S+) (?P<bucket>\S+) \[(?P<time>[^\]]+)\] (?P<ip>\S+) (?P<requester>\S+) "
    r"(?P<request_id>\S+) (?P<operation>\S+) (?P<key>\S+) \"(?P<request>[^\"]*)\" (?P<status>\S+) "
    r"(?P<error>\S+) (?P<sent>\S+) (?P<size>\S+) (?P<total>\S+) (?P<turnaround>\S+) "
    r"\"(?P<referer>[^\"]*)\" \"(?P<agent>[^\"]*)\" (?P<version_id>\S+) (?P<host_id>\S+) "
    r"(?P<signature>\S+) (?P<cipher>\S+) (?P<auth>\S+) (?P<host>\S+) (?P<tls>\S+)"
    r"(?: (?P<access_point>\S+) (?P<acl>\S+))?"
)


def naive_s3access(line: str) -> dict[str, Any] | None:
    m = NAIVE_S3ACCESS.match(line)
    if m is None:
        return None
    g = m.groupdict()
    when = datetime.strptime(g["time"], "%d/%b/%Y:%H:%M:%S %z")
    method, _, rest = g["request"].partition(" ")
    uri, _, http_version = rest.rpartition(" ")
    path, _, query = uri.partition("?")
    status = _int_or_none(g["status"])
    return _drop_nulls(
        {
            "@timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "event": {
                "dataset": "aws.s3access",
                "kind": "event",
                "outcome": "success" if status and status < 400 else "failure",
            },
            "aws": {
                "s3access": {
                    "bucket_owner": g["owner"],
                    "bucket": g["bucket"],
                    "requester": g["requester"],
                    "request_id": g["request_id"],
                    "operation": g["operation"],
                    "key": g["key"],
                    "error_code": g["error"],
                    "bytes_sent": _int_or_none(g["sent"]),
                    "object_size": _int_or_none(g["size"]),
                    "total_time": _int_or_none(g["total"]),
                    "turnaround_time": _int_or_none(g["turnaround"]),
                    "version_id": g["version_id"],
                    "host_id": g["host_id"],
                    "signature_version": g["signature"],
                    "cipher_suite": g["cipher"],
                    "authentication_type": g["auth"],
                    "host_header": g["host"],
                    "tls_version": g["tls"],
                }
            },
            "source": {"ip": g["ip"]},
            "url": {"original": uri, "path": path, "query": query or None},
            "http": {
                "request": {"method": method},
                "response": {"status_code": status},
                "version": http_version.partition("/")[2] or None,
            },
            "user_agent": {"original": g["agent"]},
            "tls": {"cipher": g["cipher"], "version": g["tls"][4:].replace("v", "")},
        }
    )


NAIVE: dict[str, Callable[[str], dict[str, Any] | None]] = {
    "nlb": naive_nlb,
    "alb": naive_alb,
    "vpcflow": naive_vpcflow,
    "cloudfront": naive_cloudfront,
    "s3access": naive_s3access,
}
