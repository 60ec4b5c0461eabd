"""Nothing lost, nothing duplicated: the real handler, moto for AWS and the real local
OpenSearch, under redelivery, throttling, an outage, a short time budget, a hard kill and
hostile objects. Each scenario prints its figures (run with -s) and asserts them exactly.

Duplicates are counted by a marker every line carries in its SNI field (`<object>-<line>`),
not by `_id`: a line indexed twice under two ids (a wrong line number in a continuation,
another object identity) shows up as a marker with two documents.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from tests.support import (
    DEADLETTER_BUCKET,
    FakeLambdaContext,
    Setup,
    census,
    emf_sums,
    gz,
    key_of,
    marked_object,
    nlb_line,
    s3_notification,
    sqs_record,
)

pytestmark = pytest.mark.integration


def figures(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}")


def invoke(app: Any, context: Callable[[], Any] = FakeLambdaContext) -> Callable[[Any], Any]:
    return lambda event: app.lambda_handler(event, context())


# -- 1. redelivery ---------------------------------------------------------------------------


def test_every_notification_three_times_out_of_order_indexes_each_line_once(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = setup.put_objects(count=10, lines=300)
    notifications = setup.wiring.receive()
    assert len(notifications) == 10
    deliveries = [
        sqs_record(record["body"], f"m-{round_}-{n}")
        for round_ in range(3)
        for n, record in enumerate(notifications)
    ]
    random.Random(7).shuffle(deliveries)
    app = setup.container()

    for start in range(0, len(deliveries), 10):
        response = app.lambda_handler(
            {"Records": deliveries[start : start + 10]}, FakeLambdaContext()
        )
        assert response == {"batchItemFailures": []}

    found = census(os_client, index_prefix)
    figures(capsys, found.report("redelivery x3", expected, objects=10, messages=len(deliveries)))
    assert found.total == len(expected) == 3000
    assert found.duplicates == 0
    assert found.missing(expected) == set()


# -- a proxy in front of OpenSearch ----------------------------------------------------------


class FaultProxy:
    """HTTP proxy to the real OpenSearch on 127.0.0.1 (random port) that injects faults:
    - throttle: the odd-numbered items of each _bulk are answered 429 without being sent (only
      the even ones are forwarded), and every `whole_every`-th _bulk is refused whole with 429;
    - down: connections are closed without an answer (OpenSearch gone);
    - down_after: go down by itself after that many _bulk requests went through."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 9200)
        self.throttle = False
        self.whole_every = 0
        self.down = False
        self.down_after: int | None = None
        self.bulk_requests = 0
        self.bulk_forwarded = 0
        self.items_refused = 0  # items answered 429, one by one or with their whole request
        self.requests_refused = 0
        self.connections_dropped = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and
                # delayed ACKs add 40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _forward(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            keep = {
                k: v
                for k, v in headers.items()
                if k.lower() not in ("host", "content-length", "connection")
            }
            connection.request(method, path, body=body or None, headers=keep)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        is_bulk = request.command == "POST" and urlparse(request.path).path.endswith("/_bulk")
        with self._lock:
            if is_bulk and self.down_after is not None and self.bulk_forwarded >= self.down_after:
                self.down, self.down_after = True, None
            down = self.down
            if is_bulk:
                self.bulk_requests += 1
                number = self.bulk_requests
        if down:
            with self._lock:
                self.connections_dropped += 1
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
            return
        if is_bulk and self.throttle:
            status, payload = self._throttled_bulk(request, body, number)
        else:
            status, payload = self._forward(request.command, request.path, body, request.headers)
            if is_bulk:
                with self._lock:
                    self.bulk_forwarded += 1
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)

    def _throttled_bulk(
        self, request: BaseHTTPRequestHandler, body: bytes, number: int
    ) -> tuple[int, bytes]:
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
        if self.whole_every and number % self.whole_every == 0:
            with self._lock:
                self.requests_refused += 1
                self.items_refused += len(pairs)
            error = {"type": "es_rejected_execution_exception", "reason": "fault proxy: busy"}
            return 429, json.dumps({"error": error, "status": 429}).encode()
        sent = pairs[0::2]
        forward = b"".join(b"\n".join(pair) + b"\n" for pair in sent)
        status, payload = self._forward("POST", request.path, forward, request.headers)
        if status != 200:
            return status, payload
        answered = iter(json.loads(payload)["items"])
        items = []
        for n in range(len(pairs)):
            if n % 2 == 0:
                items.append(next(answered))
            else:
                items.append(
                    {
                        "index": {
                            "status": 429,
                            "error": {
                                "type": "es_rejected_execution_exception",
                                "reason": "fault proxy: rejected",
                            },
                        }
                    }
                )
        with self._lock:
            self.bulk_forwarded += 1
            self.items_refused += len(pairs) - len(sent)
        return 200, json.dumps({"errors": len(pairs) > 1, "items": items}).encode()


