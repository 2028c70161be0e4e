"""--format=dot and --render: Graphviz output drawn by the tool itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest
from conftest import SCRIPT
from test_files import LOG

import alerts2afterglow

SVG = "{http://www.w3.org/2000/svg}"
EPOCH = "1795824000"  # SOURCE_DATE_EPOCH: the graph's "made" time, fixed for reproducible output

HOSTILE = [
    # (source, description, level, location)
    ("203.0.113.5", 'Quote " and backslash \\ and \\N \\G \\L escapes', 13, "(web1) 10.0.0.2->/var/log/auth.log"),
    ("10.0.0.7", "multi\nline\tdescription", 9, "ossec->/var/log/secure"),
    ("2001:db8::5", "Ошибка входа: échec – 認証失敗", 5, "(web1) 10.0.0.2->/var/log/auth.log"),
    ("198.51.100.1", "very long " * 50, 2, "ossec->/var/log/secure"),
    ("fd00::9", "ends with a backslash \\", None, "(win1) 10.0.0.9->C:\\logs\\"),
    ("ossec->/var/log/secure", "a source that looks like a location", 3, "ossec->/var/log/secure"),
]


def hostile_json(tmp_path) -> str:
    lines = []
    for i, (source, description, level, location) in enumerate(HOSTILE):
        rule = {"sidid": 100 + i, "comment": description, **({"level": level} if level is not None else {})}
        lines.append(json.dumps({"rule": rule, "id": f"1764237600.{i}", "srcip": source, "location": location}))
    lines.append(
        json.dumps(
            {
                "rule": {"sidid": 99, "comment": "by a user", "level": 4},
                "id": "1764237601.1",
                "dstuser": "root",
                "location": "ossec->/var/log/secure",
            }
        )
    )
    path = tmp_path / "alerts.json"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(*argv: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env_extra or {})}
    return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, env=env, timeout=120)


def svg_nodes(svg: bytes) -> dict[str, tuple[str, str]]:
    """{node id: (label text, fill colour)} from Graphviz's SVG."""
    nodes = {}
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{SVG}title").text
        text = " ".join(t.text or "" for t in group.iter(f"{SVG}text"))
        shape = next(e for e in group.iter() if e.tag in (f"{SVG}ellipse", f"{SVG}polygon"))
        nodes[title] = (text, shape.get("fill"))
    return nodes


def key(role: str, value: str) -> str:
    """A node's id as Graphviz keeps it: the value as shown (visible), and ids are not label text, so backslashes stay doubled."""
    return f"{role}:{alerts2afterglow.visible(value)}".replace("\\", "\\\\")


def svg_edges(svg: bytes) -> list[str]:
    return [g.find(f"{SVG}title").text for g in ElementTree.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "edge"]


def test_hostile_values_parse_in_graphviz_and_keep_their_text(tmp_path):
    dot = run(f"--alerts-json={hostile_json(tmp_path)}", "--all", "--use-user", "--format=dot")
    assert dot.returncode == 0, dot.stderr
    svg = subprocess.run(["dot", "-Tsvg"], input=dot.stdout, capture_output=True, check=True).stdout
    nodes = svg_nodes(svg)

    def label(text: str) -> str:
        return " ".join(text.split())

    # Every value is one node per role, its label the value itself (descriptions wrapped at spaces).
    sources = {alerts2afterglow.address_source(s) for s, *_ in HOSTILE} | {"root"}  # srcip as a source spells it
    descriptions = {d for _, d, *_ in HOSTILE} | {"by a user"}
    locations = {loc for *_, loc in HOSTILE}
    assert len(nodes) == len(sources) + len(descriptions) + len(locations)
    for role, values in (("source", sources), ("event", descriptions), ("target", locations)):
        for value in values:
            text, _ = nodes[key(role, value)]
            shown = alerts2afterglow.visible(value)
            assert label(text) == label(shown.replace("->", " ->")) if role == "target" else label(text) == label(shown)
    # The same string as a source and as a location stays two nodes.
    assert "source:address:ossec->/var/log/secure" in nodes and "target:ossec->/var/log/secure" in nodes
    edges = svg_edges(svg)
    assert len(edges) == len(HOSTILE) + 1 + len(
        {(d, loc) for _, d, _, loc in HOSTILE} | {("by a user", "ossec->/var/log/secure")}
    )


