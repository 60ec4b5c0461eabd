"""LOGFERRY_DROP, LOGFERRY_SAMPLE, LOGFERRY_EXCLUDE_FIELDS: parsed and checked when the settings
are read (a bad rule names itself), matched on documents, sampling stable per document id."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logferry.config import Settings
from logferry.enrich import Enrichment
from logferry.enrich.decision import Rules, sampled_in
from logferry.enrich.rules import parse_drop, parse_exclude, parse_sample
from tests.conftest import examples


def alb_doc(
    path: str = "/health", status: int = 200, agent: str = "ELB-HealthChecker/2.0"
) -> dict[str, Any]:
    return {
        "url": {"path": path},
        "http": {"response": {"status_code": status}},
        "user_agent": {"original": agent},
        "aws": {"elb": {"trace_id": "Root=1-abc"}},
        "trace": {"id": "1-abc"},
    }


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("LOGFERRY_DROP", "alb", "'alb'"),
        ("LOGFERRY_DROP", "alb:url.path~/health", "'alb:url.path~/health'"),
        ("LOGFERRY_DROP", "vpcflow:destination.port<high", "'vpcflow:destination.port<high'"),
        ("LOGFERRY_DROP", "alb:url.path=/a,,http.request.method=GET", "'alb:url.path=/a,,"),
        ("LOGFERRY_DROP", "ALB!:url.path=/a", "'ALB!:url.path=/a'"),
        ("LOGFERRY_SAMPLE", "vpcflow:aws.vpcflow.action=ACCEPT:1.5", "ACCEPT:1.5'"),
        ("LOGFERRY_SAMPLE", "vpcflow:aws.vpcflow.action=ACCEPT:0", "ACCEPT:0'"),
        ("LOGFERRY_SAMPLE", "vpcflow", "'vpcflow'"),
        ("LOGFERRY_EXCLUDE_FIELDS", "alb:aws.elb.trace_id,", "'alb:aws.elb.trace_id,'"),
        ("LOGFERRY_EXCLUDE_FIELDS", "cloudfront", "'cloudfront'"),
    ],
)
def test_a_bad_rule_fails_reading_the_settings_with_the_setting_and_the_rule_named(
    setting: str, value: str, named: str
) -> None:
    good = "alb:url.path=/ok"
    with pytest.raises(ValueError) as raised:
        Settings.from_env({"LOGFERRY_DROP": good, setting: value})
    message = str(raised.value)
    assert message.startswith(f"{setting}: rule ")
    assert named in message


def test_a_rule_naming_no_known_source_fails_when_the_pipeline_is_built() -> None:
    settings = Settings.from_env({"LOGFERRY_DROP": "elb:url.path=/health"})
    with pytest.raises(ValueError, match=r"LOGFERRY_DROP: rule 'elb:url.path=/health': unknown"):
        Enrichment.from_settings(settings)


def test_the_issue_examples_parse() -> None:
    drop = parse_drop("alb:url.path=/health;vpcflow:aws.vpcflow.action=ACCEPT,destination.port=443")
    assert [(rule.source, len(rule.conditions)) for rule in drop] == [("alb", 1), ("vpcflow", 2)]
    exclude = parse_exclude("alb:aws.elb.trace_id,trace.id;cloudfront:aws.cloudfront.cookie")
    assert exclude == (
        ("alb", ("aws.elb.trace_id", "trace.id")),
        ("cloudfront", ("aws.cloudfront.cookie",)),
    )
    (sample,) = parse_sample("vpcflow:aws.vpcflow.action=ACCEPT:0.1")
    assert (sample.source, sample.fraction, sample.conditions[0].value) == (
        "vpcflow",
        0.1,
        "ACCEPT",
    )


def keep_of(drop: str = "", sample: str = "", exclude: str = "", source: str = "alb"):  # type: ignore[no-untyped-def]
    keep = Rules(parse_drop(drop), parse_sample(sample), parse_exclude(exclude)).for_source(source)
    assert keep is not None
    return keep


def test_equality_wildcards_and_inequality() -> None:
    exact = keep_of("alb:url.path=/health")
    assert not exact(alb_doc("/health"), "x-1")
    assert exact(alb_doc("/healthz"), "x-1")
    wild = keep_of("alb:user_agent.original=ELB-Health*")
    assert not wild(alb_doc(), "x-1")
    assert wild(alb_doc(agent="curl/8.5.0"), "x-1")
    one = keep_of("alb:url.path=/v?/ping")
    assert not one(alb_doc("/v2/ping"), "x-1") and one(alb_doc("/v22/ping"), "x-1")
    unequal = keep_of("alb:url.path!=/api/*")
    assert not unequal(alb_doc("/health"), "x-1")
    assert unequal(alb_doc("/api/orders"), "x-1")


def test_numbers_compare_and_equal_their_text() -> None:
    below = keep_of("alb:http.response.status_code<400")
    assert not below(alb_doc(status=200), "x-1")
    assert below(alb_doc(status=404), "x-1")
    above = keep_of("alb:http.response.status_code>499")
    assert not above(alb_doc(status=503), "x-1") and above(alb_doc(status=499), "x-1")
    equal = keep_of("alb:http.response.status_code=2*")
    assert not equal(alb_doc(status=204), "x-1") and equal(alb_doc(status=304), "x-1")


def test_every_condition_of_a_rule_must_hold_and_any_rule_drops() -> None:
    keep = keep_of(
        "alb:url.path=/health,http.response.status_code=200;alb:user_agent.original=curl*"
    )
    assert not keep(alb_doc("/health", 200), "x-1")
    assert keep(alb_doc("/health", 503), "x-1")  # one condition fails: kept
    assert keep(alb_doc("/home", 200, "Mozilla/5.0"), "x-1")
    assert not keep(alb_doc("/home", 200, "curl/8.5.0"), "x-1")  # the second rule


def test_an_absent_field_satisfies_only_inequality() -> None:
    doc: dict[str, Any] = {"url": {"path": "/x"}}
    assert keep_of("alb:client.ip=1.2.3.4")(doc, "x-1")
    assert not keep_of("alb:client.ip!=1.2.3.4")(dict(doc), "x-1")
    assert keep_of("alb:client.bytes>5")(dict(doc), "x-1")


def test_rules_of_another_source_do_not_apply() -> None:
    rules = Rules(parse_drop("vpcflow:aws.vpcflow.action=ACCEPT"))
    assert rules.for_source("alb") is None


def test_excluded_fields_are_removed_from_kept_documents_without_touching_shared_dicts() -> None:
    shared: dict[str, Any] = {"geo": {"city_name": "Berlin", "country_iso_code": "DE"}}
    doc = alb_doc("/home")
    doc["source"] = {"ip": "81.2.69.142", "geo": shared["geo"]}
    keep = keep_of(exclude="alb:aws.elb.trace_id,trace.id,source.geo.city_name,no.such.field")
    assert keep(doc, "x-1")
    assert doc["trace"] == {} and doc["aws"] == {"elb": {}}
    assert doc["source"]["geo"] == {"country_iso_code": "DE"}
    assert shared["geo"] == {"city_name": "Berlin", "country_iso_code": "DE"}


def test_sampling_is_decided_by_the_id_alone_at_about_the_fraction() -> None:
    keep = keep_of(sample="vpcflow:aws.vpcflow.action=ACCEPT:0.1", source="vpcflow")
    ids = [f"bucket/AWSLogs/1/vpcflowlogs/x.log.gz-{n}" for n in range(1, 20001)]
    first = [keep({"aws": {"vpcflow": {"action": "ACCEPT"}}}, i) for i in ids]
    again = [keep({"aws": {"vpcflow": {"action": "ACCEPT"}}}, i) for i in ids]
    assert first == again
    assert 0.09 < sum(first) / len(ids) < 0.11
    # Documents the rule does not match are all kept.
    assert all(keep({"aws": {"vpcflow": {"action": "REJECT"}}}, i) for i in ids[:500])


def test_sampling_another_objects_ids_chooses_other_documents() -> None:
    one = [sampled_in(f"a/one.gz-{n}", 0.5) for n in range(2000)]
    other = [sampled_in(f"a/other.gz-{n}", 0.5) for n in range(2000)]
    assert one != other
    assert all(sampled_in(f"x-{n}", 1.0) for n in range(1000))


def test_drop_comes_before_sample() -> None:
    keep = keep_of(drop="alb:url.path=/health", sample="alb:0.999999")
    assert not keep(alb_doc("/health"), "x-1")


def test_values_of_every_kind_meet_conditions_as_their_text() -> None:
    """The compiled tests inline text and whole numbers; every other kind goes to the general
    test, with the same meaning."""
    equal = keep_of("alb:x.v=443", source="alb")
    for value, dropped in [
        (443, True),
        ("443", True),
        (443.0, False),  # "443.0"
        ([80, 443], True),
        (["80"], False),
        (None, False),
        (True, False),
    ]:
        assert equal({"x": {"v": value}}, "x-1") is not dropped, value
    truth = keep_of("alb:x.v=true")
    assert not truth({"x": {"v": True}}, "x-1") and truth({"x": {"v": "True"}}, "x-1")
    nonwhole = keep_of("alb:x.v=1.5")
    assert not nonwhole({"x": {"v": 1.5}}, "x-1") and not nonwhole({"x": {"v": "1.5"}}, "x-1")
    pattern = keep_of("alb:x.v=4*")
    assert not pattern({"x": {"v": 443}}, "x-1") and pattern({"x": {"v": "543"}}, "x-1")
    unequal = keep_of("alb:x.v!=443")
    assert unequal({"x": {"v": 443}}, "x-1")
    assert not unequal({"x": {"v": None}}, "x-1") and not unequal({"x": "text"}, "x-1")
    below = keep_of("alb:x.v<10")
    for value, dropped in [(9, True), (9.5, True), ("9", True), (10, False), (True, False)]:
        assert below({"x": {"v": value}}, "x-1") is not dropped, value
    assert below({"x": ["not", "a", "dict"]}, "x-1")  # absent: no number


def test_values_are_written_into_the_decision_as_literals_never_as_code() -> None:
    hostile = "x') or __import__('os')._exit(3) or ('\\\"#"
    keep = keep_of(f"alb:url.path={hostile}")
    assert not keep({"url": {"path": hostile}}, "x-1")
    assert keep({"url": {"path": "/"}}, "x-1")


def test_drops_on_record_fields_are_decided_before_the_fill_and_the_rest_after() -> None:
    from logferry.enrich import FILLED

    rules = Rules(
        parse_drop(
            "alb:url.path=/health;alb:cloud.region=eu-*;alb:user_agent.name=curl"
            ";alb:user_agent.original=ELB*;vpcflow:destination.port=22"
        ),
        parse_sample("alb:url.path=/api*:0.5"),
    )
    first, later = rules.split("alb", FILLED)
    assert first is not None and later is not None
    assert first(alb_doc("/health")) and first(alb_doc("/home", agent="ELB-HealthChecker/2.0"))
    assert not first({"url": {"path": "/home"}, "cloud": {"region": "eu-west-1"}})
    # After the fill: the rules on what enrichment adds, and the samples.
    assert not later({"cloud": {"region": "eu-west-1"}}, "x-1")
    assert not later({"user_agent": {"name": "curl"}}, "x-1")
    assert later(alb_doc("/health"), "x-1")
    assert rules.split("vpcflow", FILLED)[1] is None
    # A rule on a whole object that enrichment adds to is decided after it.
    assert Rules(parse_drop("alb:source!=x")).split("alb", FILLED)[0] is None


VALUES = st.one_of(
    st.sampled_from(
        ["ACCEPT", "443", "0443", "true", "None", "nan", "1.5", "-5", "a b", "é", "{}", "[]"]
    ),
    st.integers(-1000, 100000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e16, 1e-05, 1.5, 0.0001, 123456789012345.6, -0.0]),
    st.text(max_size=6),
)
# What a rule may ask for: text, numbers of every spelling str() has, booleans, patterns.
WANTED = [
    *("ACCEPT", "443", "0443", "true", "false", "None", "nan", "inf", "1.5", "-5", "-0.0"),
    *("1e+16", "1e-05", "0.0001", "1_000", "{}", "[]", "a b", "4*", "x"),
]


@settings(max_examples=examples(400), deadline=None)
@given(
    value=st.one_of(
        VALUES,
        st.lists(VALUES, max_size=3),
        st.dictionaries(st.text(max_size=2), VALUES, max_size=2),
    ),
    wanted=st.sampled_from(WANTED),
    op=st.sampled_from(["=", "!="]),
)
def test_a_document_a_condition_holds_for_holds_one_of_its_needles(
    value: Any, wanted: str, op: str
) -> None:
    """The fast path's writers read only the bodies holding one of each condition's needles:
    whenever a rule holds for a document, its JSON must hold one."""
    (rule,) = parse_drop(f"alb:x.v{op}{wanted}")
    keep = Rules((rule,)).for_source("alb")
    assert keep is not None
    doc = {"x": {"v": value}}
    needles = rule.conditions[0].needles
    if needles and not keep(doc, "x-1"):
        body = orjson.dumps(doc)
        assert any(needle in body for needle in needles), (value, wanted, op, needles)


def test_needles_are_the_members_a_value_may_be_written_as() -> None:
    def needles(condition: str) -> tuple[bytes, ...]:
        return parse_drop(f"alb:{condition}")[0].conditions[0].needles

    assert needles("url.path=/healthz") == (b'"path":"/healthz"', b'"path":[')
    assert needles("destination.port=0443") == (b'"port":"0443"', b'"port":[', b'"port":443')
    assert needles("tls.version=1.2")[-1] == b'"version":1.2'
    assert needles("x.on=true")[-1] == b'"on":true'
    for none in ("x=1e+16", "x=nan", "x=-inf", "x=a*", "x!=a", "x<5", 'x=a"b', "x={}", "x=é"):
        assert needles(none) == (), none


def test_each_decision_is_compiled_once_per_source() -> None:
    from logferry.enrich import FILLED

    rules = Rules(parse_drop("alb:url.path=/health"), parse_sample("alb:0.5"))
    assert rules.for_source("alb") is rules.for_source("alb")
    assert rules.split("alb", FILLED) is rules.split("alb", FILLED)
    assert rules.on_json("alb") is rules.on_json("alb")
    assert rules.for_source("vpcflow") is None
