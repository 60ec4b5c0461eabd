"""What enrichment and volume rules cost: one table beside the throughput table, the same
objects through the same pipeline four ways, interleaved run by run:

- plain: no GeoIP, no user agents, no rule (the throughput table's own settings): where a
  format has a fast writer (logferry.formats.fast), its lines take the fast path;
- python: plain, without the fast path (every line through the Python parsers, compiled by
  mypyc): the path as it was before the fast path, and where Organizations facts, exclusions
  and lines a fast writer declines still go;
- enriched: GeoIP (City + ASN databases built here by tools.bench.geodb, a /16 for most public
  first octets) and user agents (ua-parser, Rust resolver) on;
- again: enriched, the object ingested a second time in the same process, the first time off
  the clock: what a container's later objects of the same clients cost (the lookups cached);
- drop: plain, plus one drop rule of the kind operators write (ALB health checks, VPC flow
  rejects): the dropped documents are neither serialised nor sent.

Targets (issue 19), against the plain rate (the unenriched pipeline, fast path included):
enriched ALB keeps at least 0.7x of it; a drop rule is at least as fast as no rule. "x py"
says the same against the Python path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.bench import DATA, MB
from tools.bench import generators as benchgen

if TYPE_CHECKING:
    from logferry.ingest.pipeline import Pipeline

ENRICHED_RATIO_TARGET = 0.7
# The rule of each format's drop column: issue 19's examples where the generator writes what
# they match (VPC flow: accepted HTTPS, 10.7% of its records; ALB: /healthz, 7.6%), else one
# of the same kind. Whether a rule pays for itself depends on the share it drops: see
# docs/benchmark.md.
DROP_RULES = {
    "alb": "alb:url.path=/healthz",
    "clb": "clb:user_agent.original=ELB-HealthChecker*",
    "vpcflow": "vpcflow:aws.vpcflow.action=ACCEPT,destination.port=443",
    "nlb": "nlb:tls.version=1.2",
    "cloudfront": "cloudfront:http.response.status_code>399",
    "s3access": "s3access:http.response.status_code>399",
}
# Rules of the same shape that hold for no generated record: what testing a rule costs alone.
NEVER_RULES = {
    "alb": "alb:url.path=/never-served",
    "clb": "clb:user_agent.original=never*",
    "vpcflow": "vpcflow:aws.vpcflow.action=NEVER,destination.port=443",
    "nlb": "nlb:tls.version=0.9",
    "cloudfront": "cloudfront:http.response.status_code>999",
    "s3access": "s3access:http.response.status_code>999",
}
VARIANTS = ("enriched", "enriched-again", "drop")


def databases(directory: Path = DATA) -> tuple[Path, Path]:
    from tools.bench.geodb import ASN_FILE, CITY_FILE, spread

    city, asn = directory / CITY_FILE, directory / ASN_FILE
    if city.exists() and asn.exists():
        return city, asn
    return spread(directory)


def settings_of(variant: str, fmt: str) -> dict[str, Any]:
    """The Settings fields of a pipeline run's variant (plain for any other variant)."""
    if variant in ("enriched", "enriched-again"):
        city, asn = databases()
        return {
            "enrich": ("geoip", "user_agent"),
            "geoip_city_db": str(city),
            "geoip_asn_db": str(asn),
        }
    rules = {"drop": DROP_RULES, "drop-never": NEVER_RULES}.get(variant, {})
    if fmt in rules:
        from logferry.enrich.rules import parse_drop

        return {"enrich": (), "drop": parse_drop(rules[fmt])}
    return {"enrich": ()}


def warm(pipeline: Pipeline) -> None:
    """Load the user agent rules before the clock starts (~0.24 s, once per container): the
    table is about the cost of a line."""
    if pipeline.enrichment is not None and "user_agent" in pipeline.settings.enrich:
        _ = pipeline.enrichment.user_agents


