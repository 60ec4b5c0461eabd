"""Build logferry.formats._lines, the busy formats' records written straight to JSON (the Rust
crate in layers/native/lines, with pyo3): the pipeline's fast path (logferry.formats.fast).

    python layers/native/lines.py              # in place, for this machine (make does it)
    python layers/native/lines.py --lambda DIR # into DIR (a layer's python/), for the Lambda:
                                               # linux arm64, glibc 2.34

The Lambda build cross-compiles with cargo for aarch64-unknown-linux-gnu (the target's standard
library added by rustup when missing) and links with zig (PyPI's ziglang), so it needs neither
containers nor an arm64 machine. One abi3 library serves every CPython from 3.11. Without cargo
nothing is built, and the pipeline parses every line in Python (the same documents, slower):
the build says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CRATE = HERE / "lines"
TARGET_DIR = HERE.parents[1] / "build" / "lines"  # cargo's, kept between builds
INSTALLED = Path("logferry") / "formats" / "_lines.abi3.so"
PACKAGE_ROOT = HERE.parent / "logferry"
LAMBDA_TRIPLE = "aarch64-unknown-linux-gnu"
LAMBDA_ZIG_TARGET = "aarch64-linux-gnu.2.34"  # the glibc of the runtime (Amazon Linux 2023)


def _cargo(*args: str, env: dict[str, str] | None = None) -> None:
    command = ["cargo", "build", "--release", "--locked", "--quiet", *args]
    subprocess.run(
        command,
        cwd=CRATE,
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(TARGET_DIR), **(env or {})},
    )


def build_here() -> Path:
    _cargo()
    return _install(TARGET_DIR / "release" / "lib_lines.so", PACKAGE_ROOT / INSTALLED)


def _install(built: Path, target: Path) -> Path:
    """Copy beside and rename over: a process that has the old library loaded keeps its
    file (writing over it in place crashes such a process)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(built, partial)
    partial.replace(target)
    return target


def build_for_lambda(out: Path) -> Path:
    installed = subprocess.run(
        ["rustup", "target", "list", "--installed"], capture_output=True, text=True, check=False
    ).stdout.split()
    if LAMBDA_TRIPLE not in installed:
        subprocess.run(["rustup", "target", "add", LAMBDA_TRIPLE], check=True)
    with tempfile.TemporaryDirectory() as temporary:
        linker = Path(temporary) / "zig-cc"
        linker.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" -m ziglang cc -target {LAMBDA_ZIG_TARGET} "$@"\n'
        )
        linker.chmod(linker.stat().st_mode | stat.S_IEXEC)
        variable = f"CARGO_TARGET_{LAMBDA_TRIPLE.upper().replace('-', '_')}_LINKER"
        _cargo(
            "--target",
            LAMBDA_TRIPLE,
            env={variable: str(linker), "PYO3_CROSS_PYTHON_VERSION": "3.13"},
        )
    return _install(TARGET_DIR / LAMBDA_TRIPLE / "release" / "lib_lines.so", out / INSTALLED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lambda", dest="lambda_dir", type=Path, metavar="DIR",
        help="cross-compile for the Lambda (linux arm64) into DIR",
    )  # fmt: skip
    args = parser.parse_args()
    if shutil.which("cargo") is None:
        print("cargo not found: logferry.formats._lines not built (every line parsed in Python)")
        return
    print(build_for_lambda(args.lambda_dir) if args.lambda_dir else build_here())


if __name__ == "__main__":
    main()
