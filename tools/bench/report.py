"""The measurements' runs and what they print: a table per measurement, each run a fresh worker
process (tools.bench.workers), medians of the runs; and the report they fill, written as
JSON with `--json`. The product's targets are here, beside the tables that say whether each
is met. They are ratios measured in one run (against the naive baseline here; against VRL and
gunzip in tools.bench.peers), not lines/s: absolute rates move with the shared machine (the
same code gave NLB 219,213 and 161,915 lines/s on two days), so a fixed rate could not be
reproduced."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logferry.config import Settings
from tools.bench import DATA, MB, MIB
from tools.bench import generators as benchgen
from tools.bench.naive import NAIVE
from tools.bench.workers import opensearch_client, worker

NAIVE_RATIO_TARGET = 3.0
E2E_RATIO_TARGET = 0.8
MEMORY_CAP_MIB = 256
MEMORY_FLAT_RATIO = 1.5


def opening(size: int, runs: int) -> dict[str, Any]:
    """The report's frame (machine, size, runs), the load average at the start printed."""
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "size_bytes": size,
        "runs": runs,
        "formats": {},
    }
    report["machine"]["load_average_at_start"] = os.getloadavg()
    print("load average at the start " + " / ".join(f"{x:.1f}" for x in os.getloadavg()))
    return report


def closing(report: dict[str, Any], started: float, json_path: Path | None) -> None:
    """The machine, the time taken and the load average at the end; the JSON file if asked."""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]};"
        f" {time.perf_counter() - started:.0f} s; load average at the end {load}"
    )
    if json_path:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {json_path}")


def median_of(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(run) for run in runs)


# -- throughput ---------------------------------------------------------------------------


def bench_formats(
    formats: list[str], size: int, runs: int, report: dict[str, Any], naive: bool, pure: bool
) -> None:
    print(
        f"\nThroughput per core: {size / MB:.0f} MB of text per format, median of {runs} runs,"
        " each in a fresh process (lines per CPU-second; gunzip -> lines -> documents -> bulk"
        " bodies, bodies discarded)\n"
    )
    header = (
        f"{'format':<11} {'lines':>10} {'lines/s':>10} {'MB/s':>7} {'peak RSS':>9}"
        f" {'naive l/s':>10} {'x naive':>8} {'>=3x':>4} {'pure l/s':>9} {'compiled':>8}"
    )
    print(header)
    print("-" * len(header))
    for fmt in formats:
        path = benchgen.write_object(DATA, fmt, size)
        piped, naive_runs, pure_runs = [], [], []
        for _ in range(runs):  # interleaved, so drift in machine load hits all alike
            piped.append(worker("pipeline", path, "--format", fmt))
            if naive and fmt in NAIVE:
                naive_runs.append(worker("naive", path, "--format", fmt))
            if pure and piped[-1]["compiled"]:
                pure_runs.append(worker("pipeline", path, "--format", fmt, pure=True))
        first = piped[0]
        if first["rejected"] or first["outcome"] != "indexed":
            print(f"{fmt}: {first['rejected']} rejected, outcome {first['outcome']} (generator?)")
        lines_s = median_of(piped, lambda r: r["lines"] / r["cpu"])
        mb_s = median_of(piped, lambda r: r["bytes"] / r["cpu"] / MB)
        rss = max(r["peak_rss_mib"] for r in piped)
        row: dict[str, Any] = {
            "lines": first["lines"],
            "documents": first["documents"],
            "text_bytes": first["bytes"],
            "gzip_bytes": path.stat().st_size,
            "lines_per_cpu_second": round(lines_s),
            "mb_per_cpu_second": round(mb_s, 1),
            "lines_per_wall_second": round(median_of(piped, lambda r: r["lines"] / r["wall"])),
            "peak_rss_mib": round(rss, 1),
            "runs": runs,
            "compiled": first["compiled"],
        }
        ratio_text = naive_text = "-"
        if naive_runs:
            naive_s = median_of(naive_runs, lambda r: r["lines"] / r["cpu"])
            row["naive_lines_per_cpu_second"] = round(naive_s)
            row["naive_ratio"] = round(lines_s / naive_s, 2)
            naive_text, ratio_text = f"{naive_s:,.0f}", f"{lines_s / naive_s:.1f}x"
        pure_text = compiled_text = "-"
        if pure_runs:
            pure_s = median_of(pure_runs, lambda r: r["lines"] / r["cpu"])
            row["pure_lines_per_cpu_second"] = round(pure_s)
            row["compiled_ratio"] = round(lines_s / pure_s, 2)
            pure_text, compiled_text = f"{pure_s:,.0f}", f"{lines_s / pure_s:.2f}x"
        met = "-"
        if naive_runs:
            ok = row["naive_ratio"] >= NAIVE_RATIO_TARGET
            met = "yes" if ok else "NO"
            row["target_met"] = ok
        report["formats"][fmt] = row
        print(
            f"{fmt:<11} {first['lines']:>10,} {lines_s:>10,.0f} {mb_s:>7.1f} {rss:>6.0f} MiB"
            f" {naive_text:>10} {ratio_text:>8} {met:>4}"
            f" {pure_text:>9} {compiled_text:>8}"
        )


