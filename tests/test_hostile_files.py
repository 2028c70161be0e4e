"""Hostile alert files: every record that cannot be read is skipped and counted, never a traceback;
bounded time and memory whatever a file holds; CRLF; OSSEC's own alerts.log/alerts.json pair; a fuzz run."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import zlib

import pytest
from conftest import ROOT_DIR, SCRIPT

import alerts2afterglow

EXAMPLES = ROOT_DIR / "examples"
LOG = EXAMPLES / "alerts.log"
JSON = EXAMPLES / "alerts.json"
T0 = 1795745421  # 2026-11-27 02:10:21 UTC
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"


@pytest.fixture(params=["orjson", "json"])
def parser(request, monkeypatch):
    """Every test here runs with the [fast] extra's parser and with the standard library's alone."""
    if request.param == "json":
        monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson raises ImportError
    # [test] installs the [fast] extra: the fast variant must never quietly run without it.
    assert (alerts2afterglow.fast_json() is None) == (request.param == "json")
    return request.param


def log_alert(epoch: int, rule: str, *rest: str, header: str | None = None, location: str = AUTH) -> str:
    lines = [header or f"** Alert {epoch}.0: - syslog,sshd,", f"2026 Nov 27 02:10:21 {location}", rule, *rest]
    return "\n".join(lines) + "\n\n"


GOOD = log_alert(T0, "Rule: 5716 (level 5) -> 'SSHD authentication failed.'", "Src IP: 192.0.2.1", "sshd: x")


def write(tmp_path, name, data: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    return str(path)


def clean_run(result) -> None:
    """What a run over hostile data must look like: exit 0, warnings only, never a traceback."""
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert all(line.startswith("alerts2afterglow: warning: ") for line in result.err.splitlines()), result.err


def test_unreadable_numbers_in_alerts_log_are_skipped_and_counted(tmp_path, cli, parser):
    huge = "9" * 5000
    text = (
        GOOD
        + log_alert(T0, "Rule: 5716 (level 5) -> 'x'", "Src IP: 192.0.2.2", header=f"** Alert {huge}.0: - syslog,")
        + log_alert(T0, f"Rule: {huge} (level 5) -> 'x'", "Src IP: 192.0.2.3")
        + log_alert(T0, f"Rule: 5716 (level {huge}) -> 'x'", "Src IP: 192.0.2.4")
        + log_alert(T0, "Rule: 5716 (level 5) -> 'x'", "Src IP: 192.0.2.5", header="** Alert x1795745421.0: - a,")
        + GOOD.replace("192.0.2.1", "192.0.2.6")
    )
    path = write(tmp_path, "alerts.log", text)
    for flags in ([], ["--show-duplicate"]):
        result = cli(f"--alerts-log={path}", "--all", *flags)
        clean_run(result)
        assert result.lines == [
            f"192.0.2.1,SSHD authentication failed.,{AUTH}",
            f"192.0.2.6,SSHD authentication failed.,{AUTH}",
        ]
        assert result.err == f"alerts2afterglow: warning: {path}: skipped 4 malformed or truncated alert(s)\n"


def test_source_address_of_superscript_two_is_no_traceback(tmp_path, cli, parser):
    """`Src IP: ²` once raised ValueError (int('²')); decode_text_ip keeps or drops it, the run goes on."""
    text = GOOD + log_alert(T0 + 1, "Rule: 5716 (level 5) -> 'SSHD authentication failed.'", "Src IP: ²", "x")
    lines = json.dumps({"rule": {"id": "5760", "level": 5, "description": "d"}, "id": f"{T0}.1",
                        "location": "/var/log/secure", "data": {"srcip": "²"}}) + "\n"
    for flag, path in (("--alerts-log", write(tmp_path, "a.log", text)), ("--alerts-json", write(tmp_path, "a.json", lines))):
        result = cli(f"{flag}={path}", "--all", "--count")
        clean_run(result)
        assert all("²" not in line for line in result.lines), "AfterGlow's CSV is ASCII"
        assert len(result.lines) <= 2


def json_line(**fields) -> str:
    obj = {"rule": {"id": "5760", "level": 5, "description": "sshd: authentication failed."}, "id": f"{T0}.7",
           "location": "/var/log/secure", "agent": {"id": "004", "name": "wz1", "ip": "10.0.0.5"},
           "data": {"srcip": "192.0.2.9"}}
    obj.update(fields)
    return json.dumps(obj) + "\n"


def test_odd_json_values_are_skipped_and_counted(tmp_path, cli, parser):
    rule = {"id": "5760", "description": "d"}
    lines = [
        json_line(),  # the one good alert
        '{"rule": {"id": "5760", "level": 1e400, "description": "d"}, "location": "x", "id": "1795745421.0"}\n',
        "[" * 1000 + "]" * 1000 + "\n",  # JSON (orjson nests 1,024 deep, json as deep here), not an alert
        '{"rule": {"id": 1' + "0" * 5000 + ', "level": 5}, "location": "x"}\n',  # a 5,001-digit integer
        json_line(rule={**rule, "level": True}),
        json_line(rule={**rule, "level": 2.5}),
        json_line(rule={**rule, "id": "²", "level": 5}),
        json_line(rule={**rule, "id": ["5760"], "level": 5}),
        json_line(rule="5760"),
        json_line(location=7),
        json_line(location={"a": 1}),
        '"just a string"\n',
        "42\n",
        "null\n",
        '{"rule": {"id": "5760", "level": NaN}, "location": "x"}\n',
    ]
    odd_but_fine = [
        json_line(agent=["x"], data="y", id=None, TimeStamp=float("nan")).replace("NaN", "null"),  # no source, no time
        json_line(data={"srcip": ["192.0.2.10"], "dstuser": {"a": 1}}),  # no source
        json_line(id=f"{'9' * 5000}.1", TimeStamp=10**30),  # no usable time
        json_line(rule={**rule, "level": "7"}, data={"srcip": "192.0.2.11"}),  # a level as text is a level
    ]
    path = write(tmp_path, "alerts.json", "".join(lines + odd_but_fine))
    result = cli(f"--alerts-json={path}", "--all", "--count")
    clean_run(result)
    assert result.lines == [
        "192.0.2.11,d,(wz1) 10.0.0.5->/var/log/secure,1",
        "192.0.2.9,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure,2",
    ]
    assert result.err.splitlines() == [
        f"alerts2afterglow: warning: {path}: skipped 13 malformed or truncated alert(s)",
        f"alerts2afterglow: warning: {path}: skipped 1 line(s) that are not JSON",
    ]
    windowed = cli(f"--alerts-json={path}", f"--start-time={T0}", f"--end-time={T0 + 60}", "--count")
    clean_run(windowed)
    assert "skipped 2 alert(s) without a time" in windowed.err


def test_crlf_alerts_log_reads_like_lf(tmp_path, cli, parser):
    crlf = LOG.read_bytes().replace(b"\n", b"\r\n")
    path = write(tmp_path, "alerts.log", crlf)
    for flags in (["--count"], ["--show-duplicate", "--use-user"]):
        lf = cli(f"--alerts-log={LOG}", "--all", "--plain-csv", *flags)
        result = cli(f"--alerts-log={path}", "--all", "--plain-csv", *flags)
        assert (result.code, result.err) == (0, "")
        assert result.out == lf.out != ""
        assert "\r" not in result.out and " \n" not in result.out and " ," not in result.out


# OSSEC's documented pair (ossec-docs, docs/formats/alerts.rst): the same four alerts in both files.
OSSEC_DOC_LOG = """\
** Alert 1510376401.0: - syslog,errors,
2017 Nov 11 00:00:01 ix->/var/log/messages
Rule: 1005 (level 5) -> 'Syslogd restarted.'
Nov 11 00:00:01 ix syslogd[72090]: restart

