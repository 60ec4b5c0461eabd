"""ParquetLayer (pyarrow) is optional: ParquetSupport=true creates it and adds it to the ingest
function after the global layers; by default there is no such layer and no function gets it.
Its size against Lambda's 250 MB limit is measured in the README ("Parquet")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.aws.test_template import SOURCES, Stack
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # SAM's translator asks for one


def layers(stack: Stack, function: str) -> list[str]:
    """A function's layers, by name (SAM adds a content hash to a LayerVersion's name)."""
    refs: list[str] = stack.resource(function)["Properties"]["Layers"]
    return [re.sub(r"[0-9a-f]{10}>$", ">", ref) for ref in refs]


def test_parquet_layer_only_when_asked_and_only_for_ingest() -> None:
    plain = Stack(SOURCES)
    assert not [name for name in plain.resources() if name.startswith("ParquetLayer")]
    assert layers(plain, "IngestFunction") == ["<LogferryLayer>", "<ParsersLayer>"]
    parquet = Stack({**SOURCES, "ParquetSupport": "true"})
    (layer,) = [r for n, r in parquet.resources().items() if n.startswith("ParquetLayer")]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layers(parquet, "IngestFunction") == [
        "<LogferryLayer>",
        "<ParsersLayer>",
        "<ParquetLayer>",
    ]
    assert "<ParquetLayer>" not in layers(parquet, "SetupFunction")


def test_the_layer_pins_the_pyarrow_the_tests_run() -> None:
    def pin(path: Path) -> set[str]:
        lines = path.read_text().splitlines()
        return {line for line in lines if line.startswith("pyarrow==")}

    layer = pin(ROOT / "layers" / "parquet" / "requirements.txt")
    assert len(layer) == 1 and layer == pin(ROOT / "requirements-dev.txt")
