#!/usr/bin/env python3
"""Benchmark: --do-reverse for 1,000 distinct IPs against a loopback resolver that answers after 50 ms.

Runs the CLI on an alerts.log holding those addresses, with and without
--do-reverse, and reads the time of the reverse-DNS step from its --debug
line; the responder runs in this process, the CLI in its own. Every PTR
name resolves back to its address (A record, answered after the same delay),
so each address costs two lookups in turn: the PTR, then the forward
confirmation. One-at-a-time resolution (--dns-workers=1) is measured on a
sample and scaled up for the speed-up. Target: the step under 3 s.

With --workers, the step is timed for each of those --dns-workers values too,
the figure behind MAX_DNS_WORKERS (more lookups in flight stop paying off).

    python bench/bench_dns.py [--addresses 1000] [--delay 0.05] [--workers 16,32,64,128,256]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from dnsresponder import DnsResponder  # noqa: E402

import alerts2afterglow  # noqa: E402

T0 = 1764237600


def addresses(count: int) -> list[str]:
    return [f"198.51.{100 + i // 250}.{1 + i % 250}" for i in range(count)]


def cli_run(argv: list[str]) -> tuple[float, float | None]:
    """Wall seconds of a CLI run, and the seconds its --debug line gives for reverse DNS."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "alerts2afterglow.py"), *argv, "--debug"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    match = re.search(r"reverse DNS: (\d+) lookups, (\d+) answered.*, ([\d.]+) s$", proc.stderr, re.MULTILINE)
    return wall, float(match.group(3)) if match else None


def write_log(path: Path, ips: list[str]) -> None:
    path.write_text(
        "".join(
            f"** Alert {T0 + i}.{i}: - sshd,\n2025 Nov 27 10:00:00 (web1) 10.0.0.2->/var/log/auth.log\n"
            f"Rule: 5716 (level 5) -> 'SSHD authentication failed.'\nSrc IP: {ip}\nsshd: x\n\n"
            for i, ip in enumerate(ips)
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addresses", type=int, default=1000, help="distinct IPs (default: %(default)s)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer (default: %(default)s)")
    parser.add_argument("--sample", type=int, default=40, help="IPs resolved one at a time (default: %(default)s)")
    parser.add_argument("--workers", default="", help="also time these --dns-workers values, e.g. 64,128,256")
    args = parser.parse_args()
    sweep_workers = [int(n) for n in filter(None, args.workers.split(","))]
    if not all(0 < n <= alerts2afterglow.MAX_DNS_WORKERS for n in sweep_workers):
        parser.error(f"--workers: each from 1 to {alerts2afterglow.MAX_DNS_WORKERS} (the tool's cap)")
    ips = addresses(args.addresses)
    workers = alerts2afterglow.DEFAULT_DNS_WORKERS
    with DnsResponder() as responder, tempfile.TemporaryDirectory() as tmp:
        responder.forward_delay = args.delay
        for ip in ips:
            responder.ptr(ip, f"host-{ip.replace('.', '-')}.example.net.", delay=args.delay)
        everything, sample = Path(tmp) / "all.log", Path(tmp) / "sample.log"
        write_log(everything, ips)
        write_log(sample, ips[: args.sample])
        reverse = ["--all", "--do-reverse", f"--nameserver={responder.address}"]
        plain, _ = cli_run([f"--alerts-log={everything}", "--all"])
        wall, step = cli_run([f"--alerts-log={everything}", *reverse])
        _, one_step = cli_run([f"--alerts-log={sample}", *reverse, "--dns-workers=1"])
        asked = sum(responder.queries.values())
        confirmations = sum(responder.forward_queries.values())
        sweep = [
            (n, cli_run([f"--alerts-log={everything}", *reverse, f"--dns-workers={n}"])[1]) for n in sweep_workers
        ]
    assert step is not None and one_step is not None
    sequential = one_step * args.addresses / args.sample
    print(f"reverse DNS, {args.addresses} distinct IPs, each answer after {args.delay * 1000:.0f} ms, loopback UDP\n")
    print("| what | seconds |")
    print("|---|---:|")
    print(f"| --do-reverse step, {workers} in flight (default) | {step:.2f} |")
    print(
        f"| --do-reverse step, one at a time ({args.sample} measured, scaled to {args.addresses}) | {sequential:.1f} |"
    )
    print(f"| whole CLI run without --do-reverse | {plain:.2f} |")
    print(f"| whole CLI run with --do-reverse | {wall:.2f} |")
    for count, seconds in sweep:
        print(f"| --do-reverse step, --dns-workers={count} | {seconds:.2f} |")
    print(
        f"\nqueries the responder saw: {asked} PTR and {confirmations} A (forward confirmation) for "
        f"{args.addresses + args.sample} addresses looked up; speed-up over one at a time: {sequential / step:.0f}x"
    )


if __name__ == "__main__":
    main()
