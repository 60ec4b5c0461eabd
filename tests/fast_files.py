"""The fast path's writers (logferry.formats._lines) held to the Python parsers on files, for
a build that cannot run the test suite (tests/aws: the Lambda's arm64 build under qemu). Needs
only logferry and its layer's packages.

    python tests/fast_files.py FORMAT FILE [FORMAT FILE ...]

Prints one JSON line: the library's file, and per format the lines read, the lines the writer
took, and the first lines where it wrote other bytes than orjson's of the Python document (or
wrote a document for a line Python rejects).
"""

from __future__ import annotations

import io
import sys
from typing import Any

import orjson

from logferry.enrich import Enrichment
from logferry.enrich.decision import DROP, KEEP, JsonDecision
from logferry.enrich.geoip import DatabaseFile, GeoIP
from logferry.formats import fast, get_format
from logferry.ingest.reader import LineReader
from logferry.model import ObjectRef, ParseContext


class Pair:
    """One object read both ways: the Python parser with the pipeline's enrichment (its fill
    of the object: cloud facts, GeoIP, user agents) and the fast writer with what the same
    enrichment says a writer adds (`Enrichment.fast_facts`). `geoip`: a GeoIP, or the (City,
    ASN) database paths, either None; `drops`: drop rules for the writer to decide."""

    def __init__(
        self,
        name: str,
        account: str | None,
        region: str | None,
        agents: bool = False,
        geoip: GeoIP | tuple[str | None, str | None] | None = None,
        drops: JsonDecision | None = None,
    ) -> None:
        fmt = get_format(name)
        key = f"x/{name}.log"  # no account in the key: the prefix below gives the object's
        ctx = ParseContext(ObjectRef("bucket", key))
        lines = fmt.line_parser(LineReader(io.BytesIO(b"")), ctx)
        assert lines is not None
        if isinstance(geoip, tuple):
            city, asn = geoip
            geoip = GeoIP(DatabaseFile(city) if city else None, DatabaseFile(asn) if asn else None)
        prefixes = (("x/", account, region),) if account else ()
        enrichment = Enrichment(prefixes, geoip=geoip, user_agents=agents)
        fill = enrichment.for_object(key, fmt)
        assert fill is not None
        self.fill = fill
        facts = enrichment.fast_facts(key, fmt)
        assert facts is not None and (facts.account, facts.region) == (account, region)
        (self.take_header, self.parse_line), writer, self.learn = fast.fast_lines(
            name, lines, facts, rules=drops
        )
        self.drops = drops
        assert writer is not None, f"no fast writer for {name}"
        self.writer = writer
        self.taken = self.lines = 0

    def differs(self, line: str) -> str | None:
        """None when the writer declined the line or wrote exactly the Python document's
        bytes (and its @timestamp); else what went wrong."""
        if self.take_header is not None and self.take_header(line):
            return None
        self.lines += 1
        written = self.writer(line)
        try:
            doc = self.parse_line(line)
        except Exception as exc:
            return None if written is None else f"wrote {written!r}; Python rejects it: {exc}"
        self.fill(doc)
        if self.learn is not None:  # as the pipeline's Python path teaches the writer
            self.learn(doc)
        if written is None:
            return None
        self.taken += 1
        timestamp, body, verdict = written
        if self.drops is not None and verdict == DROP:
            if body or self.drops.keep(doc, "x"):
                return f"dropped ({body!r}); Python keeps {orjson.dumps(doc)!r}"
            return None  # not written: nothing to compare
        if verdict != KEEP and self.drops is None:
            return f"verdict {verdict} without rules"
        expected = orjson.dumps(doc)
        if body != expected:
            return f"wrote {body!r}, Python's is {expected!r}"
        if timestamp != doc["@timestamp"]:
            return f"timestamp {timestamp!r}, Python's is {doc['@timestamp']!r}"
        writer: Any = self.writer.__self__  # type: ignore[attr-defined]
        marked = set(writer.roots)
        if marked != set(top_level_offsets(doc)):
            return f"top-level members marked at {sorted(marked)}, not where they start"
        for field, at in writer.marks:
            if at != value_offset(doc, field):
                return f"{field} marked at {at}, its value is at {value_offset(doc, field)}"
        return None


def top_level_offsets(doc: dict[str, Any]) -> list[int]:
    """Where each top-level member's key starts in the document's JSON (orjson's, compact)."""
    found, at = [], 1
    for key, value in doc.items():
        found.append(at)
        at += len(orjson.dumps({key: value})) - 1  # the member and a comma
    return found


def value_offset(doc: dict[str, Any], field: str) -> int | None:
    """Where the value of a dotted field starts in the document's JSON (orjson's, compact);
    None where the document has no such field."""
    value: Any = doc
    at = 0  # where the object holding the next key opens
    for key in field.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        at += 1
        for name, member in value.items():
            if name == key:
                at += len(orjson.dumps(name)) + 1
                value = member
                break
            at += len(orjson.dumps({name: member})) - 1  # the member and a comma
    return at


def main(argv: list[str]) -> None:
    report: dict[str, Any] = {"library": fast.library_file(), "formats": {}}
    pairs = list(zip(argv[::2], argv[1::2], strict=True))
    for name, path in pairs:
        pair = Pair(name, "123456789012", "eu-west-1")
        wrong: list[str] = []
        with open(path, encoding="utf-8", errors="replace") as stream:
            for line in stream.read().splitlines():
                if line and (problem := pair.differs(line)) and len(wrong) < 5:
                    wrong.append(f"{line!r}: {problem}")
        found = report["formats"].setdefault(name, {"lines": 0, "taken": 0, "wrong": []})
        found["lines"] += pair.lines
        found["taken"] += pair.taken
        found["wrong"] += wrong
    sys.stdout.buffer.write(orjson.dumps(report) + b"\n")


if __name__ == "__main__":
    main(sys.argv[1:])
