"""`logferry ingest`: the pipeline run here, on this machine: local files (in worker processes
when asked) or the objects of S3 prefixes, with a status line and totals.

Each worker process builds its own pipeline from the same Settings (one wiring with the Lambda's,
logferry.ingest.service.wire), so a file is ingested exactly as the Lambda would ingest it; the
parent only hands out paths (at most two queued a worker) and adds up results. Workers are
spawned, not forked: nothing of the parent's state (clients, threads) is shared. Rejected:
threads (parsing holds the GIL: one core whatever their number).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..model import ObjectRef
from .heap import keep_freed_memory
from .objects import Objects
from .pipeline import ObjectResult, Pipeline

if TYPE_CHECKING:
    from concurrent.futures import Future


def local_files(paths: Sequence[str]) -> Iterator[Path]:
    """The files named, a directory's files (recursively, in name order) in its place."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def s3_refs(s3: Any, uri: str) -> Iterator[ObjectRef]:
    """The objects under an `s3://bucket/prefix`, listed page by page."""
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield ObjectRef(
                bucket=bucket,
                key=item["Key"],
                size=item.get("Size"),
                etag=item.get("ETag"),
                event_time=item.get("LastModified"),
            )


def result_line(result: ObjectResult) -> str:
    detail = f" ({result.problem})" if result.problem else ""
    return (
        f"{result.outcome:>12}  {result.format or '-':<14} {result.documents:>9} docs"
        f" {result.rejected:>6} rejected  {result.ref.uri}{detail}"
    )


@dataclasses.dataclass
class IngestTally:
    """What `logferry ingest` has done: the totals, whether anything failed, the status line."""

    total: int | None  # objects to ingest, when known (local files)
    objects: int = 0
    documents: int = 0
    rejected: int = 0
    bytes_in: int = 0
    failed: bool = False  # a line rejected, a document refused, an object damaged or missing
    interrupted: bool = False
    started: float = dataclasses.field(default_factory=time.monotonic)

    def add(self, result: ObjectResult) -> None:
        self.objects += 1
        self.documents += result.documents
        self.rejected += result.rejected
        self.bytes_in += result.bytes_in
        if result.rejected or result.dead_lettered or result.outcome in ("damaged", "missing"):
            self.failed = True

    def text(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total is not None else ""
        return (
            f"{self.objects:,}{of} objects, {self.documents:,} documents, {self.rejected:,}"
            f" rejected, {self.bytes_in / 1e6:,.1f} MB read; {self.documents / seconds:,.0f}"
            " documents/s"
        )

    def summary(self) -> str:
        return (
            f"{self.objects} objects, {self.documents} documents indexed,"
            f" {self.rejected} lines rejected"
        )


def local_pipeline(
    settings: Settings, format_name: str | None, reads_s3: bool
) -> tuple[Pipeline, Any]:
    """The pipeline `logferry ingest` runs (one wiring with the Lambda's), and its S3 client."""
    import boto3

    from ..output.client import make_client
    from .service import wire

    s3 = boto3.client("s3") if reads_s3 or settings.deadletter_bucket else None
    opensearch = make_client(settings.opensearch_url, access=settings.cluster)
    objects = Objects(s3, settings.source_role_arns)
    return wire(settings, opensearch, objects, s3=s3, format_name=format_name), s3


# One pipeline per worker process, built once by the pool's initializer.
_worker_pipeline: Pipeline | None = None


def _worker_start(settings: Settings, format_name: str | None) -> None:
    import signal

    global _worker_pipeline
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    keep_freed_memory()
    _worker_pipeline, _ = local_pipeline(settings, format_name, reads_s3=False)


def _worker_ingest(path: str) -> ObjectResult:
    assert _worker_pipeline is not None
    return _worker_pipeline.ingest(ObjectRef("", path))


def ingest_in_workers(
    paths: list[Path],
    workers: int,
    settings: Settings,
    format_name: str | None,
    done: Callable[[ObjectResult], None],
) -> None:
    """Each file by one of `workers` processes (spawned: no state shared with this one), at most
    two files a worker queued at a time; `done` gets each result as it comes."""
    # (imported here: `logferry parse` starts without the process machinery)
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(settings, format_name)
    ) as pool:
        try:
            running: set[Future[ObjectResult]] = set()
            for path in paths:
                if len(running) >= 2 * workers:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done(future.result())
                running.add(pool.submit(_worker_ingest, str(path)))
            for future in as_completed(running):
                done(future.result())
        except KeyboardInterrupt:
            pool.shutdown(cancel_futures=True)  # the files being read are finished
            raise


def ingest_here(
    settings: Settings,
    targets: list[str],
    paths: list[Path] | None,
    workers: int = 1,
    format_name: str | None = None,
) -> IngestTally:
    """Ingest the local files `paths` (None: the S3 prefixes among `targets`), with a status
    line on a terminal; the tally says what was done (interrupted by Ctrl-C, too)."""
    from ..backfill import TerminalStatus

    tally = IngestTally(total=None if paths is None else len(paths))
    with TerminalStatus(sys.stderr) as status:

        def done(result: ObjectResult) -> None:
            status.echo(result_line(result))
            tally.add(result)
            status.show(tally.text)

        try:
            if paths is not None and workers > 1:
                ingest_in_workers(paths, workers, settings, format_name, done)
            else:
                pipeline, s3 = local_pipeline(settings, format_name, paths is None)
                for ref in _refs(s3, targets, paths):
                    done(pipeline.ingest(ref))
        except KeyboardInterrupt:
            tally.interrupted = True
    return tally


def _refs(s3: Any, targets: list[str], paths: list[Path] | None) -> Iterator[ObjectRef]:
    """The objects to ingest: the local files listed, or each S3 target's (listed lazily)."""
    if paths is not None:
        yield from (ObjectRef("", str(path)) for path in paths)
        return
    for target in targets:
        if target.startswith("s3://"):
            yield from s3_refs(s3, target)
        else:
            yield from (ObjectRef("", str(path)) for path in local_files([target]))
