"""The bench's peer table (tools.bench.peers): the VRL harness (tools/vrl) is wired to the same
files as the pipeline, reads every line of them, and its absence is said, not fatal.

Nothing here is timed, and nothing needs cargo: the tests that run the harness skip when it is
not built (`make vrl`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools.bench import generators as benchgen
from tools.bench import peers, workers

SMALL = 300_000  # bytes of text per generated object

built = pytest.mark.skipif(
    peers.vrl_missing() is not None, reason="tools/vrl is not built (make vrl)"
)


def test_the_harness_report_line_is_read_as_numbers() -> None:
    said = "vrl-bench: line 1: a header\nlines=12 ok=11 errors=1 cpu_s=0.250\n"
    assert peers.parse_vrl_report(said) == {"lines": 12, "ok": 11, "errors": 1, "cpu_s": 0.25}


def test_a_harness_that_said_something_else_fails_with_what_it_said() -> None:
    with pytest.raises(RuntimeError, match="panicked"):
        peers.parse_vrl_report("thread 'main' panicked at src/main.rs:1:1\n")


def test_a_missing_harness_is_named_with_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "VRL_BINARY", peers.VRL_DIR / "target" / "nowhere" / "vrl-bench")
    why = peers.vrl_missing()
    assert why is not None and "make vrl" in why


def test_the_table_runs_without_the_harness_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(peers, "VRL_BINARY", tmp_path / "vrl-bench")
    monkeypatch.setattr(peers, "DATA", tmp_path)
    report: dict[str, Any] = {}
    peers.bench_peers(["vpcflow"], SMALL, 1, report)
    row = report["peers"]["vpcflow"]
    assert "not built" in row["vrl"]
    assert row["lines"] > 1000
    assert row["pipeline_lines_per_cpu_second"] > 0 and row["parse_lines_per_cpu_second"] > 0
    assert "not built" in capsys.readouterr().out


@built
@pytest.mark.parametrize("name", sorted(peers.VRL_FORMATS))
def test_the_harness_reads_every_line_the_pipeline_reads(name: str, tmp_path: Path) -> None:
    path = benchgen.write_object(tmp_path, name, SMALL)
    piped = workers.run_pipeline(name, path)
    vrl = peers.run_vrl(name, path)
    assert vrl["lines"] == piped["lines"]
    headers = piped["lines"] - piped["documents"]  # VPC flow's header line; ALB has none
    assert vrl["parsed"] == piped["documents"] and vrl["errors"] == headers
    assert vrl["cpu"] >= vrl["own_cpu"] * 0.9  # wait4 counts the harness and its zcat


@built
def test_the_harness_refuses_a_format_it_has_no_parser_for(tmp_path: Path) -> None:
    path = benchgen.write_object(tmp_path, "nlb", SMALL)
    with pytest.raises(RuntimeError, match="unknown format"):
        peers.run_vrl("nlb", path)
