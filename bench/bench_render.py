#!/usr/bin/env python3
"""Benchmark: drawing alert graphs of about 50, 200, 1,000 and 5,000 nodes with each Graphviz engine,
and with the tool's defaults (--layout=auto, --max-nodes); and how legible a picture stays as its
cut grows (--legibility), which the default --max-nodes of a picture rests on.

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

--legibility draws the busiest sources of the 5,000-node graph that fit in N nodes and
R*N links, as the tool draws a picture (--layout=auto), and measures what a reader meets:
the picture's size, the smallest label at 100 % (Graphviz scales a picture down past 50
inches) and seen whole on a 1920 x 1080 screen, and the crossings per link (each link's
spline taken as its control polygon; two links that share a node do not count). The
pictures stay in --keep to be looked at.

    python bench/bench_render.py [--sizes 50,200,1000,5000] [--runs 3] [--timeout 60] [--format png]
    python bench/bench_render.py --auto-scan     # what --layout=auto's limits for dot rest on
    python bench/bench_render.py --legibility [--keep DIR]   # what a picture's default cut rests on
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import random
import re
import resource
import shlex
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
    """The engine --layout=auto picks and the note of --max-nodes, if any, as --debug reports them."""
    proc = subprocess.run(
        [*tool_argv, f"--alerts-json={path}", "--all", f"--render={picture}", "--debug"],
        capture_output=True,
        text=True,
        check=True,
    )
    engine = next(line.split("layout: ")[1].split()[0] for line in proc.stderr.splitlines() if "layout: " in line)
    cut = next((line.split("info: ")[1] for line in proc.stderr.splitlines() if "info: the picture" in line), "")
    return engine, cut


def auto_scan(runs: int, timeout: float) -> None:
    """dot's and sfdp's CPU seconds on graphs of 20 to 400 nodes, three shapes each: what
    --layout=auto's limits for dot (DOT_MAX_NODES, DOT_MAX_LINKS) rest on."""
    print(
        f"CPU seconds of a PNG, best of {runs} runs; auto picks dot up to "
        f"{tool.DOT_MAX_NODES} nodes and {tool.DOT_MAX_LINKS} links\n"
    )
    print("| nodes | links | dot | sfdp | auto |")
    print("|---:|---:|---:|---:|---|")
    measured = []
    for size in (20, 40, 60, 80, 100, 150, 200, 300, 400):
        for seed in (1, 2, 3):
            rows = alert_graph(size, seed)
            graph = tool.graph_of(rows)
            dot = dot_text(rows).encode()
            figures = {e: best_of([e, "-Tpng", "-o/dev/null"], dot, runs, timeout) for e in ("dot", "sfdp")}
            measured.append((len(graph.links), len(graph.nodes), figures, tool.choose_layout("auto", graph)))
    for links, nodes, figures, chosen in sorted(measured, key=lambda m: (m[0], m[1])):
        cpu = {e: f"{r[1]:.2f} s" if not isinstance(r, str) else cell(r, timeout) for e, r in figures.items()}
        print(f"| {nodes} | {links} | {cpu['dot']} | {cpu['sfdp']} | {chosen} |")


Segment = tuple[float, float, float, float]


def crossings(plain: str) -> int:
    """How many times two links cross in Graphviz's -Tplain output: each link's spline as the
    polygon of its control points; links that share a node never count (they meet there)."""
    edges: list[tuple[str, str, list[Segment]]] = []
    for line in plain.splitlines():
        if line.startswith("edge "):
            fields = shlex.split(line)
            count = int(fields[3])
            points = [(float(fields[4 + 2 * i]), float(fields[5 + 2 * i])) for i in range(count)]
            segments = [(*a, *b) for a, b in itertools.pairwise(points)]
            edges.append((fields[1], fields[2], segments))

    def cross(p: Segment, q: Segment) -> bool:
        def side(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
            return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)

        d1, d2 = side(*q, p[0], p[1]), side(*q, p[2], p[3])
        d3, d4 = side(*p, q[0], q[1]), side(*p, q[2], q[3])
        return d1 * d2 < 0 and d3 * d4 < 0

    boxes = [
        (tail, head, [(min(s[0], s[2]), max(s[0], s[2]), min(s[1], s[3]), max(s[1], s[3]), s) for s in segments])
        for tail, head, segments in edges
    ]
    found = 0
    for i, (tail, head, mine) in enumerate(boxes):
        for other_tail, other_head, theirs in boxes[i + 1 :]:
            if {tail, head} & {other_tail, other_head}:
                continue
            if any(
                a[0] <= b[1] and b[0] <= a[1] and a[2] <= b[3] and b[2] <= a[3] and cross(a[4], b[4])
                for a in mine
                for b in theirs
            ):
                found += 1  # a pair of links counts once, however often its splines wind across
    return found


