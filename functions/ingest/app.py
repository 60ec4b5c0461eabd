"""Lambda: SQS messages of S3 notifications -> documents in OpenSearch.

Thin by design: Powertools' BatchProcessor gives each SQS record to `record_handler`; a record
that raises is reported in `batchItemFailures` and only it returns to the queue. When every
record fails (the cluster refuses them, or is down), Powertools fails the invocation and SQS
returns them all: the invocation's metrics are published all the same (MessagesReturned: all).
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from logferry.config import Settings
from logferry.ingest.heap import keep_freed_memory
from logferry.ingest.metrics import (
    publish_batch_metrics,
    publish_object_metrics,
    publish_sink_metrics,
)
from logferry.ingest.service import IngestService
from logferry.output.client import make_client

logger = Logger()
# The library logs through `logging.getLogger("logferry.*")`: give it this logger's JSON
# handler, so its lines (one per object, retries, checkpoints) carry the same context keys.
# (Nothing to copy when the service is named "logferry": then it is this very logger.)
logging.getLogger("logferry")
copy_config_to_registered_loggers(source_logger=logger, include={"logferry"})
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
keep_freed_memory()  # batch buffers reuse freed pages instead of faulting in new ones
settings = Settings.from_env()  # a bad setting fails the cold start, naming it
s3 = boto3.client("s3")
service = IngestService.build(
    settings, s3, make_client(settings.opensearch_url, access=settings.cluster)
)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    def seconds_left() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000

    with logger.append_context_keys(message_id=record.message_id):
        received = int(record.attributes.approximate_receive_count or 1)
        for result in service.process_message(record.body, seconds_left, received):
            publish_object_metrics(metrics, result)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    stats_before = service.sink.stats.copy()
    # What SQS does when the invocation fails (every record failed: Powertools raises): the
    # whole batch comes back. The metrics are published either way.
    everything = [{"itemIdentifier": r.get("messageId")} for r in event.get("Records", [])]
    response: dict[str, Any] = {"batchItemFailures": everything}
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        publish_sink_metrics(metrics, service.sink.stats.since(stats_before))
        publish_batch_metrics(metrics, response)
    return response
