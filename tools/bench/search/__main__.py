"""`python -m tools.bench.search`: the command line is tools.bench.search.cli."""

from __future__ import annotations

import sys

from tools.bench.search.cli import main

if __name__ == "__main__":
    sys.exit(main())
