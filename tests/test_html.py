"""--format=html and --render=FILE.html: the interactive page, in Chromium and as a file.

The browser tests drive Debian's chromium through Playwright (tests/browser.py): a real
browser, the page opened from file:// as a user would, every request it makes recorded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import ROOT_DIR, SCRIPT
from playwright.sync_api import Browser, Page
from test_hostile_output import command, environment, files_in, live_processes, wait_for_graphviz

import alerts2afterglow

EXAMPLE = ROOT_DIR / "examples" / "alerts.log"
EPOCH = "1795824000"  # SOURCE_DATE_EPOCH: the "made" time, fixed so that two runs give the same bytes


def run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, env=env, timeout=120)


def make_page(path: Path, *argv: str) -> Path:
    result = run(*argv, f"--render={path}")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b""), result.stderr
    return path


# ---------------------------------------------------------------------------
# What the example day holds, read from examples/alerts.log without the tool
# ---------------------------------------------------------------------------


@dataclass
class Tally:
    count: int = 0
    level: int = -1
    first: int = 2**63
    last: int = 0

    def add(self, level: int, epoch: int) -> None:
        self.count += 1
        self.level = max(self.level, level)
        self.first = min(self.first, epoch)
        self.last = max(self.last, epoch)


def example_triples() -> dict[tuple[str, str, str], Tally]:
    """(source, description, location) -> tally, as --use-user sees the file: the IP, else the user."""
    triples: dict[tuple[str, str, str], Tally] = {}
    for block in EXAMPLE.read_text().split("** Alert ")[1:]:
        lines = block.splitlines()
        epoch = int(lines[0].split(".")[0])
        location = lines[1].split(" ", 4)[4]  # after "2026 Nov 27 02:10:21 "
        fields = dict(line.split(": ", 1) for line in lines[2:] if re.match(r"(Src IP|User): ", line))
        rule = next(
            re.match(r"Rule: \d+ \(level (\d+)\) -> '(.*)'$", line) for line in lines if line.startswith("Rule: ")
        )
        source = fields.get("Src IP") or fields.get("User")
        if rule is None or source is None:
            continue
        triples.setdefault((source, rule.group(2), location), Tally()).add(int(rule.group(1)), epoch)
    return triples


# ---------------------------------------------------------------------------
# The page as a file
# ---------------------------------------------------------------------------


class PageParser(HTMLParser):
    """Every element's tag and attributes, and the text of each script and style element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: list[tuple[str, dict[str, str | None], str]] = []
        self._open: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = (tag, dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.blocks.append((*self._open, data))
            self._open = None


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def page_json(html: str) -> dict[str, Any]:
    (text,) = [text for tag, attrs, text in parse_page(html).blocks if attrs.get("type") == "application/json"]
    data: dict[str, Any] = json.loads(text)
    return data


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def example_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_page(tmp_path_factory.mktemp("page") / "alerts.html", f"--alerts-log={EXAMPLE}", "--all", "--use-user")


def test_page_loads_nothing_and_its_policy_lets_only_its_own_script_and_style_run(example_page):
    html = example_page.read_text()
    page = parse_page(html)
    scripts = [(attrs, text) for tag, attrs, text in page.blocks if tag == "script"]
    styles = [text for tag, _, text in page.blocks if tag == "style"]
    assert [attrs for attrs, _ in scripts] == [{"type": "application/json", "id": "data"}, {}]
    assert len(styles) == 1
    (policy,) = [a["content"] for tag, a in page.elements if a.get("http-equiv") == "Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == sha256(scripts[1][1])
    assert directives["style-src"] == sha256(styles[0])
    assert directives["base-uri"] == directives["form-action"] == "'none'"
    # Nothing that could load or link: no URL anywhere, no attribute that takes one.
    assert "://" not in html
    assert not [
        (tag, name)
        for tag, attrs in page.elements
        for name in attrs
        if name in ("src", "href", "xlink:href", "style") or name.startswith("on")
    ]
    assert html.isascii()


def test_format_html_writes_the_same_page_to_stdout(example_page):
    result = run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", "--format=html")
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == example_page.read_bytes()


def test_page_data_holds_every_triple_with_its_tally(example_page):
    data = page_json(example_page.read_text())
    names = [name for _, name, _, _ in data["nodes"]]
    got = {(names[s], names[d], names[loc]): (count, level) for s, d, loc, count, level, _, _ in data["triples"]}
    assert got == {triple: (t.count, t.level) for triple, t in example_triples().items()}
    assert {drawn for *_, drawn in data["nodes"]} == {1} and data["cut"] is None, "--max-nodes cut nothing"
    # The header gets the picture's own title, but for what the graph holds, which the page counts.
    assert data["title"] == f"OSSEC/Wazuh alerts.log {EXAMPLE}: all alerts"
    assert (data["notes"], data["made"]) == ("", f"made 2026-11-28 00:00 UTC by alerts2afterglow {alerts2afterglow.__version__}")
    # The graph's own label (the picture's title and legend) is not drawn: the page shows its own.
    assert not [label for label in data["labels"] if "alert" in label.lower() or "\u25a0" in label or "made" in label]


def test_graph_elements_are_rebuilt_from_an_allowlist_and_every_node_and_edge_is_found(example_page):
    html = example_page.read_text()
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    page = parse_page(svg)
    assert {tag for tag, _ in page.elements} <= {"svg", "g", "polygon", "polyline", "ellipse", "path", "text"}
    allowed = {*alerts2afterglow.SVG_ATTRIBUTES, "class", "id"}
    assert {name for _, attrs in page.elements for name in attrs} <= {name.lower() for name in allowed}
    assert re.findall(r"<text[^>]*>([^<]+)</text>", svg) == [], "label text travels in the JSON, not in the markup"
    data = page_json(html)
    assert sorted(a["id"] for tag, a in page.elements if a.get("class") == "n") == sorted(
        f"n{i}" for i in range(len(data["nodes"]))
    )
    links = {(s, d) for s, d, *_ in data["triples"]} | {(d, loc) for _, d, loc, *_ in data["triples"]}
    assert sorted(a["id"] for tag, a in page.elements if a.get("class") == "e") == sorted(f"e{a}-{b}" for a, b in links)
    assert len(data["labels"]) == svg.count("<text")


def test_dot_and_svg_carry_the_ids_the_page_finds_its_elements_by(tmp_path):
    dot = run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", "--format=dot").stdout.decode()
    assert '"source:203.0.113.45" [label="203.0.113.45"' in dot
    assert f"id={alerts2afterglow.graph_id('source', '203.0.113.45')}, tooltip=" in dot
    edge = alerts2afterglow.graph_id("source", "alice", "event", "Login session opened.")
    assert '"source:alice" -> "event:Login session opened." [penwidth=' in dot and f"id={edge}, tooltip=" in dot
    picture = tmp_path / "alerts.svg"
    assert run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", f"--render={picture}", "--layout=dot").returncode == 0
    assert f'<g id="{edge}" class="edge">' in picture.read_text()


def test_a_quiet_window_gives_a_page_that_says_so(tmp_path):
    page = make_page(tmp_path / "quiet.html", f"--alerts-log={EXAMPLE}", "--time-interval=1 minute")
    data = page_json(page.read_text())
    assert (data["nodes"], data["triples"]) == ([], [])
    assert "no alerts" in data["labels"]


def test_show_duplicate_cannot_make_a_page(cli):
    assert (
        "--format=html works on grouped triples"
        in cli(f"--alerts-log={EXAMPLE}", "--all", "--show-duplicate", "--format=html").usage_error()
    )


def test_graphviz_failure_leaves_no_page_and_no_temporary_file(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the page's SVG would go, had it a name
    result = cli(f"--alerts-log={EXAMPLE}", "--all", f"--render={tmp_path / 'alerts.html'}", "--render-timeout=0.001")
    assert result.code == 1
    assert result.err.startswith("alerts2afterglow: error: Graphviz 'dot' did not finish within 0.001 s")
    assert list(tmp_path.iterdir()) == []


def test_a_signal_while_graphviz_draws_a_page_leaves_nothing_behind(tmp_path):
    """The page's Graphviz draws into a temporary file without a name: nothing is left, and Graphviz ends."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")  # a Graphviz that never ends
    (fake / "dot").chmod(0o755)
    scratch, out = tmp_path / "tmp", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    marker = uuid.uuid4().hex
    env = {**environment(marker), "PATH": f"{fake}:{os.environ['PATH']}", "TMPDIR": str(scratch)}
    argv = command(f"--alerts-log={EXAMPLE}", "--all", f"--render={out}/alerts.html")
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        wait_for_graphviz(marker, cli)
        assert files_in(scratch) == files_in(out) == [], "Graphviz draws the page's SVG into a file that has no name"
        cli.send_signal(signal.SIGTERM)
        stdout, stderr = cli.communicate(timeout=30)
    assert (cli.returncode, stdout, stderr.decode()) == (
        128 + signal.SIGTERM,
        b"",
        "alerts2afterglow: error: interrupted by SIGTERM\n",
    )
    assert files_in(out) == files_in(scratch) == []
    assert live_processes(marker) == {}


# ---------------------------------------------------------------------------
# Hostile names
# ---------------------------------------------------------------------------

# Each would run script, load something or hide text if the page treated it as anything but text.
PAYLOADS = [
    "<img src=x onerror=window.pwned=1>",
    "</script><script>window.pwned=2</script>",
    '"><svg onload=window.pwned=3>',
    "javascript:window.pwned=4",
    "line\u2028separator\u2029paragraph",
    "invoice\u202egnp.exe",
    "&lt;b&gt; &amp; &nbsp; &#1; &#x41; &foo;",
    "<!-- --> ]]> <![CDATA[ x",
    "__proto__",
    "x->event:y",
    "nul\x00 escape\x1b[31m zero\u200bwidth",
]


def hostile_json(tmp_path: Path) -> Path:
    """alerts.json in which every payload is a user (the source), a description and a location."""
    lines = []
    for i, payload in enumerate(PAYLOADS):
        lines.append(
            json.dumps(
                {
                    "rule": {"sidid": 100 + i, "comment": f"description {payload}", "level": 3 + i},
                    "id": f"1764237600.{i}",
                    "dstuser": payload,
                    "location": f"(web1) 10.0.0.2->{payload}",
                }
            )
        )
    path = tmp_path / "hostile.json"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile")
    return make_page(directory / "hostile.html", f"--alerts-json={hostile_json(directory)}", "--all", "--use-user")


def test_hostile_names_travel_only_as_escaped_json(hostile_page):
    html = hostile_page.read_text()
    assert html.isascii(), "U+2028, U+2029 and the RTL override are escaped"
    assert html.count("</script") == 2 and html.count("<script") == 2
    assert "<img" not in html and "<svg onload" not in html and "<!-- -->" not in html
    data = page_json(html)  # decodes back to the very same strings
    names = {name for _, name, _, _ in data["nodes"]}
    for payload in PAYLOADS:
        assert {payload, f"description {payload}", f"(web1) 10.0.0.2->{payload}"} <= names
    start, end = html.index('<script type="application/json"'), html.index("</script>")
    outside = html[:start] + html[end:]
    assert "pwned" not in outside and "javascript:" not in outside and "__proto__" not in outside


def test_clean_svg_drops_what_can_link_or_run_and_keeps_text_out_of_the_markup():
    svg = (
        b'<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/svg11.dtd">'
        b'<svg width="10pt" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<g id="graph0" class="graph" onload="x()"><title>&nbsp;&#1;</title>'
        b'<g id="g1" class="node"><title>a</title><g id="a_g1"><a xlink:href="javascript:x()" xlink:title="t">'
        b'<ellipse fill="url(http://evil/)" stroke="#000" cx="1" cy="2" rx="3" ry="4" style="x"/>'
        b'<text x="1" y="2" font-family="Helvetica,sans-Serif">&lt;b&gt; &#1; \x01 &amp;</text></a></g></g>'
        b'<image xlink:href="http://evil/x.png"/><script>x()</script><foreignObject><div/></foreignObject>'
        b"</g></svg>"
    )
    markup, labels = alerts2afterglow.clean_svg(svg, {"g1": "n0"})
    assert markup == (
        '<svg viewBox="0 0 10 10"><g class="graph"><g class="n" id="n0">'
        '<ellipse stroke="#000" cx="1" cy="2" rx="3" ry="4"/>'
        '<text x="1" y="2" font-family="Helvetica,sans-Serif"></text></g></g></svg>'
    )
    assert labels == ["<b> &#1; \ufffd &"]


# ---------------------------------------------------------------------------
# In the browser
# ---------------------------------------------------------------------------


@dataclass
class Visit:
    """One page in a fresh browser context, and everything it did that it should not."""

    page: Page
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, path: Path, fragment: str = "") -> Visit:
        self.page.goto(path.as_uri() + fragment)
        self.page.wait_for_function("performance.getEntriesByName('a2a-ready').length === 1", timeout=30_000)
        return self

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def node(self, role: int, name: str) -> str:
        """The CSS selector of a node's element in the graph (role 0: source, 1: description, 2: location)."""
        index = self.js(
            "([role, name]) => JSON.parse(document.getElementById('data').textContent)"
            ".nodes.findIndex(n => n[0] === role && n[1] === name)",
            [role, name],
        )
        assert index >= 0, name
        return f"#n{index}"

    def shown(self, which: str = "") -> list[str]:
        """The graph's elements a selection or a search shows above the veil, as selectors: ".n" the nodes
        (holes in the veil), ".e" the edges drawn over it, ".hit" the matches ringed, ".sel" the selected node."""
        layers = {".n": ["veil"], ".e": ["links"], ".hit": ["matches"], ".sel": ["selected"], "": ["links", "veil"]}[which]
        return self.js(
            "ls => ls.flatMap(l => (document.getElementById(l).dataset.of || '').split(' ').filter(Boolean).map(i => '#' + i))",
            layers,
        )

    def rect(self, selector: str) -> list[float]:
        """Where an element is on screen: left, top, right, bottom."""
        return self.js("s => { const r = document.querySelector(s).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom] }", selector)

    def table(self, selector: str) -> list[list[str]]:
        return self.js(
            # a cell that stacks two lines (a description over its location, first over last seen) gives both
            "s => [...document.querySelectorAll(s + ' tbody tr')].map(r => [...r.cells].flatMap(c => {"
            "  const lines = c.querySelectorAll('.line');"
            "  return lines.length ? [...lines].map(n => n.textContent) : [c.textContent]; }))",
            selector,
        )


WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


@contextlib.contextmanager
def visit(browser: Browser, bypass_csp: bool = False) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, bypass_csp=bypass_csp)
    context.add_init_script(WATCH)
    page = context.new_page()
    seen = Visit(page)
    context.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda message: seen.problems.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.problems.append(f"page error: {error}"))
    try:
        yield seen
        seen.problems += seen.js("window.__violations")
    finally:
        context.close()
    assert seen.problems == []
    assert {url.split("#")[0] for url in seen.requests} <= {page.url.split("#")[0]}, "no request but the page itself"


@pytest.fixture
def tab(browser: Browser) -> Iterator[Visit]:
    with visit(browser) as seen:
        yield seen


def test_search_for_an_ip_highlights_it_and_enter_shows_it_with_its_neighbours(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.fill("#q", "198.51.100.23")
    ip = view.node(0, "198.51.100.23")
    assert view.shown() == view.shown(".hit") == [ip]
    assert page.get_attribute("#veil", "class") == "dim"
    assert page.text_content("#hits") == "1 match"
    assert {row[0] for row in view.table("#triples")} == {"198.51.100.23"}
    page.press("#q", "Enter")
    assert view.js("document.getElementById('stage').style.transform") != "translate(0px, 0px) scale(1)"
    # The view moves to the node with every node it is linked to, each whole inside the graph's area.
    neighbours = {view.node(role, name) for triple in example_triples() if triple[0] == "198.51.100.23" for role, name in enumerate(triple)}
    assert set(view.shown(".n")) == neighbours
    area = view.rect("#graph")
    for selector in neighbours:
        box = view.rect(selector)
        assert area[0] <= box[0] and box[2] <= area[2] and area[1] <= box[1] and box[3] <= area[3], selector
    # A search is case-blind and matches part of any name: descriptions that mention SSHD, whatever the case.
    page.fill("#q", "sshd")
    descriptions = {d for _, d, _ in example_triples() if "sshd" in d.lower()}
    assert page.text_content("#hits") == f"{len(descriptions)} matches"


def test_click_on_a_source_lists_every_alert_behind_it_and_fades_the_rest(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.click(view.node(0, "203.0.113.45"))
    expected = {(d, loc): t for (s, d, loc), t in example_triples().items() if s == "203.0.113.45"}
    rows = view.table("#sel-lists")
    assert {(d, loc): (int(count), int(level)) for d, loc, count, level, *_ in rows} == {
        key: (t.count, t.level) for key, t in expected.items()
    }
    assert [int(r[2]) for r in rows] == sorted((int(r[2]) for r in rows), reverse=True), "busiest first"
    total = sum(t.count for t in expected.values())
    assert page.text_content("#sel-kind") == "source (public IPv4)"
    assert page.text_content("#sel-summary").startswith(f"{total} alerts, highest level 10, ")
    # The neighbourhood stays, the rest fades; the table follows the selection.
    lit = set(view.shown(".n"))
    names = (
        {view.node(0, "203.0.113.45")}
        | {view.node(1, d) for d, _ in expected}
        | {view.node(2, loc) for _, loc in expected}
    )
    assert lit == names
    assert view.shown(".sel") == [view.node(0, "203.0.113.45")]
    assert len(view.shown(".e")) == len({d for d, _ in expected}) + len(expected), "its edges, none other"
    assert page.get_attribute("#veil", "class") == "fade"
    assert {tuple(r[:3]) for r in view.table("#triples")} == {("203.0.113.45", d, loc) for d, loc in expected}
    assert page.url.endswith("#" + quote("source:203.0.113.45", safe=""))
    # Esc resets, and so does a click on the background.
    page.keyboard.press("Escape")
    assert view.shown() == []
    assert page.get_attribute("#veil", "class") == ""
    assert len(view.table("#triples")) == len(example_triples())
    page.click(view.node(2, "ossec-server->/var/log/secure"))
    assert {r[0] for r in view.table("#sel-lists")} == {"alice"}, "a location lists who reached it"
    page.dispatch_event("#graph g.e path", "click")  # an edge is not the background
    assert page.text_content("#sel-kind").startswith("location")
    page.mouse.click(5, 200)  # the graph's white background, left of the drawing
    assert page.text_content("#sel-kind") == "Nothing selected"


def test_click_on_a_description_lists_its_sources_and_locations(tab, example_page):
    view = tab.open(example_page)
    view.page.click(view.node(1, "SSHD authentication failed."))
    sources: dict[str, int] = {}
    for (s, d, _), t in example_triples().items():
        if d == "SSHD authentication failed.":
            sources[s] = sources.get(s, 0) + t.count
    tables = view.js(
        "[...document.querySelectorAll('#sel-lists table')].map(t => [...t.tBodies[0].rows].map(r => [r.cells[0].textContent, r.cells[1].textContent]))"
    )
    assert dict((s, int(c)) for s, c in tables[0]) == sources
    assert [loc for loc, _ in tables[1]] == ["(web1) 10.0.0.2->/var/log/auth.log"]


def test_level_filter_hides_what_is_below_it_and_the_table_follows(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.select_option("#level", "10")
    triples = example_triples()
    kept = {triple for triple, t in triples.items() if t.level >= 10}
    shown = {(role, name) for role, position in ((0, 0), (1, 1), (2, 2)) for name in {t[position] for t in kept}}
    visible = set(view.js("[...document.querySelectorAll('#graph g.n:not(.off)')].map(g => '#' + g.id)"))
    assert visible == {view.node(role, name) for role, name in shown}
    assert page.is_hidden(view.node(0, "alice"))
    assert {tuple(r[:3]) for r in view.table("#triples")} == kept
    # The counts of a node follow the filter too.
    page.click(view.node(0, "203.0.113.45"))
    count = sum(t.count for triple, t in triples.items() if triple in kept and triple[0] == "203.0.113.45")
    assert page.text_content("#sel-summary").startswith(f"{count} alert{'s' if count > 1 else ''}, highest level 10")
    page.select_option("#level", "")
    assert view.js("document.querySelectorAll('#graph g.off').length") == 0


def test_table_sorts_by_count_level_and_name(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    counts = [int(r[3]) for r in view.table("#triples")]
    assert counts == sorted(counts, reverse=True), "busiest first by default"
    page.click("#triples th button[data-sort='count']")
    counts = [int(r[3]) for r in view.table("#triples")]
    assert counts == sorted(counts)
    page.click("#triples th button[data-sort='level']")
    levels = [int(r[4]) for r in view.table("#triples")]
    assert levels == sorted(levels, reverse=True)
    page.click("#triples th button[data-sort='source']")
    sources = [r[0] for r in view.table("#triples")]
    assert sources == sorted(sources)


def test_fragment_restores_a_selection_and_follows_the_history(tab, example_page):
    view = tab.open(example_page, "#" + quote("source:198.51.100.99", safe=""))
    page = view.page
    assert page.text_content("#sel-name") == "198.51.100.99"
    assert view.shown(".sel") == [view.node(0, "198.51.100.99")]
    page.click("#fit")  # the view had jumped to the selected node
    page.click(view.node(0, "alice"))
    assert page.text_content("#sel-name") == "alice"
    page.go_back()
    page.wait_for_function("document.getElementById('sel-name').textContent === '198.51.100.99'")
    view.open(example_page, "#no-such-node")
    assert page.text_content("#sel-kind") == "Nothing selected"


def test_hover_shows_a_nodes_kind_count_and_level(tab, example_page):
    view = tab.open(example_page)
    view.page.hover(view.node(0, "2001:db8:85a3::8a2e:370:7334"))
    tip = view.page.locator("#tip")
    assert tip.is_visible()
    behind = [t for (s, _, _), t in example_triples().items() if s == "2001:db8:85a3::8a2e:370:7334"]
    assert tip.inner_text().splitlines()[:3] == [
        "2001:db8:85a3::8a2e:370:7334",
        "source: IPv6",
        f"{sum(t.count for t in behind)} alerts, highest level {max(t.level for t in behind)}",
    ]


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
def test_hostile_names_show_as_text_and_run_nothing(browser, hostile_page, bypass_csp):
    """Without the CSP too: the page's own escaping, not only the policy, keeps the payloads inert."""
    with visit(browser, bypass_csp=bypass_csp) as view:
        view.open(hostile_page, "#" + quote("source:<img src=x onerror=window.pwned=9>", safe=""))
        page = view.page
        assert page.text_content("#sel-kind") == "Nothing selected"
        for payload in PAYLOADS:
            page.fill("#q", payload)
            page.press("#q", "Enter")
            assert page.text_content("#sel-kind").startswith("source (")
            shown = view.js("document.getElementById('sel-name').textContent")
            boxes = view.js("[...document.querySelectorAll('#sel-name .ctl')].map(b => b.textContent)")
            if payload.isprintable():
                assert (shown, boxes) == (payload, [])
            else:  # invisible and direction-changing characters are shown as their code points
                hidden = [f"U+{ord(ch):04X}" for ch in payload if not ch.isprintable()]
                assert boxes == hidden
                assert shown == "".join(f"U+{ord(ch):04X}" if not ch.isprintable() else ch for ch in payload)
            page.hover(view.node(0, payload))
            assert page.locator("#tip strong").first.text_content() == shown
        assert view.js("window.pwned") is None
        assert view.js("document.querySelectorAll('img, iframe, object, embed, script').length") == 2
        # The names are links to their node's address: a fragment, percent-encoded, and nothing else.
        links = view.js(
            "[...document.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.getAttributeNames().sort(), a.textContent])"
        )
        assert links
        for href, attributes, text in links:
            assert attributes == ["class", "data-node", "href"]
            assert re.fullmatch(r"#[A-Za-z0-9%._~!*'()-]+", href), href
            role, name = urllib.parse.unquote(href[1:]).split(":", 1)
            assert role in ("source", "description", "location")
            assert text == "".join(f"U+{ord(ch):04X}" if not ch.isprintable() else ch for ch in name)
        assert view.js("document.querySelectorAll('#graph svg *').length") == view.js(
            "document.querySelectorAll('#graph svg g, #graph svg polygon, #graph svg polyline, "
            "#graph svg ellipse, #graph svg path, #graph svg text').length"
        )
        labels = view.js("[...document.querySelectorAll('#graph text')].map(t => t.textContent)")
        assert any("<img src=x onerror=window.pwned=1>" in label for label in labels)


def test_first_and_last_seen_show_in_utc_and_unknown_times_sort_last(tab, tmp_path):
    """Rows as the sources give them: times known, unknown (None), or the latest an alert file may hold."""
    rows = [
        (
            ("203.0.113.9", "SSHD authentication failed.", "(web1) 10.0.0.2->/var/log/auth.log"),
            alerts2afterglow.Tally(3, 5, 1795745421, 1795746000),
        ),
        (
            ("203.0.113.9", "Web attack.", "(web2) 10.0.0.3->/var/log/nginx/access.log"),
            alerts2afterglow.Tally(2, 6, None, None),
        ),
        (
            ("198.51.100.7", "Web attack.", "(web2) 10.0.0.3->/var/log/nginx/access.log"),
            alerts2afterglow.Tally(1, 6, 99_999_999_999, 99_999_999_999),
        ),
    ]
    settings = alerts2afterglow.Settings(
        window=alerts2afterglow.Window(None, None), alerts_logs=("test",), layout="dot"
    )
    path = tmp_path / "times.html"
    with path.open("w") as out:
        assert alerts2afterglow.write_html(rows, out, settings) == 3
    view = tab.open(path)
    page = view.page
    page.click(view.node(0, "203.0.113.9"))
    assert page.text_content("#sel-summary") == (
        "5 alerts, highest level 6, first seen 2026-11-27 02:10:21, last seen 2026-11-27 02:20:00 (UTC)"
    )
    assert sorted(r[2:] for r in view.table("#sel-lists")) == [
        ["2", "6", "unknown", "unknown"],
        ["3", "5", "2026-11-27 02:10:21", "2026-11-27 02:20:00"],
    ]
    page.keyboard.press("Escape")
    page.click("#triples th button[data-sort='first']")
    assert [r[5] for r in view.table("#triples")] == ["5138-11-16 09:46:39", "2026-11-27 02:10:21", "unknown"], (
        "latest first, unknown last"
    )


def utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_first_and_last_seen_on_the_example_day(tab, example_page):
    """Every time on the page, against the alert times read from examples/alerts.log without the tool."""
    view = tab.open(example_page)
    page = view.page
    triples = example_triples()
    shown = {tuple(row[:3]): row[3:] for row in view.table("#triples")}
    assert shown == {triple: [str(t.count), str(t.level), utc(t.first), utc(t.last)] for triple, t in triples.items()}
    page.click(view.node(0, "192.0.2.77"))
    behind = [t for (s, _, _), t in triples.items() if s == "192.0.2.77"]
    first, last = min(t.first for t in behind), max(t.last for t in behind)
    assert page.text_content("#sel-summary").endswith(f"first seen {utc(first)}, last seen {utc(last)} (UTC)")
    assert {tuple(row[:2]): row[4:] for row in view.table("#sel-lists")} == {
        (d, loc): [utc(t.first), utc(t.last)] for (s, d, loc), t in triples.items() if s == "192.0.2.77"
    }
    page.click("#fit")
    page.hover(view.node(1, "SSHD authentication failed."))
    on_it = [t for (_, d, _), t in triples.items() if d == "SSHD authentication failed."]
    assert page.inner_text("#tip").splitlines()[3:] == [
        f"first seen {utc(min(t.first for t in on_it))}",
        f"last seen {utc(max(t.last for t in on_it))} (UTC)",
    ]
    page.keyboard.press("Escape")  # the whole table again
    page.click("#triples th button[data-sort='last']")
    assert [row[6] for row in view.table("#triples")][:3] == sorted(
        (utc(t.last) for t in triples.values()), reverse=True
    )[:3]
