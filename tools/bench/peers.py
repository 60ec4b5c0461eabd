"""The whole path beside its peer and its floor, on the same files in the same run: lines per
CPU-second of the pipeline (as the Lambda runs it), of the pipeline without its fast path
(every line through the Python parsers, compiled by mypyc: what the Rust writers of
logferry.formats._lines buy), of `logferry parse` (what an operator times first), of
Vector's VRL parsers (the Rust harness in tools/vrl: one compiled VRL program per line,
`parse_aws_alb_log!`/`parse_aws_vpc_flow_log!` + `encode_json`, zcat included), and of gunzip
alone (the floor under every row).

Invariants:
- Every command reads the same cached object, each run a fresh process, runs interleaved
  (pipeline, parse, VRL, gunzip, then again), so drift in the machine's load hits all alike;
  the table shows medians.
- CPU time is the child's own user + system time as the kernel counts it at `wait4` (its
  waited-for children included: VRL's zcat, whose inflate step counts as ours does), never
  wall time, so other load on the shared machine does not count against a command.
- Output goes to /dev/null for every command: writing is part of each, reading it back is not.
- Without the harness (no cargo, a failed build: `make vrl`), the VRL column says why and the
  rest runs. Only ALB and VPC flow have a VRL parser; NLB's column says so.

Rejected alternatives: timing VRL through Vector itself (a daemon with sources and sinks:
its own overhead, not the parser's); in-process `flate2` for VRL's input (a different
gunzip than the one the table names); the harness's own CPU report alone (it is checked
against `wait4`'s, which is what the other rows use).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.bench import DATA, MB, ROOT
from tools.bench import generators as benchgen
from tools.bench.workers import worker

VRL_DIR = ROOT / "tools" / "vrl"
VRL_BINARY = VRL_DIR / "target" / "release" / "vrl-bench"
# Formats the vrl crate (0.38) has a parser for, by our name.
VRL_FORMATS = frozenset({"alb", "vpcflow"})


def vrl_missing() -> str | None:
    """Why the VRL column cannot be measured, or None when the harness is built."""
    if VRL_BINARY.exists():
        return None
    where = VRL_BINARY.relative_to(ROOT) if VRL_BINARY.is_relative_to(ROOT) else VRL_BINARY
    return f"not built ({where}: `make vrl`, needs cargo)"


def run_child(cmd: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """One command, stdout to /dev/null, stderr kept: its CPU seconds (its own and its
    waited-for children's, from `wait4`), wall seconds and exit status."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": time.perf_counter() - started,
        "returncode": proc.returncode,
        "stderr": stderr.decode(errors="replace"),
    }


def parse_vrl_report(stderr: str) -> dict[str, float]:
    """The harness's last stderr line, `lines=N ok=N errors=N cpu_s=S`, as numbers."""
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    fields = dict(part.split("=", 1) for part in last.split() if "=" in part)
    if not {"lines", "ok", "errors", "cpu_s"} <= fields.keys():
        raise RuntimeError(f"vrl-bench said {stderr.strip()[-300:]!r}")
    return {key: float(value) for key, value in fields.items()}


def run_vrl(fmt: str, path: Path) -> dict[str, Any]:
    """VRL's parser for `fmt` over one gzipped object: lines, lines the program parsed, CPU."""
    child = run_child([str(VRL_BINARY), fmt, str(path)])
    if child["returncode"] != 0:
        raise RuntimeError(f"vrl-bench {fmt} exited {child['returncode']}: {child['stderr']}")
    report = parse_vrl_report(child["stderr"])
    return {
        "lines": int(report["lines"]),
        "parsed": int(report["ok"]),
        "errors": int(report["errors"]),
        "cpu": child["cpu"],
        "own_cpu": report["cpu_s"],
        "wall": child["wall"],
    }


def run_parse(fmt: str, path: Path) -> dict[str, Any]:
    """`logferry parse --format FMT PATH > /dev/null`, start-up included, as an operator
    times it; without enrichment (LOGFERRY_ENRICH=none), as the pipeline column runs."""
    logferry = str(Path(sys.executable).parent / "logferry")
    env = {**os.environ, "LOGFERRY_ENRICH": "none"}
    child = run_child([logferry, "parse", "--format", fmt, str(path)], env=env)
    if child["returncode"] not in (0, 1):  # 1: some line was rejected, still measured
        raise RuntimeError(f"logferry parse exited {child['returncode']}: {child['stderr']}")
    return {"cpu": child["cpu"], "wall": child["wall"]}


