"""Debian's CPython 3.13 for linux arm64 (trixie), unpacked from the Debian archive.

Its headers build the Lambda's compiled parsers (`compile.py --lambda`); its interpreter runs
that build under qemu in the tests. Only the standard library is used, so that this works on
any machine that can reach the archive: the package index and the packages are fetched over
HTTPS, each package checked against the SHA-256 the index gives for it, and unpacked
without dpkg.

    python layers/native/debian.py headers DIR       # libpython3.13-dev: DIR/usr/include/...
    python layers/native/debian.py interpreter DIR   # python3.13 and the libraries it loads
"""

from __future__ import annotations

import argparse
import hashlib
import io
import lzma
import os
import re
import shutil
import tarfile
import time
import urllib.request
from pathlib import Path

MIRROR = os.environ.get("LOGFERRY_DEBIAN_MIRROR", "https://deb.debian.org/debian")
SUITE = "trixie"  # the Debian release with CPython 3.13, the Lambda runtime's version
ARCH = "arm64"
CACHE = Path(os.environ.get("LOGFERRY_CACHE", Path.home() / ".cache" / "logferry")) / "debian"
INDEX_MAX_AGE = 24 * 3600  # the archive replaces packages (security updates): re-read daily

HEADERS = ("libpython3.13-dev",)
INTERPRETER = ("python3.13-minimal", "libpython3.13-stdlib")
# Dependencies a bare interpreter does not need (configuration, terminal, databases).
NOT_NEEDED = frozenset(
    ("media-types", "mime-support", "netbase", "tzdata", "libdb5.3t64", "libreadline8t64",
     "libncursesw6", "libtinfo6", "libsqlite3-0", "readline-common", "debconf")
)  # fmt: skip

Package = dict[str, str]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        data: bytes = response.read()
        return data


def package_index(refresh: bool = False) -> dict[str, Package]:
    """The suite's arm64 packages by name: each a dict of its control fields."""
    cached = CACHE / f"{SUITE}-{ARCH}-Packages.xz"
    if refresh or not cached.exists() or time.time() - cached.stat().st_mtime > INDEX_MAX_AGE:
        cached.parent.mkdir(parents=True, exist_ok=True)
        data = _get(f"{MIRROR}/dists/{SUITE}/main/binary-{ARCH}/Packages.xz")
        partial = cached.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(cached)
    text = lzma.decompress(cached.read_bytes()).decode()
    packages: dict[str, Package] = {}
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.MULTILINE))
        if "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


def with_dependencies(packages: dict[str, Package], names: tuple[str, ...]) -> list[str]:
    """`names` and what they depend on, transitively (first alternatives, versions unchecked:
    the index holds one version of each package)."""
    wanted: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in wanted or name in NOT_NEEDED:
            continue
        wanted.append(name)
        for part in (packages[name].get("Pre-Depends", ""), packages[name].get("Depends", "")):
            for item in filter(None, (entry.strip() for entry in part.split(","))):
                dependency = item.split("|")[0].split()[0].split(":")[0]
                if dependency in packages:
                    todo.append(dependency)
    return wanted


def _deb(package: Package) -> bytes:
    """The package's .deb, downloaded once (its file name carries its version) and checked."""
    cached = CACHE / "pool" / Path(package["Filename"]).name
    if cached.exists():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == package["SHA256"]:
            return data
    data = _get(f"{MIRROR}/{package['Filename']}")
    if hashlib.sha256(data).hexdigest() != package["SHA256"]:
        raise ValueError(f"{package['Filename']}: SHA-256 differs from the package index")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(cached)
    return data


def extract_deb(deb: bytes, into: Path) -> None:
    """Unpack a .deb's files (its data.tar member; an `ar` archive holds it) under `into`."""
    if not deb.startswith(b"!<arch>\n"):
        raise ValueError("not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(deb):
        name = deb[offset : offset + 16].decode().strip().rstrip("/")
        size = int(deb[offset + 48 : offset + 58])
        member = deb[offset + 60 : offset + 60 + size]
        if name.startswith("data.tar"):  # .xz in today's archive; tarfile finds out
            with tarfile.open(fileobj=io.BytesIO(member), mode="r:*") as tar:
                tar.extractall(into, filter="tar")
            return
        offset += 60 + size + (size & 1)  # members are 2-byte aligned
    raise ValueError("no data.tar member in the package")


def unpack(names: tuple[str, ...], into: Path, depends: bool = False) -> list[str]:
    """Unpack the packages (and, with `depends`, their dependencies) under `into`; returns
    the packages unpacked."""
    packages = package_index()
    try:
        wanted = with_dependencies(packages, names) if depends else list(names)
        debs = [_deb(packages[name]) for name in wanted]
    except (KeyError, OSError, ValueError):  # replaced in the archive since the index was read
        packages = package_index(refresh=True)
        wanted = with_dependencies(packages, names) if depends else list(names)
        debs = [_deb(packages[name]) for name in wanted]
    for deb in debs:
        extract_deb(deb, into)
    return wanted


def headers(into: Path) -> Path:
    """The include directory of arm64 CPython 3.13 (its pyconfig.h picks the arm64 one)."""
    include = into / "usr" / "include"
    if not (include / "python3.13" / "Python.h").exists():
        unpack(HEADERS, into)
    return include


def interpreter(into: Path) -> Path:
    """An arm64 python3.13 under `into` (a root for `qemu-aarch64 -L`), returned."""
    python = into / "usr" / "bin" / "python3.13"
    if not python.exists():
        staging = into.with_name(into.name + ".part")
        shutil.rmtree(staging, ignore_errors=True)
        unpack(INTERPRETER, staging, depends=True)
        # A merged-/usr system's links: binaries ask for /lib/ld-linux-aarch64.so.1.
        for link in ("lib", "bin", "sbin"):
            if not (staging / link).exists():
                (staging / link).symlink_to(f"usr/{link}")
        shutil.rmtree(into, ignore_errors=True)
        staging.rename(into)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("headers", "interpreter"))
    parser.add_argument("into", type=Path)
    args = parser.parse_args()
    print(headers(args.into) if args.what == "headers" else interpreter(args.into))


if __name__ == "__main__":
    main()
