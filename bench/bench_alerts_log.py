#!/usr/bin/env python3
"""Benchmark: reading alerts.log and alerts.json, plain and .gz, with and without the [fast] extra,
from files and from a pipe, in two shapes of data; files of millions of short lines; and a
one-hour lookup in a year of daily archives against reading them all.

Writes alerts.log and alerts.json files of the given sizes and their .gz, in two shapes:
"example", the example day repeated (each copy a day later: 75 alerts, so that a piece of a
file holds the same few alerts again and again), and "varied", a made-up day of 40,000 alerts
drawn from 100,000 source addresses (some IPv6, some none), 2,000 rules, 500 agents with ten
logs each, 5,000 users, log lines of 60 bytes to 8 KB, OSSEC and Wazuh alerts mixed (most alerts
are distinct: the readers' caches are filled and emptied). Then it times the tool as a user
installs it (pip install '.[fast]' into a scratch venv; "without orjson" runs the same install
with orjson made unimportable) beside grep and zcat, and prints a Markdown table of medians with
MB/s, alerts/s and peak RSS. The short lines: 10,000,000 one-byte lines, of junk and empty.

Then it writes 365 daily archives as OSSEC keeps them (YYYY/Mon/ossec-alerts-DD.log.gz,
each last written just after its day, ~4,300 alerts a day) and compares a one-hour
window on one day with a full read (--all): seconds (median) and the bytes the run
read (/proc/self/io rchar around main(), after the modules the run imports are loaded).
Targets: alerts.json >= 100 MB/s with orjson, no slower than before without it;
alerts.log >= 150 MB/s; from a pipe as from a file.

    python bench/bench_alerts_log.py [--sizes 20,200] [--shapes example,varied] [--runs 3] [--tool CMD] [--days 365]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shlex
import string
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
sys.path.remove("")  # python -c puts the working directory first: the tool under test is the installed one
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


def varied_day(alerts: int = 40_000, seed: int = 20261127) -> list[make_examples.Example]:
    """A day of alerts that seldom repeat (the module's docstring says how they are drawn), in time order."""
    rng = random.Random(seed)
    words = ["failed", "login", "attempt", "web", "attack", "user", "denied", "integrity", "checksum", "changed",
             "scan", "port", "sql", "injection", "brute", "force", "root", "sudo", "session", "opened", "error"]  # fmt: skip
    rules = [
        (rng.randint(1000, 999_999), rng.randint(0, 15), " ".join(rng.choices(words, k=rng.randint(2, 9))).capitalize() + ".",
         ",".join(rng.choices(["syslog", "sshd", "web", "attack", "ossec", "pam", "sudo"], k=rng.randint(1, 3))) + ",")
        for _ in range(2_000)
    ]  # fmt: skip
    agents = [make_examples.Agent(f"agent-{i:03d}", f"10.{i // 250}.{i % 250}.{rng.randint(1, 254)}", f"{i + 1:03d}") for i in range(500)]
    logs = ["/var/log/auth.log", "/var/log/secure", "/var/log/apache2/access.log", "/var/log/nginx/error.log", "/var/log/syslog",
            "/var/log/messages", "/var/log/mail.log", "/var/log/audit/audit.log", "syscheck", "rootcheck"]  # fmt: skip
    sources = [f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(95_000)]
    sources += [f"2001:db8:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}" for _ in range(5_000)]
    users = [f"user{i}" for i in range(5_000)]
    day = []
    for i in range(alerts):
        rule_id, level, description, groups = rng.choice(rules)
        agent = rng.choice(agents) if rng.random() < 0.9 else None
        length = rng.randint(2_000, 8_000) if rng.random() < 0.02 else int(rng.lognormvariate(5.3, 0.6))
        wazuh = rng.random() < 0.5
        day.append(make_examples.Example(
            epoch=make_examples.DAY + i * DAY // alerts, offset=i * 700, rule_id=rule_id, level=level, description=description,
            groups=groups, log=rng.choice(logs), agent=agent, full_log="".join(rng.choices(string.ascii_letters + " ./:=[]", k=max(length, 60))),
            src_ip=rng.choice(sources) if rng.random() < 0.85 else None, src_port=rng.randint(1024, 65535) if rng.random() < 0.5 else None,
            user=rng.choice(users) if rng.random() < 0.3 else None, wazuh=wazuh and agent is not None,
            labels=(("aws.region", rng.choice(["eu-west-1", "us-east-1"])),) if wazuh and rng.random() < 0.3 else (),
        ))  # fmt: skip
    return day


SHAPES = {"example": make_examples.build_day, "varied": varied_day}


def write_days(path: Path, megabytes: int, entry, shape: str = "example") -> int:
    """A day of the shape repeated, one day per copy and ending on the example day, until the file
    reaches the size; returns the alert count."""
    day = SHAPES[shape]()
    one_day = "".join(map(entry, day)).encode()
    copies = -(-megabytes * 1_000_000 // len(one_day))
    with path.open("wb") as out:
        for back in range(copies - 1, -1, -1):
            out.write(one_day if back == 0 else "".join(map(entry, shifted(day, -back * DAY))).encode())
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


def piped(path: Path, argv: list[str]) -> list[str]:
    """``argv`` reading ``path`` from a pipe, as `cat FILE | alerts2afterglow --alerts-json=-` does."""
    return ["sh", "-c", 'cat "$0" | "$@"', str(path), *argv]


def file_rows(tool: list[str], sizes: list[int], shapes: list[str], runs: int, tmp: Path) -> list[tuple]:
    rows = []
    plain_tool = without_orjson(tool)
    for shape in shapes:
        for size in sizes:
            log = tmp / f"alerts-{size}mb.log"
            log_alerts = write_days(log, size, make_examples.log_entry, shape)
            js = tmp / f"alerts-{size}mb.json"
            json_alerts = write_days(js, size, make_examples.json_entry, shape)
            log_gz, js_gz = gzipped(log), gzipped(js)
            first_day = make_examples.DAY
            cases = [
                ("alerts.log", log, log_alerts, "grep -c '^\\*\\* Alert'", ["grep", "-c", r"^\*\* Alert", str(log)]),
                ("alerts.log", log, log_alerts, "default (grouped), --all", [*tool, f"--alerts-log={log}", "--all"]),
                ("alerts.log", log, log_alerts, "the same from a pipe", piped(log, [*tool, "--alerts-log=-", "--all"])),
                ("alerts.log", log, log_alerts, "--show-duplicate --all", [*tool, f"--alerts-log={log}", "--all", "--show-duplicate"]),
                ("alerts.log", log, log_alerts, "one-day window", [*tool, f"--alerts-log={log}", f"--start-time={first_day - 3 * DAY}", f"--end-time={first_day - 2 * DAY}"]),
                ("alerts.log.gz", log, log_alerts, "zcat", ["zcat", str(log_gz)]),
                ("alerts.log.gz", log, log_alerts, "default (grouped), --all", [*tool, f"--alerts-log={log_gz}", "--all"]),
                ("alerts.json", js, json_alerts, "default (grouped), --all", [*tool, f"--alerts-json={js}", "--all"]),
                ("alerts.json", js, json_alerts, "the same from a pipe", piped(js, [*tool, "--alerts-json=-", "--all"])),
                ("alerts.json", js, json_alerts, "the same without orjson", [*plain_tool, f"--alerts-json={js}", "--all"]),
                ("alerts.json", js, json_alerts, "--show-duplicate --all", [*tool, f"--alerts-json={js}", "--all", "--show-duplicate"]),
                ("alerts.json.gz", js, json_alerts, "default (grouped), --all", [*tool, f"--alerts-json={js_gz}", "--all"]),
                ("alerts.json.gz", js, json_alerts, "the same without orjson", [*plain_tool, f"--alerts-json={js_gz}", "--all"]),
            ]
            for name, data, alerts, command, argv in cases:
                seconds, rss = median_run(argv, runs)
                mb = data.stat().st_size / 1e6  # the uncompressed size, for plain and .gz alike
                rows.append((shape, f"{mb:.0f} MB", name, command, seconds, mb / seconds, alerts / seconds, rss))
            for path in (log, js, log_gz, js_gz):
                path.unlink()
    return rows


def short_line_rows(tool: list[str], runs: int, tmp: Path) -> list[tuple]:
    """Files of 10,000,000 one-byte lines: junk (x, {, 1) and empty, read as alerts.log and alerts.json."""
    rows = []
    plain_tool = without_orjson(tool)
    for name, line in (("one-byte junk lines", b"x\n{\n1\n"), ("empty lines", b"\n")):
        path = tmp / "short.txt"
        path.write_bytes(line * (10_000_000 // line.count(b"\n")))
        for flag, who, argv in (("--alerts-log", "", tool), ("--alerts-json", "", tool), ("--alerts-json", ", without orjson", plain_tool)):
            seconds, rss = median_run([*argv, f"{flag}={path}", "--all"], runs)
            rows.append((f"{name}, {flag}{who}", seconds, path.stat().st_size / 1e6 / seconds, rss))
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
    parser.add_argument("--sizes", default="20,200", help="file sizes in MB, at least a day of the shape (default: %(default)s)")
    parser.add_argument("--shapes", default="example,varied", help="shapes of data: example, varied (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is shown (default: %(default)s)")
    parser.add_argument("--days", type=int, default=365, help="daily archives for the lookup (default: %(default)s)")
    parser.add_argument(
        "--tool",
        help="command to benchmark, e.g. 'python alerts2afterglow.py' (default: pip install '.[fast]' into a scratch venv)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, installed_tool(args.tool, extras="fast") as tool:
        rows = file_rows(tool, [int(size) for size in args.sizes.split(",")], args.shapes.split(","), args.runs, Path(tmp))
        print(f"alert files, median of {args.runs} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
        print("| shape | size | file | command | seconds | MB/s | alerts/s | peak RSS (MB) |")
        print("|---|---|---|---|---:|---:|---:|---:|")
        for shape, size, name, command, seconds, mbps, aps, rss in rows:
            print(f"| {shape} | {size} | {name} | {command} | {seconds:.2f} | {mbps:.0f} | {aps:,.0f} | {rss:.1f} |")
        print("\n| 10,000,000 short lines | seconds | MB/s | peak RSS (MB) |")
        print("|---|---:|---:|---:|")
        for name, seconds, mbps, rss in short_line_rows(tool, args.runs, Path(tmp)):
            print(f"| {name} | {seconds:.2f} | {mbps:.1f} | {rss:.1f} |")
        lookup = lookup_rows(tool, args.days, args.runs, Path(tmp))
        print("| run | seconds | bytes read | share of the archives | peak RSS (MB) |")
        print("|---|---:|---:|---:|---:|")
        for name, seconds, read, share, rss in lookup:
            print(f"| {name} | {seconds:.2f} | {read:,} | {share:.1%} | {rss:.1f} |")
        print(f"\none-hour window: {lookup[0][1] / lookup[1][1]:.0f}x faster than the full read")


if __name__ == "__main__":
    main()
