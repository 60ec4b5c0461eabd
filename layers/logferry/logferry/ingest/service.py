"""The ingest service: the one wiring of the pipeline's parts, built once (per Lambda container,
per command), and one call per queue message.

`wire` builds what ingests objects (bulk sink, dead letters, continuations, pipeline) from one
Settings, for the Lambda, `logferry ingest` and `logferry replay` alike; `IngestService` adds
what a queue message needs. A message is done when every object it names is done (indexed, or
kept as a dead letter with its reason), or when an object that could not be finished in time has
been checkpointed and its continuation enqueued (logferry.ingest.checkpoint). It is returned to
the queue (an exception) when something may work later: OpenSearch or S3 unavailable, access
denied, the time budget spent before a checkpoint could be made. Returned messages come back
after the visibility timeout and land in the queue's DLQ after its redrive count; `logferry
replay` drains it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..mail.merger import MailMerger
from ..model import ObjectRef
from ..output.retry import Backoff
from ..output.sink import BulkSink, BulkTransport, SinkUnavailable
from .checkpoint import BudgetSpent, Continuations, segment_from_message
from .deadletter import DeadLetters, S3DeadLetters, StreamDeadLetters, object_record
from .notifications import MalformedNotification, continuation_of, refs_from_message
from .objects import ObjectSource, ObjectUnavailable, S3Objects
from .pipeline import ObjectResult, Pipeline
from .segments import Segment

__all__ = ["RESERVE_SECONDS", "BudgetSpent", "IngestService", "wire"]

log = logging.getLogger(__name__)

# Seconds kept back from the Lambda's remaining time: enough to flush, write dead letters and
# return the batch response.
RESERVE_SECONDS = 10.0
# Failures after which trying the message again later can help: it goes back to the queue.
RETURNED = (ObjectUnavailable, SinkUnavailable, BudgetSpent)

Budget = Callable[[], float]


def _unlimited() -> float:
    return float("inf")


@dataclass
class TimeLeft:
    """Seconds left in the current invocation: the sink and the continuations ask it; the
    service points it at each message's budget."""

    budget: Budget = _unlimited

    def __call__(self) -> float:
        return self.budget()


def wire(
    settings: Settings,
    opensearch: Any,
    objects: ObjectSource,
    *,
    s3: Any = None,
    sqs: Any = None,
    remaining: Budget | None = None,
    format_name: str | None = None,
) -> Pipeline:
    """The pipeline and its parts, from one Settings. Dead letters go to S3 when a dead-letter
    bucket is set (through `s3`), else to stderr. With a time budget (`remaining`), objects are
    watched: one too big for it is continued through `sqs` when `settings.resume` names a queue,
    or its message returns to the queue; without one, every object is read to its end."""
    left = remaining or _unlimited

    def budget() -> float:
        return left() - RESERVE_SECONDS

    transport = BulkTransport(opensearch)
    sink = BulkSink(
        transport,
        max_bytes=settings.bulk_max_bytes,
        max_docs=settings.bulk_max_docs,
        remaining=budget,
        concurrency=settings.bulk_concurrency,
        ids=settings.sends_ids,
    )
    # Mail transactions are merged with what is indexed, by a merger of their own per object.
    mail = functools.partial(
        MailMerger,
        transport,
        settings.index_prefix,
        queue_days=settings.mail_queue_days,
        backoff=Backoff(remaining=budget),
    )
    deadletters: DeadLetters = (
        S3DeadLetters(s3, settings.deadletter_bucket, settings.deadletter_prefix)
        if settings.deadletter_bucket
        else StreamDeadLetters()
    )
    continuations = (
        Continuations(s3, sqs, settings.resume, remaining=left, reserve=2 * RESERVE_SECONDS)
        if remaining is not None
        else None
    )
    return Pipeline(
        settings,
        objects,
        sink,
        deadletters,
        format_name=format_name,
        continuations=continuations,
        mail=mail,
    )


@dataclass
class IngestService:
    """Queue messages in, objects ingested: what the Lambda (and `logferry replay`'s DLQ pass)
    runs for each message. `pipeline` comes from `wire`."""

    settings: Settings
    pipeline: Pipeline
    # The time left in the current invocation (set per message; unlimited outside Lambda).
    time_left: TimeLeft = field(default_factory=TimeLeft)
    results: list[ObjectResult] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, s3: Any, opensearch: Any, sqs: Any = None) -> IngestService:
        """The service for objects in S3; an SQS client is made when continuations need one."""
        if sqs is None and settings.resume.queue_url:
            import boto3

            sqs = boto3.client("sqs")
        time_left = TimeLeft()
        objects = S3Objects.reading(s3, settings.source_role_arns)
        pipeline = wire(settings, opensearch, objects, s3=s3, sqs=sqs, remaining=time_left)
        return cls(settings, pipeline, time_left)

    @property
    def sink(self) -> BulkSink:
        sink = self.pipeline.sink
        assert sink is not None
        return sink

    def process_message(
        self, body: str, budget: Budget | None = None, receive_count: int = 1
    ) -> list[ObjectResult]:
        """Ingest every object one queue message names, within `budget` (seconds left, for a
        Lambda invocation); raise to have the message delivered again. `receive_count` (SQS's
        ApproximateReceiveCount) tells a redelivery: without ids (a Serverless time-series
        collection) what it indexes may already be there, and is counted as such."""
        self.time_left.budget = budget or _unlimited
        results = self._process(body)
        if receive_count > 1 and not self.sink.ids:
            for result in results:
                if result.documents:
                    result.extra["possible_duplicates"] = result.documents
                    log.warning(
                        "redelivered without document ids: possible duplicates",
                        extra={"object": result.ref.uri, "documents": result.documents},
                    )
        return results

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
            return [segment_from_message(checkpoint, self.settings.resume)]
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

    def _process(self, body: str) -> list[ObjectResult]:
        results = []
        for ref, segment in self.jobs(body):
            if self.time_left() < 2 * RESERVE_SECONDS:
                raise BudgetSpent(f"{ref.uri}: not started, {self.time_left():.0f}s left")
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
