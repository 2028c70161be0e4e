"""The interactive page as an analyst uses it, in Chromium: every attacker findable whatever the graph
draws, the view (fit, pan, zoom, a match shown with its neighbours), the keyboard, names that wrap
where they should, counts that follow the level filter, one legend, and what the page says when
Graphviz is missing.

The pages come from the CLI run as a user runs it; the browser is tests/browser.py's, every request,
console message, page error and CSP violation recorded by test_html.visit (none is allowed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import SCRIPT
from test_html import EPOCH, EXAMPLE, example_page, example_triples, make_page, page_json, run, tab

import alerts2afterglow

__all__ = ["example_page", "tab"]  # the fixtures of test_html, shared


def holds(triples: dict) -> str:
    """What a graph of these triples holds, in the words of the picture's title, counted here."""
    alerts = sum(t.count for t in triples.values())
    sources = {s for s, _, _ in triples}
    links = {(s, d) for s, d, _ in triples} | {(d, loc) for _, d, loc in triples}
    return f"{alerts} alerts from {len(sources)} sources, {len(links)} links"


# ---------------------------------------------------------------------------
# Every attacker is in the page, drawn or not
# ---------------------------------------------------------------------------

CUT = 12  # --max-nodes: the example day's graph then draws its busiest source alone


@pytest.fixture(scope="module")
def cut_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cut") / "alerts.html"
    result = run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", f"--max-nodes={CUT}", f"--render={path}")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b""), "the header says the cut; cron gets no line"
    return path


def busiest_first() -> list[str]:
    per_source: Counter[str] = Counter()
    for (source, _, _), t in example_triples().items():
        per_source[source] += t.count
    return [s for s, _ in sorted(per_source.items(), key=lambda item: (-item[1], item[0]))]


def test_the_page_holds_every_triple_and_draws_what_fits(cut_page):
    html = cut_page.read_text()
    data = page_json(html)
    names = [name for _, name, _, _ in data["nodes"]]
    got = {(names[s], names[d], names[loc]): count for s, d, loc, count, *_ in data["triples"]}
    assert got == {triple: t.count for triple, t in example_triples().items()}, "every triple, drawn or not"
    assert data["cut"] == f"busiest 1 of 6 sources (--max-nodes={CUT})"
    drawn = {(role, name) for role, name, _, is_drawn in data["nodes"] if is_drawn}
    busiest = busiest_first()[0]
    reached = {(s, d, loc) for s, d, loc in example_triples() if s == busiest}
    assert drawn == {(0, busiest)} | {(1, d) for _, d, _ in reached} | {(2, loc) for _, _, loc in reached}
    # The SVG draws exactly the nodes the data says are drawn.
    svg_nodes = set(re.findall(r'<g class="n" id="n(\d+)"', html))
    assert svg_nodes == {str(i) for i, (*_, is_drawn) in enumerate(data["nodes"]) if is_drawn}


def test_an_attacker_the_graph_does_not_draw_is_found_and_the_page_says_why(tab, cut_page, tmp_path):
    view = tab.open(cut_page)
    page = view.page
    assert page.text_content("#subtitle").startswith(
        f"{holds(example_triples())}; the graph draws the busiest 1 of 6 sources (--max-nodes={CUT}) \u00b7 made "
    )
    away = [t for t in example_triples() if t[0] != busiest_first()[0]]
    assert page.text_content("#table-count") == f"all 27, {len(away)} not drawn"
    assert page.is_visible("#table-note") and "not in the graph" in page.text_content("#table-note")
    # Search finds it, says that it is not drawn, and Enter selects it.
    page.fill("#q", "198.51.100.23")
    assert page.text_content("#hits") == "1 match, 1 not drawn"
    page.press("#q", "Enter")
    assert page.text_content("#sel-kind") == "source (public IPv4)"
    assert page.text_content("#sel-note") == (
        f"Not drawn in the graph, which draws the busiest 1 of 6 sources (--max-nodes={CUT}). "
        "--src=198.51.100.23 draws this source alone; --max-nodes=0 draws every source."
    )
    expected = {(d, loc): t for (s, d, loc), t in example_triples().items() if s == "198.51.100.23"}
    rows = view.table("#sel-lists")
    assert {(d, loc): int(count) for d, loc, count, *_ in rows} == {k: t.count for k, t in expected.items()}
    table = view.js(
        "[...document.querySelectorAll('#triples tbody tr')].map(r => [r.className, r.cells[0].textContent])"
    )
    assert table == [["undrawn", "198.51.100.23not drawn"]] * len(expected)
    # A user and an IPv6 address: what draws each alone.
    page.fill("#q", "alice")
    page.press("#q", "Enter")
    assert "--src-user=NAME (with --use-user) draws one user alone;" in page.text_content("#sel-note")
    page.fill("#q", "2001:db8")
    page.press("#q", "Enter")
    assert "--src=2001:db8:85a3::8a2e:370:7334 draws this source alone;" in page.text_content("#sel-note")
    # A description only undrawn sources reached is not drawn either, and the panel says so.
    page.fill("#q", "Login session opened.")
    page.press("#q", "Enter")
    assert page.text_content("#sel-note").startswith("Not drawn in the graph: none of the sources it draws reached it")
    # What the note says works: --src draws that source.
    drawn = make_page(
        tmp_path / "one.html",
        f"--alerts-log={EXAMPLE}",
        "--all",
        "--use-user",
        f"--max-nodes={CUT}",
        "--src=198.51.100.23",
    )
    assert [is_drawn for role, name, _, is_drawn in page_json(drawn.read_text())["nodes"] if role == 0] == [1]


