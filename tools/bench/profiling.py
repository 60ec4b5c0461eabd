"""`python -m tools.bench --profile FORMAT`: where one format's time goes, in this process
(pyinstrument, if installed), on the object the throughput table measures."""

from __future__ import annotations

import json
import sys

from tools.bench import DATA
from tools.bench import generators as benchgen
from tools.bench.workers import run_pipeline


def profile(fmt: str, size: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    path = benchgen.write_object(DATA, fmt, size)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    result = run_pipeline(fmt, path)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    print(json.dumps(result))
