"""AWS Lambda function logs: platform lines, application lines, and the JSON log format.

Fields tab-separated (shown here as two spaces):

    START RequestId: 8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b Version: $LATEST
    [INFO]  2026-11-20T12:00:01.123Z  8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b  order 42 stored
    2026-11-20T12:00:01.130Z  8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b  ERROR  payment declined
    END RequestId: 8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b
    REPORT RequestId: 8f5b...  Duration: 102.25 ms  Billed Duration: 103 ms  Memory Size: 128 MB
        Max Memory Used: 70 MB  Init Duration: 180.55 ms
    {"time":"2026-11-20T12:00:01.240Z","type":"platform.report","record":{"requestId":"8f5b...",
     "metrics":{"durationMs":102.25,"billedDurationMs":103,"memorySizeMB":128,...},"status":"success"}}
    {"timestamp":"2026-11-20T12:00:01.123Z","level":"INFO","requestId":"8f5b...","message":"..."}

Each line is one log event's message, as CloudWatch Logs holds it. Messages come wrapped in
subscription envelopes (their reader passes the event's time to `parse_message`), or in a
CloudWatch Logs export, where each line is `<time> <message>` (that time is read here).

- @timestamp is the message's own time when it has one (application lines, JSON `timestamp`
  or `time`), else the log event's. Platform text lines (START, END, REPORT, INIT_START, ...)
  carry no time of their own: without an event time, a line is rejected, never given a
  guessed one (the object's time would put a cold start minutes away from its invocation).
- aws.lambda.type names every line as Lambda's Telemetry API names its events, the text and
  the JSON format alike: platform.start, platform.end, platform.report, platform.initStart,
  ..., `function` for what the code wrote, platform.fault for `Task timed out after N seconds`
  and `RequestId: ... Error: ...` lines.
- REPORT: event.duration in nanoseconds; duration, billed duration, init and restore durations
  in ms, memory size and max memory used in MB (aws.lambda.*); faas.coldstart is whether an
  init duration is reported. A report's `Status` (timeout, error) and fault lines make
  event.outcome failure, with aws.lambda.status; a success status makes it success.
- The request id is faas.execution; `message` holds the text: the line after the runtime's own
  fields (Python's `[LEVEL]\\ttime\\tid\\t`, Node's `time\\tid\\tLEVEL\\t`), whole for anything
  else. log.level is the runtime's (or the JSON `level`) as written. A JSON message that is
  not a string is kept as its JSON text; other JSON keys go to aws.lambda.extra.
- A line of a multi-line message (a stack trace) that an export split off has no time of its
  own: it is rejected with the reason, kept for replay.
Rejected alternatives: reading other runtimes' layouts (Java's log4j pattern) by guess: their
lines stay whole in `message`; JSON application logs without Lambda's keys as content
detection: any JSON log would be taken for Lambda's.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..model import ParseError, Source
from .base import BOOLEAN, FLOAT, INTEGER, KEYWORD, TEXT_AND_KEYWORD, LineFormat, obj
from .cloudtrail_records import iso_time
from .jsonlines import as_text, keep_extra
from .jsonstream import FLAT, check_serialisable

_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z"
_LEVELS = r"TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL"
# A CloudWatch Logs export writes each event as `<time> <message>`.
_EXPORTED = re.compile(f"({_ISO}) (.*)", re.DOTALL)
_PYTHON = re.compile(rf"\[({_LEVELS})\]\t({_ISO})\t([^\t]*)\t(.*)", re.DOTALL)
_PYTHON_BARE = re.compile(rf"\[({_LEVELS})\]\s+(.*)", re.DOTALL)  # e.g. an import error
_NODE = re.compile(rf"({_ISO})\t([0-9a-f-]{{36}}|undefined)\t(?:({_LEVELS})\t)?(.*)", re.DOTALL)
_TIMEOUT = re.compile(rf"(?:({_ISO}) )?([0-9a-f-]{{36}}) (Task timed out after .*)", re.DOTALL)
_FAULT = re.compile(r"RequestId: (\S+) (Error: .*)", re.DOTALL)
# `Key: value` pairs of platform lines, tab-separated (a space in some renderings), after
# the word that names the line (`REPORT RequestId: ...`, `EXTENSION\tName: ...`).
_WORDS = r"[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)*"
# A number with its unit first: `128 MB Max Memory Used: ...` is not a key `MB Max ...`.
_PAIR = re.compile(rf"({_WORDS}): ([0-9.]+ (?:ms|MB)|[^\t\n]*?)(?=[\t\n]| {_WORDS}: |\s*$)")
_HEAD = re.compile(rf"([A-Z_]+)[ \t](?={_WORDS}: )")
_PLATFORM = {
    "START": "platform.start",
    "END": "platform.end",
    "REPORT": "platform.report",
    "INIT_START": "platform.initStart",
    "INIT_REPORT": "platform.initReport",
    "RESTORE_START": "platform.restoreStart",
    "RESTORE_REPORT": "platform.restoreReport",
    "EXTENSION": "platform.extension",
    "TELEMETRY": "platform.telemetrySubscription",
    "LOGS": "platform.logsSubscription",
}
_INVOCATION = frozenset(["START", "END", "REPORT"])
# REPORT / INIT_REPORT fields (text name, JSON metrics name) -> aws.lambda.<name>
_DURATIONS = (
    ("Duration", "durationMs", "duration_ms"),
    ("Billed Duration", "billedDurationMs", "billed_duration_ms"),
    ("Init Duration", "initDurationMs", "init_duration_ms"),
    ("Restore Duration", "restoreDurationMs", "restore_duration_ms"),
    ("Billed Restore Duration", "billedRestoreDurationMs", "billed_restore_duration_ms"),
)
_MEMORY = (
    ("Memory Size", "memorySizeMB", "memory_size_mb"),
    ("Max Memory Used", "maxMemoryUsedMB", "max_memory_used_mb"),
)
_TEXTS = (
    ("Status", "status", "status"),
    ("Phase", "phase", "phase"),
    ("Runtime Version", "runtimeVersion", "runtime_version"),
    ("Runtime Version ARN", "runtimeVersionArn", "runtime_version_arn"),
    ("Name", "name", "name"),
    ("State", "state", "state"),
)
# The duration a report is about, by record type: event.duration.
_OWN_DURATION = {
    "platform.report": "duration_ms",
    "platform.initReport": "init_duration_ms",
    "platform.restoreReport": "restore_duration_ms",
}
_FAAS_KEYS = (
    ("requestId", "execution"),
    ("functionName", "name"),
    ("functionArn", "id"),
    ("version", "version"),
    ("functionVersion", "version"),
)
_LOG_KEYS = (("level", "level"), ("logger", "logger"))
_APP_KEYS = frozenset(
    ["timestamp", "time", "level", "message", "requestId", "logger", "errorType",
     "errorMessage", "stackTrace"]
)  # fmt: skip
_RECORD_KEYS = frozenset(
    ["requestId", "version", "metrics", "status", "errorType", "tracing", "functionName",
     "functionVersion", "functionArn", "runtimeVersion", "runtimeVersionArn", "phase", "name",
     "state"]
)  # fmt: skip


def _number(value: Any, field: str) -> float:
    """A duration or a size: a JSON number, or the text `102.25 ms` / `128 MB`."""
    if type(value) is str:
        value = value.split(" ", 1)[0]
        try:
            value = float(value)
        except ValueError:
            raise ParseError(f"{field}: expected a number, got {value[:40]!r}") from None
    if (type(value) is int or type(value) is float) and 0 <= value < 1e12:
        return float(value)
    raise ParseError(f"{field}: expected a number, got {str(value)[:40]!r}")


def _metrics(values: dict[str, Any], column: int, doc: Source, function: Source) -> None:
    """Durations, memory and statuses of a platform record: text pairs (column 0) or JSON
    metrics and record keys (column 1)."""
    for names in _DURATIONS:
        value = values.get(names[column])
        if value is not None:
            function[names[2]] = _number(value, names[column])
    for names in _MEMORY:
        value = values.get(names[column])
        if value is not None:
            function[names[2]] = int(_number(value, names[column]))
    for names in _TEXTS:
        value = as_text(values.get(names[column]))
        if value is not None:
            function[names[2]] = value
    kind = function["type"]
    own = _OWN_DURATION.get(kind)
    if own is not None and own != "duration_ms" and "duration_ms" in function:
        function.setdefault(own, function.pop("duration_ms"))  # JSON names it durationMs
    total = function.get(own) if own is not None else None
    if total is not None:
        doc["event"]["duration"] = round(total * 1_000_000)
    if kind == "platform.report":
        doc.setdefault("faas", {})["coldstart"] = "init_duration_ms" in function
    status = function.get("status")
    if status is not None:
        doc["event"]["outcome"] = "success" if status == "success" else "failure"


def platform_head(message: str) -> tuple[str, str] | None:
    """(type, the pairs after the word) of a platform text line, None for other text."""
    m = _HEAD.match(message)
    if m is None or m.group(1) not in _PLATFORM:
        return None
    pairs = message[m.end() :]
    if m.group(1) in _INVOCATION and not pairs.startswith("RequestId: "):
        return None  # `START Time: 12:00` is the code's own line
    return _PLATFORM[m.group(1)], pairs


def _platform_text(kind: str, pairs_text: str, doc: Source, function: Source) -> None:
    function["type"] = kind
    pairs = {key: value.strip() for key, value in _PAIR.findall(pairs_text)}
    faas: Source = {}
    for key, name in (("RequestId", "execution"), ("Version", "version")):
        if pairs.get(key):
            faas[name] = pairs[key]
    if faas:
        doc["faas"] = faas
    if pairs.get("XRAY TraceId"):
        doc["trace"] = {"id": pairs["XRAY TraceId"]}
    if pairs.get("Error Type"):
        doc["error"] = {"type": pairs["Error Type"]}
    _metrics(pairs, 0, doc, function)


def _text(message: str, doc: Source, function: Source) -> str | None:
    """Fill the document from a text message; its own time as written (None if absent)."""
    platform = platform_head(message)
    if platform is not None:
        doc["message"] = message
        _platform_text(*platform, doc, function)
        return None
    time = request_id = level = None
    if m := _PYTHON.fullmatch(message):
        level, time, request_id, text = m.groups()
    elif m := _NODE.fullmatch(message):
        time, request_id, level, text = m.groups()
    elif m := _TIMEOUT.fullmatch(message):
        time, request_id, text = m.groups()
        function.update(type="platform.fault", status="timeout")
        doc["event"]["outcome"] = "failure"
    elif m := _FAULT.fullmatch(message):
        request_id, text = m.groups()
        function.update(type="platform.fault", status="error")
        doc["event"]["outcome"] = "failure"
    elif m := _PYTHON_BARE.fullmatch(message):
        level, text = m.groups()
    else:
        text = message
    if request_id and request_id != "undefined":
        doc["faas"] = {"execution": request_id}
    if level is not None:
        doc["log"] = {"level": level}
    doc["message"] = text
    return time


def _platform_json(kind: str, record: Any, text: str, doc: Source, function: Source) -> None:
    function["type"] = kind
    if type(record) is str:  # platform.fault: a sentence
        doc["message"] = record
        doc["event"]["outcome"] = "failure"
        return
    if type(record) is not dict:
        return
    faas: Source = {}
    for key, name in _FAAS_KEYS:
        value = as_text(record.get(key))
        if value is not None and name not in faas:
            faas[name] = value
    if faas:
        doc["faas"] = faas
    tracing = record.get("tracing")
    if type(tracing) is dict and as_text(tracing.get("value")) is not None:
        doc["trace"] = {"id": tracing["value"]}
    error_type = as_text(record.get("errorType"))
    if error_type is not None:
        doc["error"] = {"type": error_type}
    metrics = record.get("metrics")
    values = dict(metrics) if type(metrics) is dict else {}
    values.update((names[1], record[names[1]]) for names in _TEXTS if names[1] in record)
    _metrics(values, 1, doc, function)
    keep_extra({k: v for k, v in record.items() if k not in _RECORD_KEYS}, text, function)


def _json(entry: dict[str, Any], text: str, doc: Source, function: Source) -> Any:
    """Fill the document from a JSON message; its own time as written (None if absent)."""
    kind = entry.get("type")
    if type(kind) is str and kind.startswith("platform."):
        _platform_json(kind, entry.get("record"), text, doc, function)
        return entry.get("time")
    message = entry.get("message")
    if message is not None:
        doc["message"] = message if type(message) is str else orjson.dumps(message).decode()
    log = {name: value for key, name in _LOG_KEYS if (value := as_text(entry.get(key)))}
    if log:
        doc["log"] = log
    request_id = as_text(entry.get("requestId"))
    if request_id is not None:
        doc["faas"] = {"execution": request_id}
    error: Source = {}
    for key, name in (("errorType", "type"), ("errorMessage", "message")):
        value = as_text(entry.get(key))
        if value is not None:
            error[name] = value
    stack = entry.get("stackTrace")
    if type(stack) is list:
        stack = "\n".join(str(frame) for frame in stack)
    if type(stack) is str and stack:
        error["stack_trace"] = stack
    if error:
        doc["error"] = error
    keep_extra({k: v for k, v in entry.items() if k not in _APP_KEYS}, text, function)
    stamp = entry.get("timestamp")
    return stamp if stamp is not None else entry.get("time")


def parse_message(message: str, event_time: str | None) -> Source:
    """The ECS document for one log event's message; `event_time` (canonical UTC) is the log
    event's time, taken when the message has none of its own. ParseError without a time."""
    doc: Source = {"event": {"dataset": "aws.lambda", "kind": "event"}}
    function: Source = {"type": "function"}
    entry = None
    if message[:1] == "{":
        try:
            entry = orjson.loads(message)
        except orjson.JSONDecodeError:
            entry = None  # text that starts with a brace
    if type(entry) is dict:
        written = _json(entry, message, doc, function)
    else:
        written = _text(message, doc, function)
    own = iso_time(written) if written is not None else None
    if written is not None and own is None and event_time is None:
        raise ParseError(f"time: expected an ISO 8601 time, got {str(written)[:40]!r}")
    timestamp = own or event_time
    if timestamp is None:
        raise ParseError(
            f"no time: a {function['type']} line carries none of its own; read the function's"
            " log through CloudWatch Logs (a subscription or an export), which gives each its time"
        )
    doc = {"@timestamp": timestamp, **doc, "aws": {"lambda": function}}
    if entry is not None:
        check_serialisable(doc, message)
    return doc


