#!/usr/bin/env python3
"""Benchmark: loading a rule set the size of OSSEC's stock one (about 90 files, 2,500 rules), and
reading hostile rules files, whose time must grow with their size and nothing else.

The files are generated in the shape of OSSEC's rules (variables, several
groups, comments, regexes with entities, several descriptions); the stock
files themselves are not shipped here. Target: well under a second.

The hostile files repeat what made a reader built on regular expressions
backtrack (a DOCTYPE of 40 ``[]`` pairs in 91 bytes never ended; ``<?``,
``<rule>`` or ``<description>`` repeated over 200 KB took 20 to 120 s): each
is read at two sizes, and a linear reader takes about four times as long at
four times the size. The largest shown is the most a rules file may hold
(16 MiB, RULES_FILE_MAX_BYTES).

    python bench/bench_rules.py [--files 90] [--rules 30] [--runs 5] [--hostile-mb 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts2afterglow  # noqa: E402

RULE = """  <rule id="{rule_id}" level="{level}">
    <if_sid>{parent}</if_sid>
    <match>^Failed password|^error: PAM: Authentication failure</match>
    <regex>for \\S+ from (\\S+) port \\d+ &lt;ssh2&gt;</regex>
    <description>Generated rule {rule_id}: authentication &amp; access </description>
    <description>(part two).</description>
    <group>authentication_failed,pci_dss_10.2.4,</group>
  </rule>

"""

# Each makes a hostile rules file of about ``size`` characters.
HOSTILE: dict[str, Callable[[int], str]] = {
    "DOCTYPE of [] pairs, never closed": lambda size: "<!DOCTYPE " + "[]" * (size // 2),
    "'<?' repeated": lambda size: "<?" * (size // 2),
    "'<rule>' repeated, never closed": lambda size: "<rule>" * (size // 6),
    "one rule of unclosed <description>s": lambda size: "<rule id='1'>" + "<description>" * (size // 13),
    "'<rule \"' repeated (quotes in a tag)": lambda size: '<rule "' * (size // 7),
    "a tag of one long attribute name": lambda size: "<rule " + "a" * size + "></rule>",
    "unclosed DOCTYPE subsets with '!>'": lambda size: "<!DOCTYPE [!>]" * (size // 14),
    "many small rules (valid)": lambda size: "<rule id='1'><description>d</description></rule>" * (size // 49),
}


def write_rules(directory: Path, files: int, rules: int) -> None:
    for number in range(files):
        first = 10000 + number * 100
        body = "".join(RULE.format(rule_id=first + i, level=i % 16, parent=first) for i in range(rules))
        (directory / f"{number:04d}-generated_rules.xml").write_text(
            f'<?xml version="1.0"?>\n<!-- file {number} -->\n<var name="BAD_WORDS">error|failure</var>\n'
            f'<group name="syslog,generated,">\n{body}</group>\n<group name="more,">\n</group>\n'
        )


def stock_sized(files: int, rules: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_rules(Path(tmp), files, rules)
        size = sum(path.stat().st_size for path in Path(tmp).iterdir()) / 1e6
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            descriptions = alerts2afterglow.load_rule_descriptions([tmp], explicit=True)
            times.append(time.perf_counter() - start)
    assert len(descriptions) == files * rules
    print(
        f"loaded {len(descriptions)} rule descriptions from {files} files ({size:.1f} MB) "
        f"in {statistics.median(times) * 1000:.0f} ms (median of {runs})"
    )


def read_seconds(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _rule in alerts2afterglow.parse_rules_file(text):
            pass
        times.append(time.perf_counter() - start)
    return min(times)


def hostile(megabytes: float, runs: int) -> None:
    sizes = [int(megabytes * 1e6 / 4), int(megabytes * 1e6), alerts2afterglow.RULES_FILE_MAX_BYTES]
    print(f"hostile rules files, seconds to read (best of {runs}) at {', '.join(f'{s / 1e6:.1f}' for s in sizes)} MB:")
    for name, make in HOSTILE.items():
        seconds = [read_seconds(make(size), runs) for size in sizes]
        print(f"  {name:40} {'  '.join(f'{s:7.3f}' for s in seconds)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=90, help="rules files (default: %(default)s)")
    parser.add_argument("--rules", type=int, default=30, help="rules per file (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is shown (default: %(default)s)")
    parser.add_argument(
        "--hostile-mb", type=float, default=4, help="size of the larger hostile files (default: %(default)s)"
    )
    args = parser.parse_args()
    stock_sized(args.files, args.rules, args.runs)
    hostile(args.hostile_mb, max(1, args.runs // 2))


if __name__ == "__main__":
    main()