SCREEN = (1920, 1080)  # pixels: a picture seen whole is scaled to fit this


def spread_graph(sources: int) -> list[tool.Row]:
    """A day of many sources that each try a few rules: source i tries i % 7 + 1 of 30 rules on 6
    locations (tests/test_pictures.py's busy day). Its cuts grow a few nodes at a time, where the
    5,000-node graph's jump at the first scanner (dozens of rules at once)."""
    locations = [f"(agent{i}) 10.0.0.{i}->/var/log/auth.log" for i in range(1, 6)] + ["manager->/var/log/secure"]
    rows = {}
    for i in range(sources):
        for k in range(i % 7 + 1):
            rule = (i * 7 + k * 11) % 30
            triple = (f"198.18.{i // 250}.{i % 250 + 1}", f"Rule {rule} fired.", locations[rule % 6])
            rows[triple] = tool.Tally(1 + i % 13, 3 + rule % 12)
    return sorted(rows.items())


def legibility(ratios: list[int], caps: list[int], keep: Path | None) -> None:
    """Cut two graphs as a picture at each cap and links ratio, lay them out as the tool does, and
    measure what a reader meets (the module's docstring)."""
    settings = tool.Settings(window=tool.Window(None, None), alerts_jsons=("bench",))
    print("Pictures of the busiest sources that fit, as --render draws them (--layout=auto)\n")
    print(
        "| graph | --max-nodes | links cap | nodes | links | engine | picture (px) | label at 100 % "
        "| label seen whole | crossings per link |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|---:|---:|")
    for name, rows, ratio, cap in (
        (name, rows, ratio, cap)
        for name, rows in (("5,000 nodes", alert_graph(5000)), ("spread", spread_graph(400)))
        for ratio in ratios
        for cap in caps
    ):
        drawn, _ = tool.fit_picture(rows, cap, ratio * cap, "the picture")
        graph = tool.graph_of(drawn)
        engine = tool.choose_layout("auto", graph)
        out = io.StringIO()
        tool.write_dot(drawn, out, settings, titled=False)
        plain = subprocess.run([engine, "-Tplain"], input=out.getvalue(), capture_output=True, text=True, check=True).stdout
        width, height = (float(v) * 96 for v in plain.splitlines()[0].split()[2:4])  # inches, at 96 dpi
        scale = min(1.0, tool.PICTURE_INCHES * 96 / max(width, height))
        smallest = 10 * 96 / 72 * scale  # a label of a single alert: 10 points
        whole = smallest * min(1.0, SCREEN[0] / (width * scale), SCREEN[1] / (height * scale))
        crossed = crossings(plain)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            tool.render_picture(drawn, str(keep / f"{name.split()[0]}-{cap}-x{ratio}.png"), settings._replace(max_nodes=0))
        print(
            f"| {name} | {cap} | {ratio * cap} | {len(graph.nodes)} | {len(graph.links)} | {engine} | "
            f"{width * scale:,.0f} x {height * scale:,.0f} | {smallest:.1f} px | {whole:.1f} px | "
            f"{crossed / max(len(graph.links), 1):.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,200,1000,5000", help="graph sizes in nodes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best is shown (default: %(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=60, help="CPU seconds before a run is stopped (default: %(default)s)"
    )
    parser.add_argument("--format", default="png", choices=sorted(set(tool.RENDER_FORMATS.values())))
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines to time (default: %(default)s)")
    parser.add_argument("--auto-scan", action="store_true", help="time dot and sfdp on graphs of 20-400 nodes")
    parser.add_argument("--legibility", action="store_true", help="measure pictures of growing cuts")
    parser.add_argument("--caps", default="40,60,80,100,120,160,200,300", help="--legibility: --max-nodes values")
    parser.add_argument("--ratios", default="2,4", help="--legibility: links per node of the cut")
    parser.add_argument("--keep", type=Path, help="--legibility: draw each picture into this directory")
    args = parser.parse_args()
    if args.auto_scan:
        auto_scan(args.runs, args.timeout)
        return
    if args.legibility:
        legibility([int(r) for r in args.ratios.split(",")], [int(c) for c in args.caps.split(",")], args.keep)
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
        busiest = re.search(r"busiest [0-9,]+ of [0-9,]+ sources", cut)
        note = f"; {busiest.group(0)}" if busiest else ""
        print(
            f"| {nodes:,} | {links:,} | {alerts:,} | {engines_cells} | "
            f"{cell(defaults, args.timeout)} ({chosen}{note}) |"
        )


if __name__ == "__main__":
    main()
