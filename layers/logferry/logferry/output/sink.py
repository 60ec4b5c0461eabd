"""Documents -> OpenSearch _bulk, with retries for what may succeed later and dead letters for
what never will.

Bodies are serialised once (orjson) and appended to one NDJSON buffer per batch, sent as it
is: a document costs one dumps and three appends, and a batch in flight holds one bytes object
(no per-document objects, no second copy for the request). Requests are cut by bytes and by
count. Per item:
- 2xx: indexed.
- 429 and 5xx: retried with exponential backoff and full jitter.
- any other status (mapping conflict, oversize, invalid index name): permanent; the document
  and the reason are handed back as a FailedDocument for the dead-letter store.
A failure of the whole request (connection refused or reset, timeout, 429/5xx on the request
itself) retries the whole batch the same way; a non-retryable refusal (413) splits it.
(Statuses are read by output.retry.classify, and the backoff is output.retry.Backoff: the
mail merger, a sink of its own, uses both.)

Backpressure: 429 and 503 (and timeouts) halve the documents per request, down to 1/64 of
`max_docs` (single-document requests would only add per-request load to a busy cluster); each
request that goes through without a retry doubles it again, up to `max_docs`.

Retrying stops, with SinkUnavailable, at whichever comes first: the caller's time budget
(`remaining`), `max_stalled` attempts in a row without a single document accepted, or
`max_retry_seconds` of backoff sleep for the current object. The caller then returns its
message to the queue instead of sleeping its budget away; a redelivery re-sends the object
under the same ids, so nothing is duplicated.

Requests in flight (`concurrency`): with 1, every batch is sent, retried and settled in the
caller's thread before `add` returns, one request at a time. With N > 1, a full batch goes to
one of N sender threads (its whole life: requests, retries, backoff) and the caller parses on;
when N batches are out, `add` waits for one to end, so memory stays at N + 1 batches. A sender
never touches `stats` or `failures`: it counts into its batch's own tally, which the caller's
thread adds in when it collects the batch (the next `add` that cuts a batch, `flush`,
`discard`), so counts read after `flush()` are exact and nothing counts into `stats` from two
threads at once. What the senders share, the documents per request and the object's backoff
allowance, is behind a lock. A batch that raises (SinkUnavailable, or anything else) stops the
others from retrying further: the requests in flight end, their counts are kept, and the first
error is raised by `add` or `flush`, as with one request.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from .client import ClusterRefused
from .retry import Action, Backoff, classify, reason_of, status_of

log = logging.getLogger(__name__)


class SinkUnavailable(Exception):
    """OpenSearch did not take the documents in time; retry the object later."""


@dataclass(frozen=True, slots=True)
class FailedDocument:
    index: str
    doc_id: str
    body: bytes
    status: int
    reason: str


@dataclass
class SinkStats:
    indexed: int = 0
    requests: int = 0
    retried_items: int = 0
    throttled: int = 0
    failed: int = 0
    # Requests that failed as a whole (connection refused/reset, timeout, 5xx/429 on _bulk).
    request_failures: int = 0

    def add(self, other: SinkStats) -> None:
        for counter in fields(self):
            name = counter.name
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def copy(self) -> SinkStats:
        return dataclasses.replace(self)

    def since(self, before: SinkStats) -> SinkStats:
        """What was counted after `before` (a copy taken then)."""
        return SinkStats(*(getattr(self, f.name) - getattr(before, f.name) for f in fields(self)))


@dataclass
class _Tally:
    """What one batch's requests did: the sink's own stats and failures when the batch is
    sent in the caller's thread, its own (added in later by the caller) in a sender thread."""

    stats: SinkStats = field(default_factory=SinkStats)
    failures: list[FailedDocument] = field(default_factory=list)


class _Batch:
    """The documents of one batch as the NDJSON of a _bulk request (action line and source
    line each) and where each document starts; documents are named by their position."""

    __slots__ = ("body", "starts")

    def __init__(self, body: bytes, starts: list[int]) -> None:
        self.body = body
        self.starts = starts  # one offset per document, then len(body)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def ndjson(self, step: list[int]) -> bytes:
        """The request body for these documents (in order)."""
        first, last = step[0], step[-1]
        if last - first + 1 == len(step):  # a run of documents: one slice, or the whole body
            if len(step) == len(self):
                return self.body
            return self.body[self.starts[first] : self.starts[last + 1]]
        with memoryview(self.body) as view:
            return b"".join(view[self.starts[n] : self.starts[n + 1]] for n in step)

    def document(self, n: int) -> tuple[str, str, bytes]:
        """Index, id and source of one document (for a FailedDocument: rarely needed)."""
        action, _, source = self.body[self.starts[n] : self.starts[n + 1]].partition(b"\n")
        meta = orjson.loads(action)["index"]
        return meta["_index"], meta.get("_id", ""), source[:-1]


