#!/usr/bin/env python3
"""Benchmark: what saying why a run wrote nothing costs, and only when it does.

A run that writes nothing says why when stderr is a terminal or with --debug
(docs/diagnostics.md); a cron job's run is not slowed at all. This prints, for
quiet windows, the run as cron makes it beside the same run with --debug (which
learns why, as a terminal's run does):

* the database: an OSSEC database of a million alerts in each layout (built as
  bench/bench_database.py builds them), the default 30-minute window, which
  holds none of them; and the one query the hint adds, timed alone;
* alert files: a 200 MB alerts.log and a 100 MB alerts.json (the example day
  repeated, as bench/bench_alerts_log.py writes them) and a year of daily .gz
  archives, with a quiet hour; beside `zcat` of the archives, the least any
  exact count of their alerts costs.

Takes some 2 minutes; needs MariaDB on 127.0.0.1:3306 (root, no password) and GNU time. The
databases and files are removed afterwards.

    python bench/bench_empty_output.py [--runs 5] [--alerts 1000000] [--tool CMD]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT / "examples")]

import make_examples  # noqa: E402
import ossecdb  # noqa: E402
from bench_alerts_log import write_days, write_year  # noqa: E402
from bench_database import build  # noqa: E402
from measure import installed_tool, median_run  # noqa: E402

QUIET = (make_examples.DAY + 17 * 3600 + 1200, make_examples.DAY + 17 * 3600 + 3200)  # no alert on the example day


def pair(tool: list[str], argv: list[str], runs: int) -> tuple[float, float]:
    """Median seconds of the run as cron makes it, and of the same run with --debug (the hint learnt)."""
    median_run([*tool, *argv], 1)  # warm-up: the server's and the OS's caches
    quiet, _ = median_run([*tool, *argv], runs)
    explained, _ = median_run([*tool, *argv, "--debug"], runs)
    return quiet, explained


def hint_query_ms(name: str, runs: int) -> float:
    """The hint's query for the default window (as the tool sends it), alone: median milliseconds."""
    now = int(time.time())
    sql = (
        "SELECT (SELECT COUNT(*) FROM alert), (SELECT MIN(timestamp) FROM alert), (SELECT MAX(timestamp) FROM alert),"
        " (SELECT COUNT(*) FROM alert a WHERE a.timestamp >= %s AND a.timestamp < %s)"
    )
    conn = ossecdb.root_connection(name)
    times = []
    with conn.cursor() as cur:
        for _ in range(runs + 1):
            started = time.perf_counter()
            cur.execute(sql, (now - 1800, now + 1))
            cur.fetchall()
            times.append(time.perf_counter() - started)
    conn.close()
    return 1000 * statistics.median(times[1:])


def database_rows(tool: list[str], alerts: int, runs: int, rules_dir: str) -> tuple[list[tuple[str, str, float, float]], list[str]]:
    """The database's rows, and what the hint's query takes alone in each layout."""
    rows, notes = [], []
    for layout in ("2.8", "2.9"):
        with ossecdb.scratch_database("a2ag_bench") as name:
            build(name, layout, alerts)
            args = ["--dbhost=127.0.0.1", "--dbuser=root", "--dbpass=", f"--dbname={name}", f"--rules-dir={rules_dir}"]
            quiet, explained = pair(tool, args, runs)
            rows.append((f"database, {alerts:,} alerts, {layout} layout", "the last 30 minutes (default)", quiet, explained))
            notes.append(f"the hint's query alone, {layout} layout: {hint_query_ms(name, runs):.0f} ms")
    return rows, notes


def file_rows(tool: list[str], runs: int, tmp: Path) -> tuple[list[tuple[str, str, float, float]], float]:
    """The files' rows, and how long zcat takes over the archives."""
    log, js = tmp / "alerts.log", tmp / "alerts.json"
    write_days(log, 200, make_examples.log_entry)
    write_days(js, 100, make_examples.json_entry)
    window = [f"--start-time={QUIET[0]}", f"--end-time={QUIET[1]}"]
    rows = [
        ("alerts.log, 200 MB", "a quiet half hour", *pair(tool, [f"--alerts-log={log}", *window], runs)),
        ("alerts.json, 100 MB", "a quiet half hour", *pair(tool, [f"--alerts-json={js}", *window], runs)),
    ]
    log.unlink()
    js.unlink()
    paths, _ = write_year(tmp / "year", 365, copies=57)
    middle = make_examples.DAY - 182 * 86400
    quiet_hour = [f"--start-time={middle + 5 * 3600}", f"--end-time={middle + 6 * 3600}"]
    rows.append(("365 daily .gz archives", "a quiet hour", *pair(tool, [*(f"--alerts-log={p}" for p in paths), *quiet_hour], runs)))
    zcat, _ = median_run(["sh", "-c", 'zcat "$@" | wc -c', "zcat", *map(str, paths)], runs)
    return rows, zcat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; medians shown (default: %(default)s)")
    parser.add_argument("--alerts", type=int, default=1_000_000, help="alerts in each database (default: %(default)s)")
    parser.add_argument("--tool", help="command to benchmark (default: pip install '.[fast]' into a scratch venv)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, installed_tool(args.tool, "fast") as tool:
        rows, notes = database_rows(tool, args.alerts, args.runs, tmp)
        files, zcat = file_rows(tool, args.runs, Path(tmp))
    notes.append(f"`zcat` of the 365 archives alone: {zcat:.2f} s (an exact count of their alerts reads them all)")
    print(f"\nA run that writes nothing: wall seconds, median of {args.runs} runs\n")
    print("| source | window | as cron runs it | with the hint (--debug) | the hint's cost |")
    print("|---|---|---:|---:|---:|")
    for source, window, quiet, explained in rows + files:
        print(f"| {source} | {window} | {quiet:.2f} | {explained:.2f} | {explained - quiet:+.2f} |")
    print("", *(f"* {note}" for note in notes), sep="\n")


if __name__ == "__main__":
    main()
