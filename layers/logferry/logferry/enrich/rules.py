"""Volume controls per source: documents dropped (LOGFERRY_DROP), sampled (LOGFERRY_SAMPLE) and
fields removed (LOGFERRY_EXCLUDE_FIELDS) before indexing.

    LOGFERRY_DROP="alb:url.path=/health;vpcflow:aws.vpcflow.action=ACCEPT,destination.port=443"
    LOGFERRY_EXCLUDE_FIELDS="alb:aws.elb.trace_id,trace.id;cloudfront:aws.cloudfront.cookie"
    LOGFERRY_SAMPLE="vpcflow:aws.vpcflow.action=ACCEPT:0.1"

A rule is `source:condition[,condition...]` (a sample rule ends in `:fraction`), rules joined by
`;`. The source is a format's name. A condition is `field=value` or `field!=value` (`*` and `?`
wildcards, matched against the value as text; true/false for booleans) or `field<N` /
`field>N` (numbers, or text that reads as one); every condition of a rule must hold. An absent
field satisfies only `!=`. Values cannot contain `,` or `;` (the separators).

Invariants: rules are parsed and checked once, when the settings are read, and an invalid one
raises ValueError naming the setting and the rule (a bad rule fails the cold start, not every
message). Dropping is decided before sampling, and fields are removed only from documents that
are kept, after enrichment, so a rule may test an enriched field and exclusion may remove one.
A sample keeps a document when a hash of its id (BLAKE2b, 64 bits) falls under the fraction:
ids are deterministic (object identity + position), so an object delivered twice keeps exactly
the same documents, and different objects' documents are chosen independently. Python's
`hash()` was rejected (salted per process), and so was a counter ("every tenth"), which would
keep other documents when an object is continued in another invocation.

Exclusion copies each dict on a removed field's path before removing it: enrichment shares
read-only dicts among documents (logferry.enrich.cloud, .geoip), which must stay whole.

Performance: every document of a source with rules is tested, and a dropped one is neither
serialised nor sent. A two-condition rule costs ~0.3 us a VPC flow record (matching nothing:
181,075-194,885 lines/s against 196,936-201,453 without it); ALB's `/healthz` rule (8% dropped)
ran at 1.01x of no rule, VPC flow's accepted-HTTPS rule (11%) at 0.90x, dropping accepted flow
records (86%) at 1.25x (docs/benchmark.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import translate
from hashlib import blake2b
from typing import Any

from ..model import Source

# The decision on one document: True = index it (fields excluded), False = dropped.
Keep = Callable[[Source, str], bool]

_CONDITION = re.compile(r"([A-Za-z0-9_@.\-]+)(!=|=|<|>)(.*)")
_SOURCE = re.compile(r"[a-z0-9_\-]+")
_FIELD = re.compile(r"[A-Za-z0-9_@\-]+(\.[A-Za-z0-9_@\-]+)*")
_MISSING = object()


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _lookup(source: Source, path: tuple[str, ...]) -> Any:
    value: Any = source
    for key in path:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # "=", "!=", "<", ">"
    value: str

    def test(self) -> Callable[[Source], bool]:
        """This condition as a function of a document, compiled once."""
        path = tuple(self.field.split("."))
        op, value = self.op, self.value
        if op in ("<", ">"):
            bound = float(value)
            less = op == "<"

            def compare(source: Source) -> bool:
                number = _number(_lookup(source, path))
                if number is None:
                    return False
                return number < bound if less else number > bound

            return compare
        if "*" in value or "?" in value or "[" in value:
            match: Callable[[str], bool] = re.compile(translate(value)).fullmatch  # type: ignore[assignment]
        else:
            match = value.__eq__
        # A whole number is compared as one (no str() of the document's int).
        number = int(value) if value.isdigit() else None
        equal = op == "="

        def holds(source: Source) -> bool:
            # Inlined walk (no _lookup call): this runs on every document of the source.
            found: Any = source
            try:
                for key in path:
                    found = found[key]
            except (KeyError, TypeError, IndexError):
                return not equal
            if found.__class__ is str:
                hit = bool(match(found))
            elif found.__class__ is int and number is not None:
                hit = found == number
            elif found is None:
                return not equal
            elif isinstance(found, list):
                hit = any(match(_text(item)) for item in found)
            else:
                hit = bool(match(_text(found)))
            return hit if equal else not hit

        return holds


@dataclass(frozen=True)
class Rule:
    """One drop or sample rule: its source, its conditions (all must hold), and for a sample
    the fraction kept."""

    source: str
    conditions: tuple[Condition, ...]
    fraction: float = 0.0
    text: str = ""

    def matcher(self) -> Callable[[Source], bool]:
        tests = [condition.test() for condition in self.conditions]
        if not tests:
            return lambda source: True
        if len(tests) == 1:
            return tests[0]

        # A loop, not all() over a generator: 160 vs 410 ns for two conditions.
        def every(source: Source) -> bool:
            for test in tests:  # noqa: SIM110
                if not test(source):
                    return False
            return True

        return every


def _problem(setting: str, rule: str, why: str) -> ValueError:
    return ValueError(f"{setting}: rule {rule!r}: {why}")


def _source(setting: str, rule: str, name: str) -> str:
    name = name.strip()
    if not _SOURCE.fullmatch(name):
        raise _problem(
            setting, rule, f"expected a source (a format's name) before ':', got {name!r}"
        )
    return name


def _conditions(setting: str, rule: str, spec: str) -> tuple[Condition, ...]:
    found = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            raise _problem(setting, rule, "an empty condition")
        matched = _CONDITION.fullmatch(part)
        if matched is None or not _FIELD.fullmatch(matched.group(1)):
            raise _problem(
                setting,
                rule,
                f"condition {part!r}: expected field=value, field!=value, field<N or field>N",
            )
        field, op, value = matched.groups()
        if op in ("<", ">") and _number(value.strip()) is None:
            raise _problem(setting, rule, f"condition {part!r}: {op} needs a number")
        found.append(Condition(field, op, value.strip()))
    return tuple(found)


def _rules(spec: str) -> Iterable[str]:
    return filter(None, (part.strip() for part in spec.split(";")))


def parse_drop(spec: str, setting: str = "LOGFERRY_DROP") -> tuple[Rule, ...]:
    """`source:cond[,cond...]` rules joined by `;`."""
    rules = []
    for text in _rules(spec):
        name, sep, conditions = text.partition(":")
        if not sep:
            raise _problem(setting, text, "expected source:condition[,condition...]")
        rules.append(
            Rule(_source(setting, text, name), _conditions(setting, text, conditions), text=text)
        )
    return tuple(rules)


def parse_sample(spec: str, setting: str = "LOGFERRY_SAMPLE") -> tuple[Rule, ...]:
    """`source[:cond[,cond...]]:fraction` rules joined by `;` (0 < fraction <= 1)."""
    rules = []
    for text in _rules(spec):
        name, sep, rest = text.partition(":")
        if not sep:
            raise _problem(setting, text, "expected source[:condition,...]:fraction")
        conditions_spec, sep, fraction_text = rest.rpartition(":")
        fraction = _number(fraction_text.strip())
        if fraction is None or not 0.0 < fraction <= 1.0:
            raise _problem(
                setting, text, f"expected a fraction above 0 and at most 1, got {fraction_text!r}"
            )
        conditions = _conditions(setting, text, conditions_spec) if sep else ()
        rules.append(Rule(_source(setting, text, name), conditions, fraction, text))
    return tuple(rules)


def parse_exclude(
    spec: str, setting: str = "LOGFERRY_EXCLUDE_FIELDS"
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`source:field[,field...]` joined by `;`: (source, fields) pairs."""
    found = []
    for text in _rules(spec):
        name, sep, fields_spec = text.partition(":")
        fields = tuple(part.strip() for part in fields_spec.split(","))
        if not sep or not all(fields):
            raise _problem(setting, text, "expected source:field[,field...]")
        for field in fields:
            if not _FIELD.fullmatch(field):
                raise _problem(setting, text, f"{field!r} is not a field name")
        found.append((_source(setting, text, name), fields))
    return tuple(found)