** Alert 1510376417.172: - syslog,smtpd,
2017 Nov 11 00:00:17 (junction) 192.168.17.17->/var/log/maillog
Rule: 53508 (level 5) -> 'Server TLS certificate verification failed.'
Nov 11 00:00:16 junction smtpd[86532]: smtp-out: Server certificate verification failed on session 99fc1afc58067419

** Alert 1510376428.465: - syslog,sudo
2017 Nov 11 00:00:28 ubnt->/var/log/syslog-ng/messages
Rule: 5402 (level 3) -> 'Successful sudo to ROOT executed'
User: root
Nov  5 15:35:03 ubnt sudo:     root : TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/usr/bin/vtysh.pl -c show ip route summary json

** Alert 1510376428.758: - pam,syslog,authentication_success,
2017 Nov 11 00:00:28 ubnt->/var/log/syslog-ng/messages
Rule: 5501 (level 3) -> 'Login session opened.'
Nov  5 15:35:03 ubnt sudo: pam_unix(sudo:session): session opened for user root by (uid=0)

"""
OSSEC_DOC_JSON = """\
{"rule":{"level":5,"comment":"Syslogd restarted.","sidid":1005,"group":"syslog,errors,"},"id":"1510376401.0","TimeStamp":1510376401000,"location":"/var/log/messages","full_log":"Nov 11 00:00:01 ix syslogd[72090]: restart","hostname":"ix","program_name":"syslogd"}
{"rule":{"level":5,"comment":"Server TLS certificate verification failed.","sidid":53508,"group":"syslog,smtpd,"},"id":"1510376417.172","TimeStamp":1510376417000,"decoder":"smtpd","location":"(junction) 192.168.17.17->/var/log/maillog","full_log":"Nov 11 00:00:16 junction smtpd[86532]: smtp-out: Server certificate verification failed on session 99fc1afc58067419","hostname":"(junction) 192.168.17.17->/var/log/maillog","program_name":"smtpd"}
{"rule":{"level":3,"comment":"Successful sudo to ROOT executed","sidid":5402,"group":"syslog,sudo"},"id":"1510376428.465","TimeStamp":1510376428000,"decoder":"sudo","srcuser":"root","dstuser":"root","location":"/var/log/syslog-ng/messages","full_log":"Nov  5 15:35:03 ubnt sudo:     root : TTY=unknown ; PWD=/ ; USER=root ; COMMAND=/usr/bin/vtysh.pl -c show ip route summary json","url":"/","status":"/usr/bin/vtysh.pl -c show ip route summary json","hostname":"ubnt","program_name":"sudo"}
{"rule":{"level":3,"comment":"Login session opened.","sidid":5501,"group":"pam,syslog,authentication_success,"},"id":"1510376428.758","TimeStamp":1510376428000,"decoder":"pam","location":"/var/log/syslog-ng/messages","full_log":"Nov  5 15:35:03 ubnt sudo: pam_unix(sudo:session): session opened for user root by (uid=0)","hostname":"ubnt","program_name":"sudo"}
"""


def file_alerts(flag: str, path: str) -> list[alerts2afterglow.Alert]:
    args = alerts2afterglow.build_parser().parse_args([f"{flag}={path}", "--all", "--show-duplicate"])
    return list(alerts2afterglow.read_alert_files(alerts2afterglow.build_settings(args, T0)))


def test_ossec_documented_pair_gives_the_same_alerts(tmp_path, cli, parser):
    log_path = write(tmp_path, "alerts.log", OSSEC_DOC_LOG)
    json_path = write(tmp_path, "alerts.json", OSSEC_DOC_JSON)
    from_log, from_json = file_alerts("--alerts-log", log_path), file_alerts("--alerts-json", json_path)
    assert [a.location for a in from_json] == [
        "ix->/var/log/messages",
        "(junction) 192.168.17.17->/var/log/maillog",
        "ubnt->/var/log/syslog-ng/messages",
        "ubnt->/var/log/syslog-ng/messages",
    ]
    assert from_json == from_log
    for flags in (["--use-user", "--count"], ["--use-user", "--show-duplicate"]):
        by_log = cli(f"--alerts-log={log_path}", "--all", *flags)
        assert by_log.lines == ["root,Successful sudo to ROOT executed,ubnt->/var/log/syslog-ng/messages" + (",1" if "--count" in flags else "")]
        assert cli(f"--alerts-json={json_path}", "--all", *flags).out == by_log.out


def peak_rss_of_run(*argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the tool as a user does; its peak RSS in MB (RUSAGE_CHILDREN of this test's own process
    grows only with the largest child, so the run is done in a fresh Python that reports it)."""
    code = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=120)
    *err, rss = proc.stderr.splitlines()
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, "\n".join(err)), int(rss) / 1024


