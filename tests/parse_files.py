"""What logferry's parsers make of files, one JSON line per document or rejection, for holding
two builds of the parsers to the same output (tests/aws: the Lambda's arm64 build under qemu).
Needs only logferry and its layer's packages, none of the test tools.

    python tests/parse_files.py FORMAT FILE [FORMAT FILE ...]

The first line lists the files the formats' modules were loaded from.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import orjson

from logferry.formats import get_format
from logferry.ingest.reader import LineReader
from logferry.model import Document, ObjectRef, ParseContext, Rejection


def main(argv: list[str]) -> None:
    out = sys.stdout.buffer
    pairs = list(zip(argv[::2], argv[1::2], strict=True))
    modules = sorted({type(get_format(name)).__module__ for name, _ in pairs})
    out.write(orjson.dumps([sys.modules[name].__file__ for name in modules]) + b"\n")
    for name, path in pairs:
        fmt = get_format(name)
        with open(path, "rb") as stream:
            ctx = ParseContext(ObjectRef("", path), datetime(2026, 1, 1, tzinfo=UTC))
            for item in fmt.parse_object(LineReader(stream), ctx):
                if isinstance(item, Document):
                    entry = [path, item.position, item.sub, item.source]
                else:
                    assert isinstance(item, Rejection)
                    entry = [path, item.position, item.reason, item.raw]
                out.write(orjson.dumps(entry) + b"\n")


if __name__ == "__main__":
    main(sys.argv[1:])
