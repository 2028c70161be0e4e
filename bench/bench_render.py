#!/usr/bin/env python3
"""Benchmark: drawing alert graphs of about 50, 200, 1,000 and 5,000 nodes with each Graphviz engine,
and with the tool's defaults (--layout=auto, --max-nodes).

The graphs are shaped like real alert graphs: a few locations (one of them the
manager's), dozens of rule descriptions, each seen on one to a few locations,
and many sources whose alert counts follow a power law (most sources try one or
two rules a few times, a few scan dozens of rules thousands of times). Each
engine draws the whole graph as `--format=dot` writes it (Graphviz alone: its
seconds, CPU seconds and peak RSS, from GNU time); "defaults" runs the tool
itself, `--alerts-json=FILE --all --render=FILE.png`, end to end (reading the
alerts, the cut to --max-nodes, the engine auto chooses, drawing), its CPU time
that of the tool and Graphviz together, its peak RSS that of the larger. Every
figure is the best of --runs runs: on a shared machine, noise only ever adds
time, and the CPU seconds (user + system) show what a run costs whatever else
the machine does, which a single-threaded Graphviz then takes in wall time on
an idle one. A run past --timeout CPU seconds is stopped and shown as such, and that
engine is not tried on larger graphs. Target: with the defaults, every size in
under 10 s and under 1 GB.

    python bench/bench_render.py [--sizes 50,200,1000,5000] [--runs 3] [--timeout 60] [--format png]
    python bench/bench_render.py --circo-scan   # what --layout=auto's limits for circo rest on
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts2afterglow as tool  # noqa: E402

ENGINES = ("circo", "dot", "neato", "fdp", "sfdp", "twopi")
MEMORY_CAP = 8 << 30  # bytes of address space for each run: a runaway engine fails instead of swapping
WALL_PER_CPU_SECOND = 20  # a run is also stopped after this many times --timeout in wall time
SEED = 2026
DESCRIPTIONS = (
    "SSHD authentication failed.",
    "Attempt to login using a non-existent user",
    "Web server 400 error code.",
    "SQL injection attempt.",
    "Common web attack.",
    "Multiple authentication failures.",
    "Integrity checksum changed.",
    "Possible port scan.",
)
LOGS = ("/var/log/auth.log", "/var/log/secure", "/var/log/apache2/access.log", "/var/log/nginx/access.log")


def shape(nodes: int) -> tuple[int, int, int]:
    """(locations, descriptions, sources) adding up to ``nodes``: few locations, dozens of descriptions."""
    locations = max(3, round(nodes**0.5 / 3))
    descriptions = min(120, max(8, round(4 * nodes**0.4)))
    return locations, descriptions, nodes - locations - descriptions


def alert_graph(nodes: int, seed: int = SEED) -> list[tool.Row]:
    """The rows of a graph of about ``nodes`` nodes shaped like a busy manager's (see the module docstring)."""
    rng = random.Random(seed)
    n_locations, n_descriptions, n_sources = shape(nodes)
    locations = ["ossec-server->/var/log/secure"] + [
        f"(agent{i}) 10.0.{i // 250}.{i % 250 + 1}->{rng.choice(LOGS)}" for i in range(1, n_locations)
    ]
    descriptions = [f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]} (rule {5700 + i})" for i in range(n_descriptions)]
    levels = [rng.choice((3, 5, 5, 6, 8, 10, 12)) for _ in descriptions]
    seen_on = [rng.sample(range(n_locations), min(n_locations, int(rng.paretovariate(2.0)))) for _ in descriptions]
    popularity = [1 / (rank + 1) for rank in range(n_descriptions)]  # a few rules fire most
    totals: dict[tool.Triple, tool.Tally] = {}
    for index in range(n_sources):
        source = f"203.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}" if index % 10 else f"2001:db8::{index:x}"
        alerts = min(20_000, int(rng.paretovariate(1.1)))  # a power law: most sources a few alerts, some thousands
        tried = min(n_descriptions, int(rng.paretovariate(1.3)))
        chosen: set[int] = set()
        while len(chosen) < tried:
            chosen.add(rng.choices(range(n_descriptions), popularity)[0])
        for rule in chosen:
            triple = (source, descriptions[rule], locations[rng.choice(seen_on[rule])])
            totals[triple] = tool.Tally(max(1, alerts // tried), levels[rule])
    return sorted(totals.items())


def dot_text(rows: list[tool.Row]) -> str:
    out = io.StringIO()
    tool.write_dot(rows, out, tool.Settings(window=tool.Window(None, None), alerts_jsons=("bench",)))
    return out.getvalue()


def write_alerts_json(rows: list[tool.Row], path: Path) -> int:
    """One alerts.json line per alert, so that the tool reads back the same graph; returns the alert count."""
    rule_ids = {description: 100000 + i for i, description in enumerate(sorted({t[1] for t, _ in rows}))}
    written = 0
    with path.open("w") as out:
        for (source, description, location), tally in rows:
            rule = {"sidid": rule_ids[description], "level": tally.level, "comment": description}
            line = json.dumps({"rule": rule, "id": "1795745421.0", "srcip": source, "location": location})
            out.write((line + "\n") * tally.alerts)
            written += tally.alerts
    return written


def limits(cpu_seconds: float) -> Callable[[], None]:
    """What each run may use: its CPU seconds (the machine's load does not count against it) and its memory."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(cpu_seconds), math.ceil(cpu_seconds) + 1))
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    return apply


Figures = tuple[float, float, float]  # wall seconds, CPU seconds, peak RSS in MB


def timed(argv: list[str], stdin: bytes | None, timeout: float) -> Figures | str:
    """The figures of one run, or why it has none ("timeout", "failed: ...")."""
    with tempfile.NamedTemporaryFile("r") as figures:
        start = time.perf_counter()
        # A session of its own: past the wall limit, GNU time and the engine under it go together.
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", figures.name, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=limits(timeout),
            start_new_session=True,
        )
        try:
            _, stderr = proc.communicate(stdin, timeout=WALL_PER_CPU_SECOND * timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return "timeout"
        elapsed = time.perf_counter() - start
        if "signal 24" in figures.read():  # SIGXCPU: past its CPU seconds
            return "timeout"
        figures.seek(0)
        if proc.returncode != 0:
            message = stderr.decode("utf-8", "replace").strip().splitlines()
            return f"failed: {message[-1] if message else proc.returncode}"
        user, system, rss = figures.read().split()[-3:]
        return elapsed, float(user) + float(system), int(rss) / 1024


def best_of(argv: list[str], stdin: bytes | None, runs: int, timeout: float) -> Figures | str:
    """The least wall and CPU seconds of ``runs`` runs and the highest peak RSS; the first failure ends it."""
    results = []
    for _ in range(runs):
        result = timed(argv, stdin, timeout)
        if isinstance(result, str):
            return result
        results.append(result)
    return min(r[0] for r in results), min(r[1] for r in results), max(r[2] for r in results)


def cell(result: Figures | str | None, timeout: float) -> str:
    if result is None:
        return "not run"
    if result == "timeout":
        return f"> {timeout:g} s CPU"
    if isinstance(result, str):
        return result
    return f"{result[0]:.2f} s (CPU {result[1]:.2f} s), {result[2]:.0f} MB"


def auto_engine(tool_argv: list[str], path: Path, picture: Path) -> tuple[str, str]:
    """The engine --layout=auto picks and the warning of --max-nodes, if any, as --debug reports them."""
    proc = subprocess.run(
        [*tool_argv, f"--alerts-json={path}", "--all", f"--render={picture}", "--debug"],
        capture_output=True,
        text=True,
        check=True,
    )
    engine = next(line.split("layout: ")[1].split()[0] for line in proc.stderr.splitlines() if "layout: " in line)
    cut = next((line.split("warning: ")[1] for line in proc.stderr.splitlines() if "warning: the picture" in line), "")
    return engine, cut


def circo_scan(runs: int, timeout: float) -> None:
    """circo's and sfdp's CPU seconds on graphs of 20 to 120 nodes, three shapes each: what
    --layout=auto's limits for circo (CIRCO_MAX_NODES, CIRCO_MAX_LINKS) rest on."""
    print(
        f"CPU seconds of a PNG, best of {runs} runs; auto picks circo up to "
        f"{tool.CIRCO_MAX_NODES} nodes and {tool.CIRCO_MAX_LINKS} links\n"
    )
    print("| nodes | links | circo | sfdp | auto |")
    print("|---:|---:|---:|---:|---|")
    measured = []
    for size in range(20, 121, 10):
        for seed in (1, 2, 3):
            rows = alert_graph(size, seed)
            graph = tool.graph_of(rows)
            dot = dot_text(rows).encode()
            figures = {e: best_of([e, "-Tpng", "-o/dev/null"], dot, runs, timeout) for e in ("circo", "sfdp")}
            measured.append((len(graph.links), len(graph.nodes), figures, tool.choose_layout("auto", graph)))
    for links, nodes, figures, chosen in sorted(measured, key=lambda m: (m[0], m[1])):
        cpu = {e: f"{r[1]:.2f} s" if not isinstance(r, str) else cell(r, timeout) for e, r in figures.items()}
        print(f"| {nodes} | {links} | {cpu['circo']} | {cpu['sfdp']} | {chosen} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,200,1000,5000", help="graph sizes in nodes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best is shown (default: %(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=60, help="CPU seconds before a run is stopped (default: %(default)s)"
    )
    parser.add_argument("--format", default="png", choices=sorted(set(tool.RENDER_FORMATS.values())))
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines to time (default: %(default)s)")
    parser.add_argument("--circo-scan", action="store_true", help="time circo and sfdp on graphs of 20-120 nodes")
    args = parser.parse_args()
    if args.circo_scan:
        circo_scan(args.runs, args.timeout)
        return
    engines = args.engines.split(",")
    tool_argv = [sys.executable, str(ROOT / "alerts2afterglow.py")]
    load = os.getloadavg()[0]
    timed_out: set[str] = set()
    table = []
    with tempfile.TemporaryDirectory(prefix="a2ag-bench-render-") as tmp:
        for size in map(int, args.sizes.split(",")):
            rows = alert_graph(size)
            graph = tool.graph_of(rows)
            dot = dot_text(rows).encode()
            path = Path(tmp) / f"alerts-{size}.json"
            alerts = write_alerts_json(rows, path)
            picture = Path(tmp) / f"alerts-{size}.{args.format}"
            print(f"{size} nodes: {len(graph.nodes)} nodes, {len(graph.links)} links, {alerts} alerts", file=sys.stderr)
            results: dict[str, Figures | str | None] = {}
            for engine in engines:
                if engine in timed_out:
                    results[engine] = None
                    continue
                results[engine] = best_of([engine, f"-T{args.format}", "-o/dev/null"], dot, args.runs, args.timeout)
                if results[engine] == "timeout":
                    timed_out.add(engine)
                print(f"  {engine}: {cell(results[engine], args.timeout)}", file=sys.stderr)
            chosen, cut = auto_engine(tool_argv, path, picture)
            defaults = best_of(
                [*tool_argv, f"--alerts-json={path}", "--all", f"--render={picture}"], None, args.runs, args.timeout
            )
            print(f"  defaults ({chosen}): {cell(defaults, args.timeout)} {cut}", file=sys.stderr)
            table.append((len(graph.nodes), len(graph.links), alerts, results, chosen, cut, defaults))
    print(
        f"Drawing alert graphs as {args.format.upper()}, best of {args.runs} runs, {os.cpu_count()} CPUs shared "
        f"(load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), "
        f"{subprocess.run(['dot', '-V'], capture_output=True, text=True).stderr.strip()}\n"
    )
    print(f"| nodes | links | alerts | {' | '.join(engines)} | defaults (auto) |")
    print(f"|---:|---:|---:|{'---|' * len(engines)}---|")
    for nodes, links, alerts, results, chosen, cut, defaults in table:
        engines_cells = " | ".join(cell(results[engine], args.timeout) for engine in engines)
        note = f"; {cut.split(':')[0].replace('the picture shows the ', '')}" if cut else ""
        print(
            f"| {nodes:,} | {links:,} | {alerts:,} | {engines_cells} | "
            f"{cell(defaults, args.timeout)} ({chosen}{note}) |"
        )


if __name__ == "__main__":
    main()
