"""A source's drop, sample and exclude rules (logferry.enrich.rules) compiled into the decision
on its documents: `Rules.for_source` (on a document), `Rules.split` (the drops decided before
enrichment, and the rest), `Rules.on_json` (on the fast path's JSON).

Invariants: dropping is decided before sampling, and fields are removed only from documents that
are kept, after enrichment, so a rule may test an enriched field and exclusion may remove one.
A drop rule that tests no field enrichment adds (`Rules.split`) is decided on the record,
before enrichment, with the same outcome (a fill only adds fields), so that a dropped document
costs no lookups. A sample keeps a document when a hash of its id (BLAKE2b, 64 bits) falls
under the fraction: ids are deterministic (object identity + position), so an object delivered
twice keeps exactly the same documents, and different objects' documents are chosen
independently. Python's `hash()` was rejected (salted per process), and so was a counter
("every tenth"), which would keep other documents when an object is continued in another
invocation.

On the fast path (logferry.formats.fast) a document is JSON before it is a dict: `on_json`
gives the rules to its writers (logferry.formats._lines.Rules, layers/native/lines/src/
rules/), which add a verdict to each line: KEEP, DROP, SAMPLE + k (sample rule k holds: the
id decides, here) or UNDECIDED (a value whose meaning is Python's to say: the body is decoded
and `keep` decides). A source with exclusions takes the Python path. A drop rule on the few
fields a writer marks is decided before the document is written (a dropped one is never
written); the others on the JSON just written, a field read where the writer marked its
value or its top-level member or, without a mark, only in bodies holding one of the
condition's `needles` (a property test holds needles to rules, others the writers' verdicts
to `keep`).

Exclusion copies each dict on a removed field's path before removing it: enrichment shares
read-only dicts among documents (logferry.enrich.cloud, .geoip), which must stay whole.

Performance: every document of a source with rules is tested, and a dropped one is neither
serialised nor sent. A source's rules are compiled (`_Compiler`) into one function of Python
source, each condition a lookup in a `try` and an inlined test: the first version, a closure
per condition and one per rule, cost ~0.7 us a VPC flow record for the issue's two-condition
rule (0.87-0.90x of no rule at 11% dropped); compiled, ~0.35 us out of the loop, ~0.1 us in it
(`python -m tools.bench --size-mb 20 --runs 5`, on the Python path: ALB's `/healthz` rule
1.00-1.01x of no rule, VPC flow's accepted-HTTPS rule 0.99-1.03x across three runs). A dropped
VPC flow record saves ~1 us there, so a rule pays for itself from ~10% dropped. On the fast
path a record costs ~1.7-3.6 us in all: rules decided here on the writers' JSON (decoding the
bodies holding a needle, ~1 us each) cost ALB's `/healthz` rule 0.98x and VPC flow's 0.64x of
no rule; decided by the writers on their JSON, ~0.05 us a line, 0.95-1.00x and 0.94-1.01x;
before writing, on the fields they mark, 0-0.05 us a line and a dropped document unwritten,
1.03-1.05x and 1.00-1.09x (docs/benchmark.md, Enrichment and volume rules). A table of
closures walked by a loop was rejected: it is the first version. Generated code sees validated
field names and repr()'d literals only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import orjson

from ..model import Source
from .rules import Condition, Rule

# The decision on one document: True = index it (fields excluded), False = dropped.
Keep = Callable[[Source, str], bool]
# A drop decided on the record alone, before enrichment: True = dropped.
Drop = Callable[[Source], bool]
# A fast writer's verdict on the document it wrote (layers/native/lines/src/rules/).
KEEP, DROP, UNDECIDED, SAMPLE = 0, 1, 2, 3
# One condition as the writers take it: path, op, value, a whole number's digits, the bound
# of `<`/`>`, needles.
NativeCondition = tuple[tuple[str, ...], str, str, "str | None", "float | None", tuple[bytes, ...]]

_MISSING = object()


def _lookup(source: Source, path: tuple[str, ...]) -> Any:
    value: Any = source
    for key in path:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def sampled_in(doc_id: str, fraction: float) -> bool:
    """Whether the document of this id is among the `fraction` kept (deterministic)."""
    digest = blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest) < fraction * 18446744073709551616.0  # 2**64


def _remove(source: Source, path: tuple[str, ...]) -> None:
    """Remove one field, copying the dicts on its path (they may be shared)."""
    if len(path) == 1:
        source.pop(path[0], None)
        return
    head = source.get(path[0])
    if not isinstance(head, dict) or not _has(head, path[1:]):
        return
    copied = dict(head)
    source[path[0]] = copied
    _remove(copied, path[1:])


def _has(source: dict[str, Any], path: tuple[str, ...]) -> bool:
    return _lookup(source, path) is not _MISSING


class _Compiler:
    """The source text of one source's decision, `keep(doc, doc_id) -> bool`, and the objects
    it names: drop rules (any that holds drops), then sample rules (the first that holds
    decides), then exclusions. Each condition is a field lookup in a `try` and a test inlined
    for text and whole numbers; every other kind of value goes to `Condition.hit`. Only
    validated field names and repr()'d texts and whole numbers are written into the code;
    patterns, bounds and tests are passed in by name."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {
            "_ABSENT": (KeyError, TypeError, IndexError),
            "_sampled_in": sampled_in,
            "_remove": _remove,
        }
        self.lines: list[str] = []

    def name(self, kind: str, value: Any) -> str:
        name = f"{kind}{len(self.names)}"
        self.names[name] = value
        return name

    def test(self, condition: Condition) -> str:
        """An expression of `v`, the field's value (None when absent): whether it holds."""
        other = self.name("_hit", condition.hit())
        if condition.op in ("<", ">"):
            bound = self.name("_bound", float(condition.value))
            return (
                f"(v {condition.op} {bound} if v.__class__ is int or v.__class__ is float"
                f" else {other}(v))"
            )
        if condition.pattern:
            text = f"{self.name('_match', condition.match())}(v) is not None"
        else:
            text = f"v == {condition.value!r}"
        number = condition.whole_number()
        test = f"{text} if v.__class__ is str else "
        if number is not None:
            test += f"v == {number!r} if v.__class__ is int else "
        test = f"({test}{other}(v))"
        return f"not {test}" if condition.op == "!=" else test

    def when(self, conditions: tuple[Condition, ...], then: list[str], indent: str) -> None:
        """`then`, run when every condition holds (nested: the first that fails ends it).
        Shallower fields are tested first: all must hold, so the order is free, and a failing
        condition that costs fewer lookups ends the test sooner."""
        for condition in sorted(conditions, key=lambda condition: len(condition.path)):
            lookup = "".join(f"[{key!r}]" for key in condition.path)
            self.lines += [
                f"{indent}try:",
                f"{indent}    v = doc{lookup}",
                f"{indent}except _ABSENT:",
                f"{indent}    v = None",
                f"{indent}if {self.test(condition)}:",
            ]
            indent += "    "
        self.lines += [indent + line for line in then]

    def drop(self, drops: list[Rule]) -> Drop:
        """`drop(doc) -> bool`: whether any of the drop rules holds."""
        self.lines.append("def drop(doc):")
        for rule in drops:
            self.when(rule.conditions, ["return True"], "    ")
        self.lines.append("    return False")
        found: Drop = self.define("drop")
        return found

    def keep(
        self,
        drops: list[Rule],
        samples: list[Rule],
        paths: list[tuple[str, ...]],
    ) -> Keep:
        self.lines.append("def keep(doc, doc_id):")
        for rule in drops:
            self.when(rule.conditions, ["return False"], "    ")
        if samples:
            self.lines.append("    while True:  # the first sample rule that holds decides")
            for rule in samples:
                decide = [f"if not _sampled_in(doc_id, {rule.fraction!r}):", "    return False"]
                self.when(rule.conditions, [*decide, "break"], "        ")
            self.lines.append("        break")
        for path in paths:
            self.lines.append(f"    _remove(doc, {path!r})")
        self.lines.append("    return True")
        found: Keep = self.define("keep")
        return found

    def define(self, name: str) -> Any:
        exec(compile("\n".join(self.lines), "<logferry rules>", "exec"), self.names)
        return self.names[name]


