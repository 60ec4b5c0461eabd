"""The ingest service as the Lambda runs it: clients built once per container, one call per
queue message.

A message is done when every object it names is done (indexed, or kept as a dead letter with
its reason), or when an object that could not be finished in time has been checkpointed and
its continuation enqueued (logferry.ingest.checkpoint). It is returned to the queue (an exception)
when something may work later: OpenSearch or S3 unavailable, access denied, the time budget
spent before a checkpoint could be made. Returned messages come back after the visibility
timeout and land in the queue's DLQ after its redrive count; `logferry replay` drains it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..model import ObjectRef
from ..output.sink import BulkSink, BulkTransport, SinkUnavailable
from .checkpoint import (
    BudgetSpent,
    Continuations,
    ResumeSettings,
    Segment,
    segment_from_message,
)
from .deadletter import DeadLetters, S3DeadLetters, StreamDeadLetters, object_record
from .notifications import MalformedNotification, continuation_of, refs_from_message
from .pipeline import ObjectResult, ObjectUnavailable, Pipeline, S3Objects

__all__ = ["RESERVE_SECONDS", "BudgetSpent", "IngestService"]

log = logging.getLogger(__name__)

# Seconds kept back from the Lambda's remaining time: enough to flush, write dead letters and
# return the batch response.
RESERVE_SECONDS = 10.0
# Failures after which trying the message again later can help: it goes back to the queue.
RETURNED = (ObjectUnavailable, SinkUnavailable, BudgetSpent)


@dataclass
class IngestService:
    settings: Settings
    s3: Any
    opensearch: Any
    remaining: Callable[[], float] = lambda: float("inf")
    results: list[ObjectResult] = field(default_factory=list)
    # SQS client for continuation messages; created when a queue is configured and none given.
    sqs: Any = None
    resume: ResumeSettings = field(default_factory=ResumeSettings.from_env)

    def __post_init__(self) -> None:
        self.sink = BulkSink(
            BulkTransport(self.opensearch),
            max_bytes=self.settings.bulk_max_bytes,
            max_docs=self.settings.bulk_max_docs,
            remaining=lambda: self.remaining() - RESERVE_SECONDS,
            concurrency=self.settings.bulk_concurrency,
        )
        deadletters: DeadLetters
        if self.settings.deadletter_bucket:
            deadletters = S3DeadLetters(
                self.s3, self.settings.deadletter_bucket, self.settings.deadletter_prefix
            )
        else:
            deadletters = StreamDeadLetters()
        if self.sqs is None and self.resume.queue_url:
            import boto3

            self.sqs = boto3.client("sqs")
        self.continuations = Continuations(
            self.s3,
            self.sqs,
            self.resume,
            remaining=lambda: self.remaining(),
            reserve=2 * RESERVE_SECONDS,
        )
        self.pipeline = Pipeline(
            self.settings,
            S3Objects(self.s3),
            self.sink,
            deadletters,
            continuations=self.continuations,
        )

    def jobs(self, body: str) -> list[tuple[ObjectRef, Segment | None]]:
        """The objects (or object segments, for a continuation) one message names: at most
        `max_objects_per_message`; the others are kept as one `object` dead-letter file."""
        checkpoint = continuation_of(body)
        if checkpoint is None:
            refs = refs_from_message(body)
            cap = self.settings.max_objects_per_message
            jobs: list[tuple[ObjectRef, Segment | None]] = [
                (ref, None) for ref in itertools.islice(refs, cap)
            ]
            self._refuse_beyond(cap, refs)
            return jobs
        try:
            return [segment_from_message(checkpoint, self.resume)]
        except (LookupError, TypeError, ValueError) as exc:
            raise MalformedNotification(f"continuation message refused: {exc}") from None

    def _refuse_beyond(self, cap: int, refs: Iterator[ObjectRef]) -> None:
        first = next(refs, None)
        if first is None:
            return
        reason = f"more than {cap} objects in one message (LOGFERRY_MAX_OBJECTS_PER_MESSAGE)"
        records = (object_record(ref, None, reason) for ref in itertools.chain([first], refs))
        kept_as = dataclasses.replace(first, key=f"{first.key}#beyond-{cap}")
        kept = self.pipeline.deadletters.write(kept_as, "object", records)
        log.warning("objects not read", extra={"reason": reason, "objects": kept})

    def process_message(self, body: str) -> list[ObjectResult]:
        """Ingest every object one queue message names; raise to have it delivered again."""
        results = []
        for ref, segment in self.jobs(body):
            if self.remaining() < 2 * RESERVE_SECONDS:
                raise BudgetSpent(f"{ref.uri}: not started, {self.remaining():.0f}s left")
            self.sink.start_object()
            try:
                result = self.pipeline.ingest(ref, segment)
            except RETURNED as exc:
                # Whatever is still buffered is sent again, under the same ids, on redelivery.
                self.sink.discard()
                log.warning(
                    "object returned to the queue",
                    extra={"object": ref.uri, "reason": f"{type(exc).__name__}: {exc}"},
                )
                raise
            except Exception:
                # Not expected (a bug): the message fails as a whole. What this object still
                # had buffered is dropped and its requests in flight end here: nothing of it is
                # sent with the next object, and its counts are this invocation's.
                self.sink.discard()
                raise
            results.append(result)
        self.results.extend(results)
        return results
