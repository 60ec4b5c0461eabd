"""Helpers the tests share: sample objects, fault injection, the deployed wiring. The local
stand-ins for AWS (moto's S3 -> SQS wiring, SQS records, the Lambda context, the handler as a
new container loads it, NLB lines) live in tools.localaws, which the demo and the benchmark
use too; they are imported here under their old names."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tools.localaws import NLB_KEY as NLB_KEY
from tools.localaws import FakeLambdaContext as FakeLambdaContext
from tools.localaws import Wiring as Wiring
from tools.localaws import load_ingest_handler as load_ingest_handler
from tools.localaws import nlb_line as nlb_line
from tools.localaws import s3_notification as s3_notification
from tools.localaws import sqs_record as sqs_record


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


# -- fault injection: markers, census, a queue driven like Lambda's event source mapping ------


def marked_nlb_line(tag: str, n: int) -> str:
    """An NLB line whose SNI (`tls.client.server_name`) names it: `<tag>-<n>.example.com`, so a
    census can tell every (object, line) apart whatever `_id` it was indexed under."""
    return nlb_line(n).replace(" imap.example.com ", f" {tag}-{n}.example.com ")


MARK_FIELD = "tls.client.server_name"


@dataclass
class Census:
    """What is in the indices: every marker with how many documents carry it."""

    total: int
    counts: dict[str, int]

    @property
    def duplicates(self) -> int:
        """Documents beyond the first for their marker (an (object, line) indexed twice)."""
        return sum(n - 1 for n in self.counts.values() if n > 1)

    def missing(self, expected: set[str]) -> set[str]:
        return expected - self.counts.keys()

    def report(self, title: str, expected: set[str], **figures: Any) -> str:
        extra = "".join(f" {name}={value}" for name, value in figures.items())
        return (
            f"[{title}] documents expected={len(expected)} found={self.total}"
            f" distinct={len(self.counts)} duplicates={self.duplicates}"
            f" missing={len(self.missing(expected))}{extra}"
        )


def census(client: Any, prefix: str, field: str = MARK_FIELD) -> Census:
    """Count documents per marker exactly (composite aggregation, paged) over `<prefix>-*`."""
    client.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True)
    total = int(client.count(index=f"{prefix}-*", ignore_unavailable=True)["count"])
    counts: dict[str, int] = {}
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {
            "size": 10_000,
            "sources": [{"m": {"terms": {"field": field}}}],
        }
        if after:
            composite["after"] = after
        response = client.search(
            index=f"{prefix}-*",
            body={"size": 0, "aggs": {"marks": {"composite": composite}}},
            ignore_unavailable=True,
        )
        aggs = response.get("aggregations")
        if not aggs:
            break
        buckets = aggs["marks"]["buckets"]
        for bucket in buckets:
            counts[bucket["key"]["m"]] = bucket["doc_count"]
        after = aggs["marks"].get("after_key")
        if not buckets or not after:
            break
    return Census(total, counts)


@dataclass
class Delivery:
    """One invocation of the handler by the queue driver."""

    messages: int
    failed: int
    killed: bool


class QueueDriver:
    """Delivers an SQS queue to a handler the way Lambda's event source mapping does: batches
    of up to 10, messages deleted unless reported in batchItemFailures, failed (or killed)
    ones visible again for redelivery. `handler(event)` returns the batch response."""

    def __init__(self, sqs: Any, queue_url: str, batch: int = 10) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.batch = batch
        self.deliveries: list[Delivery] = []

    def receive(self) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch,
                WaitTimeSeconds=0,
                VisibilityTimeout=300,
                AttributeNames=["All"],
            ).get("Messages", [])
        )

    def deliver(
        self, messages: list[dict[str, Any]], handler: Any, kill: type[BaseException] | None = None
    ) -> Delivery:
        records = []
        for message in messages:
            record = sqs_record(message["Body"], message["MessageId"])
            record["receiptHandle"] = message["ReceiptHandle"]
            records.append(record)
        try:
            response = handler({"Records": records})
        except BaseException as exc:
            killed = kill is not None and isinstance(exc, kill)
            if not killed and not isinstance(exc, Exception):
                raise
            # A killed invocation, or one that raised (Powertools raises when every record of
            # the batch failed), acknowledges nothing: the whole batch comes back.
            for message in messages:
                self._again(message)
            delivery = Delivery(len(messages), len(messages), killed)
            self.deliveries.append(delivery)
            return delivery
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self._again(message)
            else:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        delivery = Delivery(len(messages), len(failed), False)
        self.deliveries.append(delivery)
        return delivery

    def _again(self, message: dict[str, Any]) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    def drain(
        self, handler: Any, max_rounds: int = 200, kill: type[BaseException] | None = None
    ) -> int:
        """Deliver until the queue is empty; return how many invocations it took."""
        rounds = 0
        while rounds < max_rounds:
            messages = self.receive()
            if not messages:
                return rounds
            self.deliver(messages, handler, kill)
            rounds += 1
        raise AssertionError(f"queue not drained after {max_rounds} invocations")


# -- the compiled parsers (layers/native/compile.py) --------------------------------------


def load_script(name: str, path: Path) -> ModuleType:
    """A file outside the package (a function's handler, a build script) as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def native_compile_script() -> ModuleType:
    from tests.conftest import ROOT

    return load_script("native_compile", ROOT / "layers" / "native" / "compile.py")


MUTATION_CHARACTERS = ('"', "\\", " ", "-", "0", "9", ":", ".", "\t", "é", "x", "\x00")


def mutants(line: str, rng: random.Random) -> list[str]:
    """Broken copies of a line: cut short, one character replaced, a field doubled, a field
    dropped."""
    fields = line.split(" ")
    at = rng.randrange(len(fields))
    replaced = rng.randrange(max(1, len(line)))
    return [
        line[: rng.randrange(max(1, len(line)))],
        line[:replaced] + rng.choice(MUTATION_CHARACTERS) + line[replaced + 1 :],
        " ".join(fields[: at + 1] + fields[at:]),
        " ".join(fields[:at] + fields[at + 1 :]),
    ]


def parser_corpus(directory: Path, format_name: str, generated: Iterable[str]) -> list[Path]:
    """Files of lines of one format that take its parser down every path: each real-world
    file and the `generated` lines, each followed by mutants of its lines (seeded), at least
    400 of them however few the lines."""
    from tests.conftest import REALWORLD

    rng = random.Random(format_name)
    texts = [
        path.read_bytes().decode(errors="surrogateescape").splitlines()[:200]
        for path in sorted(REALWORLD.glob(f"{format_name}/*.log"))
    ]
    texts.append(list(generated))
    files = []
    for number, lines in enumerate(texts):
        lines = [line for line in lines if line]
        rounds = -(-100 // len(lines)) if lines else 0
        broken = [mutant for line in lines * rounds for mutant in mutants(line, rng)]
        path = directory / f"{format_name}-{number}.log"
        path.write_bytes(("\n".join(lines + broken) + "\n").encode(errors="surrogateescape"))
        files.append(path)
    return files


# -- the deployed wiring, for the handler's integration tests ---------------------------------

DEADLETTER_BUCKET = "logferry-deadletter"


def key_of(n: int) -> str:
    return NLB_KEY.replace("a1b2c3d4", f"obj{n:03d}")


def marked_object(tag: str, lines: int) -> tuple[bytes, set[str]]:
    body = gz("\n".join(marked_nlb_line(tag, n) for n in range(lines)) + "\n")
    return body, {f"{tag}-{n}.example.com" for n in range(lines)}


def emf_sums(output: str) -> dict[str, float]:
    """Every EMF metric the handler printed, summed over invocations."""
    sums: dict[str, float] = defaultdict(float)
    for text in output.splitlines():
        if not text.startswith("{") or '"_aws"' not in text:
            continue
        blob = json.loads(text)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                sums[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return sums


class Setup:
    """A bucket notifying a queue, a dead-letter bucket, and handler containers on demand."""

    def __init__(self, opensearch_url: str, prefix: str, **env: str) -> None:
        self.wiring = Wiring.create()
        self.s3 = self.wiring.s3
        self.s3.create_bucket(Bucket=DEADLETTER_BUCKET)
        self.env = {
            "OPENSEARCH_URL": opensearch_url,
            "LOGFERRY_INDEX_PREFIX": prefix,
            "LOGFERRY_DEADLETTER_BUCKET": DEADLETTER_BUCKET,
            "LOGFERRY_QUEUE_URL": self.wiring.queue_url,
            **env,
        }
        self.driver = QueueDriver(self.wiring.sqs, self.wiring.queue_url)

    def container(self, **env: str) -> Any:
        """A fresh Lambda container (module imported anew); retries back off in milliseconds."""
        app = load_ingest_handler({**self.env, **env})  # logging to the current stdout
        app.service.sink.base_backoff = 0.001
        app.service.sink.max_backoff = 0.01
        return app

    def put_objects(self, count: int, lines: int) -> set[str]:
        expected: set[str] = set()
        for n in range(count):
            body, marks = marked_object(f"o{n}", lines)
            self.wiring.put(key_of(n), body)
            expected |= marks
        return expected

    def deadletters(self, kind: str) -> list[dict[str, Any]]:
        listed = self.s3.list_objects_v2(
            Bucket=DEADLETTER_BUCKET, Prefix=f"logferry-deadletter/{kind}/"
        )
        return [
            json.loads(line)
            for item in listed.get("Contents", [])
            for line in self.s3.get_object(Bucket=DEADLETTER_BUCKET, Key=item["Key"])["Body"]
            .read()
            .splitlines()
        ]
