"""Keep freed memory in the process for reuse, instead of handing it back to the kernel.

Every object makes the same few large allocations over and over: inflated 1 MiB blocks, their
text and lines, and a multi-MiB `_bulk` body per batch. glibc maps each one as fresh pages
(or trims them off its heap once freed), so every batch pays page faults on memory it just
gave back. Serving those sizes from the heap and keeping what is freed there removes the
faults: NLB on the whole path went from 5.9 to 5.2 us a line, 0.46 page faults a line to none
(`python -m tools.bench` prints it as the "heap kept" row). The cost is that up to TRIM_BYTES of
freed memory stays in the process; the memory benchmark's peak RSS includes it.

A process-wide setting: the entry points that ingest call it (the Lambda at cold start, the
CLI), never the library on its own.
"""

from __future__ import annotations

import ctypes

# glibc's malloc.h: mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Allocations below this come from the heap (glibc's dynamic default starts at 128 KiB).
MMAP_BYTES = 64 << 20
# Free memory at the heap's top beyond this is given back.
TRIM_BYTES = 128 << 20


def keep_freed_memory() -> bool:
    """Tune glibc's allocator as above; False where there is no glibc (nothing changes)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc: macOS, musl, Windows
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
