"""The pipeline's fast path for the busiest formats: a record written straight to its JSON by
logferry.formats._lines (Rust, layers/native/lines), without a Python object per field.

It only accelerates. A fast writer takes the plain records it is sure of (printable ASCII, every
field of the expected shape) and returns `(@timestamp, JSON)`; for any other line it returns
None and the format's Python parser reads it, which decides whether that line is a document or
a rejection, and why. The Python parser stays the reference: tests/unit/test_fast_lines.py
holds every line a writer takes to the Python document (after the cloud facts' fill),
line by line, on real, generated and mutated lines.

Used only where the document needs nothing else from Python: no drop, sample or exclude rule,
no GeoIP or user agents, no Organizations facts, no `event.original`
(`Pipeline.send_lines` decides). Without the library (no cargo where it was built, or
LOGFERRY_PURE_PYTHON=1) there is no fast path and every line goes through Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .base import LineParser

try:
    if os.environ.get("LOGFERRY_PURE_PYTHON"):
        raise ImportError("LOGFERRY_PURE_PYTHON is set")
    from . import _lines  # type: ignore[attr-defined]
except ImportError:
    _lines = None

# A line's `(@timestamp, document JSON)`, or None: the Python parser's to read.
FastLine = Callable[[str], "tuple[str, bytes] | None"]

# Format name -> the writer class of logferry.formats._lines.
WRITERS = {"alb": "Alb", "nlb": "Nlb", "vpcflow": "VpcFlow"}


def available() -> bool:
    return _lines is not None


def library_file() -> str | None:
    return None if _lines is None else str(_lines.__file__)


def disable() -> None:
    """No fast path from now on in this process (the benchmark measures what it buys)."""
    global _lines
    _lines = None


def fast_lines(
    name: str, lines: LineParser, account: str | None, region: str | None
) -> tuple[LineParser, FastLine | None]:
    """The object's line parser and its fast writer (None: none for this format, or no
    library), with the object's cloud facts. A format with header lines (VPC flow) has its
    headers passed to the writer as they are taken."""
    kind = WRITERS.get(name)
    if _lines is None or kind is None:
        return lines, None
    writer: Any = getattr(_lines, kind)(account, region)
    take_header, parse_line = lines
    if take_header is not None and hasattr(writer, "header"):
        python_take = take_header

        def take_both(line: str) -> bool:
            if python_take(line):
                writer.header(line.split())
                return True
            return False

        take_header = take_both
    fast: FastLine = writer.line
    return (take_header, parse_line), fast
