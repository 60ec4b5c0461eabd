"""Drop and sample rules decided by the fast writers (logferry.formats._lines.Rules,
layers/native/lines/src/rules/) held to the Python decision (logferry.enrich.decision) on
random documents: a verdict decides only what Python would, and decides the plain cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.enrich.decision import DROP, KEEP, SAMPLE, UNDECIDED, JsonDecision, Rules
from logferry.enrich.rules import parse_drop, parse_sample
from logferry.formats import fast
from tests.conftest import examples
from tests.fast_files import top_level_offsets, value_offset

pytestmark = pytest.mark.skipif(
    not fast.available(), reason="logferry.formats._lines is not built (make native; cargo)"
)

KEYS = ("a", "v", "port", "x")
SCALARS = st.one_of(
    st.sampled_from(["ACCEPT", "443", "0443", "true", "1.5", "-5", "10.0.0.1", 'a"b', "é"]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-5, 500),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*KEYS, "\\u0061", 'a"x']), inner, max_size=4),
    ),
    max_leaves=10,
)
DOCS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4)
FIELDS = ("a", "v", "a.v", "x.port", "a.a.v", "port")


def _condition(field: str, op: str, value: str) -> str:
    if op in "<>":  # a bound must be a number
        value = value if value.lstrip("-").replace(".", "", 1).isdigit() else "100"
    return f"{field}{op}{value}"


RULES = st.lists(
    st.lists(
        st.builds(
            _condition,
            st.sampled_from(FIELDS),
            st.sampled_from(["=", "!=", "<", ">"]),
            st.sampled_from(
                ["ACCEPT", "443", "0443", "true", "1.5", "-5", "10.*", "?CCEPT", "[AB]*", "*", "é"]
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=2,
)


def _decision(drops: list[list[str]], samples: list[list[str]]) -> tuple[JsonDecision, Any]:
    drop = parse_drop(";".join("alb:" + ",".join(rule) for rule in drops))
    sample = parse_sample(";".join("alb:" + ",".join(rule) + ":0.5" for rule in samples))
    decision = Rules(drop, sample).on_json("alb")
    assert decision is not None
    return decision, fast._lines.Rules(decision.drops, decision.samples)


@settings(max_examples=examples(600), deadline=None)
@given(doc=DOCS, drops=RULES, samples=st.one_of(st.just([]), RULES), n=st.integers(0, 99))
def test_the_writers_verdict_decides_as_python_does(
    doc: dict[str, Any], drops: list[list[str]], samples: list[list[str]], n: int
) -> None:
    """Read from the start of the document, from the writers' marks of where its top-level
    members start (as they mark them: once, or twice after a member taken back), and from
    their marks of where the values of the fields they mark start."""
    decision, native = _decision(drops, samples)
    body, doc_id = orjson.dumps(doc), f"x-{n}"
    python_keeps = decision.keep(orjson.loads(body), doc_id)
    roots = top_level_offsets(doc)
    at = {field: value_offset(doc, field) for field in FIELDS}
    values = [(field, where) for field, where in at.items() if where is not None]
    for marks, marked in ([], []), (roots, []), (sorted(roots + roots[-1:]), []), (roots, values):
        verdict = native.verdict(body, marks, marked)
        assert verdict in (KEEP, DROP, UNDECIDED) or SAMPLE <= verdict < SAMPLE + len(samples)
        fast_keeps = verdict == KEEP or decision.keeps(verdict, body, doc_id)
        assert fast_keeps == python_keeps, (verdict, body, marks)


@pytest.mark.parametrize(
    ("rule", "doc", "verdict"),
    [
        ("url.path=/healthz", {"url": {"path": "/healthz"}}, DROP),
        ("url.path=/healthz", {"url": {"path": "/healthz/x"}}, KEEP),
        ("url.path=/health*", {"url": {"path": "/healthz"}}, DROP),
        ("url.path=/h?alt?z", {"url": {"path": "/healthz"}, "z": [1, {"a": "}"}]}, DROP),
        ("url.path!=/healthz", {"url": {}}, DROP),
        ("url.path=/healthz", {"url": "/healthz"}, KEEP),  # not an object on the path
        ("destination.port=443", {"source": {"port": 443}, "destination": {"port": 4431}}, KEEP),
        ("destination.port=0443", {"destination": {"port": 443}}, DROP),
        ("destination.port=443", {"destination": {"port": "443"}}, DROP),
        ("destination.port>1023", {"destination": {"port": 50000}}, DROP),
        ("destination.port<1024", {"destination": {"port": None}}, KEEP),
        ("tls.version=1.2", {"tls": {"version": "1.2", "cipher": "x"}}, DROP),
        ("x.on=true", {"x": {"on": True}}, DROP),
        ("event.outcome=success", {"event": {"outcome": 'fail"ure'}}, KEEP),  # no needle
        # What Python says: a float's repr(), a list's items, text read as a number, escapes.
        ("geo.lat=1.5", {"geo": {"lat": 1.5}}, UNDECIDED),
        ("url.path=/a", {"url": {"path": ["/a"]}}, UNDECIDED),
        ("destination.port<1024", {"destination": {"port": "80"}}, UNDECIDED),
        ("url.path=/a*", {"url": {"path": '/a"b'}}, UNDECIDED),
        ("url.path=[/]*", {"url": {"path": "/a"}}, UNDECIDED),
        ("x.n>1", {"x": {"n": 12345678901234567}}, UNDECIDED),
    ],
)
def test_verdicts(rule: str, doc: dict[str, Any], verdict: int) -> None:
    decision, native = _decision([[rule]], [])
    body = orjson.dumps(doc)
    assert native.verdict(body) == verdict
    # Read from the marks, a value Python's to say may be read where the needles passed it by.
    assert native.verdict(body, top_level_offsets(doc)) in (verdict, UNDECIDED)
    if verdict != UNDECIDED:
        assert decision.keep(doc, "x-1") is (verdict == KEEP)


def test_the_first_sample_rule_that_holds_is_named_after_the_drops() -> None:
    decision, native = _decision([["a=1"]], [["v=x"], ["port>10"], ["port>5"]])
    assert native.verdict(b'{"a":1,"port":20}') == DROP
    assert native.verdict(b'{"a":2,"port":20}') == SAMPLE + 1
    assert native.verdict(b'{"a":2,"port":7}') == SAMPLE + 2
    assert native.verdict(b'{"a":2,"port":3}') == KEEP
    assert decision.fractions == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("dropped_bodies", [False, True])
def test_a_dropped_documents_json_is_given_only_when_asked_for(dropped_bodies: bool) -> None:
    """The pipeline indexes neither; `logferry parse --show-dropped` shows what it drops."""
    from tests.conftest import REALWORLD

    line = next(
        line
        for path in sorted((REALWORLD / "alb").glob("*.log"))
        for line in path.read_text().splitlines()
        if line.startswith("https ")
    )
    plain = fast._lines.Alb()
    timestamp, body, verdict = plain.line(line)
    assert verdict == KEEP
    path = orjson.loads(body)["url"]["path"]
    decision, _ = _decision([[f"url.path={path}"]], [])
    rules = fast._lines.Rules(decision.drops, decision.samples, dropped_bodies)
    assert fast._lines.Alb(rules=rules).line(line) == (
        timestamp,
        body if dropped_bodies else b"",
        DROP,
    )
    _, kept = _decision([[f"url.path={path}x"]], [])
    assert fast._lines.Alb(rules=kept).line(line) == (timestamp, body, KEEP)
