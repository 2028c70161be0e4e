"""Where each source came from, carried to every output: a user (or an address field that is no IP
address) spelled like an address, a host or a host name never merges with one, is never looked up
in DNS and is drawn as what it is, in the CSV, AfterGlow's colours, DOT, pictures and the page; and
--max-triples bounds what a grouped run holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT_DIR, SCRIPT
from dnsresponder import DnsResponder
from test_files import make_examples
from test_pictures import afterglow, svg_fills
from test_use_host import alert_files, load, wazuh_alert

import alerts2afterglow as tool

WEB1 = make_examples.WEB1  # (web1) 10.0.0.2
SSHD = "sshd: authentication failed."
CHANGED = "Integrity checksum changed."
EXAMPLE = ROOT_DIR / "examples" / "alerts.log"
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"


def sshd(minute: int, src_ip: str | None = None, user: str | None = None):
    return wazuh_alert(minute, 5760, 5, SSHD, "/var/log/auth.log", WEB1, src_ip=src_ip, user=user)


# A hostile evening: users named like the attacker's address, an address the attacker's PTR would
# name, the agent, a host name, the mark itself; next to the real address, agent and host name.
HOSTILE = [
    sshd(0, src_ip="203.0.113.9", user="root"),  # the attacker's address
    sshd(1, user="203.0.113.9"),  # a user spelled like it
    sshd(2, user="10.0.0.5"),  # a user whose "address" has a PTR of the attacker's choice
    sshd(3, user="(web1) 10.0.0.2"),  # a user spelled like the agent
    wazuh_alert(4, 550, 7, CHANGED, "syscheck", WEB1, full_log="File '/etc/passwd' modified"),  # the agent itself
    sshd(5, src_ip="198.51.100.7"),  # an address whose confirmed name is web1.example.org
    sshd(6, user="web1.example.org"),  # a user spelled like that name
    sshd(7, user="user:203.0.113.9"),  # a user spelled like a marked user
    sshd(8, user="alice"),
    sshd(9, user="fe80::1%eth0"),  # an IPv6 address with its zone, as a user name
]
PTRS = {
    "203.0.113.9": "scanner.example.net.",
    "198.51.100.7": "web1.example.org.",
    "10.0.0.5": "trusted.example.org.",  # never to be asked: no address 10.0.0.5 raised an alert
}
# Each source as the tool writes it, and its kind; with --do-reverse, the addresses' names.
SOURCES = {
    "203.0.113.9": "public IPv4",
    "198.51.100.7": "public IPv4",
    "user:203.0.113.9": "user",
    "user:10.0.0.5": "user",
    "user:(web1) 10.0.0.2": "user",
    "(web1) 10.0.0.2": "agent or manager",
    "user:web1.example.org": "user",
    "user:user:203.0.113.9": "user",
    "alice": "user",
    "user:fe80::1%eth0": "user",
}
NAMED = {"203.0.113.9": "scanner.example.net", "198.51.100.7": "web1.example.org"}


@pytest.fixture
def hostile(tmp_path) -> dict[str, str]:
    """The hostile evening as alerts.log and alerts.json, as a Wazuh 4 manager writes them."""
    return alert_files(tmp_path, HOSTILE)


@pytest.fixture
def responder():
    with DnsResponder() as server:
        for ip, name in PTRS.items():
            server.ptr(ip, name)
        yield server


def reverse(responder: DnsResponder) -> list[str]:
    return ["--do-reverse", f"--nameserver={responder.address}", "--dns-timeout=2"]


def sources_of(lines: list[str]) -> Counter[str]:
    """The alerts behind each source of --count CSV (no value here holds a comma)."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts[line.split(",")[0]] += int(line.rsplit(",", 1)[1])
    return counts


def dot_sources(dot: str) -> dict[str, tuple[str, str]]:
    """{source: (kind its tooltip names, fill)} of a --format=dot graph."""
    nodes = re.findall(r'^  "source:(.*?)" \[label=.*?fillcolor="(#\w+)".*?tooltip="(.*?)"\];$', dot, re.M)
    return {name: (re.match(re.escape(name) + r" \((.*?)\): ", tip).group(1), fill) for name, fill, tip in nodes}


def page_sources(html: str) -> dict[str, str]:
    """{source: kind} of the page's data."""
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))
    return {name: data["kinds"][kind] for role, name, kind, _ in data["nodes"] if role == 0}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=120)


# --- users and address fields that look like something else -------------------------------------


