"""Compile logferry's line parsers with mypyc: the same Python, type-checked and turned into C.

A compiled module sits beside its source and Python imports it first; the source stays the
reference (LOGFERRY_PURE_PYTHON=1 imports it instead) and the tests hold both to the same
output. What it buys is measured by `make bench` (its "pure l/s" and "compiled" columns).

    python layers/native/compile.py              # in place, for this interpreter (make does it)
    python layers/native/compile.py --lambda DIR # into DIR (a layer's python/), for the Lambda:
                                                 # CPython 3.13 on linux arm64, glibc 2.34

The Lambda build cross-compiles with zig (PyPI's ziglang) against Debian's arm64 CPython 3.13
headers (native/debian.py), so it needs neither containers nor an arm64 machine. It needs
Python 3.13 with mypy and ziglang: the project's virtualenv (`make`) has them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parent / "logferry"  # holds the logferry package
BUILD = HERE.parents[1] / "build" / "mypyc"  # C and objects of the in-place build
# The line formats of busy sources, where parsing is most of the Lambda's time. What they
# import stays Python, but for SHARED. A module listed here or there must keep to what mypyc
# compiles faithfully: the tests run every format's suite against the compiled modules.
MODULES = ("alb", "alb_connection", "clb", "cloudfront", "nlb", "s3access", "vpcflow")
# Compiled with them: what the ELB formats share (their tokenizer, times, ip:port), called on
# every line. Compiled modules of one group call each other's functions directly; a call into a
# Python module goes through the interpreter: ALB's parser took 6.9 us a line with elb left in
# Python, 6.0 with it compiled (as before elb was split out of alb).
SHARED = ("elb", "cloudfront_fields")
GROUP = "logferry.formats.native"  # the shared library: logferry/formats/native__mypyc.*.so
PYTHON_VERSION = (3, 13)  # the Lambda runtime's
LAMBDA_TARGET = "aarch64-linux-gnu.2.34"  # arm64, the glibc of the runtime (Amazon Linux 2023)
LAMBDA_SUFFIX = ".cpython-313-aarch64-linux-gnu.so"


def sources() -> list[str]:
    return [f"logferry/formats/{name}.py" for name in (*MODULES, *SHARED)]


def compiled_paths(suffix: str) -> list[Path]:
    """The files a build writes, under the package root: a shim per module and the group."""
    formats = Path("logferry") / "formats"
    names = [*MODULES, *SHARED, GROUP.rpartition(".")[2] + "__mypyc"]
    return [formats / f"{name}{suffix}" for name in names]


def _extensions(build: Path) -> list[Any]:
    """mypyc's C for the modules (written under `build`), as setuptools extensions."""
    from mypyc.build import mypycify

    os.environ["MYPY_CACHE_DIR"] = str(build / "mypy_cache")  # not among the sources
    return mypycify(sources(), opt_level="3", group_name=GROUP, target_dir=str(build))


def build_here() -> list[Path]:
    """Compile for this interpreter, in place beside the sources."""
    from setuptools import setup  # type: ignore[import-untyped]

    os.chdir(SOURCE_ROOT)  # mypyc names the modules by their paths from here
    temp, lib = str(BUILD / "temp"), str(BUILD / "lib")
    setup(
        name="logferry-native",
        ext_modules=_extensions(BUILD),
        script_args=["--quiet", "build_ext", "--inplace", "--build-temp", temp, "--build-lib", lib],
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    written = [SOURCE_ROOT / path for path in compiled_paths(suffix)]
    for path in written:  # up to date even when setuptools found nothing to redo
        path.touch()
    return written


def build_for_lambda(out: Path) -> list[Path]:
    """Cross-compile for the Lambda into `out`, the root of a layer's python/ directory."""
    if sys.version_info[:2] != PYTHON_VERSION:
        raise SystemExit("mypyc writes C for the running Python: run this with Python 3.13")
    sys.path.insert(0, str(HERE))
    import debian

    cache = Path(os.environ.get("LOGFERRY_CACHE", Path.home() / ".cache" / "logferry"))
    include = debian.headers(cache / "debian-arm64-headers")
    out = out.resolve()
    os.chdir(SOURCE_ROOT)
    written = []
    with tempfile.TemporaryDirectory() as temporary:
        for extension in _extensions(Path(temporary)):
            target = out / Path(*extension.name.split(".")[:-1])
            target.mkdir(parents=True, exist_ok=True)
            library = target / (extension.name.rpartition(".")[2] + LAMBDA_SUFFIX)
            command = [
                sys.executable, "-m", "ziglang", "cc", "-target", LAMBDA_TARGET,
                "-shared", "-fPIC", "-O3", "-g0", "-s", "-DNDEBUG", "-fno-strict-overflow",
                *(flag for flag in extension.extra_compile_args if flag.startswith("-Wno-")),
                *(f"-I{directory}" for directory in extension.include_dirs),
                f"-I{include / 'python3.13'}", f"-I{include}",
                *extension.sources, "-o", str(library),
            ]  # fmt: skip
            subprocess.run(command, check=True)
            written.append(library)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lambda", dest="lambda_dir", type=Path, metavar="DIR",
        help="cross-compile for the Lambda (linux arm64, CPython 3.13) into DIR",
    )  # fmt: skip
    args = parser.parse_args()
    needed = ("mypyc", "ziglang") if args.lambda_dir else ("mypyc",)
    missing = [name for name in needed if find_spec(name) is None]
    if missing:
        raise SystemExit(f"needs {' and '.join(missing)}: use the project's virtualenv (make)")
    written = build_for_lambda(args.lambda_dir) if args.lambda_dir else build_here()
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
