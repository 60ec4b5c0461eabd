"""`logferry plan`: index periods and primaries per source so shards hold 10 to 50 GB in the
fewest indices, the shards alive over the retention period and the storage with replicas."""

from __future__ import annotations

import json

import pytest

from logferry import cli
from logferry.provisioning.planner import SHARD_GB_MAX, SHARD_GB_MIN, plan

EXAMPLE = {"alb": 200.0, "vpcflow": 40.0, "nlb": 1.0}


def test_the_issue_s_example() -> None:
    proposal = plan(EXAMPLE, retention_days=90, nodes=3, replicas=1, shards_per_node_limit=1000)
    assert proposal.index_layout == "alb=day:4,vpcflow=week:6,nlb=month:1"
    alb, vpcflow, nlb = (proposal.sources[name] for name in EXAMPLE)
    assert (alb.shard_gb, vpcflow.shard_gb, nlb.shard_gb) == (50.0, 46.7, 31.0)
    # indices alive at once: those created over 90 days, and the one not yet deleted
    assert (alb.indices, vpcflow.indices, nlb.indices) == (91, 14, 4)
    assert proposal.total_shards == 4 * 2 * 91 + 6 * 2 * 14 + 1 * 2 * 4 == 904
    assert proposal.storage_gb == 241 * 90 * 2
    assert proposal.fits and proposal.shard_limit == 3000


@pytest.mark.parametrize(
    ("gb", "layout", "shard_gb"),
    [
        (0.0, "month:1", 0.0),  # nothing yet: one small index a month
        (0.1, "month:1", 3.1),  # tiny: below 10 GB even by the month
        (1.0, "month:1", 31.0),
        (50.0, "week:7", 50.0),  # exactly 50 GB a day: shards of exactly 50 GB, by the week
        (72.0, "day:2", 36.0),  # a week would need 11 primaries
        (500.0, "day:10", 50.0),
        (5000.0, "day:100", 50.0),  # huge: ceil(GB a day / 50) primaries a day
    ],
)
def test_periods_and_primaries(gb: float, layout: str, shard_gb: float) -> None:
    source = plan({"s": gb}).sources["s"]
    assert f"{source.period}:{source.primary_shards}" == layout
    assert source.shard_gb == shard_gb


def test_shards_stay_within_10_to_50_gb_where_the_volume_allows() -> None:
    # from a third of a GB a day (10 GB a month) on
    for tenths in range(4, 20000, 7):
        gb = tenths / 10
        source = plan({"s": gb}).sources["s"]
        assert SHARD_GB_MIN <= source.shard_gb <= SHARD_GB_MAX, gb


def test_replicas_and_retention_scale_shards_and_storage() -> None:
    proposal = plan({"nlb": 1.0}, retention_days=30, replicas=0)
    assert proposal.sources["nlb"].indices == 2
    assert (proposal.total_shards, proposal.storage_gb) == (2, 30.0)
    assert plan({"nlb": 1.0}, retention_days=30, replicas=2).total_shards == 6


@pytest.mark.parametrize(
    "arguments",
    [{"retention_days": 0}, {"nodes": 0}, {"replicas": -1}, {"shards_per_node_limit": 0}],
)
def test_nonsense_is_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        plan(EXAMPLE, **arguments)
    with pytest.raises(ValueError):
        plan({"alb": -1.0})


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["plan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--gb-per-day", "alb=200,vpcflow=40,nlb=1", "--json")
    assert code == cli.EXIT_OK
    assert json.loads(out) == {
        "sources": {
            "alb": {"period": "day", "primary_shards": 4, "shard_gb": 50.0},
            "vpcflow": {"period": "week", "primary_shards": 6, "shard_gb": 46.7},
            "nlb": {"period": "month", "primary_shards": 1, "shard_gb": 31.0},
        },
        "total_shards": 904,
        "storage_gb": 43380.0,
        "index_layout": "alb=day:4,vpcflow=week:6,nlb=month:1",
    }


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--gb-per-day", "alb=200,vpcflow=40,nlb=1")
    assert (code, err) == (cli.EXIT_OK, "")
    lines = out.splitlines()
    assert lines[1].split() == ["alb", "200", "day", "4", "50", "91", "728"]
    assert "904" in out and "3000" in out and "43380 GB" in out
    assert lines[-1] == "LOGFERRY_INDEX_LAYOUT=alb=day:4,vpcflow=week:6,nlb=month:1"


def test_cli_exits_1_over_the_nodes_shard_limit(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--gb-per-day", "alb=200", "--nodes", "1", "--shards-per-node-limit", "500"]
    code, out, err = run(capsys, *args)
    assert code == cli.EXIT_REJECTED
    assert "728" in err and "500" in err and "exceed" in err
    code, out, err = run(capsys, *args, "--json")
    assert code == cli.EXIT_REJECTED
    assert json.loads(out)["total_shards"] == 728


@pytest.mark.parametrize(
    "spec", ["alb", "alb=", "alb=x", "alb=-1", "=5", "alb=1,alb=2", "alb=nan", "alb=inf", ""]
)
def test_cli_exits_2_on_a_bad_gb_per_day(capsys: pytest.CaptureFixture[str], spec: str) -> None:
    code, out, err = run(capsys, "--gb-per-day", spec)
    assert (code, out) == (cli.EXIT_USAGE, "")
    assert "--gb-per-day" in err


def test_cli_exits_2_on_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--gb-per-day", "alb=1", "--nodes", "0")[0] == cli.EXIT_USAGE
    with pytest.raises(SystemExit) as exited:  # argparse: not a number
        cli.main(["plan", "--gb-per-day", "alb=1", "--replicas", "one"])
    assert exited.value.code == cli.EXIT_USAGE


def test_the_deploy_guide_shows_what_plan_prints(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "deploy.md").read_text()
    command = "logferry plan --gb-per-day alb=200,vpcflow=40,nlb=1 --retention-days 90 --nodes 3"
    assert command in guide
    code, out, _ = run(capsys, *command.split()[2:])
    assert code == cli.EXIT_OK
    assert out in guide
