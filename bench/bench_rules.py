#!/usr/bin/env python3
"""Benchmark: loading a rule set the size of OSSEC's stock one (about 90 files, 2,500 rules).

The files are generated in the shape of OSSEC's rules (variables, several
groups, comments, regexes with entities, several descriptions); the stock
files themselves are not shipped here. Target: well under a second.

    python bench/bench_rules.py [--files 90] [--rules 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
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


def write_rules(directory: Path, files: int, rules: int) -> None:
    for number in range(files):
        first = 10000 + number * 100
        body = "".join(RULE.format(rule_id=first + i, level=i % 16, parent=first) for i in range(rules))
        (directory / f"{number:04d}-generated_rules.xml").write_text(
            f'<?xml version="1.0"?>\n<!-- file {number} -->\n<var name="BAD_WORDS">error|failure</var>\n'
            f'<group name="syslog,generated,">\n{body}</group>\n<group name="more,">\n</group>\n'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=90, help="rules files (default: %(default)s)")
    parser.add_argument("--rules", type=int, default=30, help="rules per file (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is shown (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_rules(Path(tmp), args.files, args.rules)
        size = sum(path.stat().st_size for path in Path(tmp).iterdir()) / 1e6
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            descriptions = alerts2afterglow.load_rule_descriptions([tmp], explicit=True)
            times.append(time.perf_counter() - start)
    assert len(descriptions) == args.files * args.rules
    print(
        f"loaded {len(descriptions)} rule descriptions from {args.files} files ({size:.1f} MB) "
        f"in {statistics.median(times) * 1000:.0f} ms (median of {args.runs})"
    )


if __name__ == "__main__":
    main()