class BulkTransport:
    """The calls the sinks make: POST /_bulk with an NDJSON body, parsed response back, and
    (for the mail merger) a realtime multi-get."""

    def __init__(self, client: Any) -> None:
        self.client = client  # the OpenSearch client

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"filter_path": "errors,items.*.status,items.*.error"}
        if timeout is not None:
            params["request_timeout"] = timeout
        result: dict[str, Any] = self.client.bulk(body=body, **params)
        return result

    def mget(self, docs: list[dict[str, str]], timeout: float | None = None) -> dict[str, Any]:
        """The documents named by `_index` and `_id`, as they are now (realtime)."""
        params: dict[str, Any] = {}
        if timeout is not None:
            params["request_timeout"] = timeout
        result: dict[str, Any] = self.client.mget(body={"docs": docs}, **params)
        return result


def bulk_within(transport: Any, body: bytes, backoff: Backoff) -> dict[str, Any]:
    """One _bulk request, waiting no longer than the budget allows. A refusal that trying again
    cannot help (ClusterRefused: credentials, permissions, an untrusted certificate) is
    SinkUnavailable: no retry, no split, no dead letter; the message goes back to the queue."""
    timeout = backoff.request_timeout()
    try:
        # (transports without a timeout parameter keep working when there is no budget)
        response: dict[str, Any] = (
            transport.bulk(body) if timeout is None else transport.bulk(body, timeout)
        )
    except ClusterRefused as exc:
        raise SinkUnavailable(str(exc)) from None
    return response


