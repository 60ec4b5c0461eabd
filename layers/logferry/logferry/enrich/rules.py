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
message). What they decide, and when, is logferry.enrich.decision's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import translate
from typing import Any

_CONDITION = re.compile(r"([A-Za-z0-9_@.\-]+)(!=|=|<|>)(.*)")
_SOURCE = re.compile(r"[a-z0-9_\-]+")
_FIELD = re.compile(r"[A-Za-z0-9_@\-]+(\.[A-Za-z0-9_@\-]+)*")


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
    def needles(self) -> tuple[bytes, ...]:
        """JSON members, one of which the JSON of every document meeting this condition holds
        (empty: none known), for the fast path (logferry.formats._lines.Rules). For `=` of a
        plain value, the field's last key with the value as a string (`"path":"/healthz"`),
        with a list (`"path":[`, whatever its items) and, where a number's or a boolean's text
        may be the value, with that (`"port":443`, a prefix of `"port":4431` too; `"on":true`).
        orjson writes those texts as str() does, exponents aside (`1e16`, str `1e+16`), so a
        value with an exponent, `inf` or `nan` has none; nor has a pattern, `!=`, `<`, `>`,
        text JSON escapes (a quote, a backslash, non-printable or non-ASCII) or a value
        starting `{` (a dict's text)."""
        value = self.value
        if self.op != "=" or self.pattern or not value or not value.isascii():
            return ()
        if not value.isprintable() or '"' in value or "\\" in value or value[0] == "{":
            return ()
        key = b'"' + self.path[-1].encode() + b'":'
        found = [key + b'"' + value.encode() + b'"', key + b"["]
        if _number(value) is not None:
            if any(letter in value.lower() for letter in "ein"):  # 1e+16, inf, nan
                return ()
            number = self.whole_number()
            found.append(key + str(value if number is None else number).encode())
        elif value in ("true", "false"):
            found.append(key + value.encode())
        return tuple(found)

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
