"""--use-host: alerts without a source (syscheck, rootcheck, SCA: most of what a Wazuh 4 agent raises)
drawn from the host that raised them, from alerts.log, alerts.json and the database in both layouts;
how it combines with --use-user, --src/--src-user, --top, --location-detail, and the pictures' palette."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from xml.etree import ElementTree

import pytest
from conftest import SCRIPT
from ossecdb import Row
from test_files import make_examples
from test_pictures import SVG, afterglow, svg_fills

import alerts2afterglow as tool

Example = make_examples.Example
WEB1, WEB2, WAZUH1 = make_examples.WEB1, make_examples.WEB2, make_examples.WAZUH1
MANAGER = make_examples.MANAGER  # "ossec-server"
T = make_examples.DAY + 20 * 3600  # the evening of the example day


def wazuh_alert(minute: int, rule_id: int, level: int, description: str, log: str, agent, **rest) -> Example:
    """An alert as a Wazuh 4 manager writes it to alerts.log and alerts.json (make_examples' wazuh form)."""
    return Example(
        epoch=T + 60 * minute,
        offset=1000 * minute,
        rule_id=rule_id,
        level=level,
        description=description,
        groups="ossec,syscheck," if log == "syscheck" else "ossec,rootcheck," if log == "rootcheck" else "syslog,",
        log=log,
        agent=agent,
        full_log=rest.pop("full_log", f"event {minute}"),
        wazuh=True,
        **rest,
    )


CHANGED = "Integrity checksum changed."
ADDED = "File added to the system."
ROOTCHECK = "Host-based anomaly detection event (rootcheck)."
SCA = "CIS Ubuntu Linux 22.04 LTS Benchmark v1.0.0: Ensure mounting of cramfs filesystems is disabled."
SSHD = "sshd: authentication failed."
SUDO = "Successful sudo to ROOT executed."

# An evening of a Wazuh 4 manager: one attacker, and the checks of three hosts (no srcip anywhere).
EVENING = [
    wazuh_alert(0, 5760, 5, SSHD, "/var/log/auth.log", WEB1, src_ip="203.0.113.7", src_port=40022, user="root"),
    wazuh_alert(1, 550, 7, CHANGED, "syscheck", WEB1, full_log="File '/etc/passwd' modified\nMode: realtime"),
    wazuh_alert(2, 550, 7, CHANGED, "syscheck", WEB1, full_log="File '/etc/shadow' modified\nMode: realtime"),
    wazuh_alert(3, 550, 7, CHANGED, "syscheck", WEB1, full_log="File '/etc/group' modified\nMode: realtime"),
    wazuh_alert(4, 554, 5, ADDED, "syscheck", WAZUH1, full_log="File '/tmp/.x/backdoor' added\nMode: scheduled"),
    wazuh_alert(5, 554, 5, ADDED, "syscheck", WAZUH1, full_log="File '/tmp/.x/miner' added\nMode: scheduled"),
    wazuh_alert(6, 510, 7, ROOTCHECK, "rootcheck", None, full_log="Trojaned version of file '/bin/diff' detected."),
    wazuh_alert(7, 510, 7, ROOTCHECK, "rootcheck", None, full_log="File '/dev/.x' present on /dev."),
    wazuh_alert(8, 19007, 7, SCA, "sca", WEB2, full_log="CIS check 28500 failed"),
    wazuh_alert(9, 5402, 3, SUDO, "/var/log/auth.log", WEB2, user="bob", full_log="sudo: bob : COMMAND=/bin/sh"),
]


def host(alert: Example) -> str:
    """The source --use-host draws, written out from the example, not by the tool."""
    return f"({alert.agent.name}) {alert.agent.ip}" if alert.agent else f"({MANAGER})"


def who(alert: Example, use_user: bool, use_host: bool) -> str | None:
    """The IP first, then the user (--use-user), then the host (--use-host)."""
    return alert.src_ip or (alert.user if use_user and alert.user else None) or (host(alert) if use_host else None)


def expected(use_user: bool, use_host: bool) -> list[str]:
    """What --count --plain-csv prints."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for a in EVENING:
        if source := who(a, use_user, use_host):
            counts[source, a.description, a.location] += 1
    return [f"{s},{d},{loc},{n}" for (s, d, loc), n in sorted(counts.items())]


def alert_files(tmp_path, alerts: list[Example]) -> dict[str, str]:
    """The alerts as alerts.log and alerts.json: {"log": --alerts-log=..., "json": --alerts-json=...}."""
    log, js = tmp_path / "alerts.log", tmp_path / "alerts.json"
    log.write_text("".join(map(make_examples.log_entry, alerts)))
    js.write_text("".join(map(make_examples.json_entry, alerts)))
    return {"log": f"--alerts-log={log}", "json": f"--alerts-json={js}"}


@pytest.fixture
def files(tmp_path) -> dict[str, str]:
    return alert_files(tmp_path, EVENING)


def load(ossec, alerts: list[Example] = EVENING) -> None:
    """The alerts into the database, as ossec-dbd stores them."""
    ossec.insert(
        [Row(a.rule_id, a.epoch, a.location, a.src_ip, user=a.user or "", level=a.level) for a in alerts],
        {a.rule_id: (a.level, a.description) for a in alerts},
    )


SOURCINGS = {"default": [], "host": ["--use-host"], "user": ["--use-user"], "both": ["--use-user", "--use-host"]}


@pytest.mark.parametrize("flags", SOURCINGS.values(), ids=SOURCINGS.keys())
def test_hosts_drawn_alike_from_log_json_and_database(cli, files, ossec, flags):
    load(ossec)
    want = expected("--use-user" in flags, "--use-host" in flags)
    runs = {"log": [files["log"]], "json": [files["json"]], "database": ossec.args}
    for name, argv in runs.items():
        result = cli(*argv, "--all", "--count", "--plain-csv", *flags)
        assert (result.code, result.err) == (0, ""), name
        assert result.lines == want, name
    if "--use-host" in flags:
        assert f"({MANAGER}),{ROOTCHECK},{MANAGER}->rootcheck,2" in want
        assert f"(web1) 10.0.0.2,{CHANGED},(web1) 10.0.0.2->syscheck,3" in want
        # IP, then user, then host: bob's sudo is his (with --use-user), else web2's.
        assert (f"bob,{SUDO},(web2) 10.0.0.3->/var/log/auth.log,1" in want) == ("--use-user" in flags)
        assert (f"(web2) 10.0.0.3,{SUDO},(web2) 10.0.0.3->/var/log/auth.log,1" in want) != ("--use-user" in flags)
    else:
        assert not any(line.startswith("(") for line in want), "the default stays as it was"


def test_one_line_per_alert_from_hosts(cli, files):
    result = cli(files["log"], "--all", "--show-duplicate", "--use-host", "--plain-csv")
    assert result.lines == [f"{a.src_ip or host(a)},{a.description},{a.location}" for a in EVENING]


def test_src_filters_name_sources_a_host_is_not_one(cli, files, ossec):
    """--src and --src-user keep the sources they name: the hosts' alerts are removed (and counted)
    alike from files and from the database, in both layouts (on 2.6-2.8 --src is not pushed into the
    query then: the query would keep the alerts without an address for the hosts to draw)."""
    load(ossec)
    lookups = {
        "--src": (["--src=203.0.113.0/24", "--use-host"], ["203.0.113.7"]),
        "--src with users": (["--src=203.0.113.0/24", "--use-user", "--use-host"], ["203.0.113.7"]),
        "--src-user": (["--src-user=bob", "--use-user", "--use-host"], ["bob"]),
        "--src, users only": (["--src=203.0.113.0/24", "--use-user"], ["203.0.113.7"]),
    }
    for name, (flags, kept) in lookups.items():
        results = [cli(*argv, "--all", "--debug", *flags) for argv in ([files["log"]], [files["json"]], ossec.args)]
        sources = [who(a, "--use-user" in flags, "--use-host" in flags) for a in EVENING]
        removed = sum(1 for source in sources if source and source not in kept)
        assert removed >= 1 + ("--use-host" in flags) * 8
        for result in results:
            assert result.code == 0, (name, result.err)
            assert sorted({line.split(",")[0] for line in result.lines}) == kept, name
            flag = "--src/--src-user" if "--src-user=bob" in flags else "--src"
            assert f"debug: {flag} removed {removed} alert(s)" in result.err, name
        assert results[0].out == results[1].out == results[2].out, name


def test_top_ranks_hosts_like_any_source(cli, files):
    result = cli(files["log"], "--all", "--count", "--use-host", "--top=2", "--plain-csv")
    # web1 raised 3 alerts, wazuh-agent1 and the manager 2 each (ties by name: "(ossec-server)" before "(wazuh-agent1)").
    assert {line.split(",")[0] for line in result.lines} == {"(web1) 10.0.0.2", f"({MANAGER})"}


def test_a_host_source_and_its_location_stay_two_nodes(cli, files):
    dot = cli(files["log"], "--all", "--use-host", "--location-detail=agent", "--format=dot").out
    assert '"source:(web1) 10.0.0.2" -> "event:Integrity checksum changed."' in dot
    assert '"event:Integrity checksum changed." -> "target:(web1) 10.0.0.2"' in dot
    assert '"source:(ossec-server)" -> "event:Host-based anomaly detection event (rootcheck)."' in dot
    assert '"event:Host-based anomaly detection event (rootcheck)." -> "target:ossec-server"' in dot


def test_picture_draws_hosts_in_their_own_colour_with_a_legend_entry(tmp_path, files):
    picture = tmp_path / "hosts.svg"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), files["json"], "--all", "--use-user", "--use-host", f"--render={picture}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    svg = picture.read_text()
    fills = svg_fills(svg)
    teal = tool.SOURCE_COLOURS["agent or manager"]
    assert {name: fill for name, fill in fills.items() if name.startswith("source:")} == {
        "source:203.0.113.7": tool.SOURCE_COLOURS["public IPv4"],
        "source:bob": tool.SOURCE_COLOURS["user"],
        "source:(web1) 10.0.0.2": teal,
        "source:(wazuh-agent1) 10.0.0.5": teal,
        f"source:({MANAGER})": teal,
        "source:(web2) 10.0.0.3": teal,
    }
    assert teal not in {*tool.SOURCE_COLOURS.values()} - {teal} | {*tool.LOCATION_COLOURS.values()}
    pieces = [(t.get("fill"), "".join(t.itertext()).strip()) for t in ElementTree.fromstring(svg).iter(f"{SVG}text")]
    assert pieces[pieces.index((teal, "\u25a0")) + 1][1] == "agent or manager"  # the legend's square and meaning
    assert tooltips(svg)["source:(web1) 10.0.0.2"].startswith("(web1) 10.0.0.2 (agent or manager): 3 alerts, highest level 7")


def tooltips(svg: str) -> dict[str, str]:
    """{node id: tooltip} of the drawn nodes."""
    found = {}
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            link = next(e for e in group.iter(f"{SVG}a"))
            found[group.find(f"{SVG}title").text] = link.get("{http://www.w3.org/1999/xlink}title")
    return found


def test_ossec_properties_colours_hosts_as_the_tool_does(cli, files):
    lines = cli(files["log"], "--all", "--use-user", "--use-host", "--count").lines
    result = afterglow(lines)
    assert result["errors"] == []
    colours = {line.split(",")[0]: c["source"].strip('"') for line, c in zip(lines, result["colors"], strict=True)}
    assert colours == {source: tool.SOURCE_COLOURS[tool.source_kind(source)] for source in colours}
    assert colours["(web1) 10.0.0.2"] == colours[f"({MANAGER})"] == tool.SOURCE_COLOURS["agent or manager"]
