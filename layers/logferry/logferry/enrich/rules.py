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
A drop rule that tests no field enrichment adds (`Rules.split`) is decided on the record,
before enrichment, with the same outcome (a fill only adds fields), so that a dropped document
costs no lookups. A sample keeps a document when a hash of its id (BLAKE2b, 64 bits) falls
under the fraction: ids are deterministic (object identity + position), so an object delivered
twice keeps exactly the same documents, and different objects' documents are chosen
independently. Python's `hash()` was rejected (salted per process), and so was a counter
("every tenth"), which would keep other documents when an object is continued in another
invocation.

On the fast path (logferry.formats.fast) a document is JSON before it is a dict: `on_json`
decides there, decoding only the bodies that hold every needle of some rule (the JSON text a
matching value must leave, `Condition.needle`); a rule without one decodes every body, and a
source with exclusions takes the Python path. Needles may let through documents the rule
does not match (the rule then decides), never hold back one it does (a property test).

Exclusion copies each dict on a removed field's path before removing it: enrichment shares
read-only dicts among documents (logferry.enrich.cloud, .geoip), which must stay whole.

Performance: every document of a source with rules is tested, and a dropped one is neither
serialised nor sent. A source's rules are compiled (`_Compiler`) into one function of Python
source, each condition a lookup in a `try` and an inlined test: the first version, a closure
per condition and one per rule, cost ~0.7 us a VPC flow record for the issue's two-condition
rule (0.87-0.90x of no rule at 11% dropped); compiled, ~0.35 us out of the loop, ~0.1 us in it
(`python -m tools.bench --size-mb 20 --runs 5`: ALB's `/healthz` rule 1.00-1.01x, VPC flow's
accepted-HTTPS rule 0.99-1.03x across three runs). A dropped VPC flow record saves ~1 us, so a
rule pays for itself from ~10% dropped. A table of closures walked by a loop was rejected: it
is the first version. Generated code sees validated field names and repr()'d literals only.
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
# A drop decided on the record alone, before enrichment: True = dropped.
Drop = Callable[[Source], bool]
# Whether a rule may hold for a document, from its JSON: False = surely not (see `needle`).
MayHold = Callable[[bytes], bool]

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

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))

    def hit(self) -> Callable[[Any], bool]:
        """Whether a field's value (None when absent) meets `=`, `<` or `>` (`!=` is the
        negation of `=`): the rule's whole meaning, for any value. The compiled decision
        (`compile_keep`) inlines the common cases (text, whole numbers) and calls this for
        the others (lists, booleans, floats, absent)."""
        op, value = self.op, self.value
        if op in ("<", ">"):
            bound = float(value)
            less = op == "<"

            def compare(found: Any) -> bool:
                number = _number(found)
                if number is None:
                    return False
                return number < bound if less else number > bound

            return compare
        match = self.match()
        number = self.whole_number()

        def equal(found: Any) -> bool:
            if found is None:
                return False
            if found.__class__ is int and number is not None:
                return bool(found == number)
            if isinstance(found, list):
                return any(match(_text(item)) for item in found)
            return bool(match(_text(found)))

        return equal

    @property
    def needle(self) -> bytes | None:
        """Bytes that the JSON of every document meeting this condition contains, or None
        (no such bytes known: a pattern, `!=`, `<`, `>`, or a value whose JSON form is not
        itself). A text value matches a string field (written as itself when it needs no
        escaping), a whole number's text (its digits: `0443` as 443), a boolean (`true`) or
        a list item of those. Excluded: values that a non-JSON text could equal, `None` and
        `nan`/`inf` (a null's or a float's text) and those starting `{`, `[` or `'` (a dict's
        or a list's), and anything with a space, a quote or a backslash."""
        value = self.value
        if self.op != "=" or self.pattern or not value or not value.isascii():
            return None
        if not value.isprintable() or any(c in value for c in " \"'{["):
            return None
        if value.lower().lstrip("+-") in ("none", "nan", "inf", "infinity"):
            return None
        number = self.whole_number()
        return str(number if number is not None else value).encode()

    @property
    def pattern(self) -> bool:
        return "*" in self.value or "?" in self.value or "[" in self.value

    def match(self) -> Callable[[str], Any]:
        """The test of a text against the value: a wildcard pattern's fullmatch, else equality."""
        if self.pattern:
            return re.compile(translate(self.value)).fullmatch
        return self.value.__eq__

    def whole_number(self) -> int | None:
        """The value as a whole number, compared as one with an integer field (no str() of the
        document's int)."""
        value = self.value
        return int(value) if value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class Rule:
    """One drop or sample rule: its source, its conditions (all must hold), and for a sample
    the fraction kept."""

    source: str
    conditions: tuple[Condition, ...]
    fraction: float = 0.0
    text: str = ""


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

    def may_hold(self, rules: list[Rule]) -> MayHold:
        """`may_hold(body) -> bool`: whether any of the rules may hold for the document whose
        JSON `body` is (each rule: all its conditions' needles are in it)."""
        self.lines.append("def may_hold(body):")
        for rule in rules:
            needles = [
                needle for condition in rule.conditions if (needle := condition.needle) is not None
            ]
            if not needles:
                self.lines.append("    return True")
                break
            test = " and ".join(f"{needle!r} in body" for needle in needles)
            self.lines += [f"    if {test}:", "        return True"]
        self.lines.append("    return False")
        found: MayHold = self.define("may_hold")
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
        return self._keep(source, [rule for rule in self.drop if rule.source == source])

    def split(self, source: str, filled: Iterable[str]) -> tuple[Drop | None, Keep | None]:
        """`for_source` in two: the drop rules that test none of the `filled` fields (what
        enrichment may add), decided on the record before it is enriched, so that a dropped
        document costs no enrichment; and the rest, after."""
        filled = tuple(filled)
        first: list[Rule] = []
        later: list[Rule] = []
        for rule in self.drop:
            if rule.source == source:
                touched = any(_overlap(c.field, field) for c in rule.conditions for field in filled)
                (later if touched else first).append(rule)
        return (_Compiler().drop(first) if first else None), self._keep(source, later)

    def on_json(self, source: str) -> tuple[Keep, MayHold] | None:
        """The decision for documents of this source that are JSON already (the fast path's):
        the rules, and the test of a body that tells when they surely do not hold, so that
        only the others are decoded. None when the source excludes fields (every kept
        document would change: nothing to gain)."""
        if any(name == source for name, _ in self.exclude):
            return None
        rules = [rule for rule in (*self.drop, *self.sample) if rule.source == source]
        keep = self.for_source(source)
        if keep is None:
            return None
        return keep, _Compiler().may_hold(rules)

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


def _overlap(field: str, other: str) -> bool:
    """Whether the two fields are one, or one holds the other."""
    return field == other or field.startswith(other + ".") or other.startswith(field + ".")
