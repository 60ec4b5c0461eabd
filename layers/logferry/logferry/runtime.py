"""The ingest service as the Lambda runs it: clients built once per container, one call per
queue message.

A message is done when every object it names is done (indexed, or kept as a dead letter with
its reason). It is returned to the queue (an exception) when something may work later:
OpenSearch or S3 unavailable, access denied, the time budget spent. Returned messages come
back after the visibility timeout and land in the queue's DLQ after its redrive count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .deadletter import DeadLetters, S3DeadLetters, StreamDeadLetters
from .events import refs_from_message
from .pipeline import ObjectResult, Pipeline, S3Objects
from .sink import BulkSink, BulkTransport

log = logging.getLogger(__name__)

# Seconds kept back from the Lambda's remaining time: enough to flush, write dead letters and
# return the batch response.
RESERVE_SECONDS = 10.0


class BudgetSpent(Exception):
    """Not started: too little time left in this invocation; the queue delivers it again."""


@dataclass
class IngestService:
    settings: Settings
    s3: Any
    opensearch: Any
    remaining: Callable[[], float] = lambda: float("inf")
    results: list[ObjectResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sink = BulkSink(
            BulkTransport(self.opensearch),
            max_bytes=self.settings.bulk_max_bytes,
            max_docs=self.settings.bulk_max_docs,
            remaining=lambda: self.remaining() - RESERVE_SECONDS,
        )
        deadletters: DeadLetters
        if self.settings.deadletter_bucket:
            deadletters = S3DeadLetters(
                self.s3, self.settings.deadletter_bucket, self.settings.deadletter_prefix
            )
        else:
            deadletters = StreamDeadLetters()
        self.pipeline = Pipeline(self.settings, S3Objects(self.s3), self.sink, deadletters)

    def process_message(self, body: str) -> list[ObjectResult]:
        """Ingest every object one queue message names; raise to have it delivered again."""
        results = []
        for ref in refs_from_message(body):
            if self.remaining() < 2 * RESERVE_SECONDS:
                raise BudgetSpent(f"{ref.uri}: not started, {self.remaining():.0f}s left")
            result = self.pipeline.ingest(ref)
            results.append(result)
        self.results.extend(results)
        return results