def test_a_64_mb_line_without_newline_is_skipped_in_flat_memory(tmp_path):
    big = tmp_path / "alerts.json"
    with big.open("wb") as out:
        out.write(json_line().encode())
        out.write(b'{"rule": "' + b"A" * (64 << 20))  # no newline, ever
    proc, rss = peak_rss_of_run(f"--alerts-json={big}", "--all", "--count")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "192.0.2.9,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure,1\n"
    assert proc.stderr == f"alerts2afterglow: warning: {big}: skipped 1 line(s) longer than 4 MiB"
    assert rss < 60, f"peak RSS {rss:.0f} MB for a 64 MB line"


def test_a_small_gz_that_expands_to_one_huge_alert_stays_in_flat_memory(tmp_path):
    bomb = tmp_path / "alerts.log.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as out:
        out.write(packer.compress(GOOD.encode()))
        out.write(packer.compress(f"** Alert {T0}.9: - x,\n".encode()))
        zeros = b"A" * (1 << 20)
        for _ in range(256):  # one 256 MB line inside one alert
            out.write(packer.compress(zeros))
        out.write(packer.compress(b"\n\n" + GOOD.replace("192.0.2.1", "192.0.2.2").encode()))
        out.write(packer.flush())
    assert bomb.stat().st_size < 1 << 20
    proc, rss = peak_rss_of_run(f"--alerts-log={bomb}", "--all")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"192.0.2.1,SSHD authentication failed.,{AUTH}", f"192.0.2.2,SSHD authentication failed.,{AUTH}"]
    assert proc.stderr == f"alerts2afterglow: warning: {bomb}: skipped 1 alert(s) longer than 4 MiB"
    assert rss < 60, f"peak RSS {rss:.0f} MB for a 256 MB alert"


