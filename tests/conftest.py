"""Shared fixtures: the real local OpenSearch (started once per session by the repo's script),
a private index prefix per test, and moto for AWS."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REALWORLD = SHARED / "realworld-logs"

# Property tests: no per-example deadline (a loaded machine is slow, not wrong). HYPOTHESIS_PROFILE
# "ci" (.ci/run) also derandomizes: CI runs the same examples every time, so it fails only for a
# change; "explore" runs ten times the examples, to hunt.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(PROFILE)


# The samples the tests ingest are history (real-world lines from 2014 on, generated ones of
# fixed days): every test is a deliberate backfill, with the accepted window of event days
# (logferry.output.indices) opened wide, so that no test depends on today's date. Tests of the
# window itself set their own. Set before anything reads the environment; subprocesses inherit it.
HISTORY_DAYS = 100 * 366
os.environ.setdefault("LOGFERRY_ACCEPT_DAYS_BACK", str(HISTORY_DAYS))


def examples(count: int) -> int:
    """A test's own number of examples (a decorator's wins over the profile's): ten times as
    many under "explore"."""
    return count * 10 if PROFILE == "explore" else count


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """The cluster the integration tests use: scripts/opensearch.sh starts or reuses it."""
    subprocess.run([str(ROOT / "scripts" / "opensearch.sh"), "start"], check=True)
    return os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")


@pytest.fixture(scope="session")
def os_client(opensearch_url: str) -> Any:
    from logferry.output.client import make_client

    return make_client(opensearch_url)


@pytest.fixture
def index_prefix(os_client: Any) -> Iterator[str]:
    """A prefix of this test's own, with the template applied: tests never see each other."""
    from logferry import provisioning
    from logferry.config import Settings
    from tests import monitoring

    prefix = f"test{uuid.uuid4().hex[:10]}"
    provisioning.apply(os_client, Settings(index_prefix=prefix))
    yield prefix
    monitoring.remove(os_client, prefix)  # setup installs them where Alerting is present
    os_client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    os_client.indices.delete_index_template(name=provisioning.template_name(prefix), ignore=[404])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call of the test, with fake credentials that can reach nothing real."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield
