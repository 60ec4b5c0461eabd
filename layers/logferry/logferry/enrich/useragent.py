"""What a client is: `user_agent.name`, `.version`, `.os.name`, `.os.version`, `.device.name` from
`user_agent.original`, with ua-parser, its rules package (ua-parser-builtins) and its Rust
accelerator (ua-parser-rs, manylinux aarch64 wheel for the Lambda).

Measured on this machine: the Rust resolver parses ~96,000 distinct agents/s (about 10 us each),
the pure-Python one ~1,000/s (1 ms each): without the accelerator a busy ALB object would spend
its time here. Loading the rules costs ~0.24 s, once per container, and only when a format with
agents is read.

Invariants: each distinct agent string is parsed once while it stays in a bounded LRU cache
(`functools.lru_cache`, in C); its findings are one read-only dict shared by the documents that
carry it (exclusion copies before removing: logferry.enrich.decision); "Other" (ua-parser's
unknown) is left out rather than indexed; a document's own fields are never overwritten.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..model import Source

# The fields this fill may add (a drop rule on none of them is decided before it).
FILLS = ("user_agent.name", "user_agent.version", "user_agent.os", "user_agent.device")

# Distinct agent strings kept: ~0.5 KiB each with the key.
CACHE_SIZE = 16384
# Longer agent strings are parsed every time, never kept: the cache stays under ~40 MiB
# whatever an object holds (16,384 keys of up to a line's 1 MiB otherwise). Real ones are
# a few hundred characters.
MAX_CACHED_AGENT = 2048

UNKNOWN = "Other"


def _version(*parts: str | None) -> str | None:
    found = []
    for part in parts:
        if part is None:
            break
        found.append(part)
    return ".".join(found) or None


@functools.cache
def _resolver() -> Any:
    """The rules, loaded once per process (they never change): every pipeline of a process,
    the CLI's workers and the tests' containers share them."""
    from ua_parser import load_builtins
    from ua_parser.regex import Resolver

    return Resolver(load_builtins())


class UserAgents:
    """A parser of agent strings into ECS user_agent.* fields, cached per string."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        from ua_parser import Domain

        self.resolver = _resolver()
        self.domains = Domain.ALL
        self.lookup: Callable[[str], Source | None] = functools.lru_cache(maxsize=cache_size)(
            self.parse
        )

    def parse(self, agent: str) -> Source | None:
        """The user_agent.* fields of one agent string (without `original`), or None."""
        result: Any = self.resolver(agent, self.domains)
        found: Source = {}
        client = result.user_agent
        if client is not None and client.family != UNKNOWN:
            found["name"] = client.family
            if version := _version(client.major, client.minor, client.patch):
                found["version"] = version
        system = result.os
        if system is not None and system.family != UNKNOWN:
            os: Source = {"name": system.family}
            if version := _version(system.major, system.minor, system.patch):
                os["version"] = version
            found["os"] = os
        device = result.device
        if device is not None and device.family != UNKNOWN:
            found["device"] = {"name": device.family}
        return found or None

    def fill(self) -> Callable[[Source], None]:
        lookup, parse = self.lookup, self.parse

        def add(doc: Source) -> None:
            agent = doc.get("user_agent")
            if agent is None:
                return
            original = agent.get("original")
            if not original:
                return
            found = lookup(original) if len(original) <= MAX_CACHED_AGENT else parse(original)
            if found is not None:
                for name, value in found.items():
                    if name not in agent:
                        agent[name] = value

        return add
