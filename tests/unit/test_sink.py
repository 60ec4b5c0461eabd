"""The sink's own retry logic against a scripted transport: what it retries, what it gives up
on, how it shrinks and regrows its requests, and when it defers to the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from logferry.output.sink import BulkSink, SinkUnavailable

Answer = dict[str, Any] | Exception | Callable[[list[str]], dict[str, Any]]


class TransportError(Exception):
    """Shaped like opensearch-py's: `status_code` is an int, "N/A" or "TIMEOUT"."""

    def __init__(self, status_code: int | str) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code


class ScriptedTransport:
    """Answers each _bulk with the next scripted answer: a response, an exception to raise,
    or a function of the request's ids. After the script: every item accepted."""

    def __init__(self, *script: Answer) -> None:
        self.script = list(script)
        self.requests: list[list[str]] = []  # the ids of each request, in order
        self.timeouts: list[float | None] = []

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        lines = body.splitlines()
        ids = [orjson.loads(action)["index"]["_id"] for action in lines[0::2]]
        self.requests.append(ids)
        self.timeouts.append(timeout)
        answer = self.script.pop(0) if self.script else accept_all
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(ids)
        return answer


def accept_all(ids: list[str]) -> dict[str, Any]:
    return {"errors": False, "items": [{"index": {"status": 201}} for _ in ids]}


def statuses(*codes: int) -> Callable[[list[str]], dict[str, Any]]:
    def answer(ids: list[str]) -> dict[str, Any]:
        assert len(ids) == len(codes)
        items = []
        for code in codes:
            item: dict[str, Any] = {"status": code}
            if code >= 300:
                item["error"] = {"type": "mapper_parsing_exception", "reason": f"code {code}"}
            items.append({"index": item})
        return {"errors": any(c >= 300 for c in codes), "items": items}

    return answer


def sink_with(transport: ScriptedTransport, **options: Any) -> tuple[BulkSink, list[float]]:
    slept: list[float] = []
    options.setdefault("max_docs", 100)
    return BulkSink(transport, sleep=slept.append, **options), slept  # type: ignore[arg-type]


def add(sink: BulkSink, *ids: str) -> None:
    for doc_id in ids:
        sink.add("logs-nlb-2026.11.20", doc_id, b'{"n":1}')


def test_item_answered_429_is_sent_again_until_accepted() -> None:
    transport = ScriptedTransport(statuses(201, 429, 201), statuses(429), statuses(201))
    sink, slept = sink_with(transport)
    add(sink, "a", "b", "c")
    sink.flush()
    assert transport.requests == [["a", "b", "c"], ["b"], ["b"]]
    assert sink.stats.indexed == 3
    assert sink.stats.retried_items == 2
    assert sink.stats.throttled == 2
    assert len(slept) == 2 and sink.failures == []


def test_item_refused_for_good_is_handed_back_with_its_reason_and_not_retried() -> None:
    transport = ScriptedTransport(statuses(201, 400))
    sink, _ = sink_with(transport)
    add(sink, "a", "b")
    sink.flush()
    assert len(transport.requests) == 1
    [failed] = sink.failures
    assert (failed.doc_id, failed.status) == ("b", 400)
    assert failed.reason == "mapper_parsing_exception: code 400"
    assert failed.body == b'{"n":1}'
    assert (sink.stats.indexed, sink.stats.failed) == (1, 1)


def test_whole_request_503_is_retried_with_a_smaller_batch() -> None:
    transport = ScriptedTransport(TransportError(503))
    sink, slept = sink_with(transport, max_docs=8)
    add(sink, *"abcdefg")
    sink.flush()
    assert transport.requests[0] == list("abcdefg")
    assert transport.requests[1] == list("abcd")  # the limit halved from 8 to 4
    assert sink.stats.indexed == 7 and sink.stats.request_failures == 1
    assert len(slept) == 1


def test_refused_connection_and_timeout_are_retried() -> None:
    transport = ScriptedTransport(TransportError("N/A"), TransportError("TIMEOUT"))
    sink, slept = sink_with(transport, max_docs=64)
    add(sink, "a", "b")
    sink.flush()
    assert len(transport.requests) == 3 and sink.stats.indexed == 2
    assert sink.stats.request_failures == 2
    assert sink.docs_limit == 64  # halved by the timeout only, then doubled back on success
    assert len(slept) == 2


def test_request_too_large_is_split_until_each_part_fits() -> None:
    transport = ScriptedTransport(TransportError(413))
    sink, slept = sink_with(transport)
    add(sink, "a", "b", "c", "d")
    sink.flush()
    assert transport.requests == [list("abcd"), ["a", "b"], ["c", "d"]]
    assert sink.stats.indexed == 4 and slept == []