class Rules:
    """The drop, sample and exclude rules of all sources; `for_source` compiles one source's.
    Each decision is compiled once per source and kept (the pipeline asks for it per object;
    compiling is ~0.1 ms, the decisions hold no state)."""

    def __init__(
        self,
        drop: tuple[Rule, ...] = (),
        sample: tuple[Rule, ...] = (),
        exclude: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> None:
        self.drop, self.sample, self.exclude = drop, sample, exclude
        self._compiled: dict[tuple[str, str, tuple[str, ...]], Any] = {}

    def __bool__(self) -> bool:
        return bool(self.drop or self.sample or self.exclude)

    def _once(
        self, kind: str, source: str, make: Callable[[], Any], filled: tuple[str, ...] = ()
    ) -> Any:
        key = (kind, source, filled)
        if key not in self._compiled:
            self._compiled[key] = make()
        return self._compiled[key]

    def for_source(self, source: str) -> Keep | None:
        """The decision for documents of this source (None: every document kept whole)."""
        found: Keep | None = self._once(
            "keep",
            source,
            lambda: self._keep(source, [rule for rule in self.drop if rule.source == source]),
        )
        return found

    def split(self, source: str, filled: tuple[str, ...]) -> tuple[Drop | None, Keep | None]:
        """`for_source` in two: the drop rules that test none of the `filled` fields (what
        enrichment may add), decided on the record before it is enriched, so that a dropped
        document costs no enrichment; and the rest, after."""
        found: tuple[Drop | None, Keep | None] = self._once(
            "split", source, lambda: self._split(source, filled), filled
        )
        return found

    def on_json(self, source: str) -> JsonDecision | None:
        """The decision for documents of this source that are JSON already (the fast path's).
        None when no rule names the source, or when it excludes fields (every kept document
        would change: nothing to gain)."""
        found: JsonDecision | None = self._once("json", source, lambda: self._on_json(source))
        return found

    def _split(self, source: str, filled: tuple[str, ...]) -> tuple[Drop | None, Keep | None]:
        first: list[Rule] = []
        later: list[Rule] = []
        for rule in self.drop:
            if rule.source == source:
                touched = any(_overlap(c.field, field) for c in rule.conditions for field in filled)
                (later if touched else first).append(rule)
        return (_Compiler().drop(first) if first else None), self._keep(source, later)

    def _on_json(self, source: str) -> JsonDecision | None:
        if any(name == source for name, _ in self.exclude):
            return None
        keep = self.for_source(source)
        if keep is None:
            return None
        samples = [rule for rule in self.sample if rule.source == source]
        return JsonDecision(
            keep,
            tuple(_native(rule) for rule in self.drop if rule.source == source),
            tuple(_native(rule) for rule in samples),
            tuple(rule.fraction for rule in samples),
        )

    def _keep(self, source: str, drops: list[Rule]) -> Keep | None:
        samples = [rule for rule in self.sample if rule.source == source]
        paths = [
            tuple(field.split("."))
            for name, fields in self.exclude
            if name == source
            for field in fields
        ]
        if not (drops or samples or paths):
            return None
        return _Compiler().keep(drops, samples, paths)


@dataclass(frozen=True)
class JsonDecision:
    """A source's rules on the fast path: each drop and sample rule's conditions as the
    writers take them (logferry.formats._lines.Rules), and the decision on a verdict."""

    keep: Keep
    drops: tuple[tuple[NativeCondition, ...], ...]
    samples: tuple[tuple[NativeCondition, ...], ...]
    fractions: tuple[float, ...]

    def keeps(self, verdict: int, body: bytes, doc_id: str) -> bool:
        """Whether the document a writer wrote, with a verdict other than KEEP, is indexed."""
        if verdict == DROP:
            return False
        if verdict >= SAMPLE:
            return sampled_in(doc_id, self.fractions[verdict - SAMPLE])
        return self.keep(orjson.loads(body), doc_id)


def _native(rule: Rule) -> tuple[NativeCondition, ...]:
    """A rule's conditions as the writers take them, shallowest first (as `_Compiler.when`:
    the writers read them in this order and stop at the first that fails)."""
    found = []
    for condition in sorted(rule.conditions, key=lambda condition: len(condition.path)):
        number = condition.whole_number()
        found.append(
            (
                condition.path,
                condition.op,
                condition.value,
                None if number is None else str(number),
                float(condition.value) if condition.op in ("<", ">") else None,
                condition.needles,
            )
        )
    return tuple(found)


def _overlap(field: str, other: str) -> bool:
    """Whether the two fields are one, or one holds the other."""
    return field == other or field.startswith(other + ".") or other.startswith(field + ".")
