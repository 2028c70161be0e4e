#!/usr/bin/env python3
"""Benchmark: the database export beside the raw MySQL client, 10k to 1M alerts, both layouts.

Builds OSSEC databases in MariaDB (127.0.0.1:3306, root, no password) with
set-based inserts from MariaDB's sequence engine: a few thousand source IPs
with a heavy tail, some hundreds of rules, a few dozen locations on two
managers, timestamps over one day. Then, per size and layout, it times (median
of --runs, the tool's runs taking turns with the raw client's) and measures peak
RSS of the tool as a user installs it (pip install . into a scratch venv):

* the default grouped export vs `mariadb --batch --quick -e` running the very
  statements the tool sends, as it logs them under --debug: the schema look-up,
  the location and signature tables, its session settings and the grouping
  query (which packs each group's count, first and last alert time);
* --show-duplicate vs `mariadb --batch --quick` dumping the same rows: each
  alert's source address, description and location in time order, with the
  joins a DBA would write (the tool's own per-second query is timed too);
* --count;

and prints the EXPLAIN of a one-hour window. The Markdown report goes to
stdout and bench/RESULTS.md; the databases are dropped afterwards.

    python bench/bench_database.py [--sizes 10000,100000,1000000] [--runs 9] [--layouts 2.8,2.9] [--tool CMD]

Needs GNU time (Debian: apt-get install time) for the peak-RSS figures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import ossecdb  # noqa: E402
from measure import installed_tool, paired_runs  # noqa: E402

T0 = 1764201600  # 2025-11-27 00:00:00 UTC
SOURCES = 3000  # distinct source addresses; a few are very busy
RULES = 300
LOCATIONS = 40
# A pseudo-random fraction in [0, 1) from the row number and a salt, the same on every run.
UNIFORM = "((({seq} * {salt}) % 1000003) / 1000003)"


def uniform(salt: int) -> str:
    return UNIFORM.format(seq="s.seq", salt=salt)


def build(name: str, layout: str, alerts: int) -> None:
    """An OSSEC database of ``alerts`` alerts, filled with a handful of set-based statements."""
    conn = ossecdb.root_connection(name)
    ossecdb.create_schema(conn, layout)
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO signature (rule_id, level, description) SELECT 1000 + seq, seq % 16,"
            f" CONCAT('Generated rule ', 1000 + seq, ': ', ELT(1 + seq % 4, 'authentication failed',"
            f" 'web attack', 'integrity checksum changed', 'multiple failures, same source'))"
            f" FROM seq_0_to_{RULES - 1}"
        )
        cur.execute(
            f"INSERT INTO location (id, server_id, name) SELECT 1 + seq DIV 2, 1 + seq % 2,"
            f" IF(seq % 3 = 0, CONCAT('manager', seq % 2, '->/var/log/secure'),"
            f" CONCAT('(agent', seq, ') 10.0.', seq DIV 250, '.', seq % 250, '->/var/log/auth.log'))"
            f" FROM seq_0_to_{LOCATIONS - 1}"
        )
        # Heavy tails: POW(u, 3) crowds the picks on the first addresses. Each source keeps mostly
        # to one location and one or two rules of its own, as a brute force or a scan does, with
        # a tail of others (up to 3 rules on 2 locations).
        source = f"FLOOR({SOURCES} * POW({uniform(7919)}, 3))"
        picks = (
            "SELECT p.*, 1000 + (p.source * 13 + FLOOR(3 * POW(p.u1, 4))) % "
            f"{RULES} AS rule_id, (p.source * 7 + FLOOR(2 * POW(p.u2, 6))) % {LOCATIONS} AS location FROM ("
            f"SELECT s.seq, {source} AS source, {uniform(104729)} AS u1, {uniform(1299709)} AS u2,"
            f" {T0} + FLOOR(86400 * (s.seq - 1) / {alerts}) AS timestamp,"
            f" {uniform(15485863)} < 0.1 AS no_source"  # a tenth of the alerts carry no address
            f" FROM seq_1_to_{alerts} s) p"
        )
        if layout == "2.9":
            ip = "IF(r.no_source, NULL, CONCAT('203.', r.source DIV 65536, '.', r.source DIV 256 % 256, '.', r.source % 256))"
            cur.execute(
                "INSERT INTO alert (id, server_id, rule_id, level, timestamp, location_id, src_ip, user, full_log)"
                f" SELECT r.seq, 1 + r.location % 2, r.rule_id, r.rule_id % 16, r.timestamp, 1 + r.location DIV 2,"
                f" {ip}, IF(r.no_source, 'root', ''), 'log line' FROM ({picks}) r"
            )
        else:
            cur.execute(
                "INSERT INTO alert (id, server_id, rule_id, timestamp, location_id, src_ip)"
                f" SELECT r.seq, 1 + r.location % 2, r.rule_id, r.timestamp, 1 + r.location DIV 2,"
                f" IF(r.no_source, 0, 3405803776 + r.source) FROM ({picks}) r"  # 203.0.0.0 + n
            )
        cur.execute("ANALYZE TABLE alert, location, signature")
        cur.fetchall()
    conn.close()


def tool_command(tool: list[str], name: str, rules_dir: str, *flags: str) -> list[str]:
    return [
        *tool,
        "--dbuser=root",
        "--dbpass=",
        f"--dbname={name}",
        f"--rules-dir={rules_dir}",
        *flags,
    ]


def logged_query(tool: list[str], name: str, rules_dir: str, *flags: str) -> str:
    """Every statement the tool sends for these flags, parameters filled in, as --debug shows them."""
    proc = subprocess.run(
        tool_command(tool, name, rules_dir, "--debug", *flags), capture_output=True, text=True, check=True
    )
    statements = re.findall(r"debug: SQL: (.*)", proc.stderr)
    params = eval(re.search(r"debug: SQL parameters: (.*)", proc.stderr).group(1))  # a list of ints, from our own log
    conn = ossecdb.root_connection(name)
    with conn.cursor() as cur:
        statements[-1] = cur.mogrify(statements[-1], params)
    conn.close()
    return "; ".join(statements)


def same_rows_query(layout: str) -> str:
    """What --show-duplicate prints, as a DBA would ask for it: address, description, location per alert."""
    address = "INET_NTOA(a.src_ip)" if layout == "2.8" else "a.src_ip"
    return (
        f"SELECT {address}, s.description, l.name FROM alert a"
        " LEFT JOIN location l ON l.id = a.location_id AND l.server_id = a.server_id"
        " LEFT JOIN signature s ON s.rule_id = a.rule_id ORDER BY a.timestamp, a.server_id, a.id"
    )


def raw_client(name: str, query: str) -> list[str]:
    """The mysql client over TCP, with the tool's connection character set (utf8mb4)."""
    return [
        "mariadb",
        "--default-character-set=utf8mb4",
        "--batch",
        "--quick",
        "--protocol=tcp",
        "-h127.0.0.1",
        "-uroot",
        name,
        "-e",
        query,
    ]