@pytest.mark.parametrize("kind", ["log", "json"])
def test_users_spelled_like_addresses_or_hosts_stay_users_in_every_output(tmp_path, hostile, kind):
    flags = [hostile[kind], "--all", "--use-user", "--use-host"]
    csv = run(*flags, "--count", "--plain-csv")
    assert csv.returncode == 0, csv.stderr
    assert sources_of(csv.stdout.splitlines()) == dict.fromkeys(SOURCES, 1)  # no two merged into one
    afterglow_csv = run(*flags).stdout.splitlines()  # AfterGlow's colours, from ossec.properties
    colours = [colour["source"].strip('"') for colour in afterglow(afterglow_csv)["colors"]]
    assert colours == [tool.SOURCE_COLOURS[SOURCES[line.split(",")[0]]] for line in afterglow_csv]
    dot = run(*flags, "--format=dot").stdout
    assert dot_sources(dot) == {source: (kind, tool.SOURCE_COLOURS[kind]) for source, kind in SOURCES.items()}
    picture, page = tmp_path / "hostile.svg", tmp_path / "hostile.html"
    assert run(*flags, f"--render={picture}").returncode == run(*flags, f"--render={page}").returncode == 0
    fills = {node[len("source:") :]: fill for node, fill in svg_fills(picture.read_text()).items() if node.startswith("source:")}
    assert fills == {source: tool.SOURCE_COLOURS[kind] for source, kind in SOURCES.items()}
    assert page_sources(page.read_text()) == SOURCES  # the panel and tooltips say "user"


@pytest.mark.parametrize("kind", ["log", "json"])
def test_do_reverse_looks_up_only_addresses_with_use_user_and_use_host(cli, hostile, responder, kind):
    result = cli(hostile[kind], "--all", "--use-user", "--use-host", "--count", *reverse(responder), "--debug")
    assert result.code == 0, result.err
    assert set(responder.queries) == set(NAMED)  # never 10.0.0.5, never a user
    assert set(responder.forward_queries) == set(NAMED.values())
    renamed = {NAMED.get(source, source): 1 for source in SOURCES}
    assert sources_of(result.lines) == renamed
    assert "reverse DNS: 2 lookups, 2 answered" in result.err
    one_by_one = cli(hostile[kind], "--all", "--use-user", "--use-host", "--show-duplicate", *reverse(responder))
    assert Counter(line.split(",")[0] for line in one_by_one.lines) == renamed
    assert set(responder.queries) == set(NAMED)


def test_do_reverse_kinds_in_the_picture_and_the_page(tmp_path, hostile, responder):
    flags = [hostile["log"], "--all", "--use-user", "--use-host", *reverse(responder)]
    kinds = {NAMED.get(source, source): "host name" if source in NAMED else kind for source, kind in SOURCES.items()}
    dot = run(*flags, "--format=dot")
    assert dot.returncode == 0, dot.stderr
    assert dot_sources(dot.stdout) == {source: (kind, tool.SOURCE_COLOURS[kind]) for source, kind in kinds.items()}
    page = tmp_path / "named.html"
    assert run(*flags, f"--render={page}").returncode == 0
    assert page_sources(page.read_text()) == kinds
    # The user "web1.example.org" and the name of 198.51.100.7 are two nodes, each of its kind.
    assert kinds["user:web1.example.org"] == "user" and kinds["web1.example.org"] == "host name"


@pytest.mark.parametrize("ossec", ["2.8", "2.9"], indirect=True)
def test_the_database_carries_where_sources_came_from_as_files_do(ossec, cli, hostile, responder):
    load(ossec, HOSTILE)
    for flags in (["--use-user", "--use-host", "--count"], ["--use-user", "--use-host", "--count", *reverse(responder)]):
        from_db = cli(*ossec.args, "--all", *flags)
        from_file = cli(hostile["log"], "--all", *flags)
        assert from_db.code == from_file.code == 0, from_db.err
        assert from_db.lines == from_file.lines
    assert set(responder.queries) == set(NAMED)


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_an_address_field_that_is_no_ip_is_marked_and_never_poses_as_a_host(ossec, cli, tmp_path):
    """What a decoder matched as srcip may be a name of the attacker's zone, or "(ossec-server)"."""
    alerts = [
        sshd(0, src_ip="(ossec-server)"),
        sshd(1, src_ip="web1.example.org"),
        sshd(2, src_ip="address:x"),
        wazuh_alert(3, 510, 7, "rootcheck event.", "rootcheck", None, full_log="x"),  # the manager itself
    ]
    files = alert_files(tmp_path, alerts)
    load(ossec, alerts)
    expected = {
        "address:(ossec-server)": "other address",
        "address:web1.example.org": "other address",
        "address:address:x": "other address",
        "(ossec-server)": "agent or manager",
    }
    for source in ([files["log"]], [files["json"]], ossec.args):
        result = cli(*source, "--all", "--use-host", "--count")
        assert result.code == 0, result.err
        assert sources_of(result.lines) == dict.fromkeys(expected, 1)
    dot = run(files["log"], "--all", "--use-host", "--format=dot").stdout
    assert dot_sources(dot) == {source: (kind, tool.SOURCE_COLOURS[kind]) for source, kind in expected.items()}
    csv = run(files["log"], "--all", "--use-host").stdout.splitlines()
    colours = [colour["source"].strip('"') for colour in afterglow(csv)["colors"]]
    assert colours == [tool.SOURCE_COLOURS[expected[line.split(",")[0]]] for line in csv]