def bench_libraries(size: int, runs: int, report: dict[str, Any]) -> None:
    """What isal, orjson, the reader's step sizes and the kept heap buy, on the NLB object: each
    swapped for the standard library (or the former or default setting), everything else
    unchanged."""
    path = benchgen.write_object(DATA, "nlb", size)
    print(f"\nLibraries (NLB, {size / MB:.0f} MB, median of {runs}, per CPU-second)\n")
    rows = {
        "gunzip isal": ("gunzip", "isal"),
        "gunzip zlib": ("gunzip", "zlib"),
        "reader 128K/1M steps": ("reader", ""),
        "reader 1M/4M steps": ("reader", "big-steps"),
        "pipeline isal+orjson": ("pipeline", ""),
        "pipeline zlib": ("pipeline", "zlib"),
        "pipeline json (stdlib)": ("pipeline", "json"),
        "pipeline glibc heap as is": ("pipeline", "heap-as-is"),
    }
    measured: dict[str, list[dict[str, Any]]] = {label: [] for label in rows}
    for _ in range(runs):  # interleaved: drift in machine load hits every row alike
        for label, (kind, variant) in rows.items():
            measured[label].append(worker(kind, path, "--format", "nlb", "--variant", variant))
    results: dict[str, dict[str, float]] = {}
    for label, runs_ in measured.items():
        results[label] = {
            "mb_per_cpu_second": round(median_of(runs_, lambda r: r["bytes"] / r["cpu"] / MB), 1),
            "lines_per_cpu_second": round(
                median_of(runs_, lambda r: r["lines"] / r["cpu"]) if runs_[0]["lines"] else 0
            ),
        }
    report["libraries"] = results
    for label, row in results.items():
        lines = f"{row['lines_per_cpu_second']:>10,} lines/s" if row["lines_per_cpu_second"] else ""
        print(f"  {label:<24} {row['mb_per_cpu_second']:>8.1f} MB/s {lines}")
    isal, plain = results["gunzip isal"], results["gunzip zlib"]
    print(
        f"  isal inflates {isal['mb_per_cpu_second'] / plain['mb_per_cpu_second']:.1f}x zlib;",
        end="",
    )
    base = results["pipeline isal+orjson"]["lines_per_cpu_second"]
    print(
        f" whole path: isal {base / results['pipeline zlib']['lines_per_cpu_second']:.2f}x,"
        f" orjson {base / results['pipeline json (stdlib)']['lines_per_cpu_second']:.2f}x,"
        f" heap kept {base / results['pipeline glibc heap as is']['lines_per_cpu_second']:.2f}x"
    )


# -- end to end into OpenSearch -------------------------------------------------------------


