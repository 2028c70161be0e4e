#!/usr/bin/env python3
"""Benchmark: reading alerts.log and alerts.json, plain and .gz, with and without the [fast] extra;
and a one-hour lookup in a year of daily archives against reading them all.

Writes alerts.log and alerts.json files of the given sizes (the example day
repeated, each copy a day later) and their .gz, then times the tool as a user
installs it (pip install '.[fast]' into a scratch venv; "without orjson" runs
the same install with orjson made unimportable) beside grep and zcat, and
prints a Markdown table of medians with MB/s, alerts/s and peak RSS.

Then it writes 365 daily archives as OSSEC keeps them (YYYY/Mon/ossec-alerts-DD.log.gz,
each last written just after its day, ~4,300 alerts a day) and compares a one-hour
window on one day with a full read (--all): seconds (median) and the bytes the run
read (/proc/self/io rchar around main(), after the modules the run imports are loaded).
Targets: alerts.json >= 100 MB/s with orjson, no slower than before without it;
alerts.log >= 150 MB/s; the lookup reads under 5% of the bytes and runs >= 20x faster.

    python bench/bench_alerts_log.py [--sizes 20,200] [--runs 3] [--tool CMD] [--days 365]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import make_examples  # noqa: E402
from measure import installed_tool, median_run  # noqa: E402

DAY = 86400
# Run main() in the tool's own Python and report the bytes it read (rchar) on stderr's last line.
COUNT_READS = """
import sys
def rchar():
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])
if sys.argv[1] == "--without-orjson":
    sys.modules["orjson"] = None
    del sys.argv[1]
import alerts2afterglow
# What the run imports on its way (zlib, json, _strptime...) is read before counting: only the alert files count.
import datetime, json, zlib
datetime.datetime.strptime("2026 Nov 27", "%Y %b %d")
before = rchar()
code = alerts2afterglow.main(sys.argv[1:])
print(rchar() - before, file=sys.stderr)
sys.exit(code)
"""


def shifted(alerts: list[make_examples.Example], seconds: int) -> list[make_examples.Example]:
    return [make_examples.Example(**{**a.__dict__, "epoch": a.epoch + seconds}) for a in alerts]


def write_days(path: Path, megabytes: int, entry) -> int:
    """The example day repeated, one day per copy and ending on the example day, until the file
    reaches the size; returns the alert count."""
    day = make_examples.build_day()
    one_day = len("".join(map(entry, day)))
    copies = -(-megabytes * 1_000_000 // one_day)
    with path.open("w") as out:
        for back in range(copies - 1, -1, -1):
            out.write("".join(map(entry, shifted(day, -back * DAY))))
    return copies * len(day)


def gzipped(path: Path) -> Path:
    packed = path.with_name(path.name + ".gz")
    subprocess.run(["gzip", "-k", "-f", str(path)], check=True)
    return packed


def python_of(tool: list[str]) -> list[str]:
    """The Python that runs the tool: the venv's, beside an installed command, else the command's own."""
    if Path(tool[0]).name == "alerts2afterglow":
        return [str(Path(tool[0]).parent / "python")]
    return [tool[0]]


def without_orjson(tool: list[str]) -> list[str]:
    return [*python_of(tool), "-c", COUNT_READS, "--without-orjson"]


def file_rows(tool: list[str], sizes: list[int], runs: int, tmp: Path) -> list[tuple]:
    rows = []
    plain_tool = without_orjson(tool)
    for size in sizes:
        log = tmp / f"alerts-{size}mb.log"
        log_alerts = write_days(log, size, make_examples.log_entry)
        js = tmp / f"alerts-{size}mb.json"
        json_alerts = write_days(js, size, make_examples.json_entry)
        log_gz, js_gz = gzipped(log), gzipped(js)
        first_day = make_examples.DAY
        cases = [
            ("alerts.log", log, log_alerts, "grep -c '^\\*\\* Alert'", ["grep", "-c", r"^\*\* Alert", str(log)]),
            ("alerts.log", log, log_alerts, "default (grouped), --all", [*tool, f"--alerts-log={log}", "--all"]),
            ("alerts.log", log, log_alerts, "--show-duplicate --all", [*tool, f"--alerts-log={log}", "--all", "--show-duplicate"]),
            ("alerts.log", log, log_alerts, "one-day window", [*tool, f"--alerts-log={log}", f"--start-time={first_day - 3 * DAY}", f"--end-time={first_day - 2 * DAY}"]),
            ("alerts.log.gz", log, log_alerts, "zcat", ["zcat", str(log_gz)]),
            ("alerts.log.gz", log, log_alerts, "default (grouped), --all", [*tool, f"--alerts-log={log_gz}", "--all"]),
            ("alerts.json", js, json_alerts, "default (grouped), --all", [*tool, f"--alerts-json={js}", "--all"]),
            ("alerts.json", js, json_alerts, "the same without orjson", [*plain_tool, f"--alerts-json={js}", "--all"]),
            ("alerts.json", js, json_alerts, "--show-duplicate --all", [*tool, f"--alerts-json={js}", "--all", "--show-duplicate"]),
            ("alerts.json.gz", js, json_alerts, "default (grouped), --all", [*tool, f"--alerts-json={js_gz}", "--all"]),
            ("alerts.json.gz", js, json_alerts, "the same without orjson", [*plain_tool, f"--alerts-json={js_gz}", "--all"]),
        ]
        for name, data, alerts, command, argv in cases:
            seconds, rss = median_run(argv, runs)
            mb = data.stat().st_size / 1e6  # the uncompressed size, for plain and .gz alike
            rows.append((f"{size} MB", name, command, seconds, mb / seconds, alerts / seconds, rss))
        for path in (log, js, log_gz, js_gz):
            path.unlink()
    return rows


def write_year(folder: Path, days: int, copies: int) -> tuple[list[Path], int]:
    """Daily .gz archives as OSSEC keeps them, ending on the example day, each with ``copies`` times
    the example day's alerts (a second apart), last written just after its day."""
    day = make_examples.build_day()
    one_day = [a for copy in range(copies) for a in shifted(day, copy)]
    one_day.sort(key=lambda a: a.epoch)
    paths = []
    for back in range(days - 1, -1, -1):
        alerts = shifted(one_day, -back * DAY)
        when = alerts[0].epoch
        name = make_examples.stamp(when, "%Y/%b/ossec-alerts-%d.log.gz")
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress("".join(map(make_examples.log_entry, alerts)).encode(), compresslevel=6, mtime=0))
        rotated = make_examples.DAY - back * DAY + DAY + 5
        os.utime(path, (rotated, rotated))
        paths.append(path)
    return paths, len(one_day)


