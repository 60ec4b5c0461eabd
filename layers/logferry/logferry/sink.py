"""Documents -> OpenSearch _bulk, with retries for what may succeed later and dead letters for
what never will.

Bodies are serialised once (orjson) and sent as pre-built NDJSON, so a document costs one
dumps and a few concatenations. Requests are cut by bytes and by count. Per item:
- 2xx: indexed.
- 429 and 5xx: retried with exponential backoff and full jitter.
- any other status (mapping conflict, oversize, invalid index name): permanent; the document
  and the reason are handed back as a FailedDocument for the dead-letter store.
A failure of the whole request (connection refused or reset, timeout, 429/5xx on the request
itself) retries the whole batch the same way; a non-retryable refusal (413) splits it.

Backpressure: 429 and 503 (and timeouts) halve the documents per request, down to 1/64 of
`max_docs` (single-document requests would only add per-request load to a busy cluster); each
request that goes through without a retry doubles it again, up to `max_docs`.

Retrying stops, with SinkUnavailable, at whichever comes first: the caller's time budget
(`remaining`), `max_stalled` attempts in a row without a single document accepted, or
`max_retry_seconds` of backoff sleep for the current object. The caller then returns its
message to the queue instead of sleeping its budget away; a redelivery re-sends the object
under the same ids, so nothing is duplicated.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

log = logging.getLogger(__name__)

RETRYABLE = frozenset({429, 500, 502, 503, 504})
# Statuses that mean "too much at once": the next requests carry fewer documents.
OVERLOAD = frozenset({429, 503})
# opensearch-py reports a timeout as status "TIMEOUT", a refused/reset connection as "N/A".
TIMEOUT = "TIMEOUT"
# A request never waits longer than this, nor longer than the budget left.
REQUEST_TIMEOUT = 60.0

Entry = tuple[tuple[str, str], bytes, bytes]  # ((index, id), action line, source)


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


class BulkTransport:
    """The one call the sink makes: POST /_bulk with an NDJSON body, parsed response back."""

    def __init__(self, client: Any) -> None:
        self.client = client  # the OpenSearch client (mail merging reads through it too)

    def bulk(self, body: bytes, timeout: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"filter_path": "errors,items.*.status,items.*.error"}
        if timeout is not None:
            params["request_timeout"] = timeout
        result: dict[str, Any] = self.client.bulk(body=body, **params)
        return result


def _status_of(exc: Exception) -> int | str | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int | str) else None


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

    def __post_init__(self) -> None:
        self._actions: list[bytes] = []
        self._bodies: list[bytes] = []
        self._keys: list[tuple[str, str]] = []
        self._bytes = 0
        # Shrinks on overload, grows back on success: the "smaller batches" of backpressure.
        self._docs_limit = self.max_docs
        self._slept = 0.0

    def start_object(self) -> None:
        """A new object begins: its retry allowance starts afresh."""
        self._slept = 0.0

    @property
    def docs_limit(self) -> int:
        """Documents per request now (lower while OpenSearch pushes back)."""
        return self._docs_limit

    def add(self, index: str, doc_id: str, body: bytes) -> None:
        action = b'{"index":{"_index":"%s","_id":"%s"}}\n' % (index.encode(), doc_id.encode())
        self._actions.append(action)
        self._bodies.append(body)
        self._keys.append((index, doc_id))
        self._bytes += len(action) + len(body) + 1
        if self._bytes >= self.max_bytes or len(self._actions) >= self._docs_limit:
            self.flush()

    def add_source(self, index: str, doc_id: str, source: dict[str, Any]) -> None:
        self.add(index, doc_id, orjson.dumps(source))

    @property
    def pending(self) -> int:
        return len(self._actions)

    def discard(self) -> int:
        """Drop what is buffered (the object is abandoned and will be sent again later)."""
        dropped = len(self._actions)
        self._actions, self._bodies, self._keys, self._bytes = [], [], [], 0
        return dropped

    def flush(self) -> None:
        if not self._actions:
            return
        batch: list[Entry] = list(zip(self._keys, self._actions, self._bodies, strict=True))
        self.discard()
        attempt = 0  # consecutive attempts that needed a retry (sets the backoff)
        stalled = 0  # consecutive attempts in which nothing at all was accepted
        while batch:
            step = batch[: self._docs_limit]
            retry = self._send(step)
            batch = retry + batch[len(step) :]
            if not retry:
                attempt = stalled = 0
                self._docs_limit = min(self.max_docs, self._docs_limit * 2)
                continue
            attempt += 1
            stalled = stalled + 1 if len(retry) == len(step) else 0
            self.stats.retried_items += len(retry)
            delay = random.uniform(0, min(self.max_backoff, self.base_backoff * 2**attempt))
            why = None
            if stalled >= self.max_stalled:
                why = f"nothing accepted in {stalled} attempts in a row"
            elif self._slept + delay > self.max_retry_seconds:
                why = f"retry allowance of {self.max_retry_seconds:.0f}s for this object spent"
            elif self.remaining() < delay + 1.0:
                why = "time budget spent"
            if why:
                raise SinkUnavailable(f"{len(batch)} documents not accepted by OpenSearch: {why}")
            log.warning("bulk: retrying %d documents in %.2fs", len(retry), delay)
            self._slept += delay
            self.sleep(delay)

    def _timeout(self) -> float | None:
        left = self.remaining()
        if left == float("inf"):
            return None
        # Never wait on a request past the budget: a hung connection must not eat it.
        return max(1.0, min(REQUEST_TIMEOUT, left - 1.0))

    def _overloaded(self) -> None:
        self.stats.throttled += 1
        self._docs_limit = max(self.max_docs // 64, 1, self._docs_limit // 2)

    def _send(self, step: list[Entry]) -> list[Entry]:
        """Send one request; return the entries to retry."""
        body = b"".join(action + source + b"\n" for _, action, source in step)
        self.stats.requests += 1
        try:
            timeout = self._timeout()
            # (transports without a timeout parameter keep working when there is no budget)
            response = (
                self.transport.bulk(body) if timeout is None else self.transport.bulk(body, timeout)
            )
        except Exception as exc:
            status = _status_of(exc)
            if isinstance(status, int) and status not in RETRYABLE:
                # The request itself was refused (e.g. 413 too large): split or give up per doc.
                if len(step) > 1:
                    half = len(step) // 2
                    return self._send(step[:half]) + self._send(step[half:])
                (index, doc_id), _, source = step[0]
                self._fail(index, doc_id, source, status, f"request refused: {exc}")
                return []
            self.stats.request_failures += 1
            if status in OVERLOAD or status == TIMEOUT:
                self._overloaded()
            log.warning("bulk request failed (%s): %s", status or type(exc).__name__, exc)
            return step
        if not response.get("errors"):
            self.stats.indexed += len(step)
            return []
        items = response.get("items")
        if not isinstance(items, list) or len(items) != len(step):
            # Not an answer per document: nothing can be trusted; send it all again.
            self.stats.request_failures += 1
            log.warning("bulk: malformed response, %d documents sent again", len(step))
            return step
        retry = []
        overloaded = False
        for entry, item in zip(step, items, strict=True):
            result = next(iter(item.values()))
            status = result.get("status", 0)
            if status < 300:
                self.stats.indexed += 1
            elif status in RETRYABLE:
                overloaded |= status in OVERLOAD
                retry.append(entry)
            else:
                (index, doc_id), _, source = entry
                self._fail(index, doc_id, source, status, _reason(result.get("error")))
        if overloaded:
            self._overloaded()
        return retry

    def _fail(self, index: str, doc_id: str, body: bytes, status: int, reason: str) -> None:
        self.stats.failed += 1
        self.failures.append(FailedDocument(index, doc_id, body, status, reason))


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    return str(error)