def bench_enrichment(formats: list[str], size: int, runs: int, report: dict[str, Any]) -> None:
    from tools.bench.report import median_of
    from tools.bench.workers import worker

    databases()  # built once, before the runs
    print(
        f"\nEnrichment and drop rules: {size / MB:.0f} MB per format, median of {runs} runs"
        " (lines per CPU-second; x plain: against the plain rate, where the targets apply;"
        " x py: against the Python path)\n"
    )
    header = (
        f"{'format':<11} {'plain l/s':>10} {'python l/s':>10} {'geo+ua l/s':>10} {'x plain':>7}"
        f" met {'x py':>6} {'again l/s':>10} {'x plain':>7} {'drop l/s':>10} {'dropped':>7}"
        f" {'x plain':>7} met {'x py':>6}  rule"
    )
    print(header)
    print("-" * len(header))
    section = report.setdefault("enrichment", {})
    for fmt in formats:
        path = benchgen.write_object(DATA, fmt, size)
        measured: dict[str, list[dict[str, Any]]] = {
            "plain": [],
            "python": [],
            "enriched": [],
            "enriched-again": [],
            "drop": [],
        }
        for _ in range(runs):  # interleaved: drift in machine load hits every column alike
            measured["plain"].append(worker("pipeline", path, "--format", fmt))
            measured["python"].append(
                worker("pipeline", path, "--format", fmt, "--variant", "no-fast")
            )
            for variant in VARIANTS:
                if variant == "drop" and fmt not in DROP_RULES:
                    continue
                run = worker("pipeline", path, "--format", fmt, "--variant", variant)
                measured[variant].append(run)
        rate = {
            name: median_of(found, lambda r: r["lines"] / r["cpu"])
            for name, found in measured.items()
            if found
        }
        enriched = rate["enriched"] / rate["plain"]
        again = rate["enriched-again"] / rate["plain"]
        row: dict[str, Any] = {
            "plain_lines_per_cpu_second": round(rate["plain"]),
            "python_lines_per_cpu_second": round(rate["python"]),
            "enriched_lines_per_cpu_second": round(rate["enriched"]),
            "enriched_ratio": round(enriched, 2),
            "enriched_to_python": round(rate["enriched"] / rate["python"], 2),
            "enriched_target_met": enriched >= ENRICHED_RATIO_TARGET,
            "enriched_again_lines_per_cpu_second": round(rate["enriched-again"]),
            "enriched_again_ratio": round(again, 2),
        }
        drop_text = dropped_text = ratio_text = met = python_text = "-"
        if "drop" in rate:
            ratio = rate["drop"] / rate["plain"]
            first = measured["drop"][0]
            share = 1 - first["documents"] / max(1, measured["plain"][0]["documents"])
            row.update(
                drop_rule=DROP_RULES[fmt],
                drop_lines_per_cpu_second=round(rate["drop"]),
                dropped_share=round(share, 3),
                drop_ratio=round(ratio, 2),
                drop_to_python=round(rate["drop"] / rate["python"], 2),
                drop_target_met=ratio >= 1.0,
            )
            drop_text, dropped_text = f"{rate['drop']:,.0f}", f"{share:.0%}"
            ratio_text, met = f"{ratio:.2f}x", "yes" if ratio >= 1.0 else "NO"
            python_text = f"{rate['drop'] / rate['python']:.2f}x"
        section[fmt] = row
        print(
            f"{fmt:<11} {rate['plain']:>10,.0f} {rate['python']:>10,.0f} {rate['enriched']:>10,.0f}"
            f" {enriched:>6.2f}x {'yes' if enriched >= ENRICHED_RATIO_TARGET else 'NO':<3}"
            f" {rate['enriched'] / rate['python']:>5.2f}x {rate['enriched-again']:>10,.0f}"
            f" {again:>6.2f}x {drop_text:>10} {dropped_text:>7}"
            f" {ratio_text:>7} {met:<3} {python_text:>6}  {DROP_RULES.get(fmt, '-')}"
        )


def bench_rule_cost(formats: list[str], size: int, runs: int, report: dict[str, Any]) -> None:
    """What a drop rule costs a line and what a dropped document saves, measured in one worker
    per format (the three pipelines interleaved run by run, so the process's state is alike):
    plain, with a rule that drops nothing (`NEVER_RULES`), with the drop column's rule.
    "break-even" is the share of documents a rule must drop to pay for itself in the Lambda's
    CPU: its cost a line over what a dropped document saves."""
    from tools.bench.workers import worker

    print(
        f"\nA drop rule's cost: {size / MB:.0f} MB per format, one worker, medians of {runs}"
        " interleaved ingests (CPU ns a line)\n"
    )
    header = (
        f"{'format':<11} {'plain':>7} {'no drop':>8} {'drop':>7} {'dropped':>7} {'rule':>6}"
        f" {'saved/doc':>9} {'break-even':>10}  rule"
    )
    print(header)
    print("-" * len(header))
    section = report.setdefault("rule_cost", {})
    for fmt in formats:
        if fmt not in DROP_RULES:
            continue
        path = benchgen.write_object(DATA, fmt, size)
        found = worker("rule-cost", path, "--format", fmt, "--runs", str(runs))
        plain, never, drop = found["plain_ns"], found["never_ns"], found["drop_ns"]
        share = found["dropped_share"]
        cost = never - plain
        saved = (never - drop) / share if share else None  # nothing dropped: nothing saved
        section[fmt] = {**found, "rule_ns": round(cost), "saved_per_dropped_ns": saved}
        saved_text = "-" if saved is None else f"{saved:,.0f}"
        even_text = "-" if not saved or saved < 0 else f"{cost / saved:.0%}"
        print(
            f"{fmt:<11} {plain:>7,.0f} {never:>8,.0f} {drop:>7,.0f} {share:>7.0%} {cost:>6,.0f}"
            f" {saved_text:>9} {even_text:>10}  {DROP_RULES[fmt]}"
        )
