"""Fixtures of the handler's integration tests."""

from __future__ import annotations

import pytest

from tests.support import Setup


@pytest.fixture
def setup(aws_env: None, index_prefix: str, opensearch_url: str) -> Setup:
    """The deployed wiring in moto, with handler containers on demand (tests.support.Setup)."""
    return Setup(opensearch_url, index_prefix)
