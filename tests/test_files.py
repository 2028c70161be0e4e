"""alerts.log and alerts.json as sources: every OSSEC/Wazuh variation, gzip, stdin, broken files."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT_DIR, SCRIPT
from ossecdb import Row

import alerts2afterglow

EXAMPLES = ROOT_DIR / "examples"
LOG = str(EXAMPLES / "alerts.log")
JSON = str(EXAMPLES / "alerts.json")


def load_examples_module():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_examples"] = module
    spec.loader.exec_module(module)
    return module


make_examples = load_examples_module()


def test_examples_are_what_the_generator_writes():
    day = make_examples.build_day()
    assert (EXAMPLES / "alerts.log").read_text() == "".join(map(make_examples.log_entry, day))
    assert (EXAMPLES / "alerts.json").read_text() == "".join(map(make_examples.json_entry, day))


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
@pytest.mark.parametrize("flags", [[], ["--use-user"], ["--show-duplicate", "--use-user"]], ids=str)
def test_same_alerts_same_triples_from_log_json_and_database(ossec, cli, flags):
    day = make_examples.build_day()
    ossec.insert(
        [
            Row(a.rule_id, a.epoch, a.location, a.src_ip, user=a.user or "", level=a.level, full_log=a.full_log)
            for a in day
        ],
        {a.rule_id: (a.level, a.description) for a in day},
    )
    args = ["--all", "--count", *flags]
    from_db = cli(*ossec.args, *args)
    from_log = cli(f"--alerts-log={LOG}", *args)
    from_json = cli(f"--alerts-json={JSON}", *args)
    assert from_db.code == from_log.code == from_json.code == 0
    assert from_log.err == from_json.err == ""
    assert from_log.out == from_json.out == from_db.out
    with_source = [a for a in day if a.src_ip or ("--use-user" in flags and a.user)]
    if "--show-duplicate" in flags:
        assert len(from_log.lines) == len(with_source)
    else:
        assert sum(int(line.rsplit(",", 1)[1]) for line in from_log.lines) == len(with_source)


def test_example_triples(cli):
    result = cli(f"--alerts-log={LOG}", "--all", "--count")
    assert (
        "2001:db8:85a3::8a2e:370:7334,SQL injection attempt.,(web2) 10.0.0.3->/var/log/apache2/access.log,2"
        in result.lines
    )
    assert "203.0.113.45,sshd: authentication failed.,(wazuh-agent1) 10.0.0.5->/var/log/secure,2" in result.lines
    assert not any("syscheck" in line or "rootcheck" in line for line in result.lines), "no source IP there"


HEADER = "** Alert {epoch}.{offset}:{mail} - syslog,sshd,"


def alert_text(epoch: int, location: str, rule: str, *rest: str, mail: bool = False) -> str:
    date = time.strftime("%Y %b %d %H:%M:%S", time.gmtime(epoch))
    lines = [HEADER.format(epoch=epoch, offset=epoch % 977, mail=" mail " if mail else ""), f"{date} {location}", rule]
    return "\n".join([*lines, *rest]) + "\n\n"


T0 = 1764237600
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def test_log_variations(tmp_path, cli):
    text = (
        # OSSEC before 2.6: Src IP and User always printed, (none) when empty.
        alert_text(
            T0,
            "ossec->/var/log/messages",
            "Rule: 1002 (level 2) -> 'Unknown problem somewhere in the system.'",
            "Src IP: (none)",
            "User: (none)",
            "kernel: oops",
        )
        # "mail" flag in the header, quotes inside the description.
        + alert_text(
            T0 + 1,
            AUTH,
            "Rule: 5503 (level 5) -> 'User 'root' login failed.'",
            "Src IP: 192.0.2.1",
            "User: root",
            "sshd: failed",
            mail=True,
        )
        # Wazuh 4: labels before Rule, dynamic fields after the log, blank lines inside the alert.
        + alert_text(
            T0 + 2,
            "(wz1) any->/var/log/secure",
            "aws.region: eu-west-1",
            "Rule: 5760 (level 5) -> 'sshd: authentication failed.'",
            "Src IP: 192.0.2.2",
            "Src Port: 22",
            "User: root",
            "sshd[1]: Failed password",
            "",
            "Previous output:",
            "sshd[0]: Failed password",
            "",
            "srcip: 192.0.2.2",
        )
        # A log line that looks like an alert field must not be taken for one.
        + alert_text(
            T0 + 3,
            "ossec->/var/log/secure",
            "Rule: 5402 (level 3) -> 'Successful sudo to ROOT executed.'",
            "User: alice",
            "sudo: alice : COMMAND=/bin/sh",
            "Src IP: 10.66.66.66",
        )
    )
    path = write(tmp_path, "alerts.log", text)
    result = cli(f"--alerts-log={path}", "--all", "--use-user", "--count")
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.lines == [
        f"192.0.2.1,User 'root' login failed.,{AUTH},1",
        "192.0.2.2,sshd: authentication failed.,(wz1) any->/var/log/secure,1",
        "alice,Successful sudo to ROOT executed.,ossec->/var/log/secure,1",
    ]


def test_truncated_and_malformed_alerts_are_counted_and_skipped(tmp_path, cli):
    good = alert_text(T0, AUTH, "Rule: 5716 (level 5) -> 'SSHD authentication failed.'", "Src IP: 192.0.2.1", "log")
    text = (
        "ssh2\n\n"  # the tail of an alert cut by rotation
        + good
        + "** Alert 1764237601.123: - syslog,\n2025 Nov 27 10:00:01 (web1) 10.0.0.2->/var/log/auth.log\nRule: banana\n\n"
        + good.replace("192.0.2.1", "192.0.2.2")
        + "** Alert 1764237700.999: - syslog,sshd,\n2025 Nov 27 10:0"  # cut mid-write: a live file, not malformed
    )
    path = write(tmp_path, "alerts.log", text)
    result = cli(f"--alerts-log={path}", "--all")
    assert result.code == 0
    assert result.lines == [
        f"192.0.2.1,SSHD authentication failed.,{AUTH}",
        f"192.0.2.2,SSHD authentication failed.,{AUTH}",
    ]
    assert result.err == f"alerts2afterglow: warning: {path}: skipped 2 malformed or truncated alert(s)\n"


def test_non_utf8_bytes_survive(tmp_path, cli):
    raw = alert_text(T0, "ossec->/var/log/caf\udce9.log", "Rule: 1 (level 5) -> 'r\udcff'", "Src IP: 192.0.2.1", "x")
    path = write(tmp_path, "alerts.log", raw.encode("utf-8", "surrogateescape"))
    safe = cli(f"--alerts-log={path}", "--all")
    assert safe.lines == ["192.0.2.1,r\\udcff,ossec->/var/log/caf\\udce9.log"]
    plain = subprocess.run(
        [sys.executable, str(SCRIPT), f"--alerts-log={path}", "--all", "--plain-csv"], capture_output=True, check=True
    )
    assert plain.stdout == b"192.0.2.1,r\xff,ossec->/var/log/caf\xe9.log\n"


def test_gzip_and_truncated_gzip(tmp_path, cli):
    data = (EXAMPLES / "alerts.log").read_bytes()
    whole = tmp_path / "ossec-alerts-27.log.gz"
    whole.write_bytes(gzip.compress(data))
    expected = cli(f"--alerts-log={LOG}", "--all").out
    assert cli(f"--alerts-log={whole}", "--all").out == expected

    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    result = cli(f"--alerts-log={cut}", "--all", "--show-duplicate")
    assert result.code == 0
    assert 0 < len(result.lines) < len(cli(f"--alerts-log={LOG}", "--all", "--show-duplicate").lines)
    assert "the compressed file ends early" in result.err

    bogus = write(tmp_path, "bogus.log.gz", b"this is not gzip\n")
    bad = cli(f"--alerts-log={bogus}", "--all")
    assert bad.code == 1
    assert bad.err == f"alerts2afterglow: error: cannot read {bogus}: not a gzip file\n"


def test_stdin(tmp_path):
    data = (EXAMPLES / "alerts.json").read_text()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--alerts-json=-", "--all"], input=data, capture_output=True, text=True
    )
    reference = subprocess.run(
        [sys.executable, str(SCRIPT), f"--alerts-json={JSON}", "--all"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout == reference.stdout != ""


def test_time_window_uses_header_epochs(tmp_path, cli):
    text = "".join(
        alert_text(T0 + i, AUTH, "Rule: 5716 (level 5) -> 'SSHD authentication failed.'", f"Src IP: 192.0.2.{i}", "l")
        for i in range(5)
    )
    path = write(tmp_path, "alerts.log", text)
    result = cli(f"--alerts-log={path}", f"--start-time={T0 + 1}", f"--end-time={T0 + 3}", "--show-duplicate")
    assert [line.split(",")[0] for line in result.lines] == ["192.0.2.1", "192.0.2.2"]
    # The default window is the last 30 minutes: these alerts are older.
    assert cli(f"--alerts-log={path}").out == ""


def json_lines(*objects) -> str:
    return "".join(obj if isinstance(obj, str) else json.dumps(obj) + "\n" for obj in objects)


def test_json_generations(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    ossec29 = {
        "rule": {"level": 5, "comment": "SSHD authentication failed.", "sidid": 5716},
        "srcip": "192.0.2.9",
        "dstuser": "root",
        "location": AUTH,
    }
    ossec3 = {
        "rule": {"level": 6, "comment": "SQL injection attempt.", "sidid": 31103},
        "id": f"{T0}.11",
        "TimeStamp": T0 * 1000,
        "srcip": "192.0.2.3",
        "location": "(web2) 10.0.0.3->/var/log/httpd/access_log",
        "agent_name": "web2",
        "agentip": "10.0.0.3",
    }
    ossec3_text_time = {
        "rule": {"level": 3, "comment": "Login session opened.", "sidid": 5501},
        "timestamp": "2025 Nov 27 10:00:05",
        "location": "ossec->/var/log/secure",
        "dstuser": "bob",
    }
    wazuh = {
        "timestamp": "2025-11-27T11:00:07.123+0100",
        "rule": {"level": 5, "description": "sshd: authentication failed.", "id": "5760"},
        "agent": {"id": "004", "name": "wz1", "ip": "10.0.0.5"},
        "data": {"srcuser": "carol"},
        "location": "/var/log/secure",
    }
    wazuh_manager = {
        "timestamp": "2025-11-27T10:00:08.000+0000",
        "rule": {"level": 7, "description": "Integrity checksum changed.", "id": "550"},
        "agent": {"id": "000", "name": "wazuh-manager"},
        "location": "syscheck",
        "data": {"srcip": "2001:db8::7"},
    }
    path = write(
        tmp_path,
        "alerts.json",
        json_lines(ossec29, ossec3, ossec3_text_time, "not json at all\n", wazuh, wazuh_manager, {"no": "rule"}, "\n"),
    )
    window = [f"--start-time={T0}", f"--end-time={T0 + 60}"]
    try:
        result = cli(f"--alerts-json={path}", *window, "--use-user", "--count")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.code == 0
    assert result.lines == [
        "192.0.2.3,SQL injection attempt.,(web2) 10.0.0.3->/var/log/httpd/access_log,1",
        "2001:db8::7,Integrity checksum changed.,wazuh-manager->syscheck,1",
        "bob,Login session opened.,ossec->/var/log/secure,1",
        "carol,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure,1",
    ]
    assert result.err.splitlines() == [
        f"alerts2afterglow: warning: {path}: skipped 1 malformed or truncated alert(s)",
        f"alerts2afterglow: warning: {path}: skipped 1 line(s) that are not JSON",
        f"alerts2afterglow: warning: {path}: skipped 1 alert(s) without a time, outside any time window (use --all)",
    ]
    everything = cli(f"--alerts-json={path}", "--all")
    assert f"192.0.2.9,SSHD authentication failed.,{AUTH}" in everything.lines


def test_filters_and_outputs_work_over_files(tmp_path, cli):
    out = tmp_path / "graph.csv"
    result = cli(
        f"--alerts-log={LOG}", "--all", "--exclude-alerts=5716,5710,5712,31101,31103,31104,31106", f"--output={out}"
    )
    assert result.code == 0
    assert out.read_text().splitlines() == [
        "198.51.100.23,sshd: authentication failed.,(wazuh-agent1) 10.0.0.5->/var/log/secure",
        "198.51.100.99,Multiple web server 400 error codes from same source ip.,(web2) 10.0.0.3->/var/log/apache2/access.log",
        "203.0.113.45,sshd: authentication failed.,(wazuh-agent1) 10.0.0.5->/var/log/secure",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([f"--alerts-log={LOG}", "--dbhost=db"], "--dbhost cannot be combined with --alerts-log or --alerts-json"),
        ([f"--alerts-json={JSON}", "--dbpass=x", "--dbname=o"], "--dbname, --dbpass cannot be combined"),
        (["--alerts-log=-", "--alerts-json=-"], "standard input (-) can be read only once"),
    ],
)
def test_file_usage_errors(cli, argv, message):
    assert message in cli(*argv).usage_error()


def test_missing_file(cli, tmp_path):
    result = cli(f"--alerts-log={tmp_path}/nope.log", "--all")
    assert result.code == 1
    assert result.err == f"alerts2afterglow: error: cannot read {tmp_path}/nope.log: No such file or directory\n"


def test_a_file_that_is_not_an_alerts_log_is_named(cli, tmp_path):
    path = write(tmp_path, "messages", "Nov 27 10:00:00 host sshd[1]: hello\n" * 1000)
    result = cli(f"--alerts-log={path}", "--all")
    assert (result.code, result.out) == (0, "")
    assert result.err == f"alerts2afterglow: warning: {path}: no '** Alert' line anywhere: is it an OSSEC alerts.log?\n"


def test_an_alert_that_ends_in_its_src_ip_or_user_line_keeps_them(tmp_path, cli):
    """No log line after the fields (no blank line either): the line's newline is the next header's."""
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'"

    def bare(epoch: int, *fields: str) -> str:
        return "\n".join([HEADER.format(epoch=epoch, offset=0, mail=""), f"2025 Nov 27 10:00:00 {AUTH}", rule, *fields]) + "\n"

    text = (
        bare(T0, "Src IP: 192.0.2.1")
        + bare(T0 + 1, "User: bob")
        + bare(T0 + 2, "Src IP: 192.0.2.3", "Src Port: 22", "User: carol")
        + bare(T0 + 3, rule.replace("5716", "5717"))  # the Rule line is the last: no source at all
        + bare(T0 + 4, "Src IP: 192.0.2.5")  # at the end of the file
    )
    expected = [
        f"192.0.2.1,SSHD authentication failed.,{AUTH}",
        f"bob,SSHD authentication failed.,{AUTH}",
        f"192.0.2.3,SSHD authentication failed.,{AUTH}",
        f"192.0.2.5,SSHD authentication failed.,{AUTH}",
    ]
    for name, data in (("lf.log", text), ("crlf.log", text.replace("\n", "\r\n"))):
        path = write(tmp_path, name, data)
        for window in (["--all"], [f"--start-time={T0}", f"--end-time={T0 + 5}"]):
            result = cli(f"--alerts-log={path}", *window, "--use-user", "--show-duplicate")
            assert (result.code, result.err) == (0, ""), name
            assert result.lines == expected, name
            grouped = cli(f"--alerts-log={path}", *window, "--use-user", "--count")
            assert grouped.lines == sorted(f"{line},1" for line in expected), name


@pytest.mark.parametrize("flag", ["--alerts-log", "--alerts-json"])
def test_closed_stdin_is_one_error_line(flag):
    """`alerts2afterglow --alerts-log=- <&-`: Python starts with no sys.stdin at all."""
    proc = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" <&-', sys.executable, str(SCRIPT), f"{flag}=-", "--all"],
        capture_output=True, text=True, timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "alerts2afterglow: error: cannot read standard input (-): it is closed\n"


def test_wazuh_agent_registered_with_any_reads_as_alerts_log_writes_it(tmp_path, cli):
    """Wazuh registers agents with the address "any" by default; alerts.log writes the location as
    received, "(wz2) any->/var/log/secure", and alerts.json leaves agent.ip out (W_JSON_ParseAgentIP
    skips "any"). Both files of the same alerts give the same triples."""
    log = alert_text(T0, "(wz2) any->/var/log/secure", "Rule: 5760 (level 5) -> 'sshd: authentication failed.'", "Src IP: 192.0.2.7", "sshd: x")
    log += alert_text(T0 + 1, "(wz3) 10.0.0.9->/var/log/secure", "Rule: 5760 (level 5) -> 'sshd: authentication failed.'", "Src IP: 192.0.2.8", "sshd: y")
    log += alert_text(T0 + 2, "wazuh-manager->/var/log/secure", "Rule: 5760 (level 5) -> 'sshd: authentication failed.'", "Src IP: 192.0.2.9", "sshd: z")
    rule = {"level": 5, "description": "sshd: authentication failed.", "id": "5760"}
    objects = [
        {"rule": rule, "agent": {"id": "005", "name": "wz2"}, "id": f"{T0}.0", "location": "/var/log/secure", "data": {"srcip": "192.0.2.7"}},
        {"rule": rule, "agent": {"id": "006", "name": "wz3", "ip": "10.0.0.9"}, "id": f"{T0 + 1}.0", "location": "/var/log/secure", "data": {"srcip": "192.0.2.8"}},
        {"rule": rule, "agent": {"id": "000", "name": "wazuh-manager"}, "id": f"{T0 + 2}.0", "location": "/var/log/secure", "data": {"srcip": "192.0.2.9"}},
    ]
    with_any = [{**objects[0], "agent": {"id": "005", "name": "wz2", "ip": "any"}}, *objects[1:]]  # as if it were written
    by_log = cli(f"--alerts-log={write(tmp_path, 'alerts.log', log)}", "--all", "--count")
    assert by_log.lines == [
        "192.0.2.7,sshd: authentication failed.,(wz2) any->/var/log/secure,1",
        "192.0.2.8,sshd: authentication failed.,(wz3) 10.0.0.9->/var/log/secure,1",
        "192.0.2.9,sshd: authentication failed.,wazuh-manager->/var/log/secure,1",
    ]
    for name, lines in (("without.json", objects), ("any.json", with_any)):
        by_json = cli(f"--alerts-json={write(tmp_path, name, json_lines(*lines))}", "--all", "--count")
        assert (by_json.code, by_json.err) == (0, "")
        assert by_json.out == by_log.out, name


@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_live_file_whose_last_alert_is_being_written_is_quiet(tmp_path, cli, kind):
    """OSSEC appends to alerts.log while cron reads it: the last alert may end mid-line, its header
    included. It is left for the next run; only --debug says so (a cron job gets nothing on stderr),
    and every cut gives all the alerts before it."""
    whole = (EXAMPLES / f"alerts.{kind}").read_bytes()
    last = whole.rindex(b"** Alert ") if kind == "log" else whole.rindex(b"\n", 0, -1) + 1
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
    before = cli(f"{flag}={write(tmp_path, 'before', whole[:last])}", "--all", "--count", "--use-user").out
    mid_line = [cut for cut in range(last + 1, len(whole)) if whole[cut - 1] != ord("\n") and whole[cut] != ord("\n")]
    header = whole.index(b"\n", last)  # every cut inside the header line, then some further on
    unit = "alert" if kind == "log" else "line"
    for cut in sorted({*range(last + 1, header), *mid_line[:: len(mid_line) // 5]}):
        path = write(tmp_path, f"live{cut}", whole[:cut])
        quiet = cli(f"{flag}={path}", "--all", "--count", "--use-user")
        assert (quiet.code, quiet.err) == (0, ""), cut
        assert quiet.out == before != "", cut
        debug = cli(f"{flag}={path}", "--all", "--count", "--use-user", "--debug")
        assert f"debug: {path}: the last {unit} is incomplete (is the file being written?): not read" in debug.err, cut
        assert "warning" not in debug.err, cut
    cron = subprocess.run([sys.executable, str(SCRIPT), f"{flag}={path}", "--all", "--count", "--use-user"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert (cron.returncode, cron.stdout, cron.stderr) == (0, before, "")


def test_the_atomic_form_for_python_3_11_2_matches_as_the_possessive_one():
    """Python 3.11.0-3.11.2 get possessive repeats of groups wrong, and read alerts.log with atomic
    groups instead (alerts2afterglow._log_alert_body): on every alert of the examples, and on alerts
    that end on a field, carry label lines or stop before the next header, both forms find the same."""
    alerts = (ROOT_DIR / "examples" / "alerts.log").read_bytes() + (
        b"** Alert 1764237600.1: - x\n2026 Nov 27 10:00:00 (web1) 10.0.0.2->/var/log/auth.log\n"
        b"label: a\n**\nRule: 5716 (level 5) -> 'd'\nSrc IP: 192.0.2.1\nSrc Port: 22\nUser: root\n"
        b"** Alert 1764237601.2: - x\n2026 Nov 27 10:00:01 ossec->/var/log/secure\nRule: 1 (level 3) -> 'e'\n"
        b"Dst IP: 10.0.0.1\n\n"
        b"** Alert 1764237602.3: - x\n2026 Nov 27 10:00:02 ossec->x\nRule: 1 (level 3) -> 'f'\nUser: bob"
    )
    data = b"\n" + alerts
    atomic = re.compile(alerts2afterglow._LOG_EPOCH_RE.pattern + alerts2afterglow._log_alert_body(possessive=False))
    found = [m.groups()[1:] for m in alerts2afterglow._LOG_ALERT_RE.finditer(data)]  # as this Python reads them
    assert [m.groups()[1:] for m in atomic.finditer(data)] == found
    assert len(found) == data.count(b"\n** Alert ")
    assert found[-3:] == [
        (b"(web1) 10.0.0.2->/var/log/auth.log", b"5716 (level 5) -> 'd", b"192.0.2.1", b"root"),
        (b"ossec->/var/log/secure", b"1 (level 3) -> 'e", None, None),
        (b"ossec->x", b"1 (level 3) -> 'f", None, b"bob"),
    ]
