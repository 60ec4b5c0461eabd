"""Loading the corpus into throwaway day indices (no refresh, no replicas while loading),
`concurrency` bulk requests in flight while the next bodies are generated; then the
template's refresh interval restored and the merges left to settle; and the clean-up."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from logferry.output.sink import BulkTransport
from logferry.provisioning.templates import index_template, template_name
from tools.bench.search.corpus import CorpusShape, bulk_bodies, documents, index_for


@dataclass
class LoadStats:
    documents: int = 0
    requests: int = 0
    bytes: int = 0
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0


def day_indices(prefix: str, shape: CorpusShape) -> list[str]:
    """Every day index the corpus can write (a deferred retry may run into the day after)."""
    start = shape.end - timedelta(days=shape.days)
    return [
        index_for(prefix, (start + timedelta(days=n)).strftime("%Y-%m-%d"))
        for n in range(shape.days + 1)
    ]


def prepare(client: Any, prefix: str, shape: CorpusShape) -> None:
    client.indices.put_index_template(name=template_name(prefix), body=index_template(prefix))
    for index in day_indices(prefix, shape):
        client.indices.create(
            index=index,
            body={"settings": {"index": {"refresh_interval": "-1", "number_of_replicas": 0}}},
        )


def load(
    client: Any, prefix: str, shape: CorpusShape, *, concurrency: int, per_body: int
) -> LoadStats:
    """Generate and send, `concurrency` bulk requests in flight while the next bodies are built."""
    transport = BulkTransport(client)
    stats = LoadStats()
    progress = sys.stdout.isatty()
    lock = threading.Lock()
    started = time.perf_counter()

    def send(body: bytes) -> None:
        response = transport.bulk(body)
        with lock:
            stats.requests += 1
            stats.bytes += len(body)
            for item in response.get("items", []):
                result = next(iter(item.values()))
                if result.get("status", 500) >= 300:
                    stats.errors += 1
                    stats.first_error = stats.first_error or str(result.get("error"))[:300]
                else:
                    stats.documents += 1

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        inflight: list[Future[None]] = []
        for body in bulk_bodies(prefix, documents(shape), per_body):
            while len(inflight) >= concurrency * 2:
                inflight.pop(0).result()
            inflight.append(pool.submit(send, body))
            if progress and stats.requests and stats.requests % 20 == 0:
                rate = stats.documents / (time.perf_counter() - started)
                print(f"\r   {stats.documents:>12,} documents  {rate:>8,.0f}/s", end="", flush=True)
        for future in inflight:
            future.result()
    stats.seconds = time.perf_counter() - started
    if progress:
        print("\r" + " " * 60 + "\r", end="")
    return stats


def finish_loading(client: Any, prefix: str, *, force_merge: bool) -> dict[str, float]:
    pattern = f"{prefix}-mail-*"
    refresh = index_template(prefix)["template"]["settings"]["index"]["refresh_interval"]
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    client.indices.put_settings(index=pattern, body={"index": {"refresh_interval": refresh}})
    client.indices.refresh(index=pattern)
    seconds["refresh"] = time.perf_counter() - started
    # Searching while a two-core machine still merges the freshly loaded segments would
    # measure the merges; production indices are searched mostly long after they were written.
    started = time.perf_counter()
    while time.perf_counter() - started < 600:
        merges = client.indices.stats(index=pattern, metric="merge")
        if not merges["_all"]["total"]["merges"]["current"]:
            break
        time.sleep(2)
    seconds["merges settling"] = time.perf_counter() - started
    if force_merge:
        started = time.perf_counter()
        client.indices.forcemerge(index=pattern, max_num_segments=1, request_timeout=3600)
        seconds["force-merge"] = time.perf_counter() - started
    return seconds


def cleanup(client: Any, prefix: str) -> None:
    names = sorted(client.indices.get(index=f"{prefix}-*", params={"ignore_unavailable": "true"}))
    for start in range(0, len(names), 20):
        client.indices.delete(index=",".join(names[start : start + 20]))
    try:
        client.indices.delete_index_template(name=template_name(prefix))
    except Exception as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
