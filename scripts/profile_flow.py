"""Profile one run of the flow in this process: cProfile of the flow's process and its peak RSS.

    .venv/bin/python scripts/profile_flow.py bench/work/corpus-200mb-s0/pages /tmp/out [--top 40]

Prints the manifest's stage durations, the flow process's peak RSS (sampled
every 50 ms; worker processes are not included: ``make bench`` measures the
whole tree) and the functions with the most cumulative time, and writes the
profile to ``OUT.prof`` for ``python -m pstats``. Worker processes are not
profiled: their time shows as waiting in ``concurrent.futures``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs")
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    sys.path.insert(0, str(ROOT))
    import psutil

    import flows.clean_corpus as flow

    shutil.rmtree(args.out, ignore_errors=True)
    process, peak = psutil.Process(), [0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    manifest = flow.clean_corpus([args.inputs], args.out, {"workers": args.workers})
    profile.disable()
    print(f"wall {time.perf_counter() - start:.1f} s, flow process peak RSS {peak[0] / 1e6:.0f} MB")
    print(manifest["durations_seconds"])
    profile.dump_stats(f"{args.out}.prof")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":  # the run's pool uses forkserver: workers import this module without running it
    main()