def read_count(argv: list[str]) -> int:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {shlex.join(argv)}\n{proc.stderr}")
    return int(proc.stderr.splitlines()[-1])


def lookup_rows(tool: list[str], days: int, runs: int, tmp: Path) -> list[tuple]:
    paths, per_day = write_year(tmp / "alerts", days, copies=57)
    total = sum(path.stat().st_size for path in paths)
    middle = make_examples.DAY - (days // 2) * DAY
    files = [f"--alerts-log={path}" for path in paths]
    counted = [*python_of(tool), "-c", COUNT_READS]
    rows = []
    for name, window in (
        ("full read (--all)", ["--all"]),
        ("one-hour window", [f"--start-time={middle + 2 * 3600}", f"--end-time={middle + 3 * 3600}"]),
    ):
        seconds, rss = median_run([*tool, *files, *window], runs)
        read = read_count([*counted, *files, *window])
        rows.append((name, seconds, read, read / total, rss))
    print(f"\n{days} daily archives, {per_day:,} alerts a day, {total / 1e6:.1f} MB compressed:\n")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,200", help="file sizes in MB (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is shown (default: %(default)s)")
    parser.add_argument("--days", type=int, default=365, help="daily archives for the lookup (default: %(default)s)")
    parser.add_argument(
        "--tool",
        help="command to benchmark, e.g. 'python alerts2afterglow.py' (default: pip install '.[fast]' into a scratch venv)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, installed_tool(args.tool, extras="fast") as tool:
        rows = file_rows(tool, [int(size) for size in args.sizes.split(",")], args.runs, Path(tmp))
        print(f"alert files, median of {args.runs} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
        print("| size | file | command | seconds | MB/s | alerts/s | peak RSS (MB) |")
        print("|---|---|---|---:|---:|---:|---:|")
        for size, name, command, seconds, mbps, aps, rss in rows:
            print(f"| {size} | {name} | {command} | {seconds:.2f} | {mbps:.0f} | {aps:,.0f} | {rss:.1f} |")
        lookup = lookup_rows(tool, args.days, args.runs, Path(tmp))
        print("| run | seconds | bytes read | share of the archives | peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|")
        for name, seconds, read, share, rss in lookup:
            print(f"| {name} | {seconds:.2f} | {read:,} | {share:.1%} | {rss:.1f} |")
        print(f"\none-hour window: {lookup[0][1] / lookup[1][1]:.0f}x faster than the full read")


if __name__ == "__main__":
    main()
