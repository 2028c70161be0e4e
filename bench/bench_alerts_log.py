#!/usr/bin/env python3
"""Benchmark: parsing alerts.log, beside `grep -c '^\\*\\* Alert'` on the same file.

Writes a 20 MB and a 200 MB alerts.log (the example day repeated, each copy a
day later) to a temporary directory, then times the default grouped export,
--show-duplicate and a one-day window, and prints a Markdown table of medians
with MB/s, alerts/s and peak RSS of the tool as a user installs it (pip install .
into a scratch venv). Target: >= 60 MB/s; peak RSS at 200 MB within
20% of that at 20 MB.

    python bench/bench_alerts_log.py [--sizes 20,200] [--runs 3] [--tool CMD]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import make_examples  # noqa: E402
from measure import installed_tool, median_run  # noqa: E402

DAY = 86400


def write_log(path: Path, megabytes: int) -> int:
    """The example day repeated, one day per copy and ending on the example day, until the file
    reaches the size; returns the alert count."""
    day = make_examples.build_day()
    one_day = len("".join(map(make_examples.log_entry, day)))
    copies = -(-megabytes * 1_000_000 // one_day)
    with path.open("w") as out:
        for back in range(copies - 1, -1, -1):
            shifted = [make_examples.Example(**{**a.__dict__, "epoch": a.epoch - back * DAY}) for a in day]
            out.write("".join(map(make_examples.log_entry, shifted)))
    return copies * len(day)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,200", help="file sizes in MB (default: %(default)s)")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per figure; the median is shown (default: %(default)s)"
    )
    parser.add_argument(
        "--tool",
        help="command to benchmark, e.g. 'python alerts2afterglow.py' (default: pip install . into a scratch venv)",
    )
    args = parser.parse_args()
    rows = []
    rss_by_size = {}
    with tempfile.TemporaryDirectory() as tmp, installed_tool(args.tool) as tool:
        for size in map(int, args.sizes.split(",")):
            path = Path(tmp) / f"alerts-{size}mb.log"
            alerts = write_log(path, size)
            mb = path.stat().st_size / 1e6
            first_day = make_examples.DAY
            cases = {
                "grep -c '^\\*\\* Alert'": ["grep", "-c", r"^\*\* Alert", str(path)],
                "default (grouped), --all": [*tool, f"--alerts-log={path}", "--all"],
                "--count --all": [*tool, f"--alerts-log={path}", "--all", "--count"],
                "--show-duplicate --all": [*tool, f"--alerts-log={path}", "--all", "--show-duplicate"],
                "one-day window": [
                    *tool,
                    f"--alerts-log={path}",
                    f"--start-time={first_day - 3 * DAY}",
                    f"--end-time={first_day - 2 * DAY}",
                ],
            }
            for name, argv in cases.items():
                seconds, rss = median_run(argv, args.runs)
                rows.append((f"{mb:.0f} MB", name, seconds, mb / seconds, alerts / seconds, rss))
                if name.startswith("default"):
                    rss_by_size[size] = rss
    print(f"alerts.log parsing, median of {args.runs} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print("| file | command | seconds | MB/s | alerts/s | peak RSS (MB) |")
    print("|---|---|---:|---:|---:|---:|")
    for size, name, seconds, mbps, aps, rss in rows:
        print(f"| {size} | {name} | {seconds:.2f} | {mbps:.0f} | {aps:,.0f} | {rss:.1f} |")
    if len(rss_by_size) >= 2:
        small, large = min(rss_by_size), max(rss_by_size)
        growth = rss_by_size[large] / rss_by_size[small] - 1
        print(f"\npeak RSS of the default export at {large} MB vs {small} MB: {growth:+.0%}")


if __name__ == "__main__":
    main()
