"""The compiled parsers (layers/native/compile.py, `make native`): loaded, built from the
sources as they are, and giving what their sources give, document for document, rejection for
rejection, on real, generated and broken lines."""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support import load_script, native_compile_script, parser_corpus
from tools.bench import generators as benchgen

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
    for name in (*COMPILE.MODULES, *COMPILE.SHARED):
        module = importlib.import_module(f"logferry.formats.{name}")
        assert str(module.__file__).endswith(SUFFIX), f"{name} runs from its source: {REBUILD}"


def test_the_compiled_build_is_newer_than_every_source_it_was_made_from() -> None:
    library = PACKAGE / "formats" / f"native__mypyc{SUFFIX}"
    assert library.exists(), REBUILD
    # what the Makefile rebuilds it for: the formats and the modules they import
    sources = [
        *PACKAGE.glob("formats/*.py"),
        PACKAGE / "model.py",
        PACKAGE / "ingest" / "reader.py",
    ]
    built = library.stat().st_mtime
    stale = [path.name for path in sources if path.stat().st_mtime > built]
    assert stale == [], f"changed since the compiled build: {stale}: {REBUILD}"


def test_pure_python_switch_imports_every_format_from_its_source() -> None:
    compiled = (*COMPILE.MODULES, *COMPILE.SHARED)
    names = ", ".join(repr(name) for name in compiled)
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
    assert len(files) == len(compiled)
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


# -- the Debian packages the Lambda build and its arm64 test use (layers/native/debian.py) --

DEBIAN = load_script("native_debian", ROOT / "layers" / "native" / "debian.py")


def _deb(files: dict[str, bytes]) -> bytes:
    """A .deb as dpkg writes one: an ar archive of debian-binary, control and data tarballs."""

    def tarball(entries: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:xz") as tar:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return out.getvalue()

    members = {
        "debian-binary": b"2.0\n",
        "control.tar.xz": tarball({"./control": b"Package: x\n"}),
        "data.tar.xz": tarball(files),
    }
    archive = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        archive += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    return archive


def test_a_debian_package_unpacks_its_data_files(tmp_path: Path) -> None:
    deb = _deb({"./usr/include/python3.13/Python.h": b"/* header */", "./usr/bin/x": b"odd"})
    DEBIAN.extract_deb(deb, tmp_path)
    assert (tmp_path / "usr/include/python3.13/Python.h").read_bytes() == b"/* header */"
    assert (tmp_path / "usr/bin/x").read_bytes() == b"odd"
    assert not (tmp_path / "control").exists()


def test_what_is_not_a_debian_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Debian package"):
        DEBIAN.extract_deb(b"PK\x03\x04 a zip", tmp_path)
    with pytest.raises(ValueError, match=r"no data\.tar"):
        DEBIAN.extract_deb(b"!<arch>\n", tmp_path)


def test_dependencies_are_followed_through_alternatives_and_left_out_when_not_needed() -> None:
    index = {
        "python3.13-minimal": {"Depends": "libpython3.13-minimal (= 3.13.5-2), zlib1g (>= 1:1.2)"},
        "libpython3.13-minimal": {"Pre-Depends": "libc6 (>= 2.17)", "Depends": "libssl3t64"},
        "libpython3.13-stdlib": {"Depends": "media-types | mime-support, libffi8, tzdata"},
        "libc6": {"Depends": "libgcc-s1"},
        **{name: {} for name in ("zlib1g", "libssl3t64", "libffi8", "libgcc-s1", "tzdata")},
        "media-types": {},
    }
    wanted = DEBIAN.with_dependencies(index, ("python3.13-minimal", "libpython3.13-stdlib"))
    assert sorted(wanted) == sorted(
        [
            "python3.13-minimal", "libpython3.13-minimal", "zlib1g", "libc6", "libgcc-s1",
            "libssl3t64", "libpython3.13-stdlib", "libffi8",
        ]
    )  # fmt: skip


def test_a_package_that_differs_from_its_index_is_refused_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _deb({"./usr/include/python3.13/Python.h": b"/* header */"})
    package = {"Filename": "pool/main/p/x_1_arm64.deb", "SHA256": hashlib.sha256(good).hexdigest()}
    monkeypatch.setattr(DEBIAN, "CACHE", tmp_path)
    monkeypatch.setattr(DEBIAN, "_get", lambda url: good[:-1] + b"!")
    with pytest.raises(ValueError, match="SHA-256 differs"):
        DEBIAN._deb(package)
    assert not (tmp_path / "pool" / "x_1_arm64.deb").exists()
    monkeypatch.setattr(DEBIAN, "_get", lambda url: good)
    assert DEBIAN._deb(package) == good
    assert (tmp_path / "pool" / "x_1_arm64.deb").read_bytes() == good
