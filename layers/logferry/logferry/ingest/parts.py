"""Spilling: the decompressed rest of an object cut at line boundaries into gzip parts in the
work bucket, for continuations to read (logferry.ingest.checkpoint)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..model import ObjectRef
from .reader import ObjectProblem

log = logging.getLogger(__name__)

_zlib: Any = zlib
try:  # isal compresses at ~1.5 GB/s at level 1, so a spill is bound by S3, not the CPU.
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # pragma: no cover - isal is optional
    pass


@dataclass(frozen=True)
class Part:
    ref: ObjectRef
    first_line: int
    lines: int
    bytes_out: int


class WorkParts:
    """Gzip parts of an object's decompressed rest, in the work bucket."""

    def __init__(self, s3: Any, bucket: str, prefix: str, part_bytes: int) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._part_bytes = part_bytes

    def key_for(self, ref: ObjectRef, first_line: int) -> str:
        # Deterministic: a spill done again from the same line overwrites its parts.
        return f"{self._prefix}{ref.identity}/{first_line:012d}.gz"

    def write(
        self, ref: ObjectRef, first_line: int, data: Iterator[bytes]
    ) -> tuple[list[Part], str | None]:
        """Cut `data` at line boundaries into parts of about `part_bytes` and write them. A
        damaged stream ends the parts at its last complete line (as the reader drops an
        incomplete line before damage); the problem is returned with them."""
        parts: list[Part] = []
        pieces: list[bytes] = []
        size = 0
        problem = None

        def put(pieces: list[bytes]) -> None:
            line = parts[-1].first_line + parts[-1].lines if parts else first_line
            parts.append(self._put(ref, line, pieces))

        try:
            for chunk in data:
                while chunk:
                    room = self._part_bytes - size
                    at = chunk.find(b"\n", max(0, room - 1)) if len(chunk) >= room else -1
                    if at < 0:
                        pieces.append(chunk)
                        size += len(chunk)
                        break
                    pieces.append(chunk[: at + 1])
                    put(pieces)
                    pieces, size, chunk = [], 0, chunk[at + 1 :]
        except ObjectProblem as exc:
            problem = str(exc)
            held = b"".join(pieces)
            pieces = [held[: held.rfind(b"\n") + 1]]
        if any(pieces):
            put(pieces)
        return parts, problem

    def _put(self, ref: ObjectRef, first_line: int, pieces: list[bytes]) -> Part:
        compressor = _zlib.compressobj(1, _zlib.DEFLATED, 31)
        body = [compressor.compress(piece) for piece in pieces]
        body.append(compressor.flush())
        data = b"".join(body)
        size = sum(map(len, pieces))
        newlines = sum(piece.count(b"\n") for piece in pieces)
        lines = newlines + (0 if pieces[-1].endswith(b"\n") else 1)
        key = self.key_for(ref, first_line)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/gzip",
            Metadata={
                "logferry-object": ref.uri.encode("ascii", "backslashreplace").decode(),
                "logferry-identity": ref.identity,
                "logferry-first-line": str(first_line),
                "logferry-lines": str(lines),
            },
        )
        return Part(ObjectRef(self._bucket, key, size=len(data)), first_line, lines, size)