def test_a_drawn_node_marks_the_rows_the_graph_leaves_out(tab, cut_page):
    view = tab.open(cut_page)
    page = view.page
    page.click(view.node(2, "(web1) 10.0.0.2->/var/log/auth.log"))  # drawn, and reached by undrawn sources too
    assert page.is_hidden("#sel-note")
    rows = view.js(
        "[...document.querySelectorAll('#sel-lists tbody tr')].map(r => [r.className, r.cells[0].querySelector('a').textContent,"
        " !!r.querySelector('.tag')])"
    )
    assert rows and {(cls, source) for cls, source, _ in rows if cls == ""} == {("", busiest_first()[0])}
    assert all(tag == (cls == "undrawn") for cls, _, tag in rows)


# ---------------------------------------------------------------------------
# The first view, pan and zoom
# ---------------------------------------------------------------------------


def test_the_first_view_is_the_graph_alone_filling_its_area(tab, example_page, tmp_path):
    view = tab.open(example_page)
    area = view.rect("#graph")
    drawing = view.rect("#graph svg g.graph")
    width, height = drawing[2] - drawing[0], drawing[3] - drawing[1]
    assert max(width / (area[2] - area[0]), height / (area[3] - area[1])) > 0.99, (area, drawing)
    assert all(a - 1 <= d for a, d in zip(area[:2], drawing[:2], strict=True))
    assert all(d <= a + 1 for a, d in zip(area[2:], drawing[2:], strict=True))
    # The title and the legend once each: the header and the side panel, never in the graph.
    labels = view.js("[...document.querySelectorAll('#graph text')].map(t => t.textContent)")
    meanings = [meaning for _, entries in alerts2afterglow.legend() for _, meaning in entries]
    assert not [label for label in labels if label in meanings or "alert" in label or "made" in label]
    assert view.js("document.body.innerText.split('public IPv4').length") == 2
    assert view.js("document.body.innerText.split('examples/alerts.log: all alerts').length") == 2


def test_drag_and_wheel_move_the_drawn_graph_without_restyling_it(tab, example_page):
    """The graph's elements stay as they are (a gesture that restyled them redrew 8,000 elements a frame)."""
    view = tab.open(example_page)
    page = view.page
    view.js(
        "() => { window.__changes = []; new MutationObserver((records) => window.__changes.push(...records.map("
        "r => r.target.id || r.target.tagName))).observe(document.getElementById('graph'), "
        "{subtree: true, attributes: true, childList: true}); }"
    )
    node = view.node(0, "203.0.113.45")
    before = view.rect(node)
    x, y = (before[0] + before[2]) / 2, (before[1] + before[3]) / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 12 * step, y + 8 * step)
    page.mouse.up()
    after = view.rect(node)
    assert [b - a for a, b in zip(before, after, strict=True)] == pytest.approx([120, 80, 120, 80], abs=0.5)
    assert page.text_content("#sel-kind") == "Nothing selected", "a drag is no click"
    # The wheel zooms around the pointer: the point under it stays where it is.
    x, y = (after[0] + after[2]) / 2, (after[1] + after[3]) / 2
    page.mouse.move(x, y)
    for _ in range(3):
        page.mouse.wheel(0, -100)
    page.wait_for_function(
        f"document.querySelector('{node}').getBoundingClientRect().width > {(after[2] - after[0]) * 1.5}"
    )
    zoomed = view.rect(node)
    assert ((zoomed[0] + zoomed[2]) / 2, (zoomed[1] + zoomed[3]) / 2) == pytest.approx((x, y), abs=1)
    assert (zoomed[2] - zoomed[0]) / (after[2] - after[0]) == pytest.approx(1.5683, rel=0.01)  # e^(300 * 0.0015)
    assert set(view.js("window.__changes")) == {"stage"}, "only the stage's transform changed"
    page.click("#fit")
    assert view.rect(node) == pytest.approx(before, abs=0.5)


