"""The compiled parsers (layers/native/compile.py, `make native`): loaded, built from the
sources as they are, and giving what their sources give, document for document, rejection for
rejection, on real, generated and broken lines."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import native_compile_script, parser_corpus

sys.path.insert(0, str(ROOT / "scripts"))

import benchgen

COMPILE = native_compile_script()
PACKAGE = ROOT / "layers" / "logferry" / "logferry"
SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
REBUILD = "run `make native`"


def parse(format_name: str, files: list[Path], pure: bool) -> subprocess.CompletedProcess[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "LOGFERRY_PURE_PYTHON"}
    if pure:
        env["LOGFERRY_PURE_PYTHON"] = "1"
    command = [sys.executable, "-m", "logferry.cli", "parse", "--format", format_name]
    return subprocess.run([*command, *map(str, files)], capture_output=True, env=env, timeout=300)


def test_the_busy_formats_run_compiled() -> None:
    for name in COMPILE.MODULES:
        module = importlib.import_module(f"logferry.formats.{name}")
        assert str(module.__file__).endswith(SUFFIX), f"{name} runs from its source: {REBUILD}"


def test_the_compiled_build_is_newer_than_every_source_it_was_made_from() -> None:
    library = PACKAGE / "formats" / f"native__mypyc{SUFFIX}"
    assert library.exists(), REBUILD
    # what the Makefile rebuilds it for: the formats and the modules they import
    sources = [*PACKAGE.glob("formats/*.py"), PACKAGE / "model.py", PACKAGE / "reader.py"]
    built = library.stat().st_mtime
    stale = [path.name for path in sources if path.stat().st_mtime > built]
    assert stale == [], f"changed since the compiled build: {stale}: {REBUILD}"


def test_pure_python_switch_imports_every_format_from_its_source() -> None:
    names = ", ".join(repr(name) for name in COMPILE.MODULES)
    script = (
        "import importlib\n"
        f"for name in ({names},):\n"
        "    print(importlib.import_module('logferry.formats.' + name).__file__)\n"
    )
    env = {**os.environ, "LOGFERRY_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    files = result.stdout.split()
    assert len(files) == len(COMPILE.MODULES)
    assert all(path.endswith(".py") for path in files), files


@pytest.mark.parametrize("module", COMPILE.MODULES)
def test_compiled_parser_gives_exactly_what_its_source_gives(module: str, tmp_path: Path) -> None:
    format_name = importlib.import_module(f"logferry.formats.{module}").FORMAT.name
    generated = benchgen.lines(format_name, 300_000) if format_name in benchgen.GENERATORS else ()
    files = parser_corpus(tmp_path, format_name, generated)
    compiled = parse(format_name, files, pure=False)
    pure = parse(format_name, files, pure=True)
    # the corpus takes both ways: documents, and rejections with their reasons
    assert compiled.stdout.count(b"\n") >= 20, compiled.stderr[-2000:]
    assert compiled.stderr.count(b"\n") >= 10
    assert compiled.returncode == pure.returncode == 1
    assert compiled.stdout == pure.stdout
    assert compiled.stderr == pure.stderr