def check_sources(
    known: Iterable[str],
    drop: tuple[Rule, ...],
    sample: tuple[Rule, ...],
    exclude: tuple[tuple[str, tuple[str, ...]], ...],
) -> None:
    """Every rule names a known source (a format's name)."""
    names = set(known)
    for setting, rule_sources in (
        ("LOGFERRY_DROP", [(rule.source, rule.text) for rule in drop]),
        ("LOGFERRY_SAMPLE", [(rule.source, rule.text) for rule in sample]),
        (
            "LOGFERRY_EXCLUDE_FIELDS",
            [(source, f"{source}:{','.join(fields)}") for source, fields in exclude],
        ),
    ):
        for source, text in rule_sources:
            if source not in names:
                raise _problem(setting, text, f"unknown source {source!r} (a format's name)")


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


class Rules:
    """The drop, sample and exclude rules of all sources; `for_source` compiles one source's."""

    def __init__(
        self,
        drop: tuple[Rule, ...] = (),
        sample: tuple[Rule, ...] = (),
        exclude: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> None:
        self.drop, self.sample, self.exclude = drop, sample, exclude

    def __bool__(self) -> bool:
        return bool(self.drop or self.sample or self.exclude)

    def for_source(self, source: str) -> Keep | None:
        """The decision for documents of this source (None: every document kept whole)."""
        drops = [rule.matcher() for rule in self.drop if rule.source == source]
        samples = [(rule.matcher(), rule.fraction) for rule in self.sample if rule.source == source]
        paths = [
            tuple(field.split("."))
            for name, fields in self.exclude
            if name == source
            for field in fields
        ]
        if not (drops or samples or paths):
            return None
        if len(drops) == 1 and not samples and not paths:  # the common case, one call less
            only = drops[0]

            def keep_unless(doc: Source, doc_id: str) -> bool:
                return not only(doc)

            return keep_unless

        def keep(doc: Source, doc_id: str) -> bool:
            for dropped in drops:
                if dropped(doc):
                    return False
            for matches, fraction in samples:
                if matches(doc):  # the first sample rule that matches decides
                    if not sampled_in(doc_id, fraction):
                        return False
                    break
            for path in paths:
                _remove(doc, path)
            return True

        return keep
