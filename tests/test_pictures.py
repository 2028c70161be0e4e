"""Pictures at real volume: the layout auto chooses, the --max-nodes cut, legend and title, one palette
(shared with ossec.properties, evaluated as AfterGlow evaluates it), fonts, per-agent locations."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter
from xml.etree import ElementTree

import pytest
from conftest import ROOT_DIR, SCRIPT

import alerts2afterglow as tool

LOG = str(ROOT_DIR / "examples" / "alerts.log")
PERL = ROOT_DIR / "tests" / "perl"
SVG = "{http://www.w3.org/2000/svg}"
EPOCH = "1795824000"  # SOURCE_DATE_EPOCH: the "made" time in the title, fixed
T0 = 1795745421  # a time on the example day


def run(*argv: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, env=env, timeout=120)


def counted(*argv: str) -> dict[tuple[str, str, str], int]:
    """The tool's own --count CSV as {(source, description, location): alerts}; the example day has no commas in values."""
    result = run(*argv, "--count", "--plain-csv")
    assert result.returncode == 0, result.stderr
    return {tuple(line.rsplit(",", 3)[:3]): int(line.rsplit(",", 1)[1]) for line in result.stdout.splitlines()}


def svg_texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ElementTree.fromstring(svg).iter(f"{SVG}text")]


def svg_fills(svg: str) -> dict[str, str]:
    """{node id: fill} of the drawn nodes."""
    fills = {}
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            shape = next(e for e in group.iter() if e.tag in (f"{SVG}ellipse", f"{SVG}polygon", f"{SVG}path"))
            fills[group.find(f"{SVG}title").text] = shape.get("fill")
    return fills


def write_json(tmp_path, alerts: list[tuple[str, str, int | None, str, int]], name: str = "alerts.json") -> str:
    """alerts.json lines: (source, description, level, location, how many times)."""
    rules = {description: 100 + i for i, description in enumerate(sorted({a[1] for a in alerts}))}
    lines = []
    for source, description, level, location, times in alerts:
        rule = {"sidid": rules[description], "comment": description, **({"level": level} if level is not None else {})}
        user = {"srcip": source} if "." in source or ":" in source else {"dstuser": source}
        lines += [json.dumps({"rule": rule, "id": f"{T0}.0", "location": location, **user})] * times
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def busy_day(sources: int) -> list[tuple[str, str, int | None, str, int]]:
    """A day of many sources: source i tries i % 7 + 1 of 30 rules on 6 locations, 1 + i % 13 times each."""
    locations = [f"(agent{i}) 10.0.0.{i}->/var/log/auth.log" for i in range(1, 6)] + ["manager->/var/log/secure"]
    alerts = []
    for i in range(sources):
        for k in range(i % 7 + 1):
            rule = (i * 7 + k * 11) % 30
            alerts.append(
                (
                    f"198.18.{i // 250}.{i % 250 + 1}",
                    f"Rule {rule} fired.",
                    3 + rule % 12,
                    locations[rule % 6],
                    1 + i % 13,
                )
            )
    return alerts


# --- the title and the legend --------------------------------------------------------------------


def test_svg_picture_carries_title_and_legend(tmp_path):
    picture = tmp_path / "day.svg"
    result = run(f"--alerts-log={LOG}", "--all", f"--render={picture}")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    svg = picture.read_text()
    texts = svg_texts(svg)
    triples = counted(f"--alerts-log={LOG}", "--all")
    sources = {source for source, _, _ in triples}
    links = {(s, d) for s, d, _ in triples} | {(d, loc) for _, d, loc in triples}
    assert f"OSSEC/Wazuh alerts.log {LOG}: all alerts" in texts
    assert f"{sum(triples.values())} alerts from {len(sources)} sources, {len(links)} links" in texts
    assert "made 2026-11-28 00:00 UTC by alerts2afterglow 1.0.0" in texts
    # The legend: each heading, and each meaning right after a square of its colour.
    root = ElementTree.fromstring(svg)
    pieces = [(t.get("fill"), "".join(t.itertext()).strip()) for t in root.iter(f"{SVG}text")]
    for heading, entries in tool.legend():
        assert any(text.startswith(f"{heading}:") for _, text in pieces), heading
        for colour, meaning in entries:
            at = pieces.index((colour, "\u25a0"))
            assert pieces[at + 1][1] == meaning
    assert any("size and line width: the alert count" in text for _, text in pieces)
    headings = ["sources (ellipses)", "alert descriptions (boxes), by highest OSSEC level", "locations (folders)"]
    assert [heading for heading, _ in tool.legend()] == headings