def test_colours_by_level_and_kind(tmp_path):
    dot = run(f"--alerts-json={hostile_json(tmp_path)}", "--all", "--use-user", "--format=dot")
    svg = subprocess.run(["dot", "-Tsvg"], input=dot.stdout, capture_output=True, check=True).stdout
    fills = {title: fill for title, (_, fill) in svg_nodes(svg).items()}
    assert fills[key("event", HOSTILE[0][1])] == "#ef3b2c"  # level 13: red
    assert fills[key("event", HOSTILE[1][1])] == "#fd8d3c"  # level 9: orange
    assert fills[key("event", HOSTILE[2][1])] == "#74c476"  # level 5: green
    assert fills[key("event", HOSTILE[3][1])] == "#6baed6"  # level 2: blue
    assert fills[key("event", HOSTILE[4][1])] == "#d9d9d9"  # no level
    assert fills["source:203.0.113.5"] == alerts2afterglow.SOURCE_COLOURS["public IPv4"]
    assert fills["source:10.0.0.7"] == fills["source:fd00::9"] == alerts2afterglow.SOURCE_COLOURS["private"]
    assert fills["source:2001:db8::5"] == alerts2afterglow.SOURCE_COLOURS["IPv6"]
    assert fills["source:root"] == alerts2afterglow.SOURCE_COLOURS["user"]
    assert fills["target:(web1) 10.0.0.2->/var/log/auth.log"] == alerts2afterglow.LOCATION_COLOURS["agent"]
    assert fills["target:ossec->/var/log/secure"] == alerts2afterglow.LOCATION_COLOURS["manager"]


def test_dot_counts_sizes_label_and_determinism():
    first = run(f"--alerts-log={LOG}", "--all", "--format=dot")
    second = run(f"--alerts-log={LOG}", "--all", "--format=dot")
    assert first.returncode == 0
    assert first.stdout == second.stdout, "same input, same bytes"
    csv = run(f"--alerts-log={LOG}", "--all", "--count").stdout.decode().splitlines()
    triples = [line.rsplit(",", 1) for line in csv]
    text = first.stdout.decode()
    assert f"OSSEC/Wazuh alerts.log {LOG}: all alerts" in text
    sources = {t.split(",")[0] for t, _ in triples}
    assert f"{sum(int(c) for _, c in triples)} alerts from {len(sources)} sources" in text
    assert "made 2026-11-28 00:00 UTC by alerts2afterglow" in text
    svg = subprocess.run(["circo", "-Tsvg"], input=first.stdout, capture_output=True, check=True).stdout
    fields = [t.split(",") for t, _ in triples]
    assert len(svg_nodes(svg)) == len({f[0] for f in fields}) + len({f[1] for f in fields}) + len(
        {f[2] for f in fields}
    )
    assert len(svg_edges(svg)) == len({(f[0], f[1]) for f in fields}) + len({(f[1], f[2]) for f in fields})
    # Sizes grow with the count: the busiest source is drawn largest, a single alert smallest.
    sizes = dict(re.findall(r'"source:([^"]+)" \[.*?fontsize=([\d.]+)', text))
    per_source: dict[str, int] = {}
    for (source, *_), count in zip(fields, (int(c) for _, c in triples), strict=True):
        per_source[source] = per_source.get(source, 0) + count
    assert sorted(sizes, key=lambda s: float(sizes[s])) == sorted(per_source, key=per_source.get)
    widths = [float(w) for w in re.findall(r'-> "[^"]*" \[penwidth=([\d.]+)', text)]
    assert min(widths) == 1.0 and max(widths) > 3


MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".gif": b"GIF8", ".pdf": b"%PDF-", ".svg": b"<?xml"}