def bench_opensearch(lines: int, runs: int, clients: int, report: dict[str, Any]) -> None:
    from logferry import provisioning

    client = opensearch_client()
    try:
        client.info()
    except Exception as exc:
        print(f"\nOpenSearch not answering ({exc}): end-to-end skipped (make opensearch)")
        return
    size = lines * benchgen.GENERATORS["nlb"][1]
    path = benchgen.write_object(DATA, "nlb", size)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    provisioning.apply(client, Settings(index_prefix=prefix))
    print(
        f"\nEnd to end into OpenSearch (NLB, {size / MB:.0f} MB, median of {runs} runs;"
        f" throwaway indices {prefix}-*)\n"
    )
    e2e, ceiling, serial = [], [], []
    try:
        for _ in range(runs):
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            ceiling.append(worker("ceiling", path, "--prefix", prefix, "--clients", str(clients)))
            # The same bodies one request at a time, as the sink sends them: what concurrency
            # alone adds to the ceiling.
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            serial.append(worker("ceiling", path, "--prefix", prefix, "--clients", "1"))
            client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
            e2e.append(worker("e2e", path, "--prefix", prefix))
    finally:
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        client.indices.delete_index_template(name=provisioning.template_name(prefix), ignore=[404])
    docs = e2e[0]["documents"]
    pipe_rate = median_of(e2e, lambda r: r["documents"] / r["wall"])
    ceil_rate = median_of(ceiling, lambda r: r["documents"] / r["wall"])
    serial_rate = median_of(serial, lambda r: r["documents"] / r["wall"])
    cpu_share = median_of(e2e, lambda r: r["cpu"] / r["wall"])
    pipe_rss = max(r["peak_rss_mib"] for r in e2e)
    in_flight = e2e[0]["concurrency"]
    ratio = pipe_rate / ceil_rate
    report["opensearch"] = {
        "documents": docs,
        "pipeline_docs_per_second": round(pipe_rate),
        "ceiling_docs_per_second": round(ceil_rate),
        "ceiling_clients": clients,
        "serial_ceiling_docs_per_second": round(serial_rate),
        "ratio": round(ratio, 2),
        "pipeline_cpu_share": round(cpu_share, 2),
        "pipeline_requests_in_flight": in_flight,
        "pipeline_peak_rss_mib": round(pipe_rss, 1),
        "failed": sum(r["failed"] for r in e2e),
        "error_requests": sum(r["error_requests"] for r in ceiling),
        "target_met": ratio >= E2E_RATIO_TARGET,
    }
    how = "one request at a time" if in_flight == 1 else f"{in_flight} requests in flight"
    print(f"  {'pipeline, real sink (' + how + ')':<46}{pipe_rate:>9,.0f} docs/s")
    print(f"  OpenSearch, pre-built bodies, 1 client        {serial_rate:>9,.0f} docs/s")
    print(f"  OpenSearch ceiling, pre-built, {clients} clients     {ceil_rate:>9,.0f} docs/s")
    print(
        f"  ratio {ratio:.2f} (target >= {E2E_RATIO_TARGET}: {'yes' if ratio >= 0.8 else 'NO'});"
        f" pipeline process busy {cpu_share:.0%} of its wall time, peak RSS {pipe_rss:.0f} MiB;"
        f" {docs:,} documents per run"
    )


# -- memory ---------------------------------------------------------------------------------


def _child_peak_mib(cmd: list[str]) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one command, stdout to /dev/null."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def bench_memory(report: dict[str, Any]) -> None:
    logferry = str(Path(sys.executable).parent / "logferry")
    sizes = {"40 MB": 40 * MB, "1 GiB": 1024 * MIB}
    print("\nMemory: peak RSS (ru_maxrss) of one process over one NLB object\n")
    rows: dict[str, dict[str, float]] = {}
    for label, size in sizes.items():
        path = benchgen.write_object(DATA, "nlb", size)
        parse_rss, parse_s = _child_peak_mib([logferry, "parse", "--format", "nlb", str(path)])
        pipe_rss, pipe_s = _child_peak_mib(
            [sys.executable, "-m", "tools.bench.workers", "pipeline", str(path), "--format", "nlb"]
        )
        rows[label] = {
            "logferry_parse_mib": round(parse_rss, 1),
            "pipeline_mib": round(pipe_rss, 1),
            "logferry_parse_seconds": round(parse_s, 1),
            "pipeline_seconds": round(pipe_s, 1),
        }
        print(
            f"  {label:>6}: logferry parse {parse_rss:6.1f} MiB ({parse_s:5.1f} s)   "
            f"pipeline + discarding sink {pipe_rss:6.1f} MiB ({pipe_s:5.1f} s)"
        )
    big, small = rows["1 GiB"], rows["40 MB"]
    verdicts = {}
    for key, name in (("logferry_parse_mib", "logferry parse"), ("pipeline_mib", "pipeline")):
        flat = big[key] / small[key]
        ok = big[key] <= MEMORY_CAP_MIB and flat <= MEMORY_FLAT_RATIO
        verdicts[key] = {"ratio_1gib_to_40mb": round(flat, 2), "target_met": ok}
        print(
            f"  {name}: 1 GiB / 40 MB = {flat:.2f}x (<= {MEMORY_FLAT_RATIO}x),"
            f" {big[key]:.0f} MiB (<= {MEMORY_CAP_MIB}): {'yes' if ok else 'NO'}"
        )
    report["memory"] = {"objects": rows, "verdicts": verdicts}
