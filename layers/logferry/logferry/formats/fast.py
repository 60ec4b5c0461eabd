"""The pipeline's fast path for the busiest formats: a record written straight to its JSON by
logferry.formats._lines (Rust, layers/native/lines), without a Python object per field.

It only accelerates. A fast writer takes the plain records it is sure of (printable ASCII, every
field of the expected shape) and returns `(@timestamp, JSON)`; for any other line it returns
None and the format's Python parser reads it, which decides whether that line is a document or
a rejection, and why. The Python parser stays the reference: tests/unit/test_fast_lines.py
and tests/fast_files.py hold every line a writer takes to orjson's bytes of the Python
document after the fills, line by line, on real, generated and mutated lines.

What the fills add, the writers add themselves: cloud facts, GeoIP (the same database files)
and user agents (taught by `learn`, from the documents the Python path fills); they decide
drop and sample rules (logferry.enrich.decision), a drop rule on the fields they mark before
writing the document. Organizations facts, field exclusions and `event.original` take the
Python path (logferry.ingest.linewise's `fast_path` decides). Without the library (no cargo
where it was built, or LOGFERRY_PURE_PYTHON=1) there is no fast path and every line goes
through Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..model import Source
from .base import LineParser

if TYPE_CHECKING:  # logferry.enrich imports this module
    from ..enrich import FastFacts
    from ..enrich.decision import JsonDecision

try:
    if os.environ.get("LOGFERRY_PURE_PYTHON"):
        raise ImportError("LOGFERRY_PURE_PYTHON is set")
    from . import _lines  # type: ignore[attr-defined]
except ImportError:
    _lines = None

# A line's `(@timestamp, document JSON, verdict)` (the rules', logferry.enrich.decision: 0,
# KEEP, without rules), or None: the Python parser's to read.
FastLine = Callable[[str], "tuple[str, bytes, int] | None"]

# Takes a document the Python path made (and filled): what a writer learns from it.
Learn = Callable[[Source], None]
# An agent string -> the user_agent.* fields its enrichment adds (logferry.enrich.useragent).
AgentLookup = Callable[[str], "Source | None"]

# Format name -> the writer class of logferry.formats._lines.
WRITERS = {"alb": "Alb", "nlb": "Nlb", "vpcflow": "VpcFlow"}
# The writers that add user agents' fields themselves, as they are taught them.
AGENT_WRITERS = frozenset({"alb"})
# Longer agent strings are not taught (a writer keeps up to 16,384 of them: ~32 MiB at most,
# not a line's 1 MiB each): their lines stay declined, and Python fills them.
MAX_TAUGHT_AGENT = 2048


def available() -> bool:
    return _lines is not None


def library_file() -> str | None:
    return None if _lines is None else str(_lines.__file__)


def disable() -> None:
    """No fast path from now on in this process (the benchmark measures what it buys)."""
    global _lines
    _lines = None


def fast_lines(
    name: str,
    lines: LineParser,
    facts: FastFacts,
    *,
    rules: JsonDecision | None = None,
    dropped_bodies: bool = False,
) -> tuple[LineParser, FastLine | None, Learn | None]:
    """The object's line parser, its fast writer (None: none for this format, or no library)
    with what it adds besides the record (`facts`: logferry.enrich.Enrichment.fast_facts),
    and what the writer learns from the documents of the Python path (None: nothing). A
    format with header lines (VPC flow) has its headers passed to the writer as they are
    taken. With user agents on (`facts.agents`), a writer that adds their fields declines
    each agent string until taught it by `learn`; a writer that does not, is none. With GeoIP
    on (`facts.geoip`: the local paths of its City and ASN databases, either None), the
    writer adds the endpoints' geo and as itself, from the same files, and asks GeoIP's own
    lookup (`facts.geoip_members`) for the addresses it leaves to Python. With `rules`, it
    adds its verdict on each document, and gives a dropped one's JSON only with
    `dropped_bodies` (else an empty body)."""
    kind = WRITERS.get(name)
    agents = facts.agents
    if _lines is None or kind is None or (agents is not None and name not in AGENT_WRITERS):
        return lines, None, None
    options: dict[str, Any] = {}
    if facts.geoip is not None:
        options.update(geoip=facts.geoip, geoip_members=facts.geoip_members)
    if rules is not None:
        options["rules"] = _lines.Rules(rules.drops, rules.samples, dropped_bodies)
    writer: Any = getattr(_lines, kind)(
        facts.account, facts.region, *((True,) if agents else ()), **options
    )
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
    learn = None if agents is None else _agent_teacher(writer, agents)
    return (take_header, parse_line), fast, learn


def _agent_teacher(writer: Any, lookup: AgentLookup) -> Learn:
    """Teaches the writer what the user agent fill adds for a document's agent string: the
    fields as JSON members after a comma (an object's members, in the fill's order)."""
    dumps = orjson.dumps

    def learn(doc: Source) -> None:
        agent = doc.get("user_agent")
        original = agent.get("original") if isinstance(agent, dict) else None
        if isinstance(original, str) and len(original) <= MAX_TAUGHT_AGENT:
            found = lookup(original) if original else None
            writer.agent(original, b"," + dumps(found)[1:-1] if found else b"")

    return learn
