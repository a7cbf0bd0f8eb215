"""What a process holds of one file's mappings, read from ``/proc/PID/smaps`` (Linux only)."""

from __future__ import annotations


def mapped_kb(pid: int | str, name: str) -> dict[str, int]:
    """kB of each ``smaps`` field (``Rss``, ``Private_Clean``, ...) summed over ``pid``'s mappings of files whose path contains ``name``."""
    totals: dict[str, int] = {}
    matching = False
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if fields[0][0] in "0123456789abcdef" and "-" in fields[0] and ":" not in fields[0]:
                matching = len(fields) > 5 and name in fields[5]
            elif matching and len(fields) == 3 and fields[2] == "kB":
                totals[fields[0].rstrip(":")] = totals.get(fields[0].rstrip(":"), 0) + int(fields[1])
    return totals
