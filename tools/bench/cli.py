"""`make bench`: how fast one core turns gzipped log objects into bulk request bodies.

    scripts/bench.py                  every registered format with a generator, ~200 MB each;
                                      what isal, orjson and the reader's step sizes buy (NLB);
                                      then end to end into the local OpenSearch
    scripts/bench.py --quick          20 MB per format, a smaller OpenSearch run
    scripts/bench.py --memory         peak RSS of `logferry parse` and of the pipeline on a
                                      1 GiB and a 40 MB NLB object
    scripts/bench.py --hostile        peak RSS and time of the Lambda handler on hostile objects
                                      beside a valid one (also part of the full run)
    scripts/bench.py --profile nlb    where one format's time goes (pyinstrument, if installed)

Throughput is the whole path the Lambda runs (gunzip -> lines -> documents -> _bulk bodies)
through `Pipeline` and the real `BulkSink`, whose transport only counts the bodies and answers
as OpenSearch does when every item succeeded. "Per core" is lines per CPU-second (user + system)
of a single-threaded worker process, so other load on the machine does not skew it. Each run
is a fresh subprocess (peak RSS is that format's own); the table shows medians.

Beside it, against the same files: a naive standard-library implementation (gzip module, one
regex per line, json.dumps per document and per action line) building comparable documents;
and the same pipeline with the parsers run from their sources (LOGFERRY_PURE_PYTHON=1), which
shows what compiling them (`make native`, layers/native/compile.py) buys.

Objects are generated deterministically (scripts/benchgen.py) and cached under bench-data/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from logferry.config import Settings
from logferry.formats import FORMATS
from logferry.ingest import reader as reader_module
from logferry.ingest.deadletter import StreamDeadLetters
from logferry.ingest.heap import keep_freed_memory
from logferry.ingest.objects import LocalFiles
from logferry.ingest.pipeline import Pipeline
from logferry.model import ObjectRef
from logferry.output.sink import BulkSink, BulkTransport
from tools.bench import generators as benchgen
from tools.bench import hostile as bench_hostile

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench-data"
MB = 1_000_000
MIB = 1024**2
# Lines per CPU-second of the whole path, per format: the product's targets.
TARGETS = {"nlb": 200_000, "alb": 100_000, "vpcflow": 200_000, "cloudfront": 100_000}
NAIVE_RATIO_TARGET = 3.0
E2E_RATIO_TARGET = 0.8
MEMORY_CAP_MIB = 256
MEMORY_FLAT_RATIO = 1.5


# -- measuring devices -------------------------------------------------------------------


class DiscardingTransport(BulkTransport):
    """Counts the bodies and drops them; answers like OpenSearch when no item failed."""

    def __init__(self) -> None:
        super().__init__(None)
        self.requests = 0
        self.bytes = 0

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.requests += 1
        self.bytes += len(body)
        return {"errors": False}


class RecordingTransport(DiscardingTransport):
    """Keeps the bodies: the ready-made requests of the OpenSearch ceiling run."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        self.bodies.append(body)
        return super().bulk(body)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _pipeline(sink: BulkSink, fmt: str, prefix: str = "bench") -> Pipeline:
    settings = Settings(index_prefix=prefix, accept_days_back=benchgen.DAYS_BACK)
    return Pipeline(settings, LocalFiles(), sink, StreamDeadLetters(), fmt)


# -- the naive implementations -------------------------------------------------------------
# What a first Python version looks like: the gzip module, one regex per line, a dict built
# from its groups, json.dumps for the document and for the action line.


def _bulk_line(index: str, doc_id: str, doc: dict[str, Any]) -> str:
    action = json.dumps({"index": {"_index": index, "_id": doc_id}})
    return f"{action}\n{json.dumps(doc)}\n"


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


_CF_NAMES = benchgen.CLOUDFRONT_FIELDS.split()
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