def test_png_picture_and_dot_carry_the_same_label(tmp_path):
    picture, dot = tmp_path / "day.png", tmp_path / "day.dot"
    result = run(f"--alerts-log={LOG}", "--all", f"--render={picture}", f"--output={dot}", "--format=dot")
    assert result.returncode == 0, result.stderr
    width, height = struct.unpack(">II", picture.read_bytes()[16:24])
    assert picture.read_bytes().startswith(b"\x89PNG") and 500 < width < 4800 and 500 < height < 4800
    text = dot.read_text()
    assert "alert descriptions (boxes), by highest OSSEC level:" in text
    assert f"OSSEC/Wazuh alerts.log {LOG}: all alerts" in text
    assert '<FONT COLOR="#fb8072" POINT-SIZE="16">\u25a0</FONT> public IPv4' in text


def test_title_says_every_cut_and_filter(tmp_path):
    picture = tmp_path / "cut.svg"
    everything = counted(f"--alerts-log={LOG}", "--all", "--min-level=5")
    at_least_2 = {t: c for t, c in everything.items() if c >= 2}
    per_source = Counter()
    for (source, _, _), count in at_least_2.items():
        per_source[source] += count
    result = run(
        f"--alerts-log={LOG}",
        "--all",
        "--min-level=5",
        "--min-count=2",
        "--top=2",
        "--location=(web*",
        f"--render={picture}",
    )
    assert result.returncode == 0, result.stderr
    texts = svg_texts(picture.read_text())
    cut = next(text for text in texts if " alerts from " in text)
    kept = [t for t in everything if t[2].startswith("(web")]
    # In the order they applied: the filters as the alerts are read, then --min-count, then --top.
    assert cut.split("; ")[1:] == [
        "minimum level: 5",
        "locations: (web*",
        f"triples of 2+ alerts: {sum(1 for t in at_least_2 if t in kept)} of {len(kept)}",
        f"top 2 of {len({t[0] for t in at_least_2 if t in kept})} sources",
    ]


