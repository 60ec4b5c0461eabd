"""`logferry parse`: search-hit JSON on stdout, `PATH:LINE: reason` on stderr, exit codes."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

from tests.conftest import ROOT
from tests.support import nlb_line

LOGFERRY = str(ROOT / ".venv" / "bin" / "logferry")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOGFERRY, "parse", *args], capture_output=True, text=True, check=False)


def test_gzipped_file_prints_one_search_hit_per_line_and_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "nlb.log.gz"
    path.write_bytes(gzip.compress(f"{nlb_line(1)}\n{nlb_line(2)}\n".encode()))
    result = run(str(path))
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(hit) for hit in hits] == [{"_index", "_id", "_source"}] * 2
    assert hits[0]["_index"] == "logs-nlb-2026.11.20"
    assert hits[0]["_id"] != hits[1]["_id"]
    assert hits[0]["_source"]["source"]["ip"] == "198.51.100.2"


def test_rejected_lines_are_reported_with_path_and_line_and_exit_one(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_text(f"{nlb_line(1)}\ntls 2.0 truncated\n{nlb_line(3)}\n")
    result = run("--format", "nlb", str(path))
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr.strip() == f"{path}:2: expected at least 18 fields, got 3"


def test_unknown_format_missing_file_and_unrecognised_content_exit_two(tmp_path: Path) -> None:
    assert run("--format", "nope", str(tmp_path)).returncode == 2
    missing = run(str(tmp_path / "absent.log"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    (tmp_path / "prose.txt").write_text("Dear diary, today nothing happened.\n")
    unknown = run(str(tmp_path / "prose.txt"))
    assert unknown.returncode == 2 and "not recognised" in unknown.stderr


def test_ids_are_the_same_on_every_run(tmp_path: Path) -> None:
    path = tmp_path / "nlb.log"
    path.write_text(nlb_line(5) + "\n")
    assert run(str(path)).stdout == run(str(path)).stdout