def test_spent_budget_raises_sink_unavailable_instead_of_sleeping() -> None:
    transport = ScriptedTransport(*[TransportError(503)] * 3)
    left = iter([30.0, 30.0, 0.5])
    sink, slept = sink_with(transport, remaining=lambda: next(left, 0.5), max_backoff=0.1)
    add(sink, "a")
    with pytest.raises(SinkUnavailable, match="time budget spent"):
        sink.flush()
    assert len(slept) < len(transport.requests)


def test_requests_never_wait_longer_than_the_budget() -> None:
    transport = ScriptedTransport()
    sink, _ = sink_with(transport, remaining=lambda: 12.5)
    add(sink, "a")
    sink.flush()
    assert transport.timeouts == [11.5]


def test_object_that_keeps_failing_is_deferred_after_max_stalled_attempts() -> None:
    transport = ScriptedTransport(*[TransportError("N/A")] * 50)
    sink, slept = sink_with(transport, max_stalled=5)
    add(sink, "a")
    with pytest.raises(SinkUnavailable, match="nothing accepted in 5 attempts"):
        sink.flush()
    assert len(transport.requests) == 5 and len(slept) == 4


def test_retry_allowance_per_object_caps_total_backoff() -> None:
    # Each attempt makes some progress (so max_stalled never trips), but sleeps add up.
    transport = ScriptedTransport(*[statuses(201, 429)] * 3, *[statuses(201, 429)] * 50)
    sink, slept = sink_with(transport, max_docs=2, base_backoff=10.0, max_backoff=10.0)
    sink.max_retry_seconds = 15.0
    with pytest.raises(SinkUnavailable, match="retry allowance"):
        for n in range(40):
            add(sink, f"d{n}")
        sink.flush()
    assert sum(slept) <= 15.0
    sink.start_object()  # a new object starts with its full allowance
    assert sink._slept == 0.0


def test_batch_shrinks_under_throttling_and_grows_back_after_clean_requests() -> None:
    transport = ScriptedTransport(TransportError(429), TransportError(429), TransportError(429))
    sink, _ = sink_with(transport, max_docs=64)
    add(sink, *(f"d{n}" for n in range(63)))
    sink.flush()
    sizes = [len(ids) for ids in transport.requests]
    # 63 refused, then 32 (limit 32) refused, 16 (limit 16) refused; limit 8, then doubling
    assert sizes[:3] == [63, 32, 16]
    assert sizes[3:] == [8, 16, 32, 7]
    assert sink.docs_limit == 64
    assert sink.stats.indexed == 63 and sink.stats.throttled == 3


def test_shrinking_stops_at_a_floor_of_one_64th_of_max_docs() -> None:
    transport = ScriptedTransport(*[TransportError(429)] * 10)
    sink, _ = sink_with(transport, max_docs=128, max_stalled=20)
    add(sink, *(f"d{n}" for n in range(20)))
    sink.flush()
    assert min(len(ids) for ids in transport.requests) == 2


def test_malformed_response_sends_the_batch_again() -> None:
    transport = ScriptedTransport({"errors": True, "items": []})
    sink, _ = sink_with(transport)
    add(sink, "a", "b")
    sink.flush()
    assert transport.requests == [["a", "b"], ["a", "b"]]
    assert sink.stats.indexed == 2 and sink.stats.request_failures == 1


def test_discard_drops_what_is_buffered() -> None:
    transport = ScriptedTransport()
    sink, _ = sink_with(transport)
    add(sink, "a", "b")
    assert sink.discard() == 2
    sink.flush()
    assert transport.requests == [] and sink.pending == 0


@pytest.mark.parametrize("ids", [True, False])
def test_numbered_documents_are_written_as_add_writes_them(ids: bool) -> None:
    from tools.bench.workers import RecordingTransport

    bodies: dict[str, list[bytes]] = {}
    for way in ("add", "numbered"):
        transport = RecordingTransport()
        sink = BulkSink(transport, max_docs=3, ids=ids)
        numbered = sink.numbered("0a1b2c-")
        for number, index in enumerate(["logs-a-2026.11.20", "logs-a-2026.11.21"] * 4, 1):
            body = orjson.dumps({"n": number})
            if way == "add":
                sink.add(index, f"0a1b2c-{number}", body)
            else:
                numbered(index, number, body)
        sink.flush()
        bodies[way] = transport.bodies
    assert bodies["numbered"] == bodies["add"]
    assert len(bodies["add"]) == 3  # cut at max_docs, as add cuts
