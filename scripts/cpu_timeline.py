"""Run a command and print how many of the machine's cores were busy, every 0.5 s, between the flow's stages.

Usage::

    .venv/bin/python scripts/cpu_timeline.py -- .venv/bin/corpusclean run PAGES --out OUT --workers 2

Each line lists the busy cores (machine-wide, from ``/proc/stat``) of successive half seconds; a ``---`` line
marks where Prefect logged the flow's start or a task's end. A stage whose figures stay below the core count
leaves cores idle: that is where overlapping work could shorten the run. Linux only; run it on an otherwise
idle machine (it counts every process's CPU).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

INTERVAL = 0.5
EVENT = re.compile(r"Beginning flow run|Task run '([a-z-]+)-\w+' - Finished")


def busy_and_total() -> tuple[int, int]:
    """Machine-wide busy and total jiffies so far."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def main() -> None:
    command = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    if not command:
        sys.exit(__doc__)
    if not os.path.exists("/proc/stat"):
        sys.exit("cpu_timeline: Linux only (reads /proc/stat)")
    cores = os.cpu_count() or 1
    start = time.monotonic()
    events: list[tuple[float, str]] = []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found = EVENT.search(line)
            if found:
                events.append((time.monotonic() - start, found.group(1) or "flow begins"))

    reader = threading.Thread(target=read_output)
    reader.start()
    samples: list[tuple[float, float]] = []
    previous = busy_and_total()
    while process.poll() is None:
        time.sleep(INTERVAL)
        current = busy_and_total()
        spent = current[1] - previous[1]
        samples.append((time.monotonic() - start, cores * (current[0] - previous[0]) / max(spent, 1)))
        previous = current
    reader.join()
    pending = iter(events)
    event = next(pending, None)
    line: list[str] = []
    for at, busy in samples:
        while event is not None and event[0] <= at:
            print(" ".join(line))
            print(f"--- {event[0]:.1f} s {event[1]}")
            line, event = [], next(pending, None)
        line.append(f"{busy:.1f}")
    print(" ".join(line))
    mean = sum(b for _, b in samples) / max(len(samples), 1)
    print(f"wall {time.monotonic() - start:.1f} s, mean busy cores {mean:.2f} of {cores}; exit code {process.returncode}")


if __name__ == "__main__":
    main()