def _rate(runs: list[dict[str, Any]], amount: float) -> float:
    """`amount` (lines or bytes) per CPU-second, at the runs' median CPU time."""
    cpu: float = statistics.median(run["cpu"] for run in runs)
    return amount / cpu


def bench_peers(formats: list[str], size: int, runs: int, report: dict[str, Any]) -> None:
    """The table of the pipeline, `logferry parse`, VRL and gunzip per format, with ratios."""
    missing = vrl_missing()
    print(
        f"\nBeside the peer and the floor: {size / MB:.0f} MB of text per format, median of"
        f" {runs} interleaved runs, lines per CPU-second of each command's process (output to"
        " /dev/null)\n"
    )
    header = (
        f"{'format':<11} {'pipeline':>10} {'no fast':>10} {'x fast':>6} {'parse':>10}"
        f" {'parse/pipe':>10}"
        f" {'VRL (Rust)':>10} {'x VRL':>6} {'gunzip MB/s':>11} {'x gunzip':>8}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, Any] = {}
    for fmt in formats:
        path = benchgen.write_object(DATA, fmt, size)
        measured: dict[str, list[dict[str, Any]]] = {
            "pipeline": [],
            "no-fast": [],
            "parse": [],
            "vrl": [],
            "gunzip": [],
        }
        vrl_why = missing or (None if fmt in VRL_FORMATS else "no parser in vrl")
        for _ in range(runs):  # interleaved
            measured["pipeline"].append(worker("pipeline", path, "--format", fmt))
            measured["no-fast"].append(
                worker("pipeline", path, "--format", fmt, "--variant", "no-fast")
            )
            measured["parse"].append(run_parse(fmt, path))
            if vrl_why is None:
                try:
                    measured["vrl"].append(run_vrl(fmt, path))
                except (OSError, RuntimeError) as exc:
                    vrl_why = f"failed: {exc}"
            measured["gunzip"].append(worker("gunzip", path, "--variant", "isal"))
        lines = measured["pipeline"][0]["lines"]
        text_bytes = measured["pipeline"][0]["bytes"]
        pipe = _rate(measured["pipeline"], lines)
        slow = _rate(measured["no-fast"], lines)
        parse = _rate(measured["parse"], lines)
        gunzip_mb = _rate(measured["gunzip"], text_bytes) / MB
        # The whole path's CPU time as a multiple of inflating alone.
        over_gunzip = (lines / pipe) / (text_bytes / MB / gunzip_mb)
        row: dict[str, Any] = {
            "lines": lines,
            "pipeline_lines_per_cpu_second": round(pipe),
            "no_fast_path_lines_per_cpu_second": round(slow),
            "fast_path_ratio": round(pipe / slow, 2),
            "parse_lines_per_cpu_second": round(parse),
            "parse_to_pipeline": round(parse / pipe, 2),
            "gunzip_mb_per_cpu_second": round(gunzip_mb, 1),
            "pipeline_cpu_over_gunzip": round(over_gunzip, 1),
        }
        vrl_text = ratio_text = "-"
        if vrl_why is None and measured["vrl"]:
            vrl_runs = measured["vrl"]
            vrl = _rate(vrl_runs, vrl_runs[0]["lines"])
            row.update(
                vrl_lines_per_cpu_second=round(vrl),
                vrl_lines=vrl_runs[0]["lines"],
                vrl_parsed=vrl_runs[0]["parsed"],
                pipeline_to_vrl=round(pipe / vrl, 2),
            )
            vrl_text, ratio_text = f"{vrl:,.0f}", f"{pipe / vrl:.2f}x"
        else:
            row["vrl"] = vrl_why
        results[fmt] = row
        print(
            f"{fmt:<11} {pipe:>10,.0f} {slow:>10,.0f} {pipe / slow:>5.2f}x {parse:>10,.0f}"
            f" {parse / pipe:>9.2f}x"
            f" {vrl_text:>10} {ratio_text:>6} {gunzip_mb:>11,.0f} {over_gunzip:>7.1f}x"
        )
    notes = sorted({str(r["vrl"]) for r in results.values() if r.get("vrl")})
    for note in notes:
        names = ", ".join(f for f, r in results.items() if r.get("vrl") == note)
        print(f"  VRL, {names}: {note}")
    print(
        "  no fast: the pipeline with every line through the Python parsers (mypyc); x fast:"
        " pipeline / no fast\n"
        "  x VRL: pipeline / VRL (VRL leaves fields as strings, no index name, no id, no bulk"
        " body); x gunzip: the pipeline's CPU per byte over gunzip's alone"
    )
    report["peers"] = results
