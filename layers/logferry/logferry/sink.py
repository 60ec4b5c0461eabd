"""Documents -> OpenSearch _bulk, with retries for what may succeed later and dead letters for
what never will.

Bodies are serialised once (orjson) and sent as pre-built NDJSON, so a document costs one
dumps and a few concatenations. Requests are cut by bytes and by count. Per item:
- 2xx: indexed.
- 429 and 5xx: retried with exponential backoff and full jitter, in smaller batches, for as
  long as the caller's time budget allows.
- any other status (mapping conflict, oversize, invalid index name): permanent; the document
  and the reason are handed back as a FailedDocument for the dead-letter store.
When the whole request fails (connection refused, 429/5xx on the request itself) the batch is
retried the same way. If the budget runs out first, SinkUnavailable is raised: the caller must
not acknowledge the object, and a redelivery re-sends it under the same ids.
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


class SinkUnavailable(Exception):
    """OpenSearch did not take the documents within the time budget; retry the object later."""


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


class BulkTransport:
    """The one call the sink makes: POST /_bulk with an NDJSON body, parsed response back."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def bulk(self, body: bytes) -> dict[str, Any]:
        result: dict[str, Any] = self._client.bulk(
            body=body, filter_path="errors,items.*.status,items.*.error"
        )
        return result


def _status_of(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


@dataclass
class BulkSink:
    transport: BulkTransport
    max_bytes: int = 5 * 1024**2
    max_docs: int = 5000
    # Seconds left in the caller's budget; the sink stops retrying before it runs out.
    remaining: Callable[[], float] = lambda: float("inf")
    max_backoff: float = 20.0
    base_backoff: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    stats: SinkStats = field(default_factory=SinkStats)
    failures: list[FailedDocument] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._actions: list[bytes] = []
        self._bodies: list[bytes] = []
        self._keys: list[tuple[str, str]] = []
        self._bytes = 0
        # Shrinks on throttling, grows back on success: the "smaller batches" of backpressure.
        self._docs_limit = self.max_docs

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

    def flush(self) -> None:
        if not self._actions:
            return
        batch = list(zip(self._keys, self._actions, self._bodies, strict=True))
        self._actions, self._bodies, self._keys, self._bytes = [], [], [], 0
        attempt = 0
        while batch:
            step = batch[: self._docs_limit]
            retry = self._send(step)
            batch = retry + batch[len(step) :]
            if not retry:
                attempt = 0
                self._docs_limit = min(self.max_docs, self._docs_limit * 2)
                continue
            attempt += 1
            self.stats.retried_items += len(retry)
            delay = random.uniform(0, min(self.max_backoff, self.base_backoff * 2**attempt))
            if self.remaining() < delay + 1.0:
                raise SinkUnavailable(
                    f"{len(batch)} documents not accepted by OpenSearch after {attempt} attempts"
                )
            log.warning("bulk: retrying %d documents in %.2fs", len(retry), delay)
            self.sleep(delay)

    def _send(
        self, step: list[tuple[tuple[str, str], bytes, bytes]]
    ) -> list[tuple[tuple[str, str], bytes, bytes]]:
        """Send one request; return the entries to retry."""
        body = b"".join(action + source + b"\n" for _, action, source in step)
        self.stats.requests += 1
        try:
            response = self.transport.bulk(body)
        except Exception as exc:
            status = _status_of(exc)
            if status is not None and status not in RETRYABLE:
                # The request itself was refused (e.g. 413 too large): split or give up per doc.
                if len(step) > 1:
                    half = len(step) // 2
                    return self._send(step[:half]) + self._send(step[half:])
                (index, doc_id), _, source = step[0]
                self._fail(index, doc_id, source, status, f"request refused: {exc}")
                return []
            if status == 429:
                self.stats.throttled += 1
                self._docs_limit = max(1, self._docs_limit // 2)
            log.warning("bulk request failed (%s): %s", status or type(exc).__name__, exc)
            return step
        if not response.get("errors"):
            self.stats.indexed += len(step)
            return []
        retry = []
        throttled = False
        for entry, item in zip(step, response["items"], strict=True):
            result = next(iter(item.values()))
            status = result.get("status", 0)
            if status < 300:
                self.stats.indexed += 1
            elif status in RETRYABLE:
                throttled |= status == 429
                retry.append(entry)
            else:
                (index, doc_id), _, source = entry
                self._fail(index, doc_id, source, status, _reason(result.get("error")))
        if throttled:
            self.stats.throttled += 1
            self._docs_limit = max(1, self._docs_limit // 2)
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
