"""CloudWatch metrics (EMF through Powertools) from object results and sink counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..output.sink import SinkStats
from .pipeline import ObjectResult


def publish_object_metrics(metrics: Any, result: ObjectResult) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="ObjectsProcessed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DocumentsIndexed", unit=MetricUnit.Count, value=result.documents)
    metrics.add_metric(name="LinesRejected", unit=MetricUnit.Count, value=result.rejected)
    # Not indexed by a drop or sample rule (LOGFERRY_DROP, LOGFERRY_SAMPLE): chosen, not lost.
    metrics.add_metric(name="DocumentsDropped", unit=MetricUnit.Count, value=result.dropped)
    metrics.add_metric(name="DeadLetters", unit=MetricUnit.Count, value=result.dead_lettered)
    metrics.add_metric(name="BytesRead", unit=MetricUnit.Bytes, value=result.bytes_in)
    # Objects (or parts) checkpointed for a later invocation, and the messages that continue them.
    continuations = int(result.extra.get("continuations", 0))
    metrics.add_metric(name="Continuations", unit=MetricUnit.Count, value=continuations)
    # Serverless time series (no ids): documents of a redelivered message, maybe indexed twice.
    duplicates = int(result.extra.get("possible_duplicates", 0))
    if duplicates:
        metrics.add_metric(
            name="DocumentsPossiblyDuplicated", unit=MetricUnit.Count, value=duplicates
        )
    if result.outcome not in ("indexed", "skipped", "empty"):
        metrics.add_metric(name=f"Objects_{result.outcome}", unit=MetricUnit.Count, value=1)
    if result.ref.event_time is not None:
        lag = (datetime.now(UTC) - result.ref.event_time).total_seconds()
        metrics.add_metric(name="IngestLag", unit=MetricUnit.Seconds, value=max(lag, 0.0))


def publish_sink_metrics(metrics: Any, stats: SinkStats) -> None:
    """The bulk sink's counts of one invocation (SinkStats.since)."""
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in (
        ("BulkRequests", stats.requests),
        ("RetriedDocuments", stats.retried_items),
        ("Throttles", stats.throttled),
        ("DocumentsFailed", stats.failed),
        ("BulkRequestFailures", stats.request_failures),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def publish_batch_metrics(metrics: Any, response: dict[str, Any]) -> None:
    """Messages returned to the queue (partial batch failures): they come back later."""
    from aws_lambda_powertools.metrics import MetricUnit

    returned = len(response.get("batchItemFailures", []))
    metrics.add_metric(name="MessagesReturned", unit=MetricUnit.Count, value=returned)
