"""Timing and peak memory of a command, and the tool as users install it, shared by the benchmarks."""

from __future__ import annotations

import contextlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    return summary([measure(argv) for _ in range(runs)])


def paired_runs(
    ours: list[str], theirs: list[str], runs: int
) -> tuple[tuple[float, float], tuple[float, float], float]:
    """median_run of two commands, after one warm-up run each, their runs taken in turn so that
    both see the same machine; and the median of the ratios of each pair of runs.

    On a shared VM the speed drifts by tens of percent within a minute; runs
    taken one command after the other would put the drift into the ratio. The
    ratio of each pair, taken seconds apart, is the least touched by it.
    """
    measure(ours)  # warm-up, not counted: caches (the server's, the OS's) filled alike for both
    measure(theirs)
    ours_results, theirs_results = [], []
    for _ in range(runs):
        ours_results.append(measure(ours))
        theirs_results.append(measure(theirs))
    paired = statistics.median(o[0] / t[0] for o, t in zip(ours_results, theirs_results, strict=True))
    return summary(ours_results), summary(theirs_results), paired


def summary(results: list[tuple[float, int]]) -> tuple[float, float]:
    """Median seconds and the highest peak RSS (MB) of measure() results."""
    return statistics.median(t for t, _ in results), max(rss for _, rss in results) / 1024


@contextlib.contextmanager
def installed_tool(command: str | None, extras: str = "") -> Iterator[list[str]]:
    """The command to benchmark: ``command`` if given, else the project installed the way the
    README installs it (``pip install .``, or ``'.[extras]'``, into a fresh venv), so that the figures
    include what a user's run costs (byte-compiled module, no editable-install hooks) and nothing more."""
    if command:
        yield shlex.split(command)
        return
    with tempfile.TemporaryDirectory(prefix="a2ag-bench-venv-") as venv:
        print("installing the tool into a scratch venv (pip install .)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        pip = subprocess.run(
            [f"{venv}/bin/pip", "install", "--quiet", "--disable-pip-version-check", f"{ROOT}[{extras}]" if extras else str(ROOT)],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            raise SystemExit(f"pip install {ROOT} failed:\n{pip.stderr}")
        yield [f"{venv}/bin/alerts2afterglow"]
