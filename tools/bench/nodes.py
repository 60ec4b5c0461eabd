"""`python -m tools.bench --nodes 3`: end to end into the local three-node cluster beside the
single node, each beside OpenSearch's own bulk ceiling on it (the measure of
`report.bench_opensearch`, the same workers: `e2e` is the real pipeline and sink, `ceiling` the
same bodies built beforehand and sent by several clients at once).

Targets, each a throwaway prefix whose templates `logferry setup` writes from a layout:
- one node (scripts/opensearch.sh start): NLB indices of one primary, no replica;
- three nodes (start --nodes 3), three primaries and no replica: the writes spread, nothing
  is written twice;
- three nodes, three primaries and one replica each: every document written on two nodes, as a
  cluster that may lose a node must; and the same with four bulk requests in flight instead of
  the default two (LOGFERRY_BULK_CONCURRENCY): whether the pipeline falls behind the ceiling
  for want of requests in flight while each waits for its replica.
Runs are interleaved over the targets, so drift in the machine's load hits all of them alike.
Requests go to the first node of the cluster, which coordinates (a domain's endpoint spreads
them over its nodes). On a machine with fewer cores than nodes, the three nodes share them: the
figures then say what coordination and replication cost, not how a cluster scales.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

from logferry.config import Settings
from logferry.output.layout import IndexLayout
from tools.bench import DATA, MB
from tools.bench import generators as benchgen
from tools.bench.report import median_of
from tools.bench.workers import opensearch_client, worker

SCRIPT = "scripts/opensearch.sh"


@dataclass(frozen=True)
class Target:
    label: str
    url: str
    primaries: int
    replicas: int
    in_flight: int = 0  # LOGFERRY_BULK_CONCURRENCY of the pipeline; 0: its default


def _cluster_url() -> str | None:
    done = subprocess.run(
        [SCRIPT, "env", "--nodes", "3"], capture_output=True, text=True, check=False
    )
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return env.get("OPENSEARCH_URL")


def _answers(url: str, nodes: int) -> bool:
    try:
        health = opensearch_client(url).cluster.health(
            params={"wait_for_nodes": str(nodes), "timeout": "5s"}, request_timeout=15
        )
    except Exception:
        return False
    return bool(health.get("number_of_nodes") == nodes)


def targets(single_url: str) -> list[Target] | str:
    """The three targets, or why they cannot be measured."""
    cluster = _cluster_url()
    if not _answers(single_url, 1):
        return f"no single node at {single_url} (make opensearch)"
    if not cluster or not _answers(cluster, 3):
        return "no three-node cluster (make opensearch-multinode)"
    return [
        Target("one node, 1 primary", single_url, 1, 0),
        Target("3 nodes, 3 primaries", cluster, 3, 0),
        Target("3 nodes, 3 primaries x 2 copies", cluster, 3, 1),
        Target("the same, 4 requests in flight", cluster, 3, 1, in_flight=4),
    ]


def _setup(target: Target, prefix: str) -> Settings:
    from logferry import provisioning

    settings = Settings(
        index_prefix=prefix,
        index_layout=IndexLayout.parse(f"nlb=day:{target.primaries}"),
        replicas=target.replicas,
    )
    provisioning.apply(opensearch_client(target.url), settings, with_roles=False)
    return settings


def _clean(target: Target, prefix: str) -> None:
    client = opensearch_client(target.url)
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    found = client.indices.get_index_template(name=f"{prefix}-*", ignore=[404])
    for template in found.get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])


def bench_nodes(lines: int, runs: int, clients: int, report: dict[str, Any]) -> None:
    found = targets(os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    if isinstance(found, str):
        print(f"\nOne node beside three: {found}; skipped")
        return
    size = lines * benchgen.GENERATORS["nlb"][1]
    path = benchgen.write_object(DATA, "nlb", size)
    prefixes = {target.label: f"bench{uuid.uuid4().hex[:8]}" for target in found}
    print(
        f"\nEnd to end into one node and into three (NLB, {size / MB:.0f} MB, median of {runs}"
        f" runs, interleaved; ceiling: {clients} clients on pre-built bodies)\n"
    )
    e2e: dict[str, list[dict[str, Any]]] = {target.label: [] for target in found}
    ceiling: dict[str, list[dict[str, Any]]] = {target.label: [] for target in found}
    try:
        for target in found:
            _setup(target, prefixes[target.label])
        for _ in range(runs):
            for target in found:
                prefix = prefixes[target.label]
                options = ("--prefix", prefix, "--url", target.url)
                _clean_indices(target, prefix)
                ceiling[target.label].append(
                    worker("ceiling", path, *options, "--clients", str(clients))
                )
                _clean_indices(target, prefix)
                in_flight = ("--concurrency", str(target.in_flight)) if target.in_flight else ()
                e2e[target.label].append(worker("e2e", path, *options, *in_flight))
    finally:
        for target in found:
            _clean(target, prefixes[target.label])
    rows = {}
    header = (
        f"  {'':<34}{'in flight':>10}{'pipeline':>10}{'ceiling':>10}{'ratio':>7}{'x one node':>12}"
    )
    print(header + "\n  " + "-" * (len(header) - 2))
    base = median_of(e2e[found[0].label], lambda r: r["documents"] / r["wall"])
    for target in found:
        pipe = median_of(e2e[target.label], lambda r: r["documents"] / r["wall"])
        ceil = median_of(ceiling[target.label], lambda r: r["documents"] / r["wall"])
        rows[target.label] = {
            "url": target.url,
            "primaries": target.primaries,
            "replicas": target.replicas,
            "requests_in_flight": e2e[target.label][0]["concurrency"],
            "pipeline_docs_per_second": round(pipe),
            "ceiling_docs_per_second": round(ceil),
            "ratio": round(pipe / ceil, 2),
            "pipeline_vs_one_node": round(pipe / base, 2),
            "failed": sum(r["failed"] for r in e2e[target.label]),
            "error_requests": sum(r["error_requests"] for r in ceiling[target.label]),
        }
        print(
            f"  {target.label:<34}{rows[target.label]['requests_in_flight']:>10}{pipe:>10,.0f}"
            f"{ceil:>10,.0f}{pipe / ceil:>7.2f}{pipe / base:>12.2f}"
        )
    documents = e2e[found[0].label][0]["documents"]
    print(
        f"  documents/s, {documents:,} documents per run; ratio: pipeline / ceiling on the same"
        " target; x one node: pipeline / the single node's pipeline"
    )
    report["nodes"] = {"documents": documents, "runs": runs, "clients": clients, "targets": rows}


def _clean_indices(target: Target, prefix: str) -> None:
    opensearch_client(target.url).indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