def explain(tool: list[str], name: str, rules_dir: str) -> str:
    """EXPLAIN of the grouped query for a one-hour window, as a Markdown table."""
    query = logged_query(tool, name, rules_dir, f"--start-time={T0 + 3600 * 9}", f"--end-time={T0 + 3600 * 10}")
    conn = ossecdb.root_connection(name)
    with conn.cursor() as cur:
        cur.execute(f"EXPLAIN {query.split('; ')[-1]}")
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    conn.close()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="alert counts (default: %(default)s)")
    parser.add_argument("--layouts", default="2.8,2.9", help="schema layouts (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=9, help="runs per figure; medians shown (default: %(default)s)")
    parser.add_argument(
        "--tool",
        help="command to benchmark, e.g. 'python alerts2afterglow.py' (default: pip install . into a scratch venv)",
    )
    args = parser.parse_args()
    rows: list[tuple] = []
    explains: dict[str, str] = {}
    rss: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as rules_dir, installed_tool(args.tool) as tool:
        for layout in args.layouts.split(","):
            for size in map(int, args.sizes.split(",")):
                with ossecdb.scratch_database("a2ag_bench") as name:
                    started = time.perf_counter()
                    build(name, layout, size)
                    print(
                        f"built {size:,} alerts ({layout} layout) in {time.perf_counter() - started:.1f} s",
                        file=sys.stderr,
                    )
                    grouped_sql = logged_query(tool, name, rules_dir, "--all")
                    own_dump_sql = logged_query(tool, name, rules_dir, "--all", "--show-duplicate")
                    dump = tool_command(tool, name, rules_dir, "--all", "--show-duplicate")
                    cases = [
                        (
                            "default (grouped)",
                            tool_command(tool, name, rules_dir, "--all"),
                            raw_client(name, grouped_sql),
                        ),
                        ("--show-duplicate", dump, raw_client(name, same_rows_query(layout))),
                        ("--show-duplicate (vs its own query)", dump, raw_client(name, own_dump_sql)),
                        (
                            "--count",
                            tool_command(tool, name, rules_dir, "--all", "--count"),
                            raw_client(name, grouped_sql),
                        ),
                    ]
                    for label, ours, theirs in cases:
                        (ours_s, ours_mb), (raw_s, raw_mb), paired = paired_runs(ours, theirs, args.runs)
                        rows.append((size, layout, label, ours_s, raw_s, ours_s / raw_s, paired, ours_mb, raw_mb))
                        if label == "--show-duplicate":
                            rss[layout, size] = ours_mb
                    if size == max(map(int, args.sizes.split(","))):
                        explains[layout] = explain(tool, name, rules_dir)
    tool_text = args.tool or "`pip install .` into a scratch venv"
    report = [
        f"# Database benchmark\n\nMariaDB on 127.0.0.1, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"the tool as installed by {tool_text}, median of {args.runs} runs taken in turn with the raw client's. Raw client: `mariadb --default-character-set=utf8mb4 --batch --quick -e`, running the tool's own statements "
        "(grouped, --count, and the last --show-duplicate row), or dumping the same rows with joins "
        "(--show-duplicate). Ratio: of the two medians. Paired ratio: the median of the ratios of each "
        "pair of runs (the tool's, then the raw client's, seconds apart), which the machine's drift touches least.\n",
        "| alerts | layout | command | seconds | raw client seconds | ratio | paired ratio | peak RSS (MB) "
        "| raw client RSS (MB) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    report += [
        f"| {size:,} | {layout} | {label} | {ours:.2f} | {raw:.2f} | {ratio:.2f}x | {paired:.2f}x | {mb:.1f} "
        f"| {raw_mb:.1f} |"
        for size, layout, label, ours, raw, ratio, paired, mb, raw_mb in rows
    ]
    sizes = sorted({size for _, size in rss})
    if len(sizes) >= 2:
        report.append("")
        for layout in args.layouts.split(","):
            small, large = rss[layout, sizes[-2]], rss[layout, sizes[-1]]
            report.append(
                f"--show-duplicate peak RSS, {layout} layout: {large:.1f} MB at {sizes[-1]:,} alerts vs "
                f"{small:.1f} MB at {sizes[-2]:,} ({large / small - 1:+.0%})"
            )
    for layout, table in explains.items():
        report.append(f"\nEXPLAIN of the grouped query for a one-hour window, {layout} layout:\n\n{table}")
    text = "\n".join(report) + "\n"
    print(text)
    (ROOT / "bench" / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