@pytest.mark.parametrize("kind", ["log", "json"])
def test_the_cap_is_the_same_whatever_the_block_boundaries(tmp_path, cli, parser, kind, monkeypatch):
    """An alert or line just under the cap is kept, one just over is dropped, wherever blocks fall."""
    cap = alerts2afterglow.MAX_ALERT_BYTES
    if kind == "log":
        head = GOOD.replace("sshd: x\n\n", "")
        fits = head + "x" * (cap - len(head) - 2) + "\n\n"  # with the newline before the next header: cap bytes
        over = fits.replace("192.0.2.1", "192.0.2.2").replace("xx\n\n", "xxx\n\n")
        data, flag, unit = fits + over + GOOD.replace("192.0.2.1", "192.0.2.3"), "--alerts-log", "alert(s)"
    else:
        line = json_line(full_log="")
        fits = line.replace('"full_log": ""', '"full_log": "' + "x" * (cap - len(line) + 1) + '"')
        over = fits.replace("192.0.2.9", "192.0.2.2").replace('xx"', 'xxx"')
        data, flag, unit = fits + over + json_line(data={"srcip": "192.0.2.3"}), "--alerts-json", "line(s)"
    path = write(tmp_path, f"alerts.{kind}", data)
    outputs = set()
    for block in (1 << 20, 65536, 4093):
        monkeypatch.setattr(alerts2afterglow, "_BLOCK", block)
        result = cli(f"{flag}={path}", "--all")
        assert result.err == f"alerts2afterglow: warning: {path}: skipped 1 {unit} longer than 4 MiB\n"
        outputs.add(result.out)
    (out,) = outputs
    assert [line.split(",")[0] for line in out.splitlines()] == ["192.0.2.1" if kind == "log" else "192.0.2.3", "192.0.2.3" if kind == "log" else "192.0.2.9"]