class LambdaFormat(LineFormat):
    name = "lambda"
    index_source = "lambda"
    # A CloudWatch Logs export of a function's log: <prefix>/<task id>/<log stream>/000000.gz,
    # the stream named YYYY/MM/DD/[<version>]<32 hex> by Lambda.
    key_pattern = re.compile(r"(?:^|/)\d{4}/\d\d/\d\d/[^/]*\[[^/\]]+\][0-9a-f]{32}/\d{6}\.gz$")
    mapping = {
        "message": TEXT_AND_KEYWORD,
        "log": obj(level=KEYWORD, logger=KEYWORD),
        "faas": obj(
            execution=KEYWORD, name=KEYWORD, id=KEYWORD, version=KEYWORD, coldstart=BOOLEAN
        ),
        "error": obj(message=TEXT_AND_KEYWORD, type=KEYWORD, stack_trace={"type": "text"}),
        "aws": obj(
            **{
                "lambda": obj(
                    type=KEYWORD,
                    status=KEYWORD,
                    phase=KEYWORD,
                    duration_ms=FLOAT,
                    billed_duration_ms=FLOAT,
                    init_duration_ms=FLOAT,
                    restore_duration_ms=FLOAT,
                    billed_restore_duration_ms=FLOAT,
                    memory_size_mb=INTEGER,
                    max_memory_used_mb=INTEGER,
                    runtime_version=KEYWORD,
                    runtime_version_arn=KEYWORD,
                    name=KEYWORD,
                    state=KEYWORD,
                    extra=FLAT,
                    truncated_fields=KEYWORD,
                )
            }
        ),
    }

    def matches_content(self, first_line: str) -> bool:
        line = m.group(2) if (m := _EXPORTED.fullmatch(first_line)) else first_line
        if platform_head(line) is not None:
            return True
        if line[:1] == "{":
            return '"record"' in line and re.search(r'"type": ?"platform\.', line) is not None
        return _PYTHON.fullmatch(line) is not None or _NODE.fullmatch(line) is not None

    def parse_line(self, line: str) -> Source:
        m = _EXPORTED.fullmatch(line)
        if m is None:
            return parse_message(line, None)
        event_time = iso_time(m.group(1))
        if event_time is None:
            raise ParseError(f"time: expected an ISO 8601 time, got {m.group(1)!r}")
        return parse_message(m.group(2), event_time)


FORMAT = LambdaFormat()
