"""Lambda function logs: platform lines (START, END, REPORT, INIT_START, ...), the Python and
Node runtimes' application lines, timeouts and faults, the JSON log format's platform records
and application records, CloudWatch Logs exports; times, rejections, detection.

Sources of the facts: Lambda Developer Guide, "Sending Lambda function logs to CloudWatch Logs"
and "Configuring JSON and plain text log formats" (the platform lines, the JSON format's
`time`/`type`/`record` system records and `timestamp`/`level`/`message`/`requestId`
application records), "Telemetry API schema reference" (platform.report metrics durationMs,
billedDurationMs, memorySizeMB, maxMemoryUsedMB, initDurationMs; status; errorType), the Python
and Node.js logging pages (their text layouts), CloudWatch Logs "Exporting log data to Amazon
S3" (a task's objects, `<time> <message>` lines); public samples of REPORT lines with Init
Duration, and of `Status: timeout` on REPORT since the JSON format came.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry.formats import format_for_content, format_for_key
from logferry.formats.lambda_logs import FORMAT, parse_message
from logferry.model import Document, ObjectRef, ParseContext, Rejection
from tests.format_checks import REAL_FIRST_LINES, claimed_by, only_document, parse_lines

RID = "8f5b3c9e-2a1d-4e6f-9b0a-1c2d3e4f5a6b"
T = "2026-11-20T12:00:01.240Z"
KEY = (
    "exportedlogs/4f1c2b3a-9d8e-4f7a-b6c5-d4e3f2a1b0c9/2026/11/20/"
    "[$LATEST]0123456789abcdef0123456789abcdef/000000.gz"
)
CTX = ParseContext(ObjectRef("logs", KEY))
START = f"START RequestId: {RID} Version: $LATEST"
END = f"END RequestId: {RID}"
REPORT = (
    f"REPORT RequestId: {RID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 180.55 ms\t"
)
REPORT_TIMEOUT = (
    f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 51 MB\tStatus: timeout"
)
INIT_START = (
    "INIT_START Runtime Version: python:3.13.v21\tRuntime Version ARN: "
    "arn:aws:lambda:eu-west-1::runtime:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
)
PYTHON = f"[INFO]\t2026-11-20T12:00:01.123Z\t{RID}\torder 42 stored"
NODE = f"2026-11-20T12:00:01.130Z\t{RID}\tERROR\tpayment declined: card expired"
TIMEOUT = f"2026-11-20T12:00:04.003Z {RID} Task timed out after 3.00 seconds"
PLATFORM_REPORT = json.dumps(
    {
        "time": T,
        "type": "platform.report",
        "record": {
            "requestId": RID,
            "metrics": {
                "durationMs": 102.25,
                "billedDurationMs": 103,
                "memorySizeMB": 128,
                "maxMemoryUsedMB": 70,
                "initDurationMs": 180.55,
            },
            "status": "success",
        },
    }
)
APP_JSON = json.dumps(
    {
        "timestamp": "2026-11-20T12:00:01.123Z",
        "level": "ERROR",
        "message": "payment declined",
        "logger": "root",
        "requestId": RID,
        "errorType": "CardError",
        "errorMessage": "card expired",
        "stackTrace": ['  File "/var/task/app.py", line 9, in handler\n'],
        "order": {"id": 42},
    }
)


def run(*lines: str) -> tuple[list[Document], list[Rejection]]:
    return parse_lines(FORMAT, CTX, *lines)


def exported(message: str) -> dict[str, Any]:
    """The document of a line of a CloudWatch Logs export: `<event time> <message>`."""
    return only_document(FORMAT, CTX, f"{T} {message}")


def test_start_and_end_name_the_invocation() -> None:
    doc = exported(START)
    assert doc == {
        "@timestamp": T,
        "event": {"dataset": "aws.lambda", "kind": "event"},
        "message": START,
        "faas": {"execution": RID, "version": "$LATEST"},
        "aws": {"lambda": {"type": "platform.start"}},
    }
    assert exported(END)["aws"]["lambda"] == {"type": "platform.end"}


def test_report_gives_durations_memory_and_a_cold_start() -> None:
    doc = exported(REPORT)
    assert doc["event"]["duration"] == 102_250_000  # ns
    assert doc["faas"] == {"execution": RID, "coldstart": True}
    assert doc["aws"]["lambda"] == {
        "type": "platform.report",
        "duration_ms": 102.25,
        "billed_duration_ms": 103.0,
        "memory_size_mb": 128,
        "max_memory_used_mb": 70,
        "init_duration_ms": 180.55,
    }
    assert "outcome" not in doc["event"]  # a text REPORT says nothing of success


def test_report_of_a_timeout_is_a_failure_and_warm() -> None:
    doc = exported(REPORT_TIMEOUT)
    assert doc["event"]["outcome"] == "failure"
    assert doc["aws"]["lambda"]["status"] == "timeout"
    assert doc["faas"]["coldstart"] is False


def test_report_written_with_spaces_and_an_xray_trace() -> None:
    line = (
        f"REPORT RequestId: {RID} Duration: 718.65 ms Billed Duration: 800 ms Memory Size: 128 MB"
        " Max Memory Used: 14 MB\t\nXRAY TraceId: 1-5e8a9b0c-0a1b2c3d4e5f60718293a4b5\t"
        "SegmentId: 0a1b2c3d4e5f6071\tSampled: true\t"
    )
    doc = parse_message(line, T)
    assert doc["aws"]["lambda"]["billed_duration_ms"] == 800.0
    assert doc["aws"]["lambda"]["max_memory_used_mb"] == 14
    assert doc["trace"] == {"id": "1-5e8a9b0c-0a1b2c3d4e5f60718293a4b5"}


def test_init_start_names_the_runtime() -> None:
    doc = exported(INIT_START)
    assert doc["aws"]["lambda"]["type"] == "platform.initStart"
    assert doc["aws"]["lambda"]["runtime_version"] == "python:3.13.v21"
    assert doc["aws"]["lambda"]["runtime_version_arn"].startswith("arn:aws:lambda:eu-west-1::")
    init = exported("INIT_REPORT Init Duration: 10000.15 ms\tPhase: init\tStatus: timeout")
    assert init["aws"]["lambda"]["init_duration_ms"] == 10000.15
    assert init["event"]["duration"] == 10_000_150_000
    assert (init["aws"]["lambda"]["phase"], init["event"]["outcome"]) == ("init", "failure")


def test_python_and_node_lines_keep_their_own_time_level_and_request_id() -> None:
    python = exported(PYTHON)
    assert python["@timestamp"] == "2026-11-20T12:00:01.123Z"  # its own, not the export's
    assert python["log"] == {"level": "INFO"}
    assert python["faas"] == {"execution": RID}
    assert python["message"] == "order 42 stored"
    node = exported(NODE)
    assert (node["log"]["level"], node["message"]) == ("ERROR", "payment declined: card expired")
    assert node["aws"]["lambda"]["type"] == "function"


def test_timeout_and_fault_lines_are_failures() -> None:
    timeout = exported(TIMEOUT)
    assert timeout["@timestamp"] == "2026-11-20T12:00:04.003Z"
    assert timeout["aws"]["lambda"] == {"type": "platform.fault", "status": "timeout"}
    assert timeout["event"]["outcome"] == "failure"
    assert timeout["message"] == "Task timed out after 3.00 seconds"
    fault = exported(f"RequestId: {RID} Error: Runtime exited with error: signal: killed")
    assert fault["aws"]["lambda"]["status"] == "error"
    assert fault["faas"]["execution"] == RID


def test_plain_output_is_the_message_with_the_event_time() -> None:
    doc = exported("connecting to db.internal:5432")
    assert doc["message"] == "connecting to db.internal:5432"
    assert doc["@timestamp"] == T
    assert "log" not in doc
    assert exported("[ERROR] Runtime.ImportModuleError: no module 'app'")["log"]["level"] == "ERROR"


def test_json_platform_report_reads_like_the_text_one() -> None:
    doc = exported(PLATFORM_REPORT)
    text = exported(REPORT)
    assert doc["aws"]["lambda"] == {**text["aws"]["lambda"], "status": "success"}
    assert doc["faas"] == text["faas"]
    assert doc["event"]["outcome"] == "success"
    assert doc["@timestamp"] == T


def test_json_timeout_report_and_init_start() -> None:
    record = {"requestId": RID, "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000,
              "memorySizeMB": 128, "maxMemoryUsedMB": 51}, "status": "timeout",
              "errorType": "Sandbox.Timedout"}  # fmt: skip
    doc = parse_message(json.dumps({"time": T, "type": "platform.report", "record": record}), None)
    assert (doc["event"]["outcome"], doc["error"]["type"]) == ("failure", "Sandbox.Timedout")
    init = {"runtimeVersion": "nodejs:22.v30", "runtimeVersionArn": "arn:aws:lambda:::runtime:x",
            "functionName": "checkout", "functionVersion": "$LATEST", "phase": "init",
            "initializationType": "on-demand"}  # fmt: skip
    doc = parse_message(json.dumps({"time": T, "type": "platform.initStart", "record": init}), None)
    assert doc["faas"] == {"name": "checkout", "version": "$LATEST"}
    assert doc["aws"]["lambda"]["runtime_version"] == "nodejs:22.v30"
    assert doc["aws"]["lambda"]["extra"] == {"initializationType": "on-demand"}


def test_json_application_record() -> None:
    doc = exported(APP_JSON)
    assert doc["@timestamp"] == "2026-11-20T12:00:01.123Z"
    assert doc["message"] == "payment declined"
    assert doc["log"] == {"level": "ERROR", "logger": "root"}
    assert doc["faas"] == {"execution": RID}
    assert doc["error"] == {
        "type": "CardError",
        "message": "card expired",
        "stack_trace": '  File "/var/task/app.py", line 9, in handler\n',
    }
    assert doc["aws"]["lambda"] == {"type": "function", "extra": {"order": {"id": 42}}}


def test_json_message_that_is_not_text_is_kept_as_json() -> None:
    doc = parse_message(json.dumps({"timestamp": T, "level": "INFO", "message": {"a": 1}}), None)
    assert doc["message"] == '{"a":1}'


def test_the_event_time_passed_in_is_taken_when_the_message_has_none() -> None:
    assert parse_message(REPORT, "2026-11-20T12:00:01.300Z")["@timestamp"] == (
        "2026-11-20T12:00:01.300Z"
    )
    # a JSON time that does not parse gives way to the event's
    line = json.dumps({"timestamp": "yesterday", "message": "x"})
    assert parse_message(line, T)["@timestamp"] == T


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (START, "no time: a platform.start line carries none of its own"),
        ("connecting", "no time: a function line carries none of its own"),
        ('{"message": "x"}', "no time: a function line"),
        (json.dumps({"timestamp": "yesterday", "message": "x"}), "time: expected an ISO 8601"),
        (f"2026-02-30T12:00:00.000Z {START}", "time: expected an ISO 8601 time"),
        (REPORT.replace("102.25 ms", "fast ms"), "Duration: expected a number"),
        (f"{T} " + REPORT.replace("102.25 ms", "fast ms"), "Duration: expected a number"),
    ],
)
def test_lines_without_a_time_or_with_bad_values_are_rejected(line: str, reason: str) -> None:
    docs, rejections = run(line)
    assert docs == [] and len(rejections) == 1
    assert rejections[0].reason.startswith(reason)


# -- detection --------------------------------------------------------------------------------


def test_detected_by_the_export_layout_of_a_function_log_stream() -> None:
    assert format_for_key(KEY) is FORMAT
    assert format_for_key(KEY.replace("[$LATEST]", "[12]")) is FORMAT
    assert format_for_key(KEY.replace("000000.gz", "000001.gz")) is FORMAT
    assert format_for_key("exportedlogs/4f1c/i-0123456789abcdef0/000000.gz") is None


@pytest.mark.parametrize(
    "line",
    [START, INIT_START, REPORT, PYTHON, NODE, PLATFORM_REPORT, f"{T} {INIT_START}", f"{T} {START}"],
)
def test_detected_by_content_and_claimed_by_no_other_format(line: str) -> None:
    assert claimed_by(line) == ["lambda"]
    assert format_for_content(line) is FORMAT


@pytest.mark.parametrize(
    "line", ["START of the nightly batch", "END", APP_JSON, "REPORT: done", "START Time: 12:00"]
)
def test_lines_that_only_look_alike_are_not_claimed(line: str) -> None:
    assert not FORMAT.matches_content(line)


@pytest.mark.parametrize(("name", "first"), REAL_FIRST_LINES, ids=[n for n, _ in REAL_FIRST_LINES])
def test_no_other_formats_real_first_line_is_taken(name: str, first: str) -> None:
    assert not FORMAT.matches_content(first)
