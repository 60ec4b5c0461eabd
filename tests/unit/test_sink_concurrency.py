"""The sink with requests in flight (`concurrency` > 1) against a transport that answers by
document id, so every outcome is the same whatever order the sender threads run in: nothing
here measures time, and every wait is for an event, not a duration."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from logferry.config import Settings
from logferry.output.sink import BulkSink, SinkUnavailable

INDEX = "logs-nlb-2026.11.20"


class Refused(Exception):
    """Shaped like opensearch-py's connection error."""

    status_code = "N/A"


class Killed(BaseException):
    """The process torn down (Lambda timeout): not an Exception, nothing may swallow it."""


class IdTransport:
    """Answers each item by its id: `throttle-*` is answered 429 the first time only,
    `bad-*` 400 every time; every request of `down-*` documents is refused (after the
    requests of other documents have been answered, when `down_after_others`); `kill-*`
    raises Killed. Counts the requests in flight at once."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.lock = threading.Lock()
        self.requests: list[list[str]] = []
        self.threads: set[str] = set()
        self.throttled_once: set[str] = set()
        self.now = 0
        self.most = 0
        self.barrier = barrier
        self.others_done = threading.Event()
        self.answered = threading.Event()
        self.down_after_others = False

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        ids = [orjson.loads(action)["index"]["_id"] for action in body.splitlines()[0::2]]
        with self.lock:
            self.requests.append(ids)
            self.threads.add(threading.current_thread().name)
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            return self._answer(ids)
        finally:
            with self.lock:
                self.now -= 1
            self.answered.set()

    def _answer(self, ids: list[str]) -> dict[str, Any]:
        if any(i.startswith("kill-") for i in ids):
            raise Killed
        if any(i.startswith("down-") for i in ids):
            if self.down_after_others:
                assert self.others_done.wait(30)
            raise Refused("connection refused")
        items = []
        for doc_id in ids:
            status = 201
            if doc_id.startswith("bad-"):
                status = 400
            elif doc_id.startswith("throttle-"):
                with self.lock:
                    if doc_id not in self.throttled_once:
                        self.throttled_once.add(doc_id)
                        status = 429
            item: dict[str, Any] = {"status": status}
            if status >= 300:
                item["error"] = {"type": "rejected", "reason": f"status {status}"}
            items.append({"index": item})
        if not any(i.startswith(("down-", "kill-")) for i in ids):
            self.others_done.set()
        return {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items}


def sink_with(transport: IdTransport, **options: Any) -> BulkSink:
    options.setdefault("max_docs", 10)
    options.setdefault("concurrency", 2)
    options.setdefault("sleep", lambda seconds: None)
    return BulkSink(transport, **options)  # type: ignore[arg-type]


def add(sink: BulkSink, *ids: str) -> None:
    for doc_id in ids:
        sink.add(INDEX, doc_id, b'{"n":1}')


def test_two_requests_are_in_flight_at_once() -> None:
    # Each request waits until a second one has arrived: one at a time would never pass.
    transport = IdTransport(threading.Barrier(2, timeout=30))
    sink = sink_with(transport)
    add(sink, *(f"d{n}" for n in range(40)))
    sink.flush()
    assert transport.most == 2
    assert sink.stats.indexed == 40 and sink.stats.requests == 4
    assert sorted(i for ids in transport.requests for i in ids) == sorted(
        f"d{n}" for n in range(40)
    )


def test_never_more_requests_in_flight_than_the_setting() -> None:
    transport = IdTransport()
    sink = sink_with(transport, concurrency=3)
    add(sink, *(f"d{n}" for n in range(500)))
    sink.flush()
    assert transport.most <= 3
    assert sink.in_flight == 0 and sink.stats.indexed == 500


def test_concurrency_one_sends_in_the_callers_thread() -> None:
    transport = IdTransport()
    sink = sink_with(transport, concurrency=1)
    add(sink, *(f"d{n}" for n in range(25)))
    assert sink.stats.indexed == 20  # two full batches settled before add returned
    sink.flush()
    assert transport.threads == {threading.current_thread().name}
    assert transport.requests == [
        [f"d{n}" for n in range(0, 10)],
        [f"d{n}" for n in range(10, 20)],
        [f"d{n}" for n in range(20, 25)],
    ]


def test_counts_and_failures_after_flush_are_exact_whatever_the_order() -> None:
    ids = [f"{kind}-{n}" for n in range(60) for kind in ("ok", "throttle", "bad")]
    transport = IdTransport()
    sink = sink_with(transport, concurrency=3, max_retry_seconds=1e9)
    add(sink, *ids)
    sink.flush()
    assert sink.stats.indexed == 120
    assert sink.stats.retried_items == 60  # each throttled document sent again once
    assert sink.stats.failed == 60 and sink.stats.throttled >= 1
    assert sorted(f.doc_id for f in sink.failures) == sorted(f"bad-{n}" for n in range(60))
    assert {f.reason for f in sink.failures} == {"rejected: status 400"}
    sent = [i for request in transport.requests for i in request]
    # Retries never send an accepted or refused document again.
    assert sorted(sent) == sorted(ids + [f"throttle-{n}" for n in range(60)])


def test_a_batch_given_up_raises_from_flush_and_keeps_what_the_others_indexed() -> None:
    transport = IdTransport()
    transport.down_after_others = True
    sink = sink_with(transport, max_stalled=3)
    add(sink, *(f"ok-{n}" for n in range(10)))
    add(sink, *(f"down-{n}" for n in range(10)))
    with pytest.raises(SinkUnavailable, match="nothing accepted in 3 attempts"):
        sink.flush()
    assert sink.in_flight == 0
    assert sink.stats.indexed == 10 and sink.stats.request_failures == 3
    assert sink.stats.retried_items == 30
    # The sink is usable again: the next object goes through.
    sink.start_object()
    add(sink, "next-1")
    sink.flush()
    assert sink.stats.indexed == 11


def test_a_sender_torn_down_is_raised_by_flush_after_the_others_ended() -> None:
    transport = IdTransport()
    sink = sink_with(transport)
    add(sink, *(f"ok-{n}" for n in range(10)))
    add(sink, *(f"kill-{n}" for n in range(10)))
    with pytest.raises(Killed):
        sink.flush()
    assert sink.in_flight == 0 and sink.stats.indexed == 10


def test_discard_stops_a_sender_in_its_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real sleeping (the default), the longest backoff: only being stopped ends it early.
    monkeypatch.setattr("logferry.output.sink.random.uniform", lambda low, high: high)
    transport = IdTransport()
    sink = BulkSink(transport, max_docs=10, concurrency=2, base_backoff=60, max_backoff=60)  # type: ignore[arg-type]
    add(sink, *(f"throttle-{n}" for n in range(10)))
    assert transport.answered.wait(30)
    assert sink.discard() == 0
    assert transport.requests == [[f"throttle-{n}" for n in range(10)]]  # not sent again
    assert sink.in_flight == 0
    assert (sink.stats.retried_items, sink.stats.throttled, sink.stats.indexed) == (10, 1, 0)


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BulkSink(IdTransport(), concurrency=0)  # type: ignore[arg-type]


def test_setting_is_read_from_the_environment_and_bounded() -> None:
    assert Settings.from_env({}).bulk_concurrency == Settings().bulk_concurrency
    assert Settings.from_env({"LOGFERRY_BULK_CONCURRENCY": "1"}).bulk_concurrency == 1
    with pytest.raises(ValueError, match="LOGFERRY_BULK_CONCURRENCY"):
        Settings.from_env({"LOGFERRY_BULK_CONCURRENCY": "0"})
    with pytest.raises(ValueError, match="LOGFERRY_BULK_CONCURRENCY"):
        Settings.from_env({"LOGFERRY_BULK_CONCURRENCY": "64"})