@pytest.mark.parametrize("extension", MAGIC)
def test_render_writes_each_format(tmp_path, extension):
    picture = tmp_path / f"alerts{extension}"
    result = run(f"--alerts-log={LOG}", "--all", f"--render={picture}", "--layout=dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"", "with --render and no --output, stdout stays empty"
    assert picture.read_bytes().startswith(MAGIC[extension])
    assert [p.name for p in tmp_path.iterdir()] == [picture.name]
    if extension == ".svg":
        assert "<svg" in picture.read_text()


def test_render_with_output_writes_both(tmp_path):
    picture, text = tmp_path / "alerts.png", tmp_path / "alerts.dot"
    result = run(f"--alerts-log={LOG}", "--all", f"--render={picture}", f"--output={text}", "--format=dot")
    assert result.returncode == 0
    assert picture.read_bytes().startswith(MAGIC[".png"])
    assert text.read_text().startswith("// alerts2afterglow")


def test_min_count_and_top_cut_exactly_what_they_say(cli):
    full = [line.rsplit(",", 1) for line in cli(f"--alerts-log={LOG}", "--all", "--count").lines]
    counts = {triple: int(count) for triple, count in full}
    at_least_3 = cli(f"--alerts-log={LOG}", "--all", "--count", "--min-count=3")
    assert at_least_3.lines == [f"{t},{c}" for t, c in counts.items() if c >= 3]
    assert len(at_least_3.lines) < len(full)
    per_source: dict[str, int] = {}
    for triple, count in counts.items():
        per_source[triple.split(",")[0]] = per_source.get(triple.split(",")[0], 0) + count
    top2 = sorted(per_source, key=lambda s: (-per_source[s], s))[:2]
    result = cli(f"--alerts-log={LOG}", "--all", "--count", "--top=2", "--debug")
    assert result.lines == [f"{t},{c}" for t, c in counts.items() if t.split(",")[0] in top2]
    dropped = [c for t, c in counts.items() if t.split(",")[0] not in top2]
    assert (
        f"--top 2 dropped {len(per_source) - 2} source(s), {len(dropped)} triple(s), {sum(dropped)} alert(s)"
        in result.err
    )


def test_graphviz_missing_is_a_clear_error(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli(f"--alerts-log={LOG}", "--all", f"--render={tmp_path / 'a.png'}")
    assert result.code == 1
    assert result.err == (
        f"alerts2afterglow: error: cannot render {tmp_path / 'a.png'}: Graphviz's 'dot' command is not installed"
        " (Debian/Ubuntu: apt-get install graphviz)\n"
    )


def test_graphviz_failure_reports_its_message(cli, tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\necho 'Error: <stdin>: syntax error in line 1' >&2\nexit 1\n")
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    picture = tmp_path / "a.png"
    result = cli(f"--alerts-log={LOG}", "--all", f"--render={picture}")
    assert result.code == 1
    assert result.err == "alerts2afterglow: error: Graphviz 'dot' failed: Error: <stdin>: syntax error in line 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"], "no picture, no temporary file"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--show-duplicate", "--format=dot"], "--format=dot works on grouped triples"),
        (["--show-duplicate", "--top=3"], "--top works on grouped triples"),
        (["--render=alerts.bmp"], "--render alerts.bmp: the name must end in .png, .svg, .gif, .pdf"),
        (["--layout=spring"], "argument --layout: invalid choice: 'spring'"),
        (["--min-count=0"], "invalid value '0'"),
    ],
)
def test_graph_usage_errors(cli, argv, message):
    assert message in cli(f"--alerts-log={LOG}", "--all", *argv).usage_error()


def test_quiet_interval_renders_a_labelled_picture(tmp_path):
    picture = tmp_path / "alerts.svg"
    result = run(f"--alerts-log={LOG}", "--time-interval=1 minute", f"--render={picture}")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    texts = [t.text for t in ElementTree.parse(picture).iter(f"{SVG}text")]
    assert "no alerts" in texts
    assert any(text.startswith(f"OSSEC/Wazuh alerts.log {LOG}: ") for text in texts)
    assert "0 alerts from 0 sources, 0 links" in texts