def run_naive(fmt: str, path: Path) -> dict[str, Any]:
    parse = NAIVE[fmt]
    identity = ObjectRef("", str(path)).identity
    lines = docs = size = 0
    body: list[str] = []
    body_bytes = 0
    cpu, wall = _cpu(), time.perf_counter()
    with gzip.open(path, "rb") as stream:
        for lineno, raw in enumerate(stream, 1):
            lines += 1
            size += len(raw)
            doc = parse(raw.decode("utf-8").rstrip("\n"))
            if doc is None:
                continue
            ts = doc["@timestamp"]
            index = f"bench-{fmt}-{ts[0:4]}.{ts[5:7]}.{ts[8:10]}"
            body.append(_bulk_line(index, f"{identity}-{lineno}", doc))
            body_bytes += len(body[-1])
            docs += 1
            if len(body) >= 5000 or body_bytes >= 5 * MIB:
                "".join(body).encode()  # the request body; sent nowhere
                body.clear()
                body_bytes = 0
    "".join(body).encode()
    return {
        "lines": lines,
        "documents": docs,
        "bytes": size,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


# -- workers (each a fresh process) -------------------------------------------------------


class _JsonShim:
    """orjson's `dumps` done by the standard library: what orjson buys, measured."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


def run_pipeline(fmt: str, path: Path, variant: str = "") -> dict[str, Any]:
    if variant == "zlib":
        reader_module._zlib = zlib
    elif variant == "json":
        import logferry.ingest.pipeline

        logferry.ingest.pipeline.orjson = _JsonShim  # type: ignore[attr-defined,assignment]
    transport = DiscardingTransport()
    sink = BulkSink(transport)
    pipeline = _pipeline(sink, fmt)
    cpu, wall = _cpu(), time.perf_counter()
    result = pipeline.ingest(ObjectRef("", str(path)))
    parser_file = str(sys.modules[type(FORMATS[fmt]).__module__].__file__)
    return {
        "compiled": not parser_file.endswith(".py"),
        "lines": result.lines,
        "documents": result.documents,
        "rejected": result.rejected,
        "outcome": result.outcome,
        "bytes": result.bytes_out,
        "body_bytes": transport.bytes,
        "requests": transport.requests,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def run_gunzip(path: Path, variant: str) -> dict[str, Any]:
    """Decompression alone, as the reader does it (isal or zlib): the floor under every row."""
    if variant == "zlib":
        reader_module._zlib = zlib
    cpu, wall = _cpu(), time.perf_counter()
    with open(path, "rb") as stream:
        reader = reader_module.LineReader(stream)
        size = sum(len(chunk) for chunk in reader.chunks())
    return {"lines": 0, "bytes": size, "cpu": _cpu() - cpu, "wall": time.perf_counter() - wall}


def run_reader(path: Path, variant: str) -> dict[str, Any]:
    """Numbered lines out of the reader, nothing parsed; "big-steps" reads and inflates in the
    former 1 MiB / 4 MiB steps instead of 128 KiB / 1 MiB."""
    if variant == "big-steps":
        reader_module.READ_SIZE, reader_module.INFLATE_STEP = 1 << 20, 4 << 20
    cpu, wall = _cpu(), time.perf_counter()
    with open(path, "rb") as stream:
        reader = reader_module.LineReader(stream)
        for _ in reader:
            pass
    return {
        "lines": reader.lines_read,
        "bytes": reader.bytes_out,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def _client() -> Any:
    from logferry.output.client import make_client

    return make_client(os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))


def run_e2e(fmt: str, path: Path, prefix: str) -> dict[str, Any]:
    """The real pipeline and the real sink into the local OpenSearch, with the Lambda's
    requests in flight (LOGFERRY_BULK_CONCURRENCY, else its default)."""
    concurrency = Settings.from_env().bulk_concurrency
    sink = BulkSink(BulkTransport(_client()), concurrency=concurrency)
    pipeline = _pipeline(sink, fmt, prefix)
    cpu, wall = _cpu(), time.perf_counter()
    result = pipeline.ingest(ObjectRef("", str(path)))
    return {
        "lines": result.lines,
        "documents": result.documents,
        "rejected": result.rejected,
        "failed": sink.stats.failed,
        "concurrency": concurrency,
        "cpu": _cpu() - cpu,
        "wall": time.perf_counter() - wall,
    }


def run_ceiling(fmt: str, path: Path, prefix: str, clients: int) -> dict[str, Any]:
    """OpenSearch's own bulk rate: the same bodies, built beforehand, sent concurrently."""
    recorder = RecordingTransport()
    sink = BulkSink(recorder)
    result = _pipeline(sink, fmt, prefix).ingest(ObjectRef("", str(path)))
    client = _client()
    errors = 0

    def send(body: bytes) -> int:
        response = client.bulk(body=body, filter_path="errors,items.*.status,items.*.error")
        return 1 if response.get("errors") else 0

    wall = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        errors = sum(pool.map(send, recorder.bodies))
    return {
        "documents": result.documents,
        "requests": len(recorder.bodies),
        "error_requests": errors,
        "wall": time.perf_counter() - wall,
    }


def worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench _worker")
    parser.add_argument("kind", choices=("pipeline", "naive", "gunzip", "reader", "e2e", "ceiling"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--format", default="nlb")
    parser.add_argument("--variant", default="")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    if args.variant != "heap-as-is":
        keep_freed_memory()  # as the Lambda and the CLI do
    if args.kind == "pipeline":
        out = run_pipeline(args.format, args.path, args.variant)
    elif args.kind == "naive":
        out = run_naive(args.format, args.path)
    elif args.kind == "gunzip":
        out = run_gunzip(args.path, args.variant)
    elif args.kind == "reader":
        out = run_reader(args.path, args.variant)
    elif args.kind == "e2e":
        out = run_e2e(args.format, args.path, args.prefix)
    else:
        out = run_ceiling(args.format, args.path, args.prefix, args.clients)
    out["peak_rss_mib"] = _peak_rss_mib()
    print(json.dumps(out))
    return 0


def worker(kind: str, path: Path, *options: str, pure: bool = False) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed; `pure`: with the
    parsers' sources, not their compiled build."""
    cmd = [sys.executable, "-m", "tools.bench", "_worker", kind, str(path), *options]
    env = {key: value for key, value in os.environ.items() if key != "LOGFERRY_PURE_PYTHON"}
    if pure:
        env["LOGFERRY_PURE_PYTHON"] = "1"
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(run) for run in runs)


# -- throughput ---------------------------------------------------------------------------


def bench_formats(
    formats: list[str], size: int, runs: int, report: dict[str, Any], naive: bool, pure: bool
) -> None:
    print(
        f"\nThroughput per core: {size / MB:.0f} MB of text per format, median of {runs} runs,"
        " each in a fresh process (lines per CPU-second; gunzip -> lines -> documents -> bulk"
        " bodies, bodies discarded)\n"
    )
    header = (
        f"{'format':<11} {'lines':>10} {'lines/s':>10} {'MB/s':>7} {'peak RSS':>9}"
        f" {'naive l/s':>10} {'x naive':>8} {'target':>9}  met {'pure l/s':>9} {'compiled':>8}"
    )
    print(header)
    print("-" * len(header))
    for fmt in formats:
        path = benchgen.write_object(DATA, fmt, size)
        piped, naive_runs, pure_runs = [], [], []
        for _ in range(runs):  # interleaved, so drift in machine load hits all alike
            piped.append(worker("pipeline", path, "--format", fmt))
            if naive and fmt in NAIVE:
                naive_runs.append(worker("naive", path, "--format", fmt))
            if pure and piped[-1]["compiled"]:
                pure_runs.append(worker("pipeline", path, "--format", fmt, pure=True))
        first = piped[0]
        if first["rejected"] or first["outcome"] != "indexed":
            print(f"{fmt}: {first['rejected']} rejected, outcome {first['outcome']} (generator?)")
        lines_s = median_of(piped, lambda r: r["lines"] / r["cpu"])
        mb_s = median_of(piped, lambda r: r["bytes"] / r["cpu"] / MB)
        rss = max(r["peak_rss_mib"] for r in piped)
        row: dict[str, Any] = {
            "lines": first["lines"],
            "documents": first["documents"],
            "text_bytes": first["bytes"],
            "gzip_bytes": path.stat().st_size,
            "lines_per_cpu_second": round(lines_s),
            "mb_per_cpu_second": round(mb_s, 1),
            "lines_per_wall_second": round(median_of(piped, lambda r: r["lines"] / r["wall"])),
            "peak_rss_mib": round(rss, 1),
            "runs": runs,
            "compiled": first["compiled"],
        }
        ratio_text = naive_text = "-"
        if naive_runs:
            naive_s = median_of(naive_runs, lambda r: r["lines"] / r["cpu"])
            row["naive_lines_per_cpu_second"] = round(naive_s)
            row["naive_ratio"] = round(lines_s / naive_s, 2)
            naive_text, ratio_text = f"{naive_s:,.0f}", f"{lines_s / naive_s:.1f}x"
        pure_text = compiled_text = "-"
        if pure_runs:
            pure_s = median_of(pure_runs, lambda r: r["lines"] / r["cpu"])
            row["pure_lines_per_cpu_second"] = round(pure_s)
            row["compiled_ratio"] = round(lines_s / pure_s, 2)
            pure_text, compiled_text = f"{pure_s:,.0f}", f"{lines_s / pure_s:.2f}x"
        target = TARGETS.get(fmt)
        met = "-"
        if target:
            ok = lines_s >= target and row.get("naive_ratio", 0) >= NAIVE_RATIO_TARGET
            met = "yes" if ok else "NO"
            row["target_lines_per_second"] = target
            row["target_met"] = ok
        report["formats"][fmt] = row
        print(
            f"{fmt:<11} {first['lines']:>10,} {lines_s:>10,.0f} {mb_s:>7.1f} {rss:>6.0f} MiB"
            f" {naive_text:>10} {ratio_text:>8} {f'{target:,}' if target else '-':>9}  {met:<3}"
            f" {pure_text:>9} {compiled_text:>8}"
        )


def bench_libraries(size: int, runs: int, report: dict[str, Any]) -> None:
    """What isal, orjson, the reader's step sizes and the kept heap buy, on the NLB object: each
    swapped for the standard library (or the former or default setting), everything else
    unchanged."""
    path = benchgen.write_object(DATA, "nlb", size)
    print(f"\nLibraries (NLB, {size / MB:.0f} MB, median of {runs}, per CPU-second)\n")
    rows = {
        "gunzip isal": ("gunzip", "isal"),
        "gunzip zlib": ("gunzip", "zlib"),
        "reader 128K/1M steps": ("reader", ""),
        "reader 1M/4M steps": ("reader", "big-steps"),
        "pipeline isal+orjson": ("pipeline", ""),
        "pipeline zlib": ("pipeline", "zlib"),
        "pipeline json (stdlib)": ("pipeline", "json"),
        "pipeline glibc heap as is": ("pipeline", "heap-as-is"),
    }
    measured: dict[str, list[dict[str, Any]]] = {label: [] for label in rows}
    for _ in range(runs):  # interleaved: drift in machine load hits every row alike
        for label, (kind, variant) in rows.items():
            measured[label].append(worker(kind, path, "--format", "nlb", "--variant", variant))
    results: dict[str, dict[str, float]] = {}
    for label, runs_ in measured.items():
        results[label] = {
            "mb_per_cpu_second": round(median_of(runs_, lambda r: r["bytes"] / r["cpu"] / MB), 1),
            "lines_per_cpu_second": round(
                median_of(runs_, lambda r: r["lines"] / r["cpu"]) if runs_[0]["lines"] else 0
            ),
        }
    report["libraries"] = results
    for label, row in results.items():
        lines = f"{row['lines_per_cpu_second']:>10,} lines/s" if row["lines_per_cpu_second"] else ""
        print(f"  {label:<24} {row['mb_per_cpu_second']:>8.1f} MB/s {lines}")
    isal, plain = results["gunzip isal"], results["gunzip zlib"]
    print(
        f"  isal inflates {isal['mb_per_cpu_second'] / plain['mb_per_cpu_second']:.1f}x zlib;",
        end="",
    )
    base = results["pipeline isal+orjson"]["lines_per_cpu_second"]
    print(
        f" whole path: isal {base / results['pipeline zlib']['lines_per_cpu_second']:.2f}x,"
        f" orjson {base / results['pipeline json (stdlib)']['lines_per_cpu_second']:.2f}x,"
        f" heap kept {base / results['pipeline glibc heap as is']['lines_per_cpu_second']:.2f}x"
    )


# -- end to end into OpenSearch -------------------------------------------------------------


def bench_opensearch(lines: int, runs: int, clients: int, report: dict[str, Any]) -> None:
    from logferry import provisioning

    client = _client()
    try:
        client.info()
    except Exception as exc:
        print(f"\nOpenSearch not answering ({exc}): end-to-end skipped (make opensearch)")
        return
    size = lines * benchgen.GENERATORS["nlb"][1]
    path = benchgen.write_object(DATA, "nlb", size)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    provisioning.apply(client, Settings(index_prefix=prefix))
    print(
        f"\nEnd to end into OpenSearch (NLB, {size / MB:.0f} MB, median of {runs} runs;"
        f" throwaway indices {prefix}-*)\n"
    )
    e2e, ceiling, serial = [], [], []
    try:
        for _ in range(runs):
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            ceiling.append(worker("ceiling", path, "--prefix", prefix, "--clients", str(clients)))
            # The same bodies one request at a time, as the sink sends them: what concurrency
            # alone adds to the ceiling.
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            serial.append(worker("ceiling", path, "--prefix", prefix, "--clients", "1"))
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            e2e.append(worker("e2e", path, "--prefix", prefix))
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        client.indices.delete_index_template(name=provisioning.template_name(prefix), ignore=[404])
    docs = e2e[0]["documents"]
    pipe_rate = median_of(e2e, lambda r: r["documents"] / r["wall"])
    ceil_rate = median_of(ceiling, lambda r: r["documents"] / r["wall"])
    serial_rate = median_of(serial, lambda r: r["documents"] / r["wall"])
    cpu_share = median_of(e2e, lambda r: r["cpu"] / r["wall"])
    pipe_rss = max(r["peak_rss_mib"] for r in e2e)
    in_flight = e2e[0]["concurrency"]
    ratio = pipe_rate / ceil_rate
    report["opensearch"] = {
        "documents": docs,
        "pipeline_docs_per_second": round(pipe_rate),
        "ceiling_docs_per_second": round(ceil_rate),
        "ceiling_clients": clients,
        "serial_ceiling_docs_per_second": round(serial_rate),
        "ratio": round(ratio, 2),
        "pipeline_cpu_share": round(cpu_share, 2),
        "pipeline_requests_in_flight": in_flight,
        "pipeline_peak_rss_mib": round(pipe_rss, 1),
        "failed": sum(r["failed"] for r in e2e),
        "error_requests": sum(r["error_requests"] for r in ceiling),
        "target_met": ratio >= E2E_RATIO_TARGET,
    }
    how = "one request at a time" if in_flight == 1 else f"{in_flight} requests in flight"
    print(f"  {'pipeline, real sink (' + how + ')':<46}{pipe_rate:>9,.0f} docs/s")
    print(f"  OpenSearch, pre-built bodies, 1 client        {serial_rate:>9,.0f} docs/s")
    print(f"  OpenSearch ceiling, pre-built, {clients} clients     {ceil_rate:>9,.0f} docs/s")
    print(
        f"  ratio {ratio:.2f} (target >= {E2E_RATIO_TARGET}: {'yes' if ratio >= 0.8 else 'NO'});"
        f" pipeline process busy {cpu_share:.0%} of its wall time, peak RSS {pipe_rss:.0f} MiB;"
        f" {docs:,} documents per run"
    )


# -- memory ---------------------------------------------------------------------------------


def _child_peak_mib(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one command, stdout to /dev/null."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def bench_memory(report: dict[str, Any]) -> None:
    logferry = str(Path(sys.executable).parent / "logferry")
    sizes = {"40 MB": 40 * MB, "1 GiB": 1024 * MIB}
    print("\nMemory: peak RSS (ru_maxrss) of one process over one NLB object\n")
    rows: dict[str, dict[str, float]] = {}
    for label, size in sizes.items():
        path = benchgen.write_object(DATA, "nlb", size)
        parse_rss, parse_s = _child_peak_mib([logferry, "parse", "--format", "nlb", str(path)])
        pipe_rss, pipe_s = _child_peak_mib(
            [
                sys.executable,
                "-m",
                "tools.bench",
                "_worker",
                "pipeline",
                str(path),
                "--format",
                "nlb",
            ]
        )
        rows[label] = {
            "logferry_parse_mib": round(parse_rss, 1),
            "pipeline_mib": round(pipe_rss, 1),
            "logferry_parse_seconds": round(parse_s, 1),
            "pipeline_seconds": round(pipe_s, 1),
        }
        print(
            f"  {label:>6}: logferry parse {parse_rss:6.1f} MiB ({parse_s:5.1f} s)   "
            f"pipeline + discarding sink {pipe_rss:6.1f} MiB ({pipe_s:5.1f} s)"
        )
    big, small = rows["1 GiB"], rows["40 MB"]
    verdicts = {}
    for key, name in (("logferry_parse_mib", "logferry parse"), ("pipeline_mib", "pipeline")):
        flat = big[key] / small[key]
        ok = big[key] <= MEMORY_CAP_MIB and flat <= MEMORY_FLAT_RATIO
        verdicts[key] = {"ratio_1gib_to_40mb": round(flat, 2), "target_met": ok}
        print(
            f"  {name}: 1 GiB / 40 MB = {flat:.2f}x (<= {MEMORY_FLAT_RATIO}x),"
            f" {big[key]:.0f} MiB (<= {MEMORY_CAP_MIB}): {'yes' if ok else 'NO'}"
        )
    report["memory"] = {"objects": rows, "verdicts": verdicts}


# -- profile --------------------------------------------------------------------------------


def profile(fmt: str, size: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    path = benchgen.write_object(DATA, fmt, size)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    result = run_pipeline(fmt, path)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    print(json.dumps(result))


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv[:1] == ["_worker"]:
        return worker_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, help="MB of text per format (default 200)")
    parser.add_argument("--quick", action="store_true", help="20 MB per format, 3 runs")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--formats", help="comma-separated subset (default: all with a generator)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive comparison")
    parser.add_argument(
        "--no-pure", action="store_true", help="skip the parsers run from their sources"
    )
    parser.add_argument("--no-opensearch", action="store_true", help="skip end to end")
    parser.add_argument("--e2e-lines", type=int, help="NLB lines into OpenSearch (300,000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent ceiling requests")
    parser.add_argument(
        "--no-libraries", action="store_true", help="skip the isal/orjson/reader-step rows"
    )
    parser.add_argument("--memory", action="store_true", help="only the memory measurement")
    parser.add_argument(
        "--hostile", action="store_true", help="only what hostile objects cost the handler"
    )
    parser.add_argument("--profile", metavar="FORMAT", help="profile one format and exit")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    args = parser.parse_args(argv)
    size = int((args.size_mb or (20 if args.quick else 200)) * MB)
    runs = max(1, args.runs)
    e2e_lines = args.e2e_lines or (100_000 if args.quick else 300_000)
    if args.profile:
        profile(args.profile, size)
        return 0
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "size_bytes": size,
        "runs": runs,
        "formats": {},
    }
    started = time.perf_counter()
    report["machine"]["load_average_at_start"] = os.getloadavg()
    print("load average at the start " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    # `logferry parse` in a child reads its window from the environment.
    os.environ.setdefault("LOGFERRY_ACCEPT_DAYS_BACK", str(benchgen.DAYS_BACK))
    if args.memory:
        bench_memory(report)
    elif args.hostile:
        bench_hostile.bench_hostile(report)
    else:
        wanted = args.formats.split(",") if args.formats else list(benchgen.GENERATORS)
        formats = []
        for fmt in wanted:
            if fmt not in benchgen.GENERATORS:
                print(f"{fmt}: no generator in scripts/benchgen.py, skipped")
            elif fmt not in FORMATS:
                print(f"{fmt}: not registered in logferry.formats.FORMATS, skipped")
            else:
                formats.append(fmt)
        if not args.formats:
            for fmt in sorted(set(FORMATS) - set(benchgen.GENERATORS)):
                print(f"{fmt}: registered, no generator yet, not measured")
        bench_formats(formats, size, runs, report, naive=not args.no_naive, pure=not args.no_pure)
        if not (args.no_libraries or args.quick) and "nlb" in formats:
            bench_libraries(size, runs, report)
        if not args.no_opensearch:
            bench_opensearch(e2e_lines, runs, args.clients, report)
            if not args.quick:
                bench_hostile.bench_hostile(report)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]};"
        f" {time.perf_counter() - started:.0f} s; load average at the end {load}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0
