"""Deterministic generators of realistic log objects, one per format, for the benchmark.

Each generator is an endless stream of lines (header lines first, where the format has them)
drawn from a seeded `random.Random`: the same seed gives the same bytes, so a benchmark run can
cache its objects and two machines measure the same input. The mix follows what busy
deployments write: skewed client populations (a few heavy clients, a long tail), a share of
failed TLS handshakes and rejected flows, IPv6 clients, long user agents, query strings,
URL-encoded CloudFront cells, and the newest field counts (ALB with 36 fields, NLB 2.0 with 22).

One module per format (what they share in `base`); the registry and the cached objects here.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

from isal import igzip

from tools.bench.generators.alb import alb_lines
from tools.bench.generators.base import DAYS_BACK as DAYS_BACK
from tools.bench.generators.base import Generator
from tools.bench.generators.cloudfront import CLOUDFRONT_FIELDS as CLOUDFRONT_FIELDS
from tools.bench.generators.cloudfront import cloudfront_lines
from tools.bench.generators.nlb import nlb_lines
from tools.bench.generators.s3access import s3access_lines
from tools.bench.generators.vpcflow import vpcflow_lines

# Bump when a generator changes: cached objects carry it in their names.
GENERATOR_VERSION = 1
SEED = 20261120

# Average line lengths (bytes, newline included), measured: they turn a size into a line count
# for the clock, so an object of any size spans the same five minutes.
GENERATORS: dict[str, tuple[Generator, int]] = {
    "nlb": (nlb_lines, 311),
    "alb": (alb_lines, 654),
    "vpcflow": (vpcflow_lines, 114),
    "cloudfront": (cloudfront_lines, 384),
    "s3access": (s3access_lines, 655),
}


def lines(name: str, size_bytes: int, seed: int = SEED) -> Iterator[str]:
    """The lines of an object of about `size_bytes` of text (header lines included)."""
    generator, average = GENERATORS[name]
    total = 0
    for line in generator(random.Random(f"{seed}:{name}"), max(1, size_bytes // average)):
        yield line
        total += len(line) + 1
        if total >= size_bytes:
            return


def object_path(directory: Path, name: str, size_bytes: int) -> Path:
    return directory / f"{name}-{size_bytes}-v{GENERATOR_VERSION}-s{SEED}.log.gz"


def write_object(directory: Path, name: str, size_bytes: int) -> Path:
    """A gzipped object of about `size_bytes` of text, generated once and cached by name."""
    path = object_path(directory, name, size_bytes)
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial{os.getpid()}")
    batch: list[str] = []
    # isal's gzip writer: several times faster than zlib at level 1-3, still ordinary gzip.
    with igzip.open(partial, "wb", compresslevel=2) as out:  # type: ignore[no-untyped-call]
        for line in lines(name, size_bytes):
            batch.append(line)
            if len(batch) >= 10_000:
                out.write(("\n".join(batch) + "\n").encode())
                batch.clear()
        if batch:
            out.write(("\n".join(batch) + "\n").encode())
    partial.rename(path)  # a run cut short never leaves a half object behind a cached name
    return path