def mutations(rng: random.Random, data: bytes) -> bytes:
    """One random damage: a cut, flipped bits, junk inserted or written over, or lines swapped."""
    kind = rng.randrange(5)
    if kind == 0:
        return data[: rng.randrange(len(data))]
    if kind == 1:
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
        return bytes(damaged)
    junk = bytes(rng.choice(b"\x00\n\r '\"{}[]:,0123456789.eE-*\\ALRU\xff\xc3") for _ in range(rng.randint(1, 200)))
    at = rng.randrange(len(data))
    if kind == 2:
        return data[:at] + junk + data[at:]
    if kind == 3:
        return data[:at] + junk + data[at + len(junk) :]
    lines = data.split(b"\n")
    rng.shuffle(lines)
    return b"\n".join(lines)


def test_fuzzed_examples_never_give_a_traceback(tmp_path, cli, monkeypatch):
    """A few hundred damaged copies of the shipped examples (plain and .gz, cut .gz included), with a
    fixed seed, through the CLI: exit 0, or 1 with one error line; never a traceback."""
    rng = random.Random(20261127)
    sources = {"--alerts-log": LOG.read_bytes(), "--alerts-json": JSON.read_bytes()}
    outcomes = {0: 0, 1: 0}
    for run in range(300):
        flag = rng.choice(list(sources))
        data = mutations(rng, sources[flag])
        name = f"fuzz{run}"
        if rng.random() < 0.3:
            data = gzip.compress(data, mtime=0)
            if rng.random() < 0.5:
                data = mutations(rng, data)
            name += ".gz"
        path = write(tmp_path, name, data)
        if run % 2:
            monkeypatch.setitem(sys.modules, "orjson", None)
        else:
            monkeypatch.delitem(sys.modules, "orjson", raising=False)
        window = rng.choice([["--all"], [f"--start-time={T0}", f"--end-time={T0 + 7200}"]])
        extra = rng.choice([[], ["--show-duplicate"], ["--use-user", "--count"]])
        result = cli(f"{flag}={path}", *window, *extra)
        assert "Traceback" not in result.err, result.err
        if result.code == 1:
            line = result.err.splitlines()[-1]
            assert line.startswith(f"alerts2afterglow: error: cannot read {path}: "), result.err
        else:
            assert result.code == 0, result.err
            assert all(line.count(",") >= 2 for line in result.lines)
        outcomes[result.code] += 1
    assert outcomes[0] > 200 and outcomes[1] > 0, outcomes  # both paths were taken


def test_a_line_nested_100000_deep_is_not_json(tmp_path, cli, parser):
    """Nested far beyond the recursion limit: one line skipped, the next parsed."""
    deep = write(tmp_path, "deep.json", "[" * 100_000 + "\n" + json_line())
    result = cli(f"--alerts-json={deep}", "--all")
    clean_run(result)
    assert result.lines == ["192.0.2.9,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure"]
    assert result.err == f"alerts2afterglow: warning: {deep}: skipped 1 line(s) that are not JSON\n"


