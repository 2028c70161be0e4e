"""Timing and peak memory of a command, shared by the benchmarks."""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time


def measure(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run, its output written to a scratch file.

    The memory comes from GNU time (Debian: apt-get install time): a child
    forked from this Python process would report this process's memory as its
    own peak. The output goes to a file, not /dev/null, which GNU grep notices
    and stops at the first match.
    """
    with tempfile.TemporaryFile() as sink, tempfile.NamedTemporaryFile("r") as figures:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", figures.name, *argv], stdout=sink, stderr=subprocess.PIPE, check=False
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr.decode()}")
        return elapsed, int(figures.read().split()[-1])


def median_run(argv: list[str], runs: int) -> tuple[float, float]:
    """Median seconds and the highest peak RSS (MB) over the runs."""
    results = [measure(argv) for _ in range(runs)]
    return statistics.median(t for t, _ in results), max(rss for _, rss in results) / 1024
