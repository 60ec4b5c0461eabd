"""Alerting monitors as rendered from the package: shape, thresholds from settings, actions,
conditions limited to forms we can evaluate, fields mapped with suitable types, and messages
that point at saved objects which exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from logferry.config import Settings
from logferry.formats import index_properties
from logferry.provisioning import dashboards, monitors
from tests import field_checks, monitoring

# Fields the monitors name that no format declares yet (empty once every format has landed).
# A second test fails once one of them is declared, so this list cannot go stale.
PENDING_FIELDS: frozenset[str] = frozenset()

EXPECTED = {
    "TLS scanner burst (NLB)": "bucket_level_monitor",
    "deprecated TLS accepted (NLB, ALB)": "query_level_monitor",
    "ALB TLS negotiation failures": "query_level_monitor",
    "VPC rejects on admin ports (22, 3389)": "bucket_level_monitor",
    "ALB 5xx ratio per load balancer": "bucket_level_monitor",
    "mail deferred or bounced per server": "bucket_level_monitor",
    "pipeline silence: nlb": "query_level_monitor",
    "pipeline silence: alb": "query_level_monitor",
}
ALL_SOURCES = tuple((source, 0) for source in monitors.DELIVERY_MINUTES)


def render(destination: str | None = "channel-1", **changes: Any) -> dict[str, dict[str, Any]]:
    settings = Settings(alert_expected_sources=(("nlb", 0), ("alb", 0)), **changes)
    return {m["name"]: m for m in monitors.monitors(settings, destination)}


def triggers(monitor: dict[str, Any]) -> list[dict[str, Any]]:
    return [monitors.trigger_body(t) for t in monitor["triggers"]]


def test_every_monitor_renders_with_its_type_one_trigger_and_no_placeholder_left() -> None:
    rendered = render()
    assert {name.removeprefix("logs: ") for name in rendered} == set(EXPECTED)
    for name, monitor in rendered.items():
        assert monitor["monitor_type"] == EXPECTED[name.removeprefix("logs: ")]
        assert monitor["type"] == "monitor" and monitor["enabled"] is True
        (trigger,) = monitor["triggers"]
        kind = "bucket" if monitor["monitor_type"].startswith("bucket") else "query"
        assert set(trigger) == {f"{kind}_level_trigger"}
        assert "${" not in str(monitor), name
        assert monitor["schedule"]["period"]["unit"] == "MINUTES"


def test_every_monitor_input_searches_a_time_window_ending_at_the_period_end() -> None:
    for name, monitor in render().items():
        (search_input,) = monitor["inputs"]
        query = search_input["search"]["query"]
        assert query["size"] == 0, name
        window = query["query"]["bool"]["filter"][0]["range"]["@timestamp"]
        assert window["gte"].startswith("{{period_end}}||-"), name
        assert window["lte"] == "{{period_end}}" and window["format"] == "epoch_millis", name
        assert all(i.startswith("logs-") for i in search_input["search"]["indices"]), name


def test_each_trigger_has_one_action_on_the_channel_with_severity_throttle_and_message() -> None:
    for name, monitor in render("channel-1").items():
        (trigger,) = triggers(monitor)
        assert trigger["severity"] in {"1", "2", "3", "4", "5"}
        (action,) = trigger["actions"]
        assert action["destination_id"] == "channel-1"
        assert action["throttle_enabled"] is True and action["throttle"]["value"] > 0
        message = action["message_template"]["source"]
        assert message.startswith("What happened:"), name
        assert "Where to look:" in message and "{{ctx.periodEnd}}" in message, name
        if monitor["monitor_type"] == "bucket_level_monitor":
            assert "{{bucket_keys}}" in message, name
            scope = action["action_execution_policy"]["action_execution_scope"]
            assert scope["per_alert"]["actionable_alerts"] == ["DEDUPED", "NEW"]
        assert re.search(r"\{\{#?ctx\.results\.0\.", message), f"{name}: message shows no numbers"


def test_without_a_destination_triggers_have_no_actions() -> None:
    for monitor in render(None).values():
        assert all(trigger["actions"] == [] for trigger in triggers(monitor))


def test_messages_name_saved_searches_dashboards_and_index_patterns_that_exist() -> None:
    objects = dashboards.saved_objects()
    titles = {obj["attributes"]["title"] for obj in objects}
    patterns = {obj["attributes"]["title"] for obj in objects if obj["type"] == "index-pattern"}
    for name, monitor in render().items():
        message = triggers(monitor)[0]["actions"][0]["message_template"]["source"]
        for kind, title in re.findall(r'(saved search|dashboard) "([^"]+)"', message):
            assert title in titles, f"{name}: {kind} {title!r} does not exist"
        for pattern in re.findall(r"index pattern (\S+?),? ", message):
            assert pattern in patterns or pattern == "logs-*", f"{name}: {pattern}"


def test_thresholds_come_from_settings_into_conditions_and_messages() -> None:
    rendered = render(alert_thresholds=(("tls_scan_failures", 7), ("alb_5xx_ratio", 0.1)))
    scanner = triggers(rendered["logs: TLS scanner burst (NLB)"])[0]
    assert scanner["condition"]["script"]["source"] == "params.failures > 7"
    assert "more than 7 TLS handshakes" in scanner["actions"][0]["message_template"]["source"]
    ratio = triggers(rendered["logs: ALB 5xx ratio per load balancer"])[0]
    assert ratio["condition"]["script"]["source"] == (
        "params.errors > 0.1 * params.requests && params.requests >= 100"
    )
    defaults = render()
    assert triggers(defaults["logs: TLS scanner burst (NLB)"])[0]["condition"]["script"][
        "source"
    ] == (f"params.failures > {int(monitors.DEFAULT_THRESHOLDS['tls_scan_failures'])}")


def test_an_unknown_threshold_or_source_is_refused_with_the_known_names() -> None:
    with pytest.raises(monitors.MonitorError, match="unknown threshold 'tls_scan'"):
        monitors.monitors(Settings(alert_thresholds=(("tls_scan", 1),)))
    with pytest.raises(monitors.MonitorError, match=r"unknown source 'nbl'.*nlb"):
        monitors.monitors(Settings(alert_expected_sources=(("nbl", 0),)))


def test_settings_read_thresholds_and_expected_sources_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "LOGFERRY_ALERT_THRESHOLDS": "tls_scan_failures=50, alb_5xx_ratio=0.02",
            "LOGFERRY_ALERT_EXPECTED_SOURCES": "nlb, alb=45",
            "LOGFERRY_ALERT_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:oncall",
        }
    )
    assert settings.alert_thresholds == (("tls_scan_failures", 50.0), ("alb_5xx_ratio", 0.02))
    assert settings.alert_expected_sources == (("nlb", 0), ("alb", 45))
    assert settings.alert_sns_topic_arn.endswith(":oncall")
    with pytest.raises(ValueError, match="expected name=number"):
        Settings.from_env({"LOGFERRY_ALERT_THRESHOLDS": "tls_scan_failures"})
    with pytest.raises(ValueError, match="expected source or source=minutes"):
        Settings.from_env({"LOGFERRY_ALERT_EXPECTED_SOURCES": "nlb=soon"})


def test_pipeline_silence_is_one_monitor_per_expected_source_over_interval_plus_margin() -> None:
    settings = Settings(alert_expected_sources=(*ALL_SOURCES[:3], ("mail", 90)))
    silence = {m["name"]: m for m in monitors.monitors(settings) if "pipeline silence" in m["name"]}
    margin = int(monitors.DEFAULT_THRESHOLDS["silence_margin_minutes"])
    assert set(silence) == {
        f"logs: pipeline silence: {s}" for s in ("nlb", "alb", "alb-connection", "mail")
    }
    nlb = silence["logs: pipeline silence: nlb"]["inputs"][0]["search"]
    assert nlb["indices"] == ["logs-nlb-*"]
    window = nlb["query"]["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"]
    assert window == f"{{{{period_end}}}}||-{monitors.DELIVERY_MINUTES['nlb'] + margin}m"
    mail = silence["logs: pipeline silence: mail"]["inputs"][0]["search"]["query"]
    assert mail["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"].endswith("-90m")
    # logs-alb-* also matches the connection-log indices: ALB silence counts ALB documents only.
    alb = silence["logs: pipeline silence: alb"]["inputs"][0]["search"]["query"]
    assert alb["query"]["bool"]["filter"][1] == {"term": {"event.dataset": "aws.alb"}}
    assert nlb["query"]["query"]["bool"]["filter"][1] == {"match_all": {}}


def test_another_prefix_renders_into_names_indices_and_saved_object_titles() -> None:
    rendered = monitors.monitors(Settings(index_prefix="acme"), "channel-1")
    for monitor in rendered:
        assert monitor["name"].startswith("acme: ")
        assert all(i.startswith("acme-") for i in monitor["inputs"][0]["search"]["indices"])
    scanner = next(m for m in rendered if "scanner" in m["name"])
    message = triggers(scanner)[0]["actions"][0]["message_template"]["source"]
    assert '"NLB: TLS handshake failures [acme]"' in message
    assert "index pattern acme-nlb-*" in message


# -- conditions -------------------------------------------------------------------------


def test_every_condition_parses_into_supported_comparisons() -> None:
    for name, monitor in render().items():
        comparisons = monitors.parse_condition(monitors.condition_source(monitor["triggers"][0]))
        assert comparisons, name
        if monitor["monitor_type"] == "bucket_level_monitor":
            condition = triggers(monitor)[0]["condition"]
            refs = {ref for c in comparisons for _, ref in (c.left, c.right) if ref}
            assert {r.removeprefix("params.") for r in refs} == set(condition["buckets_path"])


@pytest.mark.parametrize(
    "source",
    [
        "params.a > 1 || params.b > 2",
        "return true",
        "Math.max(params.a, 1) > 2",
        "params.a / params.b > 0.5",
        "ctx.results[1].hits.total.value > 0",
        "params.a >",
        "params.a > 1 &&",
        "1 * 2 > params.a",
    ],
)
def test_conditions_outside_the_supported_forms_are_refused(source: str) -> None:
    with pytest.raises(monitors.MonitorError):
        monitors.parse_condition(source)


def test_evaluate_computes_products_comparisons_and_conjunctions() -> None:
    comparisons = monitors.parse_condition(
        "params.errors > 0.05 * params.requests && params.requests >= 100"
    )
    values = {"params.errors": 6.0, "params.requests": 100.0}
    assert monitoring.evaluate(comparisons, values.__getitem__)
    values["params.errors"] = 5.0  # exactly 5%: not above
    assert not monitoring.evaluate(comparisons, values.__getitem__)
    values.update({"params.errors": 50.0, "params.requests": 99.0})  # too few requests
    assert not monitoring.evaluate(comparisons, values.__getitem__)


def test_bucket_level_fires_resolves_buckets_paths_per_composite_bucket() -> None:
    monitor = render()["logs: ALB 5xx ratio per load balancer"]
    response = {
        "aggregations": {
            "by_lb": {
                "buckets": [
                    {"key": {"lb": "app/a/1"}, "doc_count": 200, "errors": {"doc_count": 20}},
                    {"key": {"lb": "app/b/2"}, "doc_count": 200, "errors": {"doc_count": 2}},
                    {"key": {"lb": "app/c/3"}, "doc_count": 20, "errors": {"doc_count": 20}},
                ]
            }
        }
    }
    assert monitoring.bucket_level_fires(monitor["triggers"][0], response) == ["app/a/1"]


def test_query_level_fires_reads_the_response_path_of_the_condition() -> None:
    monitor = render()["logs: ALB TLS negotiation failures"]
    limit = int(monitors.DEFAULT_THRESHOLDS["alb_tls_failures"])
    over = {"hits": {"total": {"value": limit + 1, "relation": "eq"}}}
    at = {"hits": {"total": {"value": limit, "relation": "eq"}}}
    assert monitoring.query_level_fires(monitor["triggers"][0], over)
    assert not monitoring.query_level_fires(monitor["triggers"][0], at)


def test_bucket_level_triggers_point_at_a_composite_aggregation_with_their_paths() -> None:
    for name, monitor in render().items():
        if monitor["monitor_type"] != "bucket_level_monitor":
            continue
        condition = triggers(monitor)[0]["condition"]
        aggs = monitor["inputs"][0]["search"]["query"]["aggregations"]
        parent = aggs[condition["parent_bucket_path"]]
        assert "composite" in parent, name
        for path in condition["buckets_path"].values():
            agg = path.partition(">")[0]
            assert path == "_count" or agg in parent.get("aggregations", {}), (name, path)


def test_search_request_renders_the_period_placeholders_as_epoch_millis() -> None:
    monitor = render()["logs: TLS scanner burst (NLB)"]
    end = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    indices, body = monitoring.search_request(monitor, end)
    assert indices == ["logs-nlb-*"]
    window = body["query"]["bool"]["filter"][0]["range"]["@timestamp"]
    assert window["gte"] == "1795176000000||-10m" and window["lte"] == "1795176000000"
    assert "{{" not in str(body)


# -- fields -----------------------------------------------------------------------------


def all_uses() -> list[field_checks.FieldUse]:
    settings = Settings(alert_expected_sources=ALL_SOURCES)
    return [use for m in monitors.monitors(settings) for use in field_checks.monitor_field_uses(m)]


def test_every_field_a_monitor_names_is_mapped_with_a_type_that_supports_its_use() -> None:
    uses = all_uses()
    assert len(uses) > 30
    problems, missing = field_checks.check_fields(uses, index_properties())
    assert not problems
    unexpected = sorted({f"{u.where}: {u.field}" for u in missing if u.field not in PENDING_FIELDS})
    assert not unexpected, f"fields no format declares: {unexpected}"
    if missing:
        print(
            f"pending fields (not declared by any format yet): {sorted({u.field for u in missing})}"
        )


def test_pending_fields_are_really_missing_and_really_used() -> None:
    properties = index_properties()
    declared = sorted(f for f in PENDING_FIELDS if field_checks.field_mapping(properties, f))
    assert not declared, f"declared now: remove from PENDING_FIELDS: {declared}"
    used = {use.field for use in all_uses()}
    assert used >= PENDING_FIELDS, f"not used any more: {sorted(PENDING_FIELDS - used)}"


# -- apply without a cluster feature --------------------------------------------------------


def test_apply_notes_a_missing_alerting_plugin_without_calling_the_cluster() -> None:
    # No client at all: skipping must not touch the cluster.
    (note,) = monitors.apply(None, Settings(), {"opensearch-job-scheduler"})
    count = len(monitors.monitors(Settings()))
    assert note == f"alerting plugin not installed: {count} monitors not applied"


def test_render_keeps_json_types_for_whole_placeholders_and_refuses_unknown_ones() -> None:
    values = {"n": 20, "clause": {"match_all": {}}, "prefix": "logs"}
    template = {"size": "${n}", "filter": ["${clause}"], "name": "${prefix}: over ${n}"}
    assert monitors.render(template, values) == {
        "size": 20,
        "filter": [{"match_all": {}}],
        "name": "logs: over 20",
    }
    assert monitors.render("{{period_end}}||-10m", values) == "{{period_end}}||-10m"
    with pytest.raises(monitors.MonitorError, match="unknown placeholder"):
        monitors.render({"a": "x ${missing} y"}, values)