def test_sources_that_are_not_ip_addresses_are_counted_once_a_run(tmp_path, cli, parser):
    """`Src IP: evil.example`, `Src IP: -`: kept as text, marked as such, and counted in one line a run, on a
    terminal or with --debug (and --logfile): a cron job over the same files gets no mail for it."""
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'"
    text = "".join(
        log_alert(T0 + i, rule, f"Src IP: {source}", "sshd: x")
        for i, source in enumerate(["evil.example", "192.0.2.1", "-", "evil.example", "2001:db8::1"])
    ) + log_alert(T0 + 7200, rule, "Src IP: evil.example", "sshd: x")  # outside the window below
    lines = json_line(data={"srcip": "-"}) + json_line(data={"srcip": "192.0.2.9"})
    files = [f"--alerts-log={write(tmp_path, 'alerts.log', text)}", f"--alerts-json={write(tmp_path, 'alerts.json', lines)}"]
    window = [f"--start-time={T0}", f"--end-time={T0 + 3600}"]
    line = "alerts2afterglow: info: 4 alerts of the alert files have a source address that is not an IP address, kept as text (first: 'evil.example')"
    for flags in (["--count"], ["--show-duplicate"]):
        quiet = cli(*files, *window, *flags)
        assert (quiet.code, quiet.err) == (0, "")
        assert {row.split(",")[0] for row in quiet.lines} == {"address:evil.example", "address:-", "192.0.2.1", "2001:db8::1", "192.0.2.9"}
        debug = cli(*files, *window, *flags, "--debug")
        assert [row for row in debug.err.splitlines() if ": info: " in row] == [line], debug.err
    assert "info: 5 alerts of the alert files" in cli(*files, "--all", "--debug").err
    logged = tmp_path / "run.log"
    assert cli(*files, *window, f"--logfile={logged}").err == ""
    assert line.removeprefix("alerts2afterglow: info: ") in logged.read_text()
    proc = subprocess.run([sys.executable, str(SCRIPT), *files, *window], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")
    from test_diagnostics import on_terminal

    code, out, shown = on_terminal(*files, *window)
    assert (code, out, shown) == (0, proc.stdout, line + "\n")


def test_millions_of_short_lines_take_flat_memory(tmp_path):
    """One alert of 2,000,000 empty lines before its Rule line (the engine kept some 150 bytes a line:
    300 MB), 100,000 short lines in alerts, and alerts.json of 3,000,000 short lines (1-byte junk,
    empty, blank, JSON that is no alert, an object cut short), among good alerts: the alerts are all
    found, every line is counted as it is, and memory stays as for the example day."""
    head = f"** Alert {T0}.0: - syslog,\n2026 Nov 27 02:10:21 {AUTH}\n"
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'\n"
    log = GOOD + head + "\n" * 2_000_000 + rule + "Src IP: 192.0.2.2\n" + head + rule + "Src IP: 192.0.2.3\n" + "x\n" * 100_000
    log_path = write(tmp_path, "alerts.log", log)
    proc, rss = peak_rss_of_run(f"--alerts-log={log_path}", "--all", "--count")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [f"192.0.2.{i},SSHD authentication failed.,{AUTH},1" for i in (1, 2, 3)]
    assert rss < 60, f"peak RSS {rss:.0f} MB"
    junk = b"x\n\n \n1\n{\n" * 600_000  # 600,000 of each kind
    json_path = write(tmp_path, "alerts.json", json_line().encode() + junk + json_line(data={"srcip": "192.0.2.8"}).encode())
    proc, rss = peak_rss_of_run(f"--alerts-json={json_path}", "--all", "--count")
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "192.0.2.8,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure,1",
        "192.0.2.9,sshd: authentication failed.,(wz1) 10.0.0.5->/var/log/secure,1",
    ]
    assert proc.stderr.splitlines() == [
        f"alerts2afterglow: warning: {json_path}: skipped 600000 malformed or truncated alert(s)",
        f"alerts2afterglow: warning: {json_path}: skipped 1200000 line(s) that are not JSON",
    ]
    assert rss < 80, f"peak RSS {rss:.0f} MB"
