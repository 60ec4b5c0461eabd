"""The three-node cluster (scripts/opensearch.sh start --nodes 3: three nodes of the local
distribution, one cluster, 127.0.0.1:9210-9212) and what the tests do to it: kill a node with
SIGKILL, start it again, see where shards are.

The tests run only when the cluster is up (`make opensearch-multinode`; `make test` starts it
first): otherwise they are skipped with the command that starts it, or fail when
LOGFERRY_MULTINODE_REQUIRED is set (as `make test` sets it, so CI cannot skip them unnoticed).
Nothing here imitates OpenSearch: the nodes are real processes, killed for real, and what is
asserted is what the cluster reports.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SCRIPT = str(ROOT / "scripts" / "opensearch.sh")
START = "make opensearch-multinode (scripts/opensearch.sh start --nodes 3)"
# Killing nodes is the cluster's business, not one session's: two sessions take turns.
LOCK = Path(os.environ.get("LOGFERRY_MULTINODE_TESTS_LOCK", "/var/tmp/logferry/multinode.lock"))


@dataclass(frozen=True)
class Cluster:
    url: str  # node 1: where clients (and the handler) send their requests
    node_urls: tuple[str, ...]
    pidfiles: tuple[str, ...]
    name_prefix: str  # node n is named f"{name_prefix}{n}"

    def client(self, url: str | None = None) -> Any:
        from logferry.output.client import make_client

        return make_client(url or self.url)

    def number_of(self, node_name: str) -> int:
        return int(node_name.removeprefix(self.name_prefix))

    def pid(self, number: int) -> int:
        return int(Path(self.pidfiles[number - 1]).read_text().strip())

    def kill(self, number: int) -> int:
        """SIGKILL node `number` (no shutdown of any kind); its pid, once the process is gone
        (a JVM takes a moment to be torn down)."""
        pid = self.pid(number)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return pid
            time.sleep(0.05)
        raise TimeoutError(f"node {number} (pid {pid}) still there 60 s after SIGKILL")

    def start(self) -> None:
        """Start whichever node is not running, and wait until all three are in the cluster."""
        done = subprocess.run(
            [SCRIPT, "start", "--nodes", "3"], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"scripts/opensearch.sh start --nodes 3: {done.stderr}"

    def wait_green(self, timeout: int = 180) -> dict[str, Any]:
        # (a `timeout` keyword is the client's own; the cluster's goes in params, beside the
        # client's request_timeout)
        health: dict[str, Any] = self.client().cluster.health(
            params={
                "wait_for_status": "green",
                "wait_for_nodes": "3",
                "wait_for_no_initializing_shards": "true",
                "wait_for_no_relocating_shards": "true",
                "timeout": f"{timeout}s",
            },
            request_timeout=timeout + 10,
        )
        assert not health["timed_out"], health
        return health


def _cluster() -> Cluster | str:
    """The running cluster, or why there is none."""
    done = subprocess.run(
        [SCRIPT, "env", "--nodes", "3"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"scripts/opensearch.sh env --nodes 3 failed: {done.stderr.strip()}"
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    cluster = Cluster(
        url=env["OPENSEARCH_URL"],
        node_urls=tuple(env["LOGFERRY_CLUSTER_NODE_URLS"].split(",")),
        pidfiles=tuple(env["LOGFERRY_CLUSTER_NODE_PIDFILES"].split(",")),
        name_prefix=env["LOGFERRY_CLUSTER_NODE_NAME_PREFIX"],
    )
    try:
        health = cluster.client().cluster.health(
            params={"wait_for_nodes": "3", "timeout": "5s"}, request_timeout=15
        )
    except Exception as exc:
        return f"no three-node cluster at {cluster.url} ({type(exc).__name__})"
    if health.get("number_of_nodes") != 3:
        return f"{health.get('number_of_nodes')} nodes in the cluster at {cluster.url}, not 3"
    return cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    found = _cluster()
    if isinstance(found, str):
        if os.environ.get("LOGFERRY_MULTINODE_REQUIRED"):
            pytest.fail(f"{found}: the multinode tests are required here; {START}")
        pytest.skip(f"{found}: start it with {START}")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield found
        found.start()  # a test that failed halfway leaves no node down behind it


@pytest.fixture
def cluster_prefix(cluster: Cluster) -> Iterator[str]:
    """An index prefix of this test's own on the cluster; its indices and templates are gone
    after it."""
    prefix = f"multi{uuid.uuid4().hex[:10]}"
    yield prefix
    client = cluster.client()
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    found = client.indices.get_index_template(name=f"{prefix}-*", ignore=[404])
    for template in found.get("index_templates", []):
        client.indices.delete_index_template(name=template["name"])