@pytest.fixture
def proxy(opensearch_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(opensearch_url) as running:
        yield running


# -- 2. throttling ---------------------------------------------------------------------------


def test_half_the_bulk_items_throttled_loses_and_duplicates_nothing_and_counts_retries(
    aws_env: None,
    index_prefix: str,
    proxy: FaultProxy,
    os_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = Setup(proxy.url, index_prefix, LOGFERRY_BULK_MAX_DOCS="500")
    proxy.throttle, proxy.whole_every = True, 4
    expected = setup.put_objects(count=6, lines=1000)
    app = setup.container()

    invocations = setup.driver.drain(invoke(app))

    metrics = emf_sums(capsys.readouterr().out)
    found = census(os_client, index_prefix)
    figures(
        capsys,
        found.report(
            "429 on half the items",
            expected,
            objects=6,
            invocations=invocations,
            bulk_requests=proxy.bulk_requests,
            items_refused=proxy.items_refused,
            requests_refused=proxy.requests_refused,
            RetriedDocuments=int(metrics["RetriedDocuments"]),
            Throttles=int(metrics["Throttles"]),
        ),
    )
    assert found.total == len(expected) == 6000
    assert found.duplicates == 0
    assert found.missing(expected) == set()
    assert proxy.requests_refused > 0 and proxy.items_refused > proxy.requests_refused
    # Every item the proxy refused was retried, and the metrics say so.
    assert metrics["RetriedDocuments"] == proxy.items_refused
    assert metrics["Throttles"] > 0
    assert metrics["DocumentsIndexed"] == 6000


# -- 3. outage -------------------------------------------------------------------------------


@pytest.mark.parametrize("in_flight", [1, 2])
def test_opensearch_gone_mid_ingest_returns_messages_then_redelivery_completes_exactly(
    aws_env: None,
    index_prefix: str,
    proxy: FaultProxy,
    os_client: Any,
    capsys: pytest.CaptureFixture[str],
    in_flight: int,
) -> None:
    setup = Setup(
        proxy.url,
        index_prefix,
        LOGFERRY_BULK_MAX_DOCS="500",
        LOGFERRY_BULK_CONCURRENCY=str(in_flight),
    )
    expected = setup.put_objects(count=8, lines=2000)  # 4 bulk requests per object
    proxy.down_after = 6  # the second object's third request finds OpenSearch gone
    app = setup.container()

    outage = setup.driver.deliver(setup.driver.receive(), invoke(app))
    during = census(os_client, index_prefix)
    proxy.down = False
    invocations = setup.driver.drain(invoke(app))

    metrics = emf_sums(capsys.readouterr().out)
    found = census(os_client, index_prefix)
    figures(
        capsys,
        found.report(
            "OpenSearch down mid-ingest",
            expected,
            objects=8,
            requests_in_flight=in_flight,
            returned_during_outage=outage.failed,
            indexed_during_outage=during.total,
            connections_dropped=proxy.connections_dropped,
            redelivery_invocations=invocations,
        ),
    )
    assert outage.messages == 8 and outage.failed == 7  # all but the first object
    assert metrics["MessagesReturned"] == 7
    # The first object, and the second's first two requests. With two in flight, the third
    # may be on its way before the second is answered, so before the proxy goes down: the
    # proxy counts requests answered, and the fourth is sent only after the second's answer.
    assert during.total in {3000 + 500 * n for n in range(in_flight)}
    assert found.total == len(expected) == 16000
    assert found.duplicates == 0
    assert found.missing(expected) == set()


# -- 4. time budget --------------------------------------------------------------------------


class ShrinkingBudget:
    """A Lambda context whose remaining time falls as documents are indexed in this
    invocation: the wall clock of a slow cluster, deterministic."""

    def __init__(self, app: Any, seconds: float, per_document: float) -> None:
        self.stats = app.service.sink.stats
        self.start = self.stats.indexed
        self.seconds = seconds
        self.per_document = per_document

    def get_remaining_time_in_millis(self) -> int:
        spent = (self.stats.indexed - self.start) * self.per_document
        return int((self.seconds - spent) * 1000)

    function_name = FakeLambdaContext.function_name
    memory_limit_in_mb = FakeLambdaContext.memory_limit_in_mb
    invoked_function_arn = FakeLambdaContext.invoked_function_arn
    aws_request_id = FakeLambdaContext.aws_request_id


class ReadMeter:
    """Counts the bytes each invocation reads from S3, per key."""

    def __init__(self, s3: Any) -> None:
        self.current: dict[str, int] = defaultdict(int)
        self.invocations: list[dict[str, int]] = []
        get_object = s3.get_object
        meter = self

        def counting_get_object(**kwargs: Any) -> Any:
            response = get_object(**kwargs)
            body, key = response["Body"], kwargs["Key"]

            class Counted:
                def read(self, size: int = -1) -> bytes:
                    data: bytes = body.read(size)
                    meter.current[key] += len(data)
                    return data

                def close(self) -> None:
                    body.close()

            response["Body"] = Counted()
            return response

        s3.get_object = counting_get_object

    def wrap(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def invocation(event: Any) -> Any:
            self.current = defaultdict(int)
            try:
                return handler(event)
            finally:
                self.invocations.append(dict(self.current))

        return invocation


def test_object_too_big_for_one_budget_is_continued_without_rereading_it(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = 60_000
    body, expected = marked_object("big", lines)
    setup.wiring.put(key_of(0), body)
    part_bytes = 8 * 1024**2
    app = setup.container(LOGFERRY_BULK_MAX_DOCS="1000", LOGFERRY_PART_BYTES=str(part_bytes))
    meter = ReadMeter(app.s3)
    # 35 s per invocation, 1 ms per document, 20 s kept in reserve: ~15,000 documents each.
    handler = meter.wrap(invoke(app, lambda: ShrinkingBudget(app, 35.0, 0.001)))
    setup.driver.batch = 1  # one message per invocation: the reads per invocation are exact

    invocations = setup.driver.drain(handler)

    metrics = emf_sums(capsys.readouterr().out)
    found = census(os_client, index_prefix)
    parts = setup.s3.list_objects_v2(Bucket=DEADLETTER_BUCKET, Prefix="logferry-work/")
    part_sizes = {item["Key"]: item["Size"] for item in parts.get("Contents", [])}
    original = key_of(0)
    figures(
        capsys,
        found.report(
            "short time budget",
            expected,
            objects=1,
            invocations=invocations,
            parts=len(part_sizes),
            continuations=int(metrics["Continuations"]),
            object_bytes=len(body),
            reads_per_invocation=[sum(r.values()) for r in meter.invocations],
        ),
    )
    assert found.total == len(expected) == lines
    assert found.duplicates == 0
    assert found.missing(expected) == set()
    assert len(part_sizes) >= 2 and invocations >= 4
    assert metrics["Continuations"] == invocations - 1
    # The object itself is read once, by the first invocation, to its end (the spill).
    assert meter.invocations[0] == {original: len(body)}
    assert sum(r.get(original, 0) for r in meter.invocations) == len(body)
    # Every later invocation reads one part, and at most that part.
    for reads in meter.invocations[1:]:
        [(key, read)] = reads.items()
        assert key in part_sizes and read <= part_sizes[key]
    assert app.service.results[-1].outcome == "indexed"


def test_object_of_a_stream_format_is_continued_by_skipping_the_entries_done(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # VPC flow logs carry a header that sets the layout: lines cannot be cut apart, so a
    # continuation reads the object again and skips the entries already handled.
    lines = 20_000
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets"
    header += " bytes start end action log-status"
    body = gz(
        "\n".join(
            [header]
            + [
                f"2 123456789012 eni-0a1b2c3d 10.0.0.1 10.0.0.2 {n} 443 6 10 840"
                f" 1795176000 1795176060 ACCEPT OK"
                for n in range(1, lines + 1)
            ]
        )
    )
    key = (
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/"
        "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1200Z_abcd1234.log.gz"
    )
    setup.wiring.put(key, body)
    app = setup.container(LOGFERRY_BULK_MAX_DOCS="1000")
    handler = invoke(app, lambda: ShrinkingBudget(app, 35.0, 0.001))
    setup.driver.batch = 1

    invocations = setup.driver.drain(handler)

    found = census(os_client, index_prefix, field="source.port")
    expected = set(range(1, lines + 1))
    results = app.service.results
    figures(
        capsys,
        found.report(
            "stream format, short budget",
            expected,
            invocations=invocations,
            documents_per_invocation=[r.documents for r in results],
        ),
    )
    assert found.total == len(expected) and found.duplicates == 0
    assert found.missing(expected) == set()
    assert [r.outcome for r in results] == ["continued", "indexed"]
    assert sum(r.documents for r in results) == lines
    assert results[0].extra["continuations"] == 1 and "parts" not in results[0].extra


# -- 5. hard kill ----------------------------------------------------------------------------


class HardKill(BaseException):
    """The function killed (timeout, out of memory): no handler code runs after it."""


def test_handler_killed_between_bulk_requests_is_recovered_exactly_by_redelivery(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = setup.put_objects(count=3, lines=2000)
    app = setup.container(LOGFERRY_BULK_MAX_DOCS="500")
    real_bulk = app.service.sink.transport.bulk
    calls = 0

    def bulk_then_die(body: bytes, timeout: float | None = None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise HardKill("killed between two bulk requests")
        result: dict[str, Any] = real_bulk(body, timeout)
        return result

    app.service.sink.transport.bulk = bulk_then_die
    killed = setup.driver.deliver(setup.driver.receive(), invoke(app), kill=HardKill)
    after_kill = census(os_client, index_prefix)

    fresh = setup.container(LOGFERRY_BULK_MAX_DOCS="500")  # a new container takes over
    invocations = setup.driver.drain(invoke(fresh))
    found = census(os_client, index_prefix)
    figures(
        capsys,
        found.report(
            "killed mid-object",
            expected,
            objects=3,
            indexed_before_kill=after_kill.total,
            redelivery_invocations=invocations,
        ),
    )
    assert killed.killed and killed.messages == 3
    assert after_kill.total == 500  # exactly the one bulk request before the kill
    assert found.total == len(expected) == 6000
    assert found.duplicates == 0
    assert found.missing(expected) == set()


# -- hostile input ---------------------------------------------------------------------------


def test_hostile_objects_each_get_an_outcome_and_leave_the_rest_of_the_batch_alone(
    setup: Setup, os_client: Any, index_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [nlb_line(n) for n in range(100)]
    full = gz("\n".join(good) + "\n")
    bad_utf8 = [
        nlb_line(1).encode(),
        nlb_line(2).encode().replace(b"imap.example.com", b"imap.\xff\xfe.example.com"),
        nlb_line(3).encode().replace(b"net/mail-nlb", b"net/mail\x00nlb"),
        b"\x00\x00\x00 \xc3\x28 not a log line",
    ]
    objects: dict[str, bytes] = {
        "good": full,
        "truncated": full[: len(full) // 2],
        "bomb": gzip.compress(b"\0" * (64 * 1024**2)),
        "badbytes": gzip.compress(b"\n".join(bad_utf8) + b"\n"),
        "longline": gz(good[0] + "\n" + "x" * (10 * 1024**2) + "\n" + good[1] + "\n"),
        "empty": b"",
        "space é": gz(good[5] + "\n"),
        "deleted": full,
    }
    for name, body in objects.items():
        setup.wiring.put(key_of(0).replace("obj000", name), body)
    records = setup.wiring.receive()
    setup.s3.delete_object(Bucket=setup.wiring.bucket, Key=key_of(0).replace("obj000", "deleted"))
    # A notification from a bucket this function may not read.
    forbidden = sqs_record(s3_notification("someone-elses-bucket", key_of(0)), "m-forbidden")
    records.append(forbidden)
    app = setup.container(LOGFERRY_MAX_OBJECT_BYTES=str(32 * 1024**2))
    get_object = app.s3.get_object

    def access_checked(**kwargs: Any) -> Any:
        if kwargs["Bucket"] == "someone-elses-bucket":
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, "GetObject")
        return get_object(**kwargs)

    app.s3.get_object = access_checked

    response = app.lambda_handler({"Records": records}, FakeLambdaContext())

    metrics = emf_sums(capsys.readouterr().out)
    results = {r.ref.key.split("_")[-1].removesuffix(".log.gz"): r for r in app.service.results}
    outcomes = {name: r.outcome for name, r in results.items()}
    lines = [r for r in setup.deadletters("line")]
    docs = sum(r.documents for r in results.values())
    figures(
        capsys,
        f"[hostile input] objects={len(records)} outcomes={outcomes}"
        f" documents={docs} rejected={sum(r.rejected for r in results.values())}"
        f" returned={len(response['batchItemFailures'])}",
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-forbidden"}]}
    assert metrics["MessagesReturned"] == 1
    assert outcomes == {
        "good": "indexed",
        "truncated": "damaged",
        "bomb": "damaged",
        "badbytes": "indexed",
        "longline": "indexed",
        "empty": "empty",
        "space é": "indexed",
        "deleted": "missing",
    }
    assert "LOGFERRY_MAX_OBJECT_BYTES" in (results["bomb"].problem or "")
    assert results["bomb"].bytes_out <= 32 * 1024**2 + 4 * 1024**2  # stopped at the cap
    assert "truncated" in (results["truncated"].problem or "")
    assert 0 < results["truncated"].documents < 100
    assert results["badbytes"].extra["invalid_utf8_lines"] == 2
    assert results["longline"].documents == 2 and results["longline"].rejected == 1
    # Every line read is a document or a rejection, and every rejection is kept.
    for name, r in results.items():
        assert r.documents + r.rejected == r.lines, name
    assert len(lines) == sum(r.rejected for r in results.values())
    assert any("LOGFERRY_MAX_LINE_BYTES" in r["reason"] for r in lines)
    not_read = {r["key"].split("_")[-1] for r in setup.deadletters("object")}
    # a deleted object is acknowledged, and kept as a dead letter saying so
    assert not_read == {"truncated.log.gz", "bomb.log.gz", "deleted.log.gz"}
    found = census(os_client, index_prefix, field="source.ip")
    assert found.total == docs