def test_a_selection_veils_all_but_its_neighbourhood(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.click(view.node(0, "192.0.2.77"))
    near = {
        view.node(role, name)
        for triple in example_triples()
        if triple[0] == "192.0.2.77"
        for role, name in enumerate(triple)
    }
    # The veil is a path with holes: a point at a node's centre shows through it, or not.
    veiled = view.js(
        "() => { const veil = document.getElementById('veil'); const inverse = veil.getScreenCTM().inverse();"
        " return Object.fromEntries([...document.querySelectorAll('#graph svg g.n')].map((g) => {"
        " const r = g.getBoundingClientRect(); const p = new DOMPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2).matrixTransform(inverse);"
        " return ['#' + g.id, veil.isPointInFill(p)]; })); }"
    )
    assert {node for node, covered in veiled.items() if not covered} == near
    assert len(veiled) > len(near)


# ---------------------------------------------------------------------------
# The keyboard
# ---------------------------------------------------------------------------


def test_names_are_links_that_tab_reaches_and_enter_selects(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.focus("#q")
    for _ in range(40):
        page.keyboard.press("Tab")
        if view.js("document.activeElement.matches('a.pick')"):
            break
    focused = view.js(
        "(() => { const a = document.activeElement, s = getComputedStyle(a);"
        " return [a.closest('section').id, a.textContent, a.getAttribute('href'), s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] == "triples", "the first names after the controls: the table's (the panel is empty)"
    name = focused[1]
    assert focused[2] == "#" + quote(f"source:{name}", safe="")
    assert focused[3:] == ["solid", "2px"], "a visible focus"
    page.keyboard.press("Enter")
    assert page.text_content("#sel-name") == name
    assert page.url.endswith(focused[2])
    assert view.js("[document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]") == [
        "sel-name",
        "solid",
    ], "the panel that shows it has the focus, and shows it"
    page.keyboard.press("Tab")
    link = view.js("[document.activeElement.closest('#sel-lists') !== null, document.activeElement.textContent]")
    assert link[0]
    page.keyboard.press("Enter")
    assert page.text_content("#sel-name") == link[1]


def test_a_name_opens_in_a_new_tab_with_a_modifier(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    link = "#triples a.pick >> nth=0"
    name = page.text_content(link)
    with page.context.expect_page() as opened:
        page.click(link, modifiers=["Control"])
    other = opened.value
    other.wait_for_function("performance.getEntriesByName('a2a-ready').length === 1")
    assert other.text_content("#sel-name") == name
    assert page.text_content("#sel-kind") == "Nothing selected", "the page itself keeps its selection"
    other.close()


# ---------------------------------------------------------------------------
# Busy nodes: the side panel in pages
# ---------------------------------------------------------------------------


def busy_location(tmp_path: Path, sources: int) -> Path:
    """alerts.json: ``sources`` addresses each reaching one web server with one description."""
    lines = [
        json.dumps(
            {
                "rule": {"sidid": 31101, "comment": "Web server 400 error code.", "level": 5},
                "id": f"1795737600.{i}",
                "srcip": f"203.0.{i // 250}.{i % 250 + 1}",
                "location": "(web2) 10.0.0.3->/var/log/apache2/access.log",
            }
        )
        for i in range(sources)
    ]
    path = tmp_path / "busy.json"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_panel_of_a_busy_node_shows_its_rows_a_page_at_a_time(tab, tmp_path):
    page_path = make_page(
        tmp_path / "busy.html", f"--alerts-json={busy_location(tmp_path, 120)}", "--all", "--layout=sfdp"
    )
    view = tab.open(page_path)
    page = view.page
    page.click(view.node(2, "(web2) 10.0.0.3->/var/log/apache2/access.log"))
    assert page.text_content("#sel-lists h3") == "Who reached it, with what (120)"
    assert len(view.table("#sel-lists")) == 50
    assert page.text_content("#sel-lists .more") == "Show 50 more (70 not shown)"
    page.focus("#sel-lists .more")
    page.keyboard.press("Enter")
    assert len(view.table("#sel-lists")) == 100
    assert (
        view.js("[...document.querySelectorAll('#sel-lists tbody tr')].indexOf(document.activeElement.closest('tr'))")
        == 50
    )
    page.click("#sel-lists .more")
    assert len(view.table("#sel-lists")) == 120 and page.locator("#sel-lists .more").count() == 0


# ---------------------------------------------------------------------------
# Names that wrap
# ---------------------------------------------------------------------------

LINE_BREAKS = """(root) => [...root.querySelectorAll('a.pick')].map((link) => {
  const walker = document.createTreeWalker(link, NodeFilter.SHOW_TEXT);
  let text = '', top = null;
  const breaks = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect && top !== null && rect.top > top + 2) breaks.push(text.length);
      if (rect) top = rect.top;
      text += node.data[i];
    }
  }
  return [text, breaks];
})"""


def test_locations_wrap_after_the_arrow_or_a_slash_never_inside_the_arrow(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.click(view.node(0, "203.0.113.45"))
    wrapped = [(text, breaks) for text, breaks in view.js(LINE_BREAKS, page.query_selector("#sel-lists")) if breaks]
    assert [text for text, _ in wrapped if "->" in text], "some location wraps in the panel"
    for text, breaks in wrapped:
        for at in breaks:
            assert text[at - 2 : at] == "->" or text[at - 1] in "/ ", (text[:at], text[at:])


# ---------------------------------------------------------------------------
# Counts that follow the level filter
# ---------------------------------------------------------------------------


def test_the_header_counts_what_the_level_filter_shows(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    made = f"made 2026-11-28 00:00 UTC by alerts2afterglow {alerts2afterglow.__version__}"
    assert page.text_content("#subtitle") == f"{holds(example_triples())} \u00b7 {made}"
    # The picture's title says the same.
    dot = run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", "--format=dot").stdout.decode()
    assert holds(example_triples()) in dot
    page.select_option("#level", "10")
    kept = {triple: t for triple, t in example_triples().items() if t.level >= 10}
    assert page.text_content("#subtitle") == f"at level 10 and up: {holds(kept)} \u00b7 {made}"
    page.select_option("#level", "")
    assert page.text_content("#subtitle").startswith(holds(example_triples()))


def test_a_selected_node_the_filter_hides_says_so(tab, example_page):
    view = tab.open(example_page)
    page = view.page
    page.click(view.node(0, "alice"))
    page.select_option("#level", "10")
    behind = [t for (s, _, _), t in example_triples().items() if s == "alice"]
    assert max(t.level for t in behind) < 10
    assert page.text_content("#sel-summary") == (
        f"No alerts at level 10 and up; at every level: {sum(t.count for t in behind)} alerts, "
        f"highest level {max(t.level for t in behind)}."
    )
    assert view.table("#sel-lists") == []


# ---------------------------------------------------------------------------
# One legend, the pictures'
# ---------------------------------------------------------------------------


def test_the_side_legend_is_the_pictures_legend(tab, example_page, tmp_path):
    view = tab.open(example_page)
    shown = view.js(
        "[...document.querySelectorAll('#legend-list h3')].map(h => [h.textContent,"
        " [...h.nextElementSibling.querySelectorAll('li')].map(li => [li.firstChild.style.backgroundColor, li.textContent])])"
    )
    picture = tmp_path / "alerts.svg"
    assert run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", f"--render={picture}").returncode == 0
    texts = re.findall(r">([^<>]+)</text>", picture.read_text())
    for heading, entries in shown:
        assert any(text.startswith(heading) for text in texts), heading
        for _, meaning in entries:
            assert any(meaning in text for text in texts), meaning
    assert "agent or manager" in [meaning for _, entries in shown for _, meaning in entries]
    assert view.page.text_content("#legend-note") in texts


# ---------------------------------------------------------------------------
# Without Graphviz
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "named"),
    [
        ("--render={dir}/alerts.html", "{dir}/alerts.html"),
        ("--format=html", "on standard output"),
        ("--format=html --output={dir}/out.html", "{dir}/out.html"),
    ],
    ids=["render", "stdout", "output"],
)
def test_without_graphviz_the_error_names_the_page(tmp_path, output, named):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "SOURCE_DATE_EPOCH": EPOCH}
    argv = [sys.executable, str(SCRIPT), f"--alerts-log={EXAMPLE}", "--all", *output.format(dir=tmp_path).split()]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"alerts2afterglow: error: cannot render the page {named.format(dir=tmp_path)}: Graphviz's 'dot' command "
        "is not installed (Debian/Ubuntu: apt-get install graphviz)\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bin"]
