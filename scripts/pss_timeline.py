"""Run a command and sample its process tree's memory (PSS) every 0.1 s, as ``make bench`` does.

Usage::

    .venv/bin/python scripts/pss_timeline.py LOG -- .venv/bin/corpusclean run PAGES --out OUT --workers 2

Each line of LOG is ``seconds PSS total main MB | the four largest other processes``, with the command's own
output lines interleaved (``seconds OUT line``), so a peak can be placed in the flow's stages (Prefect logs each
task's end). The last line gives the peak and the wall time. PSS splits pages shared between processes (the
pool's forked workers), so the total is what the tree really holds; it is what ``make bench`` reports.
Linux only (reads ``/proc``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time


INTERVAL = 0.1
"""Seconds between samples: as often as ``make bench`` samples, so a short peak it sees is seen here too."""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().replace("\0", " ")[:60]
    except OSError:
        return "?"


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    log = open(sys.argv[1], "w", encoding="utf-8")
    start = time.time()
    proc = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def copy_output() -> None:
        for line in proc.stdout:
            log.write(f"{time.time() - start:7.1f} OUT {line.rstrip()[:200]}\n")
            log.flush()

    threading.Thread(target=copy_output, daemon=True).start()
    peak = 0.0
    while proc.poll() is None:
        time.sleep(INTERVAL)
        sizes = [(pss_mb(pid), pid) for pid in descendants(proc.pid)]
        total = sum(size for size, _ in sizes)
        peak = max(peak, total)
        others = sorted(sizes[1:], reverse=True)[:4]
        shown = " ; ".join(f"{size:5.0f} {command_of(pid)[-30:]}" for size, pid in others)
        log.write(f"{time.time() - start:7.1f} PSS {total:6.0f} main {sizes[0][0]:6.0f} | {shown}\n")
        log.flush()
    log.write(f"peak {peak:.0f} wall {time.time() - start:.1f}\n")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
