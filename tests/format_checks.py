"""What the format tests ask of any format: its documents and rejections for some lines, the one
document of a line, and the real first lines of the other formats' files (which it must not
claim)."""

from __future__ import annotations

import io
from typing import Any

from logferry.formats import FORMATS
from logferry.formats.base import LogFormat
from logferry.ingest.reader import LineReader
from logferry.model import Document, ParseContext, Rejection
from tests.conftest import REALWORLD


def parse_lines(
    fmt: LogFormat, ctx: ParseContext, *lines: str
) -> tuple[list[Document], list[Rejection]]:
    """The documents, and the rejections (the parser's and the reader's), of an object."""
    reader = LineReader(io.BytesIO(("\n".join(lines) + "\n").encode()))
    out = list(fmt.parse_object(reader, ctx))
    docs = [item for item in out if isinstance(item, Document)]
    return docs, [item for item in out if isinstance(item, Rejection)] + reader.rejections


def only_document(fmt: LogFormat, ctx: ParseContext, line: str) -> dict[str, Any]:
    """The source of the one document of a line that must not be rejected."""
    docs, rejections = parse_lines(fmt, ctx, line)
    assert rejections == [] and len(docs) == 1, rejections
    return docs[0].source


def claimed_by(line: str) -> list[str]:
    """The formats whose content check takes `line` for a first line of theirs."""
    return [fmt.name for fmt in FORMATS.values() if fmt.matches_content(line)]


def _first_line(path: Any) -> str:
    return next(line for line in path.read_text(errors="replace").splitlines() if line.strip())


# (file name, first line) of every real sample file of the other formats.
REAL_FIRST_LINES = [(path.name, _first_line(path)) for path in sorted(REALWORLD.glob("*/*.log"))]