@pytest.mark.parametrize("ossec", ["2.8", "2.9"], indirect=True)
def test_src_user_takes_the_name_as_recorded_and_src_only_the_address(ossec, cli, hostile):
    load(ossec, HOSTILE)
    for source in ([hostile["log"]], [hostile["json"]], ossec.args):
        by_user = cli(*source, "--all", "--use-user", "--src-user=203.0.113.9", "--src-user=(web1) 10.0.0.2")
        assert by_user.lines == [f"user:(web1) 10.0.0.2,{SSHD},{AUTH}", f"user:203.0.113.9,{SSHD},{AUTH}"]
        # The spelling the output shows finds the user too (and a user named so, spelled user:user:...).
        as_shown = cli(*source, "--all", "--use-user", "--src-user=user:203.0.113.9")
        assert as_shown.lines == [f"user:203.0.113.9,{SSHD},{AUTH}", f"user:user:203.0.113.9,{SSHD},{AUTH}"]
        by_address = cli(*source, "--all", "--use-user", "--src=203.0.113.0/24")
        assert by_address.lines == [f"203.0.113.9,{SSHD},{AUTH}"]


def example_sources() -> tuple[set[str], dict[str, str]]:
    """The example day read without the tool: its addresses, and {source: kind} with --use-user
    --use-host (an address first, then the user, then the host)."""
    addresses: set[str] = set()
    kinds: dict[str, str] = {}
    for block in EXAMPLE.read_text().split("** Alert ")[1:]:
        lines = block.splitlines()
        location = lines[1].split(" ", 4)[4]
        fields = dict(line.split(": ", 1) for line in lines[2:] if re.match(r"(Src IP|User): ", line))
        if "Src IP" in fields:
            addresses.add(fields["Src IP"])
            kinds[fields["Src IP"]] = "address"
        elif "User" in fields:
            kinds[fields["User"]] = "user"
        elif "->" in location:
            host = location.split("->")[0]
            kinds[host if host.startswith("(") else f"({host})"] = "agent or manager"
    return addresses, kinds


def test_the_example_day_with_use_host_use_user_and_do_reverse(tmp_path, responder):
    addresses, kinds = example_sources()
    assert {"user", "address", "agent or manager"} <= set(kinds.values())
    named = {ip: f"host{i}.example.net" for i, ip in enumerate(sorted(addresses))}
    for ip, name in named.items():
        responder.ptr(ip, name + ".")
    dot = run(f"--alerts-log={EXAMPLE}", "--all", "--use-user", "--use-host", *reverse(responder), "--format=dot")
    assert dot.returncode == 0, dot.stderr
    assert set(responder.queries) == addresses  # every address, and nothing else
    drawn = dot_sources(dot.stdout)
    expected = {named.get(source, source): "host name" if kind == "address" else kind for source, kind in kinds.items()}
    assert {source: kind for source, (kind, _) in drawn.items()} == expected


# --- --max-triples -------------------------------------------------------------------------------


def distinct_users(path, count: int) -> str:
    """An alerts.log of ``count`` alerts, each of its own user and no address: as many triples with --use-user."""
    path.write_text(
        "".join(
            make_examples.log_entry(wazuh_alert(i % 600, 5710, 5, "sshd: invalid user.", "/var/log/auth.log", WEB1, user=f"u{i}"))
            for i in range(count)
        )
    )
    return str(path)


def test_max_triples_stops_a_run_that_would_hold_more(cli, tmp_path):
    log = distinct_users(tmp_path / "alerts.log", 2000)
    out = tmp_path / "out.csv"
    out.write_text("yesterday's\n")
    held = cli(f"--alerts-log={log}", "--all", "--use-user", "--max-triples=2000")
    assert (held.code, len(held.lines), held.err) == (0, 2000, "")
    over = cli(f"--alerts-log={log}", "--all", "--use-user", "--max-triples=1999", f"--output={out}")
    assert (over.code, over.out) == (1, "")
    assert over.err == (
        "alerts2afterglow: error: more than 1,999 distinct source, description and location triples in the alerts "
        f"read (--max-triples=1999): {tool.HOLD_FEWER}\n"
    )
    assert out.read_text() == "yesterday's\n"
    streamed = cli(f"--alerts-log={log}", "--all", "--use-user", "--max-triples=1999", "--show-duplicate")
    assert (streamed.code, len(streamed.lines)) == (0, 2000)  # one line per alert holds nothing
    narrower = cli(f"--alerts-log={log}", "--all", "--use-user", "--max-triples=1999", "--src-user=u1", "--src-user=u2")
    assert (narrower.code, len(narrower.lines)) == (0, 2)


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_max_triples_holds_for_the_database_and_its_default_is_in_the_help(ossec, cli):
    load(ossec, [sshd(i % 600, src_ip=f"198.51.100.{i}") for i in range(1, 31)])
    assert cli(*ossec.args, "--all", "--max-triples=30").code == 0
    over = cli(*ossec.args, "--all", "--max-triples=29")
    assert over.code == 1 and "more than 29 distinct" in over.err
    assert f"(default: {tool.MAX_TRIPLES})" in " ".join(run("--help").stdout.split())
    assert "--max-triples" in cli("--max-triples=0").usage_error()