@dataclass
class BulkSink:
    transport: BulkTransport
    max_bytes: int = 5 * 1024**2
    max_docs: int = 5000
    # Seconds left in the caller's budget; the sink stops retrying before it runs out.
    remaining: Callable[[], float] = lambda: float("inf")
    max_backoff: float = 20.0
    base_backoff: float = 0.2
    # Attempts in a row in which OpenSearch accepted nothing: then the object is deferred.
    max_stalled: int = 8
    # Backoff sleep allowed per object (see start_object) before it is deferred.
    max_retry_seconds: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    stats: SinkStats = field(default_factory=SinkStats)
    failures: list[FailedDocument] = field(default_factory=list)
    # Batches in flight at once (sender threads); 1: one request at a time, in the caller.
    concurrency: int = 1
    # Takes the documents refused for good as their batches end (the pipeline keeps them as
    # dead letters), so that an object whose every document is refused holds none of them;
    # None: they stay in `failures`.
    spill: Callable[[list[FailedDocument]], None] | None = None
    # Whether action lines carry the document's _id. False only for an OpenSearch Serverless
    # time-series collection, which refuses a custom id: there a request sent again after
    # OpenSearch applied it (a redelivered object, a timed-out request) duplicates documents.
    ids: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        self._buffer = bytearray()
        self._starts: list[int] = []
        # Shrinks on overload, grows back on success: the "smaller batches" of backpressure.
        self._docs_limit = self.max_docs
        self._slept = 0.0
        # Guards what sender threads share: _docs_limit and _slept.
        self._lock = threading.Lock()
        # Set while the batches in flight are being stopped: senders retry no more.
        self._stopping = threading.Event()
        self._senders: ThreadPoolExecutor | None = None
        self._in_flight: list[tuple[Future[None], _Tally]] = []

    @property
    def backoff(self) -> Backoff:
        """The backoff of this sink's retries (its fields, as they are now)."""
        return Backoff(
            self.base_backoff, self.max_backoff, self.remaining, self.sleep, random.uniform
        )

    def start_object(self) -> None:
        """A new object begins: its retry allowance starts afresh."""
        self._stop_in_flight()  # (left over only when the last object ended in an exception)
        self._slept = 0.0

    @property
    def docs_limit(self) -> int:
        """Documents per request now (lower while OpenSearch pushes back)."""
        return self._docs_limit

    def add(self, index: str, doc_id: str, body: bytes) -> None:
        buffer = self._buffer
        self._starts.append(len(buffer))
        # One f-string, encoded once: cheaper than two encodes and bytes %-formatting.
        if self.ids:
            buffer += f'{{"index":{{"_index":"{index}","_id":"{doc_id}"}}}}\n'.encode()
        else:
            buffer += f'{{"index":{{"_index":"{index}"}}}}\n'.encode()
        buffer += body
        buffer += b"\n"
        if len(buffer) >= self.max_bytes or len(self._starts) >= self._docs_limit:
            self._dispatch(self._take())

    def numbered(self, id_prefix: str) -> Callable[[str, int, bytes], None]:
        """`add` for one object's documents whose id is `id_prefix` and a number (its line's):
        `add(index, number, body)` writes what `add(index, id_prefix + str(number), body)`
        writes, with the action line's head made once per index and the number written as
        digits (no id string, no formatting a document). The fast path's documents cost
        ~0.3 us less each: 2.1-2.6 against 2.4-3.1 us a VPC flow line, reader included."""
        heads: dict[str, bytes] = {}
        ids = self.ids

        def add(index: str, number: int, body: bytes) -> None:
            head = heads.get(index)
            if head is None:
                head = heads[index] = (
                    f'{{"index":{{"_index":"{index}","_id":"{id_prefix}'.encode()
                    if ids
                    else f'{{"index":{{"_index":"{index}"}}}}\n'.encode()
                )
            buffer = self._buffer
            self._starts.append(len(buffer))
            buffer += head
            if ids:
                buffer += b'%d"}}\n' % number
            buffer += body
            buffer += b"\n"
            if len(buffer) >= self.max_bytes or len(self._starts) >= self._docs_limit:
                self._dispatch(self._take())

        return add

    @property
    def pending(self) -> int:
        """Documents buffered, not yet handed to a request."""
        return len(self._starts)

    @property
    def in_flight(self) -> int:
        """Batches handed to sender threads and not yet collected."""
        return len(self._in_flight)

    def discard(self) -> int:
        """Drop what is buffered (the object is abandoned and will be sent again later); the
        batches in flight end without further retries, their counts kept."""
        dropped = len(self._starts)
        self._take()
        self._stop_in_flight()
        return dropped

    def flush(self) -> None:
        """Send what is buffered and wait for every batch in flight; raise the first error."""
        if self._starts:
            self._dispatch(self._take())
        if self._in_flight:
            wait([future for future, _ in self._in_flight])
            self._collect()

    def _take(self) -> _Batch:
        starts = self._starts
        starts.append(len(self._buffer))
        batch = _Batch(bytes(self._buffer), starts)
        self._buffer, self._starts = bytearray(), []
        return batch

    # -- in flight (the caller's thread) -------------------------------------------------------

    def spill_failures(self) -> None:
        """Hand the failures kept so far to `spill`, if there is one."""
        if self.spill is not None and self.failures:
            failures, self.failures = self.failures, []
            self.spill(failures)

    def _dispatch(self, batch: _Batch) -> None:
        if not batch:
            return
        if self.concurrency == 1:
            self._deliver(batch, _Tally(self.stats, self.failures))
            self.spill_failures()
            return
        self.spill_failures()
        self._collect()
        while len(self._in_flight) >= self.concurrency:
            wait([future for future, _ in self._in_flight], return_when=FIRST_COMPLETED)
            self._collect()
        if self._senders is None:
            self._senders = ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulk")
        tally = _Tally()
        self._in_flight.append((self._senders.submit(self._deliver, batch, tally), tally))

    def _collect(self) -> None:
        """Add in the batches that ended; if one raised, stop the rest and raise its error."""
        ended: list[tuple[Future[None], _Tally]] = []
        going: list[tuple[Future[None], _Tally]] = []
        for job in self._in_flight:
            (ended if job[0].done() else going).append(job)
        if not ended:
            return
        self._in_flight = going
        errors = self._settle(ended)
        if errors:
            errors += self._stop_in_flight()
            # A BaseException from a sender (the process being torn down) outranks the rest.
            raise next((e for e in errors if not isinstance(e, Exception)), errors[0])

    def _stop_in_flight(self) -> list[BaseException]:
        """Let the batches in flight end without retrying, keep their counts, return errors."""
        if not self._in_flight:
            return []
        self._stopping.set()
        try:
            jobs, self._in_flight = self._in_flight, []
            wait([future for future, _ in jobs])
            return self._settle(jobs)
        finally:
            self._stopping.clear()

    def _settle(self, jobs: list[tuple[Future[None], _Tally]]) -> list[BaseException]:
        errors = []
        for future, tally in jobs:
            self.stats.add(tally.stats)
            self.failures.extend(tally.failures)
            error = future.exception()
            if error is not None:
                errors.append(error)
        return errors

    # -- one batch (the caller's thread, or a sender's) -----------------------------------------

    def _deliver(self, batch: _Batch, tally: _Tally) -> None:
        """Send one batch until every document is indexed, refused for good, or given up."""
        attempt = 0  # consecutive attempts that needed a retry (sets the backoff)
        stalled = 0  # consecutive attempts in which nothing at all was accepted
        todo = list(range(len(batch)))  # documents not yet indexed nor refused, in order
        while todo:
            if self._stopping.is_set():
                raise SinkUnavailable(
                    f"{len(todo)} documents not sent: another request of this object failed"
                )
            step = todo[: self._docs_limit]
            retry = self._send(batch, step, tally)
            todo = retry + todo[len(step) :]
            if not retry:
                attempt = stalled = 0
                with self._lock:
                    self._docs_limit = min(self.max_docs, self._docs_limit * 2)
                continue
            attempt += 1
            stalled = stalled + 1 if len(retry) == len(step) else 0
            tally.stats.retried_items += len(retry)
            backoff = self.backoff
            delay = backoff.delay(attempt)
            why = None
            with self._lock:
                if stalled >= self.max_stalled:
                    why = f"nothing accepted in {stalled} attempts in a row"
                elif self._slept + delay > self.max_retry_seconds:
                    why = f"retry allowance of {self.max_retry_seconds:.0f}s for this object spent"
                elif not backoff.affords(delay):
                    why = "time budget spent"
                else:
                    self._slept += delay
            if why:
                raise SinkUnavailable(f"{len(todo)} documents not accepted by OpenSearch: {why}")
            log.warning("bulk: retrying %d documents in %.2fs", len(retry), delay)
            self._pause(delay)

    def _pause(self, delay: float) -> None:
        if self.sleep is time.sleep:
            # The real clock: a sender wakes at once when the batches in flight are stopped.
            self._stopping.wait(delay)
        else:
            self.sleep(delay)

    def _overloaded(self, tally: _Tally) -> None:
        tally.stats.throttled += 1
        with self._lock:
            self._docs_limit = max(self.max_docs // 64, 1, self._docs_limit // 2)

    def _send(self, batch: _Batch, step: list[int], tally: _Tally) -> list[int]:
        """Send one request for these documents of the batch; return the ones to retry."""
        body = batch.ndjson(step)
        tally.stats.requests += 1
        try:
            response = bulk_within(self.transport, body, self.backoff)
        except SinkUnavailable:
            tally.stats.request_failures += 1
            raise
        except Exception as exc:
            status = status_of(exc)
            action = classify(status)
            if isinstance(status, int) and not action.retryable:
                # The request itself was refused (e.g. 413 too large): split or give up per doc.
                if len(step) > 1:
                    half = len(step) // 2
                    return self._send(batch, step[:half], tally) + self._send(
                        batch, step[half:], tally
                    )
                self._fail(tally, batch, step[0], status, f"request refused: {exc}")
                return []
            tally.stats.request_failures += 1
            if action is Action.OVERLOAD_RETRY:
                self._overloaded(tally)
            log.warning("bulk request failed (%s): %s", status or type(exc).__name__, exc)
            return step
        if not response.get("errors"):
            tally.stats.indexed += len(step)
            return []
        items = response.get("items")
        if not isinstance(items, list) or len(items) != len(step):
            # Not an answer per document: nothing can be trusted; send it all again.
            tally.stats.request_failures += 1
            log.warning("bulk: malformed response, %d documents sent again", len(step))
            return step
        retry = []
        overloaded = False
        for n, item in zip(step, items, strict=True):
            result = next(iter(item.values()))
            status = result.get("status", 0)
            action = classify(status)
            if action is Action.DONE:
                tally.stats.indexed += 1
            elif action.retryable:
                overloaded |= action is Action.OVERLOAD_RETRY
                retry.append(n)
            else:
                self._fail(tally, batch, n, status, reason_of(result.get("error")))
        if overloaded:
            self._overloaded(tally)
        return retry

    def _fail(self, tally: _Tally, batch: _Batch, n: int, status: int, reason: str) -> None:
        tally.stats.failed += 1
        tally.failures.append(FailedDocument(*batch.document(n), status, reason))
