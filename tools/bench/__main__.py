"""`python -m tools.bench`: the command line is tools.bench.cli."""

from __future__ import annotations

import sys

from tools.bench.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