def test_title_shows_hostile_filter_values_as_text(tmp_path):
    picture = tmp_path / "hostile.svg"
    pattern = '*</TD></TR></TABLE>> & "x" <b>'
    result = run(f"--alerts-log={LOG}", "--all", f"--location={pattern}", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    assert any(text.endswith(f"locations: {pattern}") for text in svg_texts(picture.read_text()))


def node_centres(svg: str) -> dict[str, tuple[float, float]]:
    """{node id: the centre of its shape's bounding box}, in the SVG's own coordinates."""
    centres = {}
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            shape = next(e for e in group.iter() if e.tag in (f"{SVG}ellipse", f"{SVG}polygon"))
            if shape.tag == f"{SVG}ellipse":
                centre = (float(shape.get("cx")), float(shape.get("cy")))
            else:
                points = [tuple(map(float, point.split(","))) for point in shape.get("points").split()]
                xs, ys = [x for x, _ in points], [y for _, y in points]
                centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
            centres[group.find(f"{SVG}title").text] = centre
    return centres


@pytest.mark.parametrize("engine", ["dot", "circo", "sfdp"])
def test_the_title_leaves_the_layout_alone(tmp_path, engine):
    """The picture is the layout of the graph without its title, the title then set above it."""
    picture = tmp_path / "day.svg"
    result = run(f"--alerts-log={LOG}", "--all", f"--layout={engine}", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    dot = run(f"--alerts-log={LOG}", "--all", "--format=dot").stdout
    without = re.sub(r"label=<<.*?</TABLE>>, labelloc=t, ", "", dot, count=1)
    assert without != dot
    alone_svg = subprocess.run([engine, "-Tsvg"], input=without, capture_output=True, text=True).stdout
    alone, drawn = node_centres(alone_svg), node_centres(picture.read_text())
    assert len(drawn) == 17 and drawn.keys() == alone.keys()
    for node, (x, y) in drawn.items():  # where the engine put it without the title (-Tdot writes 2 decimals)
        assert x == pytest.approx(alone[node][0], abs=0.1) and y == pytest.approx(alone[node][1], abs=0.1), node
    heights = [float(ElementTree.fromstring(svg).get("height").removesuffix("pt")) for svg in (alone_svg, picture.read_text())]
    assert heights[1] > heights[0] + 100, "the title above the drawing"


# --- colours, one palette ------------------------------------------------------------------------

KINDS = [
    # (source, description, level, location, times): every kind of source, level band and location
    ("203.0.113.5", "Level 13 alert", 13, "(web1) 10.0.0.2->/var/log/auth.log", 3),
    ("10.1.2.3", "Level 9 alert", 9, "ossec->/var/log/secure", 1),
    ("2001:db8::5", "Level 5 alert", 5, "(web1) 10.0.0.2->/var/log/auth.log", 2),
    ("mail.example.org", "Level 2 alert", 2, "ossec->/var/log/secure", 1),  # a srcip that is no IP address
    ("root", "Alert of no level", None, "(web1) 10.0.0.2->/var/log/auth.log", 1),
]


def test_rendered_picture_has_each_kinds_colour(tmp_path):
    picture = tmp_path / "kinds.svg"
    alerts = write_json(tmp_path, KINDS)
    with open(alerts, "a") as rootcheck:  # an alert without a source, drawn from its host (--use-host)
        rootcheck.write(json.dumps({"rule": {"sidid": 510, "level": 7}, "id": f"{T0}.1", "location": "ossec->rootcheck"}) + "\n")
    result = run(f"--alerts-json={alerts}", "--all", "--use-user", "--use-host", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    fills = svg_fills(picture.read_text())
    sources = [f"source:{tool.address_source(s) if '.' in s or ':' in s else s}" for s, *_ in KINDS] + ["source:(ossec)"]
    kinds = ("public IPv4", "private", "IPv6", "other address", "user", "agent or manager")
    assert [fills[source] for source in sources] == [tool.SOURCE_COLOURS[kind] for kind in kinds]
    # host name: an address --do-reverse named (tests/test_provenance.py)
    assert set(tool.SOURCE_COLOURS) == {*kinds, "host name"}
    assert [fills[f"event:{d}"] for _, d, *_ in KINDS] == [c for _, c in tool.LEVEL_COLOURS] + [
        tool.UNKNOWN_LEVEL_COLOUR
    ]
    assert fills["target:(web1) 10.0.0.2->/var/log/auth.log"] == tool.LOCATION_COLOURS["agent"]
    assert fills["target:ossec->/var/log/secure"] == tool.LOCATION_COLOURS["manager"]


def afterglow(lines: list[str]) -> dict:
    """ossec.properties evaluated for CSV lines as afterglow.pl evaluates it (tests/perl)."""
    proc = subprocess.run(
        ["perl", str(PERL / "afterglow_properties.pl"), str(ROOT_DIR / "ossec.properties")],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stderr == ""
    return json.loads(proc.stdout)


def test_ossec_properties_has_the_pictures_palette():
    sources = [
        "10.1.2.3", "172.20.0.1", "192.168.1.9", "127.0.0.1", "169.254.3.4", "100.64.0.1", "100.127.255.254",
        "203.0.113.5", "172.32.0.1", "100.128.0.1", "8.8.8.8", "::ffff:10.0.0.1", "::ffff:203.0.113.5",
        "2001:db8::5", "fd00::1", "fe80::1", "::1", "fc::1", "mail.example.org", "999.1.1.1", "1.2.3",
        "alice", "dead:beef",
    ]  # fmt: skip
    locations = ["(web1) 10.0.0.2->/var/log/auth.log", "ossec-server->syscheck", "(web1) 10.0.0.2", "ossec-server"]
    lines = [f"{s},SSHD authentication failed.,{locations[i % 4]},3" for i, s in enumerate(sources)]
    result = afterglow(lines)
    assert result["errors"] == []
    assert result["shapes"] == {"event": "box"}
    quoted = [colors["source"].strip('"') for colors in result["colors"]]
    assert quoted == [tool.SOURCE_COLOURS[tool.source_kind(source)] for source in sources]
    assert [colors["target"] for colors in result["colors"]] == [
        f'"{tool.LOCATION_COLOURS[tool.location_kind(locations[i % 4])]}"' for i in range(len(sources))
    ]
    assert {colors["event"] for colors in result["colors"]} == {f'"{tool.UNKNOWN_LEVEL_COLOUR}"'}
    assert {colors["edge"] for colors in result["colors"]} == {'"#4d4d4d80"'}  # the edge colour write_dot uses
    assert 'edge [color="#4d4d4d80"' in run(f"--alerts-log={LOG}", "--all", "--format=dot").stdout


def test_ossec_properties_sizes_nodes_by_the_count():
    with_count = run(f"--alerts-log={LOG}", "--all", "--count").stdout.splitlines()
    without = run(f"--alerts-log={LOG}", "--all").stdout.splitlines()
    alerts, lines = Counter(), Counter()
    for line in with_count:
        source, *_, count = line.split(",")
        alerts[source] += int(count)
        lines[source] += 1

    def widths(per_source: Counter) -> dict[str, str]:  # as afterglow.pl writes them: maxnodesize=1
        return {s: f"{max(n / max(per_source.values()), 0.1):.2f}" for s, n in per_source.items()}

    sized = afterglow(with_count)
    assert sized["errors"] == []
    assert sized["sizes"]["source"] == widths(alerts)
    plain = afterglow(without)
    assert plain["errors"] == []
    assert plain["sizes"]["source"] == widths(lines)
    assert sized["sizes"]["source"] != plain["sizes"]["source"]
    busiest = max(alerts, key=alerts.get)
    assert sized["sizes"]["source"][busiest] == "1.00"
    assert len(set(sized["sizes"]["event"].values())) > 3, "descriptions too grow with their alerts"


# --- the layout auto chooses, and the cut ---------------------------------------------------------


def engine_spies(tmp_path) -> str:
    """A PATH whose Graphviz commands note their name in engines.log, then run the real one."""
    spies = tmp_path / "bin"
    spies.mkdir()
    for engine in ("circo", "dot", "sfdp", "neato"):
        real = shutil.which(engine)
        (spies / engine).write_text(f'#!/bin/sh\necho {engine} >> "{tmp_path}/engines.log"\nexec {real} "$@"\n')
        (spies / engine).chmod(0o755)
    return f"{spies}{os.pathsep}{os.environ['PATH']}"


def test_auto_draws_a_small_graph_with_dot_and_a_large_one_with_sfdp(tmp_path):
    path = engine_spies(tmp_path)
    small = run(f"--alerts-log={LOG}", "--all", f"--render={tmp_path / 'small.png'}", "--debug", path=path)
    assert small.returncode == 0, small.stderr
    assert "debug: layout: dot (--layout=auto: 17 nodes, 33 links; dot up to 100 nodes and 200 links)" in small.stderr
    large_json = write_json(tmp_path, busy_day(90))
    large = run(
        f"--alerts-json={large_json}", "--all", "--max-nodes=0", f"--render={tmp_path / 'large.svg'}", "--debug", path=path
    )
    assert large.returncode == 0, large.stderr
    graph = tool.graph_of(
        ((s, d, loc), tool.Tally(n, None)) for (s, d, loc), n in counted(f"--alerts-json={large_json}", "--all").items()
    )
    assert len(graph.links) > tool.DOT_MAX_LINKS
    assert f"debug: layout: sfdp (--layout=auto: {len(graph.nodes)} nodes, {len(graph.links)} links;" in large.stderr
    # Each picture: the engine lays it out, neato -n2 draws it with its title (render_picture).
    assert (tmp_path / "engines.log").read_text() == "dot\nneato\nsfdp\nneato\n", "the engines Graphviz really ran"
    assert len(svg_fills((tmp_path / "large.svg").read_text())) == len(graph.nodes)


def test_an_explicit_layout_wins(tmp_path):
    path = engine_spies(tmp_path)
    result = run(
        f"--alerts-log={LOG}", "--all", f"--render={tmp_path / 'a.png'}", "--layout=sfdp", "--debug", path=path
    )
    assert result.returncode == 0 and "layout: " not in result.stderr
    assert (tmp_path / "engines.log").read_text() == "sfdp\nneato\n"


def test_max_nodes_draws_the_busiest_sources_that_fit_and_says_so(tmp_path):
    alerts_json = write_json(tmp_path, busy_day(120))
    triples = counted(f"--alerts-json={alerts_json}", "--all")
    per_source = Counter()
    for (source, _, _), count in triples.items():
        per_source[source] += count
    ranked = sorted(per_source, key=lambda s: (-per_source[s], s))
    picture, log_file = tmp_path / "cut.svg", tmp_path / "run.log"
    result = run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=50", f"--render={picture}", f"--logfile={log_file}")
    assert (result.returncode, result.stderr) == (0, ""), "from cron: the title says the cut, stderr nothing"
    fills = svg_fills(picture.read_text())
    drawn = [node.split(":", 1)[1] for node in fills if node.startswith("source:")]
    kept = len(drawn)
    assert sorted(drawn) == sorted(ranked[:kept]), "the busiest sources, in --top's order"
    assert len(fills) <= 50
    # The next busiest source would not have fitted: a picture holds twice as many links as nodes.
    graph = tool.graph_of(((t, tool.Tally(n, None)) for t, n in triples.items() if t[0] in ranked[: kept + 1]))
    assert len(graph.nodes) > 50 or len(graph.links) > 100
    said = (
        f"the picture draws the busiest {kept} of 120 sources, as many as fit in 50 nodes and 100 links "
        "(--max-nodes=50; 0 draws everything)"
    )
    assert f" INFO: {said}\n" in log_file.read_text()
    debug = run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=50", f"--render={picture}", "--debug")
    assert f"alerts2afterglow: info: {said}\n" in debug.stderr
    assert any(f"busiest {kept} of 120 sources (--max-nodes=50)" in text for text in svg_texts(picture.read_text()))
    everything = run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=0", f"--render={tmp_path / 'all.svg'}")
    assert (everything.returncode, everything.stderr) == (0, "")
    assert len(svg_fills((tmp_path / "all.svg").read_text())) == len(
        tool.graph_of(((t, tool.Tally(n, None)) for t, n in triples.items())).nodes
    )
    # The DOT is the picture's: the same cut, and --max-nodes=0 writes the whole graph.
    dot = run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=50", "--format=dot")
    assert (dot.returncode, dot.stderr) == (0, "")
    assert dot.stdout.count("shape=ellipse") == kept
    assert f"busiest {kept} of 120 sources (--max-nodes=50)" in dot.stdout
    whole = run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=0", "--format=dot")
    assert whole.stdout.count("shape=ellipse") == 120


def test_a_large_picture_is_scaled_down_to_fit(tmp_path):
    # circo draws a graph of many one-rule sources as wide circles of mostly empty space.
    sparse = [
        (f"198.18.0.{i}", f"Rule {i % 15}", 5, f"(web{i % 15 % 4}) 10.0.0.2->/var/log/auth.log", 1) for i in range(30)
    ]
    sparse = write_json(tmp_path, sparse)
    picture = tmp_path / "large.svg"
    result = run(f"--alerts-json={sparse}", "--all", "--layout=circo", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    unscaled = run(f"--alerts-json={sparse}", "--all", "--format=dot").stdout.replace(
        f'size="{tool.PICTURE_INCHES},{tool.PICTURE_INCHES}"', ""
    )
    natural = ElementTree.fromstring(
        subprocess.run(["circo", "-Tsvg"], input=unscaled, capture_output=True, text=True).stdout
    )
    drawn = ElementTree.parse(picture).getroot()
    points = [float(svg.get(side).removesuffix("pt")) for svg in (natural, drawn) for side in ("width", "height")]
    assert max(points[:2]) > tool.PICTURE_INCHES * 72, "larger than the limit, as Graphviz would draw it"
    assert max(points[2:]) == pytest.approx(tool.PICTURE_INCHES * 72, abs=1), "scaled down to the limit"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-nodes=-1"], "argument --max-nodes: invalid value '-1': expected a whole number (0: no limit)"),
        (["--location-detail=log"], "argument --location-detail: invalid choice: 'log'"),
        (["--layout=circus"], "argument --layout: invalid choice: 'circus'"),
    ],
)
def test_picture_usage_errors(cli, argv, message):
    assert message in cli(f"--alerts-log={LOG}", "--all", *argv).usage_error()


# --- tooltips: first and last seen ----------------------------------------------------------------


def dot_of(rows: list[tool.Row]) -> str:
    out = io.StringIO()
    tool.write_dot(rows, out, tool.Settings(window=tool.Window(None, None), alerts_logs=("x",)))
    return out.getvalue()


def tooltips(dot: str) -> dict[str, str]:
    """{node id or 'tail -> head': tooltip}, from write_dot's own lines."""
    found = {}
    for line in dot.splitlines():
        match = re.match(r'\s*("[^"]*"(?: -> "[^"]*")?) \[.*tooltip="((?:[^"\\]|\\.)*)"\];$', line)
        if match:
            found[match.group(1).replace('"', "")] = match.group(2)
    return found


def test_tooltips_say_first_and_last_seen_where_known():
    rows = [
        (
            ("203.0.113.5", "SSHD authentication failed.", "(web1) 10.0.0.2->/var/log/auth.log"),
            tool.Tally(3, 5, T0, T0 + 3600),
        ),
        (
            ("203.0.113.5", "SSHD authentication failed.", "(web2) 10.0.0.3->/var/log/auth.log"),
            tool.Tally(2, 5, T0 - 60, T0 + 60),
        ),
        (
            ("198.51.100.7", "SQL injection attempt.", "(web2) 10.0.0.3->/var/log/auth.log"),
            tool.Tally(1, 7, T0 + 10, T0 + 10),
        ),
        (("198.51.100.8", "SQL injection attempt.", "(web2) 10.0.0.3->/var/log/auth.log"), tool.Tally(1, 7)),
    ]
    tips = tooltips(dot_of(rows))
    first, last = "2026-11-27 02:09:21 UTC", "2026-11-27 03:10:21 UTC"
    assert tips["source:203.0.113.5"] == (
        f"203.0.113.5 (public IPv4): 5 alerts, highest level 5, first seen {first}, last seen {last}"
    )
    assert tips["event:SSHD authentication failed."].endswith(
        f"(level 5): 5 alerts, first seen {first}, last seen {last}"
    )
    assert (
        tips["source:203.0.113.5 -> event:SSHD authentication failed."]
        == tips["event:SSHD authentication failed."].split(": ", 1)[1]
    )
    assert (
        tips["source:198.51.100.7"]
        == "198.51.100.7 (public IPv4): 1 alert, highest level 7, seen 2026-11-27 02:10:31 UTC"
    )
    # Unknown times (a source that does not say when) leave them out; merged with known ones, the known stay.
    assert tips["source:198.51.100.8"] == "198.51.100.8 (public IPv4): 1 alert, highest level 7"
    assert (
        tips["event:SQL injection attempt. -> target:(web2) 10.0.0.3->/var/log/auth.log"]
        == "2 alerts, seen 2026-11-27 02:10:31 UTC"
    )
    assert "seen" not in dot_of([(t, tool.Tally(n.alerts, n.level)) for t, n in rows])


def test_tooltips_of_the_example_day_say_when():
    for source in (f"--alerts-log={LOG}", f"--alerts-json={ROOT_DIR / 'examples' / 'alerts.json'}"):
        tips = tooltips(run(source, "--all", "--format=dot").stdout)
        assert tips["source:203.0.113.45"] == (
            "203.0.113.45 (public IPv4): 24 alerts, highest level 10, "
            "first seen 2026-11-27 02:10:21 UTC, last seen 2026-11-27 18:01:08 UTC"
        )
        assert len(tips) == 17 + 33 and all("seen 2026-11-27 " in tip for tip in tips.values())


# --- fonts ---------------------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of an 8-bit RGB or RGBA PNG as cairo writes it (no interlacing)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    at, chunks, header = 8, b"", b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6) and header[12] == 0
    step = 3 if colour == 2 else 4
    raw, rows, previous = zlib.decompress(chunks), [], bytearray(width * step)
    stride = width * step
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up, corner = previous[x], previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
                line[x] = (line[x] + nearest) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(row[i] for i in range(0, stride, step)) for row in rows]  # the red channel


def ink_box(text: str) -> tuple[int, int]:
    """Width and height of what Graphviz draws (in the tool's font, as PNG through cairo) for ``text``."""
    dot = f'digraph g {{ node [fontname="{tool.FONT}", fontsize=60, shape=plaintext, margin=0]; n [label="{text}"]; }}'
    png = subprocess.run(["dot", "-Tpng"], input=dot.encode(), capture_output=True, check=True).stdout
    _, _, rows = png_pixels(png)
    dark = [(x, y) for y, row in enumerate(rows) for x, value in enumerate(row) if value < 128]
    xs, ys = [x for x, _ in dark], [y for _, y in dark]
    return max(xs) - min(xs) + 1, max(ys) - min(ys) + 1


def test_cjk_labels_are_drawn_not_boxes():
    covering = subprocess.run(["fc-list", ":charset=4e00"], capture_output=True, text=True).stdout
    assert covering.strip(), "no font with CJK glyphs: apt-get install fonts-noto-cjk (as .ci/run does)"
    # U+4E00 is one horizontal stroke: drawn, it is much wider than tall; a missing glyph is a tall box.
    width, height = ink_box("\u4e00")
    assert width > 4 * height
    missing_width, missing_height = ink_box("\U0010fffd")  # a code point no font has
    assert missing_height > missing_width / 2, "the check can tell a box from a glyph"


def test_labels_ask_for_a_font_with_wide_coverage(tmp_path):
    picture = tmp_path / "cjk.svg"
    alerts = [("203.0.113.5", "認証失敗 – Ошибка входа", 5, "(web1) 10.0.0.2->/var/log/auth.log", 1)]
    result = run(f"--alerts-json={write_json(tmp_path, alerts)}", "--all", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    root = ElementTree.fromstring(picture.read_text())
    label = next(t for t in root.iter(f"{SVG}text") if "認証失敗" in "".join(t.itertext()))
    assert label.get("font-family") == tool.FONT == "DejaVu Sans,sans-serif"


# --- locations per agent --------------------------------------------------------------------------


def test_per_agent_locations_merge_counts_on_the_example_day(tmp_path):
    per_file = counted(f"--alerts-log={LOG}", "--all")
    expected: Counter[tuple[str, str, str]] = Counter()
    for (source, description, location), count in per_file.items():
        expected[source, description, location.split("->")[0]] += count
    per_agent = counted(f"--alerts-log={LOG}", "--all", "--location-detail=agent")
    assert per_agent == dict(expected)
    assert sum(per_agent.values()) == sum(per_file.values())
    assert {loc for _, _, loc in per_agent} == {"(web1) 10.0.0.2", "(web2) 10.0.0.3", "(wazuh-agent1) 10.0.0.5"}
    # Merging is what makes --min-count see the agent's total.
    merged = run(f"--alerts-log={LOG}", "--all", "--location-detail=agent", "--count", "--min-count=2").stdout
    assert merged.splitlines() == [f"{','.join(t)},{c}" for t, c in sorted(expected.items()) if c >= 2]
    # One line per alert: the same locations, nothing merged.
    lines = run(f"--alerts-log={LOG}", "--all", "--location-detail=agent", "--show-duplicate").stdout.splitlines()
    assert Counter(tuple(line.split(",")) for line in lines) == expected


def test_per_agent_locations_in_the_picture(tmp_path):
    picture = tmp_path / "agents.svg"
    result = run(f"--alerts-log={LOG}", "--all", "--location-detail=agent", f"--render={picture}")
    assert result.returncode == 0, result.stderr
    svg = picture.read_text()
    fills = svg_fills(svg)
    targets = {node: fill for node, fill in fills.items() if node.startswith("target:")}
    assert targets == {
        f"target:{agent}": tool.LOCATION_COLOURS["agent"]
        for agent in ("(web1) 10.0.0.2", "(web2) 10.0.0.3", "(wazuh-agent1) 10.0.0.5")
    }
    assert any(text.endswith("; one location per agent") for text in svg_texts(svg))
    dot = run(f"--alerts-json={write_json(tmp_path, KINDS)}", "--all", "--location-detail=agent", "--format=dot").stdout
    assert '"target:ossec" [label="ossec", shape=folder, fillcolor="#bebada"' in dot


# --- how much a picture and the page draw by default --------------------------------------------


def edges_of(svg: str) -> int:
    return sum(1 for group in ElementTree.fromstring(svg).iter(f"{SVG}g") if group.get("class") == "edge")


def test_a_picture_and_the_page_each_cut_at_their_own_default_and_max_nodes_wins_for_both(tmp_path):
    from test_html import page_json

    alerts_json = write_json(tmp_path, busy_day(300))
    sources = len({source for source, *_ in busy_day(300)})
    picture, page = tmp_path / "day.svg", tmp_path / "day.html"
    for argv, nodes in (([], tool.PICTURE_MAX_NODES), (["--max-nodes=40"], 40)):
        result = run(f"--alerts-json={alerts_json}", "--all", *argv, f"--render={picture}")
        assert (result.returncode, result.stderr) == (0, "")
        svg = picture.read_text()
        drawn, links = len(svg_fills(svg)), edges_of(svg)
        assert drawn <= nodes and links <= 2 * nodes, (drawn, links)
        assert drawn > 0.6 * nodes or links > 1.6 * nodes, "close to one of the limits: the next source did not fit"
        kept = sum(1 for node in svg_fills(svg) if node.startswith("source:"))
        assert any(text.endswith(f"busiest {kept} of {sources} sources (--max-nodes={nodes})") for text in svg_texts(svg))
        dot = run(f"--alerts-json={alerts_json}", "--all", *argv, "--format=dot").stdout
        assert dot.count("shape=ellipse") == kept, "the DOT draws what the picture draws"
    # The page's graph draws all 336 nodes by default (it holds at most 1,000), and what --max-nodes says.
    assert run(f"--alerts-json={alerts_json}", "--all", f"--render={page}").returncode == 0
    data = page_json(page.read_text())
    assert data["cut"] is None and all(drawn for *_, drawn in data["nodes"]) and len(data["nodes"]) > 300
    assert run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=40", f"--render={page}").returncode == 0
    data = page_json(page.read_text())
    assert data["cut"].startswith("busiest ") and data["cut"].endswith(f" of {sources} sources (--max-nodes=40)")
    assert 32 <= sum(drawn for *_, drawn in data["nodes"]) <= 40


def title_size(svg: str) -> float:
    """The first title line's font size as drawn, in points of the picture (Graphviz scales the drawing by a transform)."""
    root = ElementTree.fromstring(svg)
    graph = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "graph")
    scale = float(re.search(r"scale\(([0-9.]+)", graph.get("transform")).group(1))
    title = next(t for t in root.iter(f"{SVG}text") if " alerts" in "".join(t.itertext()) and ": " in "".join(t.itertext()))
    return float(title.get("font-size")) * scale


def test_the_title_grows_with_the_drawing(tmp_path):
    """Seen whole, a large sfdp drawing's title reads as large as a small one's: it is a share of the width."""
    small, large = tmp_path / "small.svg", tmp_path / "large.svg"
    assert run(f"--alerts-log={LOG}", "--all", f"--render={small}").returncode == 0
    alerts_json = write_json(tmp_path, busy_day(400))
    assert run(f"--alerts-json={alerts_json}", "--all", "--max-nodes=0", f"--render={large}").returncode == 0
    widths = [float(ElementTree.parse(svg).getroot().get("width").removesuffix("pt")) for svg in (small, large)]
    assert widths[1] > 3 * widths[0]
    sizes = [title_size(svg.read_text()) for svg in (small, large)]
    assert sizes[0] == 14, "a picture that a screen shows whole: the title at its own size"
    assert sizes[1] / widths[1] > 0.6 * sizes[0] / widths[0], (sizes, widths)
    assert sizes[1] > 2 * sizes[0]


# --- who wrote the alerts, and the window asked for ------------------------------------------------


def title_line(*argv: str) -> str:
    result = run(*argv, "--format=dot")
    assert result.returncode == 0, result.stderr
    return re.search(r'<FONT POINT-SIZE="14">(.*?)</FONT>', result.stdout).group(1)


def wazuh_json(tmp_path) -> str:
    """alerts.json lines as Wazuh 4 writes them: the rule's "id" and "description"."""
    line = {"timestamp": "2026-11-27T18:01:01.000+0000", "rule": {"level": 5, "description": "sshd: authentication failed.", "id": "5760"},
            "agent": {"id": "004", "name": "wazuh-agent1", "ip": "10.0.0.5"}, "id": f"{T0}.1", "data": {"srcip": "203.0.113.45"},
            "location": "/var/log/secure"}  # fmt: skip
    path = tmp_path / "wazuh.json"
    path.write_text(json.dumps(line) + "\n")
    return str(path)


def test_the_title_names_who_wrote_the_files(tmp_path):
    ossec, wazuh, both = write_json(tmp_path, KINDS[:1]), wazuh_json(tmp_path), ROOT_DIR / "examples" / "alerts.json"
    assert title_line(f"--alerts-json={ossec}", "--all") == f"OSSEC alerts.json {ossec}: all alerts"
    assert title_line(f"--alerts-json={wazuh}", "--all") == f"Wazuh alerts.json {wazuh}: all alerts"
    assert title_line(f"--alerts-json={both}", "--all") == f"OSSEC and Wazuh alerts.json {both}: all alerts"
    # alerts.log: OSSEC and Wazuh write the same lines; the title does not guess.
    assert title_line(f"--alerts-log={LOG}", f"--alerts-json={wazuh}", "--all") == (
        f"OSSEC/Wazuh alerts.log {LOG} and Wazuh alerts.json {wazuh}: all alerts"
    )


@pytest.mark.parametrize(
    ("information", "producer"),
    [
        ("Linux ossec 5.10.0-26-amd64 #1 SMP Debian 5.10.197-1 x86_64 - OSSEC HIDS v2.8.3", "OSSEC"),
        ("Linux |wazuh |4.19.0 |#1 SMP |x86_64 [Debian GNU/Linux|debian: 10] - Wazuh v3.13.1", "Wazuh"),
        (None, "OSSEC/Wazuh"),
    ],
)
def test_the_title_names_who_filled_the_database(ossec, information, producer):
    import ossecdb

    ossec.insert([ossecdb.Row(5716, T0, "(web1) 10.0.0.2->/var/log/auth.log", "203.0.113.5")])
    if information is not None:
        with ossec.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO server (last_contact, version, hostname, information) VALUES (%s, %s, %s, %s)",
                (T0, information.rsplit(" ", 1)[1], "manager", information),
            )
    assert title_line(*ossec.args, "--all") == f"{producer} database root@127.0.0.1:3306/{ossec.name}: all alerts"


def test_the_title_says_the_window_as_asked_not_the_span_of_the_alerts(tmp_path):
    # The example day's alerts run from 02:10:21 to 18:11:01 UTC; the title says the window asked for.
    day = (f"--alerts-log={LOG}",)
    assert title_line(*day, "--start-time=2026-11-27T00:00:00Z", "--end-time=2026-11-28T00:00:00Z").endswith(
        ": 2026-11-27 00:00:00 to 2026-11-28 00:00:00 UTC"
    )
    assert re.search(r": from 2026-11-27 00:00:00 UTC to now, 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC$",
                     title_line(*day, "--start-time=1795737600"))  # fmt: skip
    assert re.search(r": the last 2 weeks, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to ", title_line(*day, "--time-interval=2 weeks"))
    assert re.search(r": the last 30 minutes, ", title_line(*day))  # the default
    assert title_line(*day, "--all").endswith(": all alerts")
    # A local time is read in the zone TZ names, and shown in UTC.
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "TZ": "Europe/Berlin"}
    berlin = subprocess.run(
        [sys.executable, str(SCRIPT), *day, "--start-time=2026/11/27 01:00:00", "--end-time=2026/11/27 13:00:00", "--format=dot"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert ": 2026-11-27 00:00:00 to 2026-11-27 12:00:00 UTC</FONT>" in berlin.stdout


# --- the page: legible where it opens -------------------------------------------------------------


def test_the_page_opens_with_legible_labels(tmp_path, browser):
    """The example day's page, as it opens in a window of 1280 x 800: every node's label at least 9
    pixels tall (drawn left to right by dot; circo's ring drew them 4 to 5 pixels tall)."""
    page = tmp_path / "day.html"
    assert run(f"--alerts-log={LOG}", "--all", "--use-user", f"--render={page}").returncode == 0
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        tab.goto(page.as_uri())
        heights = tab.evaluate(
            "() => [...document.querySelectorAll('g.n text')].filter((t) => t.textContent)"
            ".map((t) => t.getBoundingClientRect().height)"
        )
    finally:
        context.close()
    assert len(heights) >= 18 and min(heights) >= 9, heights
