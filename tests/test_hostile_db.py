"""Hostile input and faults in the db engineer's area, driven through the CLI: the database (stalls,
cut and killed connections, rows that cannot be read), option values and option files, rules files,
reverse DNS, and a missing dependency. Each case checks the exit status, stderr (one line where an
error is expected, never a traceback) and the output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter

import dns.rcode
import ossecdb
import pytest
from conftest import ROOT_DIR, SCRIPT, one_error_line
from dnsresponder import DnsResponder
from ossecdb import Row
from tcpfaults import FaultyProxy, SilentListener
from test_errors import export_blocked_on_a_lock, fill, mariadb_account, run_script
from test_files import alert_text
from test_reverse_dns import sshd_failures

import alerts2afterglow

T0 = 1764237600
WEB1 = "(web1) 10.0.0.2->/var/log/auth.log"
WINDOW = ["--start-time", str(T0), "--end-time", str(T0 + 1000)]


def assert_clean_failure(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 1, nothing on stdout, one error line holding every ``expected`` text, and nothing else on stderr."""
    assert (proc.returncode, proc.stdout) == (1, ""), proc
    line = one_error_line(proc.stderr)
    assert "Exception ignored" not in proc.stderr
    for text in expected:
        assert text in line, line
    return line


def via(port: int, ossec, *extra: str) -> list[str]:
    """The database flags of ``ossec`` with another port: the proxy's or the listener's."""
    return [arg for arg in ossec.args if not arg.startswith("--dbport")] + [f"--dbport={port}", *extra]


# ---------------------------------------------------------------------------
# The database never hangs a run and fails in one line
# ---------------------------------------------------------------------------


def test_a_server_that_accepts_and_never_greets_is_bounded_by_connect_timeout(mariadb):
    with SilentListener() as listener:
        started = time.monotonic()
        proc = run_script(f"--dbport={listener.port}", "--dbpass=x", "--connect-timeout=1")
        elapsed = time.monotonic() - started
        assert listener.accepted == 1
    assert_clean_failure(
        proc,
        f"cannot connect to MySQL ossec@127.0.0.1:{listener.port}/ossec: the server did not complete the MySQL "
        "handshake within 1 s (--connect-timeout)",
    )
    assert elapsed < 6, elapsed  # Python's start, then one second


@pytest.mark.parametrize("mode", [[], ["--show-duplicate"]], ids=["grouped", "show-duplicate"])
@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_a_proxy_that_stalls_mid_session_is_bounded_by_read_timeout(ossec, mode):
    fill(ossec, 2000)
    with FaultyProxy((ossecdb.HOST, ossecdb.PORT), "stall", after=100) as proxy:
        started = time.monotonic()
        proc = run_script(*via(proxy.port, ossec, "--all", "--read-timeout=1", *mode))
        elapsed = time.monotonic() - started
        assert proxy.faulted.is_set(), "the stall happened after the query was sent"
    assert_clean_failure(proc, "database error on root@127.0.0.1:", "the server sent nothing for 1 s (--read-timeout)")
    assert elapsed < 6, elapsed


@pytest.mark.parametrize("mode", [[], ["--show-duplicate"]], ids=["grouped", "show-duplicate"])
@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_a_proxy_that_cuts_the_connection_mid_result_gives_one_line(ossec, mode):
    """Rows were flowing when the link went: pymysql's unbuffered cursor used to print
    "Exception ignored ... Traceback" after the error line."""
    fill(ossec, 20000, distinct_sources=True)
    with FaultyProxy((ossecdb.HOST, ossecdb.PORT), "cut", after=3000) as proxy:
        proc = run_script(*via(proxy.port, ossec, "--all", *mode))
        assert proxy.faulted.is_set()
    assert_clean_failure(proc, "database error on root@127.0.0.1:", "Lost connection to MySQL server during query")


def test_a_real_kill_mid_query_gives_one_line(ossec):
    with export_blocked_on_a_lock(ossec) as (proc, connection_id):
        with ossec.conn.cursor() as cur:
            cur.execute("KILL %s", (connection_id,))
        out, err = proc.communicate(timeout=30)
    assert_clean_failure(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "database error on")


def test_the_read_timeout_default_is_documented_in_help():
    proc = run_script("--help")
    assert "--read-timeout SECONDS" in proc.stdout
    assert "(default: 600)" in proc.stdout


# ---------------------------------------------------------------------------
# Database rows that cannot be read never end the run
# ---------------------------------------------------------------------------

ODD_ADDRESSES = ["²", "١٢٣", "99999999999999999999", "4294967296", "<img src=x>"]


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_stored_addresses_that_are_not_ips_are_kept_as_text_with_one_warning(ossec, cli):
    rows = [Row(5716, T0 + i, WEB1, ip) for i, ip in enumerate([*ODD_ADDRESSES, *ODD_ADDRESSES])]
    rows += [Row(5716, T0 + 20, WEB1, "3405803781"), Row(5716, T0 + 21, WEB1, "0")]  # Wazuh decimal; no address
    ossec.insert(rows, {5716: (5, "SSHD authentication failed.")})
    result = cli(*ossec.args, *WINDOW, "--plain-csv", "--count")
    assert result.code == 0
    assert result.lines == sorted(
        [
            f'"address:{ip}",SSHD authentication failed.,{WEB1},2'
            if "," in ip
            else f"address:{ip},SSHD authentication failed.,{WEB1},2"
            for ip in ODD_ADDRESSES
        ]
        + [f"203.0.113.5,SSHD authentication failed.,{WEB1},1"]
    )
    (warning,) = result.err.splitlines()
    prefix = "alerts2afterglow: warning: 5 stored source address(es) are not IP addresses and were kept as text "
    assert warning.startswith(prefix)
    assert warning[len(prefix) :] in {f"(first: {ip!r})" for ip in ODD_ADDRESSES}  # the server's order decides
    one_by_one = cli(*ossec.args, *WINDOW, "--show-duplicate")
    assert (one_by_one.code, len(one_by_one.lines), len(one_by_one.err.splitlines())) == (0, 11, 1)


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_a_binary_address_column_with_bytes_that_are_not_utf8(ossec, cli):
    ossec.insert([Row(5716, T0, WEB1, "192.0.2.1")])
    with ossec.conn.cursor() as cur:
        cur.execute("ALTER TABLE alert MODIFY src_ip VARBINARY(46)")
        cur.execute("UPDATE alert SET src_ip = 0x3139322EFF")
    result = cli(*ossec.args, *WINDOW, "--plain-csv")
    assert result.code == 0
    assert result.lines == [f"address:192.\ufffd,Rule 5716,{WEB1}"]
    assert "not IP addresses" in result.err


@pytest.mark.parametrize(
    "mode",
    [["--all", "--count"], ["--all", "--show-duplicate"], [*WINDOW, "--count"]],
    ids=["all", "one-by-one", "window"],
)
@pytest.mark.parametrize("column", ["rule_id", "location_id", "timestamp"])
def test_alerts_with_a_null_key_in_an_altered_table_are_skipped_and_counted(ossec, cli, column, mode):
    """OSSEC declares these NOT NULL; in a table altered to allow NULL, one such row ended the run
    (ValueError from the packed context, TypeError from the times of a group)."""
    ossec.insert([Row(5716, T0 + i, WEB1, "192.0.2.1") for i in range(3)] + [Row(5716, T0 + 3, WEB1, "192.0.2.9")])
    with ossec.conn.cursor() as cur:
        cur.execute(f"ALTER TABLE alert MODIFY {column} INT UNSIGNED NULL")
        cur.execute(f"UPDATE alert SET {column} = NULL ORDER BY id DESC LIMIT 1")  # the one from 192.0.2.9
    result = cli(*ossec.args, *mode)
    assert result.code == 0, result.err
    if "--show-duplicate" in mode:
        assert result.lines == [f"192.0.2.1,Rule 5716,{WEB1}"] * 3
    else:
        assert result.lines == [f"192.0.2.1,Rule 5716,{WEB1},3"]
    assert result.err == (
        f"alerts2afterglow: warning: skipped 1 alert(s) whose {column} is NULL (OSSEC's schema declares them NOT NULL)\n"
    )


# Equal under the server's default collation (case and accents ignored, trailing spaces too), and
# distinct everywhere else; the address pairs are text only in 2.9+ layouts.
LOOK_ALIKE_USERS = ["root", "ROOT", "Root ", "röot", "root"]
LOOK_ALIKE_ADDRESSES = ["2001:DB8::1", "2001:db8::1", "2001:db8::1", "Host-A", "host-a"]


def test_grouped_database_runs_never_merge_values_the_collation_calls_equal(ossec, cli, tmp_path):
    """GROUP BY grouped under the column's collation: the users gave one line 'root,...,4'. The
    grouped run must say what --show-duplicate says, and what the same alerts say in alerts.log."""
    addresses = LOOK_ALIKE_ADDRESSES if ossec.layout == "2.9" else []
    rows = [Row(5716, T0 + i, WEB1, None, user=user) for i, user in enumerate(LOOK_ALIKE_USERS)]
    rows += [Row(5716, T0 + 10 + i, WEB1, ip) for i, ip in enumerate(addresses)]
    ossec.insert(rows, {5716: (5, "SSHD authentication failed.")})
    grouped = cli(*ossec.args, *WINDOW, "--use-user", "--count", "--plain-csv")
    one_by_one = cli(*ossec.args, *WINDOW, "--use-user", "--show-duplicate", "--plain-csv")
    assert grouped.code == one_by_one.code == 0
    counted = Counter(one_by_one.lines)
    assert grouped.lines == [f"{line},{count}" for line, count in sorted(counted.items())]
    assert {line.split(",")[0]: count for line, count in counted.items()} == {
        "root": 2,
        "ROOT": 1,
        "Root": 1,  # the trailing space goes, as from alert files
        "röot": 1,
        **({"2001:DB8::1": 1, "2001:db8::1": 2, "address:Host-A": 1, "address:host-a": 1} if addresses else {}),
    }
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'"
    log = tmp_path / "alerts.log"
    log.write_text(
        "".join(
            alert_text(row.timestamp, WEB1, rule, f"Src IP: {row.src_ip}" if row.src_ip else f"User: {row.user}")
            for row in rows
        )
    )
    from_file = cli(f"--alerts-log={log}", "--all", "--use-user", "--count", "--plain-csv")
    assert from_file.lines == grouped.lines


LOOK_ALIKE_LOCATIONS = [
    "(wéb1) 10.0.0.2->/var/log/auth.log",  # é: two bytes in UTF-8
    "(w😀b1) 10.0.0.9->/var/log/auth.log",  # four
    "(web1) 10.0.0.2->/var/log/auth.log",
    "(wEb1) 10.0.0.3->C:\\logs\\app.log",
    "(wb1) 10.0.0.4->/var/log/auth.log",
]


@pytest.mark.parametrize(
    "pattern", ["(w?b1)*", "(w??b1)*", "(wéb*", "(w*b1) 10.0.0.?->*", "*\\logs\\*", "*->C:?logs?app.log"]
)
def test_the_database_location_filter_matches_as_alert_files_do(ossec, cli, tmp_path, pattern):
    """'?' became LIKE's '_' under BINARY, one byte: '(w?b1)*' missed '(wéb1) ...' in the database but
    matched it in alerts.log, and '(w??b1)*' matched it. Now a character, and pushed down to SQL."""
    rows = [Row(5716, T0 + i, name, f"192.0.2.{i + 1}") for i, name in enumerate(LOOK_ALIKE_LOCATIONS)]
    ossec.insert(rows)
    log = tmp_path / "alerts.log"
    log.write_text(
        "".join(
            alert_text(row.timestamp, row.location, "Rule: 5716 (level 5) -> 'x'", f"Src IP: {row.src_ip}")
            for row in rows
        )
    )
    from_db = cli(*ossec.args, *WINDOW, f"--location={pattern}", "--plain-csv", "--debug")
    from_file = cli(f"--alerts-log={log}", "--all", f"--location={pattern}", "--plain-csv")
    assert from_db.code == from_file.code == 0
    assert [line.split(",", 2)[2] for line in from_db.lines] == [line.split(",", 2)[2] for line in from_file.lines]
    assert "COLLATE utf8mb4_bin LIKE" in from_db.err  # applied in SQL, not row by row
    assert "filtered row by row" not in from_db.err
    expected = {
        "(w?b1)*": LOOK_ALIKE_LOCATIONS[:4],
        "(w??b1)*": [],
        "(wéb*": LOOK_ALIKE_LOCATIONS[:1],
        "(w*b1) 10.0.0.?->*": LOOK_ALIKE_LOCATIONS,
        "*\\logs\\*": LOOK_ALIKE_LOCATIONS[3:4],
        "*->C:?logs?app.log": LOOK_ALIKE_LOCATIONS[3:4],
    }[pattern]
    assert sorted(line.split(",", 2)[2] for line in from_file.lines) == sorted(expected)


# ---------------------------------------------------------------------------
# First and last seen, from the grouping query
# ---------------------------------------------------------------------------


def test_first_and_last_seen_come_from_the_grouping_query(ossec):
    """Two managers' alerts of one triple and a second triple, through the real query and the merge."""
    ossec.insert(
        [
            Row(5716, T0 + 50, WEB1, "203.0.113.5"),
            Row(5716, T0 + 10, WEB1, "203.0.113.5"),
            Row(5716, T0 + 30, WEB1, "203.0.113.5"),
            Row(5716, T0 + 5, WEB1, "203.0.113.5", server_id=2),  # the same location name on a second manager
            Row(5716, T0 + 70, WEB1, "203.0.113.5", server_id=2),
            Row(5712, T0 + 40, WEB1, "203.0.113.5"),
            Row(5716, T0 + 2000, WEB1, "203.0.113.5"),  # outside the window
        ]
    )
    args = alerts2afterglow.build_parser().parse_args([*ossec.args, *WINDOW])
    settings = alerts2afterglow.build_settings(args, T0 + 5000)
    stats = alerts2afterglow.Stats()
    with alerts2afterglow.open_source(settings, stats) as source:
        rows = alerts2afterglow.tally_triples(source, settings.filters, False, stats)
    assert [(triple[1], tally.alerts, tally.first, tally.last) for triple, tally in rows] == [
        ("Rule 5712", 1, T0 + 40, T0 + 40),
        ("Rule 5716", 5, T0 + 5, T0 + 70),
    ]


# ---------------------------------------------------------------------------
# Option values: usage errors exit 2, one line
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start-time=99999999999999999999"], "invalid time '99999999999999999999': out of range"),
        (["--start-time=" + "9" * 5000], "invalid time"),
        (["--start-time=1000", "--end-time=253402300800"], "invalid time '253402300800': out of range"),
        (["--start-time=1000", "--end-time=253402214400"], "invalid time '253402214400': out of range"),  # 9999-12-31
        (["--start-time=1000", "--end-time=9999-12-31T00:00:00Z"], "out of range (1970-01-01 to 9999-12-30 UTC)"),
        (["--start-time=0001-01-01T00:00:00+14:00"], "out of range"),
        (["--start-time=0001-01-01T00:00:00"], "invalid time"),
        (["--time-interval=99999999999999 week"], "invalid interval"),
        (["--render-timeout=inf"], "invalid value 'inf'"),
        (["--render-timeout=nan"], "invalid value 'nan'"),
        (["--render-timeout=1e400"], "invalid value '1e400'"),
        (["--connect-timeout=inf"], "invalid value 'inf'"),
        (["--read-timeout=nan"], "invalid value 'nan'"),
        (["--read-timeout=0"], "invalid value '0'"),
        (["--dbhost=" + "a" * 64 + ".example.org"], "invalid host"),
        (["--dbhost=db..example.org"], "invalid host 'db..example.org'"),
        (["--dbhost=.example.org"], "invalid host"),
    ],
)
def test_option_values_are_usage_errors(cli, argv, message):
    assert message in cli("--dbpass=x", *argv).usage_error()


@pytest.mark.parametrize("flag", ["--dns-timeout=inf", "--dns-budget=nan", "--dns-budget=1e999"])
def test_dns_timeouts_must_be_finite(cli, flag):
    assert "invalid value" in cli("--alerts-log=-", "--do-reverse", flag).usage_error()


@pytest.mark.parametrize("end", ["6000-01-01T00:00:00Z", "9999-12-30T23:59:59Z", "253402214399"])
def test_a_window_may_end_as_late_as_the_message_says(ossec, cli, end):
    """The limit of what an alert's record may say (the year 5138) once overrode the window's own, so
    that --end-time=6000-01-01 was refused as out of the range "1970-01-01 to 9999-12-30"."""
    ossec.insert([Row(5716, T0, WEB1, "192.0.2.1")])
    result = cli(*ossec.args, f"--start-time={T0}", f"--end-time={end}")
    assert (result.code, result.lines, result.err) == (0, [f"192.0.2.1,Rule 5716,{WEB1}"], "")


def test_alert_files_read_in_a_window_that_ends_in_the_year_6000(cli):
    files = [f"--alerts-log={ROOT_DIR / 'examples/alerts.log'}", f"--alerts-json={ROOT_DIR / 'examples/alerts.json'}"]
    everything = cli(*files, "--all", "--count")
    window = cli(*files, "--start-time=0", "--end-time=6000-01-01T00:00:00Z", "--count")
    assert (window.code, window.err) == (0, "")
    assert window.out == everything.out != ""


def test_a_week_interval_longer_than_the_epoch_means_since_1970(ossec, cli):
    ossec.insert([Row(5716, T0, WEB1, "192.0.2.1")])
    result = cli(*ossec.args, "--time-interval=999999 week", "--debug")
    assert result.code == 0
    assert result.lines == [f"192.0.2.1,Rule 5716,{WEB1}"]
    assert "time window: 1970-01-01 00:00:00 UTC" in result.err


# ---------------------------------------------------------------------------
# Option files: read as the mysql client reads them; a bad one is a runtime failure (exit 1)
# ---------------------------------------------------------------------------


@pytest.fixture
def account(ossec):
    """A throw-away account with a non-ASCII password that holds a '#'."""
    with mariadb_account(ossec, "pä€ss#1") as account:
        yield account


def test_option_file_lines_that_start_with_spaces_are_options_not_continuations(cli, ossec, account, tmp_path):
    user, password = account
    cnf = tmp_path / "my.cnf"
    # configparser took the indented lines for a continuation of "no-beep" and crashed.
    cnf.write_text(f'[client]\nno-beep\n    user = {user}\n    password = "{password}"   # quoted: it holds a #\n')
    result = cli(f"--defaults-file={cnf}", f"--dbname={ossec.name}", *WINDOW)
    assert (result.code, result.lines, result.err) == (0, [f"192.0.2.1,Rule 5716,{WEB1}"], "")


def test_a_non_ascii_password_reaches_the_server_as_given(cli, ossec, account):
    """pymysql encodes a str password as latin-1: '€' raised UnicodeEncodeError before."""
    user, password = account
    assert cli(f"--dbuser={user}", f"--dbpass={password}", f"--dbname={ossec.name}", *WINDOW).code == 0
    wrong = cli(f"--dbuser={user}", "--dbpass=€uro", f"--dbname={ossec.name}", *WINDOW)
    assert wrong.code == 1
    assert f"Access denied for user '{user}'" in one_error_line(wrong.err)


def test_option_file_bytes_that_are_not_utf8_are_sent_unchanged(cli, ossec, account, tmp_path):
    user, password = account
    cnf = tmp_path / "latin1.cnf"
    cnf.write_bytes(
        f"[client]\n# caf\xe9\nuser={user}\npassword='".encode() + password.encode("latin-1", "replace") + b"'\n"
    )
    result = cli(f"--defaults-file={cnf}", f"--dbname={ossec.name}", *WINDOW)
    assert result.code == 1  # the latin-1 bytes are not the UTF-8 password: the server says no, in one line
    assert "Access denied" in one_error_line(result.err)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"password=x\n", "line 1: an option before any [group]"),
        (b"[client\npassword=x\n", "line 1: a group is written [name]"),
        (b"[client]\npassword=x\nport=99999\n", "invalid port '99999'"),
        (b"[client]\npassword=x\nhost=db..example.org\n", "invalid host 'db..example.org'"),
        (b"[client]\npassword=x\nhost=" + b"a" * 64 + b"\n", "invalid host"),
        # As the mysql client, which says "Found option without preceding group ... at line: 1".
        (b"\xef\xbb\xbf[client]\npassword=x\n", "line 1: the file starts with a UTF-8 byte order mark (BOM)"),
    ],
    ids=["no-group", "open-group", "port", "empty-label", "long-label", "bom"],
)
def test_bad_option_files_are_runtime_failures(cli, tmp_path, content, message):
    cnf = tmp_path / "bad.cnf"
    cnf.write_bytes(content)
    result = cli(f"--defaults-file={cnf}")
    assert (result.code, result.out) == (1, "")
    line = one_error_line(result.err)
    assert f"MySQL option file {cnf}" in line
    assert message in line


def test_an_endless_option_file_is_refused(cli):
    result = cli("--defaults-file=/dev/zero")
    assert result.code == 1
    assert "cannot read MySQL option file /dev/zero: larger than 1024 KiB" in one_error_line(result.err)


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_an_option_file_that_is_a_fifo_nobody_writes_reads_as_empty(ossec, tmp_path):
    """Opening it used to wait for a writer for ever, as the mysql client still does."""
    fifo = tmp_path / "my.cnf"
    os.mkfifo(fifo)
    ossec.insert([Row(5716, T0, WEB1, "192.0.2.1")])
    proc = run_script(*ossec.args, f"--defaults-file={fifo}", *WINDOW)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"192.0.2.1,Rule 5716,{WEB1}\n", "")


def test_an_option_file_whose_writer_never_finishes_is_bounded_by_connect_timeout(tmp_path):
    fifo = tmp_path / "my.cnf"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # this test holds the FIFO open for writing, and writes one line only
    try:
        os.write(writer, b"[client]\n")
        started = time.monotonic()
        proc = run_script(f"--defaults-file={fifo}", "--connect-timeout=1")
        elapsed = time.monotonic() - started
    finally:
        os.close(writer)
    assert_clean_failure(
        proc, f"cannot read MySQL option file {fifo}: the file did not end within 1 s (--connect-timeout)"
    )
    assert elapsed < 8, elapsed


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_an_option_file_from_a_process_substitution_is_read_as_the_mysql_client_reads_it(ossec):
    """``--defaults-file=<(printf ...)`` keeps a password out of argv and off the disk; the pipe's
    writer is still at work when the file is opened."""
    ossec.insert([Row(5716, T0, WEB1, "192.0.2.1")])
    script = (
        f'exec "$0" "$1" --defaults-file=<(sleep 0.5; printf "[client]\\nuser=root\\npassword=\\n") '
        f"--dbname={ossec.name} --rules-dir={ossec.rules_dir} " + " ".join(WINDOW)
    )
    proc = subprocess.run(
        ["bash", "-c", script, sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"192.0.2.1,Rule 5716,{WEB1}\n", "")


# ---------------------------------------------------------------------------
# Rules files: read as OSSEC reads them, never blocking, never expanding entities
# ---------------------------------------------------------------------------

# Each construct below is one that OSSEC's own reader (os_xml) accepts and an XML parser refuses,
# as found in OSSEC's stock syslog_rules.xml, ms_ipsec_rules.xml, msauth_rules.xml and openbsd_rules.xml.
LENIENT = r"""  <!-- Copyright (C) 2009 Trend Micro Inc.
  -- OSSEC's comments hold "--", which XML forbids -->
<var name="BAD">core_dumped|failure</var>
<group name="syslog,">
  <rule id="1002" level="2">
    <match>$BAD</match>
    <pcre2>^\<\d+\>\s+kernel: (?:\S+ )?segfault & more</pcre2>
    <description>Unknown problem somewhere in the system.</description>
  </rule>
  <rule id="51506" level="1">
    <match>UKC> quit</match>
    <status>MASTER -> BACKUP</status>
    <Description>UKC was used, possibly modifying
a kernel at boot time.</Description>
  </rule>
  <!-- <rule id="9" level="1"><description>commented out</description></rule> -->
  <rule id='18152' level="3" overwrite="no">
    <description>Multiple Windows logon failures </description>
    <description>(&lt;count&gt; &amp; more).</description>
  </rule>
</group> <!-- SYSLOG -->
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<group name="x,"><rule id="31" level="1"><description>&lol9;</description></rule></group>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [ <!ENTITY secret SYSTEM "file://{path}"> ]>
<group name="x,"><rule id="32" level="1"><description>leak: &secret;</description></rule></group>
"""


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_rules_files_read_as_ossec_reads_them(ossec, cli, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    rules = ossec.rules_dir
    (rules / "syslog_rules.xml").write_text(LENIENT)
    (rules / "laughs.xml").write_text(BILLION_LAUGHS)
    (rules / "external.xml").write_text(EXTERNAL_ENTITY.format(path=secret))
    ossec.insert([Row(rule, T0, WEB1, "192.0.2.1") for rule in (1002, 51506, 9, 18152, 31, 32)])
    started = time.monotonic()
    result = cli(*ossec.args, *WINDOW, "--plain-csv")
    assert time.monotonic() - started < 5
    assert result.code == 0
    assert result.err == ""
    descriptions = [
        "Unknown problem somewhere in the system.",  # the file an XML parser refuses: \< and & in <pcre2>
        "UKC was used, possibly modifying a kernel at boot time.",  # first line break made a space
        "Rule 9",  # commented out
        "Multiple Windows logon failures (&lt;count&gt; &amp; more).",  # joined; no entity expanded
        "&lol9;",  # billion laughs: never expanded
        "leak: &secret;",  # an external entity: never read
    ]
    quoted = [f'"{text}"' if "," in text else text for text in sorted(descriptions)]
    assert result.lines == [f"192.0.2.1,{text},{WEB1}" for text in quoted]
    assert "TOP-SECRET" not in result.out


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_rules_files_that_are_not_regular_files_are_skipped_without_blocking(ossec, tmp_path):
    rules = ossec.rules_dir
    (rules / "good.xml").write_text('<group><rule id="7" level="1"><description>ok</description></rule></group>')
    os.mkfifo(rules / "fifo.xml")  # no writer: opening it for reading would wait forever
    os.symlink("/dev/zero", rules / "zero.xml")  # never ends
    with open(rules / "huge.xml", "wb") as huge:
        huge.truncate(alerts2afterglow.RULES_FILE_MAX_BYTES + 1)
    ossec.insert([Row(7, T0, WEB1, "192.0.2.1")])
    started = time.monotonic()
    proc = run_script(*ossec.args, *WINDOW)
    assert time.monotonic() - started < 20
    assert (proc.returncode, proc.stdout) == (0, f"192.0.2.1,ok,{WEB1}\n")
    assert sorted(proc.stderr.splitlines()) == [
        f"alerts2afterglow: warning: rules file {rules / 'fifo.xml'} skipped: not a regular file",
        f"alerts2afterglow: warning: rules file {rules / 'huge.xml'} skipped: larger than 16 MiB",
        f"alerts2afterglow: warning: rules file {rules / 'zero.xml'} skipped: not a regular file",
    ]


# Each shape made the reader that was built on regular expressions backtrack: a DOCTYPE of "[]" pairs
# exponentially (40 pairs, 91 bytes, never ended), the others quadratically (200 KB took 20 to 120 s).
HOSTILE_RULES = {
    "doctype.xml": "<!DOCTYPE " + "[]" * 150_000,
    "pi.xml": "<?" * 150_000,
    "rules.xml": "<rule>" * 50_000,
    "descriptions.xml": "<rule id='8'>" + "<description>" * 23_000 + "</rule>",
    "quotes.xml": '<rule "' * 43_000,
    "name.xml": "<rule " + "a" * 300_000 + "></rule>",
    "subsets.xml": "<!DOCTYPE [!>]" * 21_000,
}


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_hostile_rules_files_are_read_in_time_linear_in_their_size(ossec):
    """A regression guard, not a benchmark (bench/bench_rules.py has the figures): seven files of
    300 KB each, which the old reader would have read for hours (the DOCTYPE for ever), take a
    fraction of a second; the bound leaves room for a slow, shared machine."""
    for name, text in HOSTILE_RULES.items():
        (ossec.rules_dir / name).write_text(text)
    (ossec.rules_dir / "zz_good.xml").write_text(
        '<group><rule id="7" level="1"><description>ok</description></rule></group>'
    )
    ossec.insert([Row(7, T0, WEB1, "192.0.2.1"), Row(8, T0, WEB1, "192.0.2.1")])
    started = time.monotonic()
    proc = run_script(*ossec.args, *WINDOW, "--debug")
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    # Rule 8's descriptions are never closed: it has none, and no rule follows in that file.
    assert proc.stdout == f"192.0.2.1,Rule 8,{WEB1}\n192.0.2.1,ok,{WEB1}\n"
    assert "rules files: 1 descriptions from 8 file(s)" in proc.stderr
    assert elapsed < 30, elapsed


# ---------------------------------------------------------------------------
# Reverse DNS: a PTR name that is not a confirmed host name never replaces an address
# ---------------------------------------------------------------------------


def test_ptr_names_that_are_not_confirmed_host_names_keep_the_address(cli, tmp_path):
    cases = {
        "203.0.113.1": ("10.0.0.99.", "not a host name"),  # an internal address in disguise
        "203.0.113.2": ("bad_name.example.net.", "not a host name"),
        "203.0.113.3": ("xn--zz.example.net.", "not a host name"),  # IDNA that does not decode
        "203.0.113.4": ("bell\\007.example.net.", "not a host name"),  # a control character
        "203.0.113.5": ("web1.example.org.", "not confirmed"),  # a name of ours, not pointing back
    }
    with DnsResponder() as responder:
        for ip, (name, _) in cases.items():
            responder.ptr(ip, name, confirmed=False)
        responder.host("web1.example.org", "10.0.0.2")
        responder.ptr("198.51.100.7", "scanner.example.net.")  # confirmed: replaces its address
        responder.ptr("2001:db8::7", "v6.example.net.")
        responder.junk("192.0.2.9")
        log = sshd_failures(tmp_path / "alerts.log", [*cases, "198.51.100.7", "2001:db8::7", "192.0.2.9"])
        result = cli(
            f"--alerts-log={log}",
            "--all",
            "--do-reverse",
            f"--nameserver={responder.address}",
            "--dns-timeout=1",
            "--debug",
        )
        forward = dict(responder.forward_queries)
    assert result.code == 0
    assert [line.split(",")[0] for line in result.lines] == sorted(
        [*cases, "192.0.2.9", "scanner.example.net", "v6.example.net"]
    )
    assert "failed: not a host name 4, not confirmed 1, " in result.err
    assert forward == {"web1.example.org": 1, "scanner.example.net": 1, "v6.example.net": 1}
    assert "Traceback" not in result.err


def test_an_answer_that_is_no_dns_message_is_skipped_and_counted(cli, tmp_path):
    with DnsResponder() as responder:
        responder.junk("192.0.2.9")
        responder.fail("192.0.2.10", dns.rcode.SERVFAIL)
        log = sshd_failures(tmp_path / "alerts.log", ["192.0.2.9", "192.0.2.10"])
        result = cli(
            f"--alerts-log={log}",
            "--all",
            "--do-reverse",
            f"--nameserver={responder.address}",
            "--dns-timeout=0.5",
            "--debug",
        )
    assert result.code == 0
    assert [line.split(",")[0] for line in result.lines] == ["192.0.2.10", "192.0.2.9"]
    assert "reverse DNS: 2 lookups, 0 answered" in result.err


@pytest.fixture(scope="module")
def private_mounts() -> None:
    """Tests that put another /etc/resolv.conf in place do it in a mount namespace of their own
    (root and unshare(1)): the machine's file is never touched."""
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here (unshare: {probe.stderr.decode().strip()})")


def run_with_resolv_conf(content: bytes, tmp_path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a process that sees ``content`` as /etc/resolv.conf."""
    conf = tmp_path / "resolv.conf"
    conf.write_bytes(content)
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', "sh", str(conf), sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "/etc/resolv.conf: no nameservers"),
        (b"# all commented out\n;nameserver 192.0.2.53\n", "/etc/resolv.conf: no nameservers"),
        (b"nameserver 192.0.2.53\nsearch caf\xe9.example\n", "/etc/resolv.conf holds bytes that are not UTF-8"),
        (b"nameserver 192.0.2.5x\n", "/etc/resolv.conf: nameserver 192.0.2.5x is not a dns.nameserver.Nameserver"),
    ],
    ids=["empty", "commented-out", "not-utf8", "bad-address"],
)
def test_reverse_dns_without_a_usable_resolv_conf_is_a_warning(private_mounts, tmp_path, content, why):
    """dnspython raised NoResolverConfiguration or UnicodeDecodeError: a traceback. Reverse DNS is
    decoration: the run writes its addresses and says why, exit 0, as when --dns-budget is spent."""
    files = [f"--alerts-log={ROOT_DIR / 'examples/alerts.log'}", "--all"]
    proc = run_with_resolv_conf(content, tmp_path, *files, "--do-reverse")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == run_script(*files).stdout != ""
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith(f"alerts2afterglow: warning: --do-reverse: no name server to ask ({why}")
    assert warning.endswith("): addresses keep their IP; give --nameserver")


@pytest.mark.parametrize("workers", ["0", "257", "999999"])
def test_dns_workers_are_capped(cli, workers):
    assert (
        f"invalid value '{workers}': expected a whole number from 1 to 256"
        in cli("--alerts-log=-", "--do-reverse", f"--dns-workers={workers}").usage_error()
    )


def test_lookup_threads_that_cannot_start_leave_the_work_to_those_that_did(tmp_path):
    """Under a memory limit (here 600 MiB of address space; each thread takes some 72 MiB of it:
    its stack and its malloc arena) most of 256 threads cannot start: RuntimeError "can't start
    new thread" ended the run. Now the lookups run on the threads that did start."""
    import resource

    addresses = [f"198.51.100.{i}" for i in range(1, 121)]
    limit = 600 * 1024 * 1024
    with DnsResponder() as responder:
        for ip in addresses:
            responder.ptr(ip, f"host{ip.rsplit('.', 1)[1]}.example.net.", delay=0.02)
        log = sshd_failures(tmp_path / "alerts.log", addresses)
        proc = run_script(
            f"--alerts-log={log}",
            "--all",
            "--do-reverse",
            f"--nameserver={responder.address}",
            "--dns-workers=256",
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
        )
    assert proc.returncode == 0, proc.stderr
    assert sorted(line.split(",")[0] for line in proc.stdout.splitlines()) == sorted(
        f"host{ip.rsplit('.', 1)[1]}.example.net" for ip in addresses
    )
    (warning,) = proc.stderr.splitlines()
    assert re.fullmatch(
        r"alerts2afterglow: warning: --dns-workers=256: only \d+ lookup\(s\) can run at once "
        r"\(can't start new thread\); the others wait their turn",
        warning,
    ), warning


# ---------------------------------------------------------------------------
# Run in place without the dependencies
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A Python with nothing installed: a fresh venv without pip."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    probe = subprocess.run([python, "-c", "import pymysql"], capture_output=True, timeout=30)
    assert probe.returncode != 0, "the bare venv must lack pymysql"
    return python


def run_bare(python: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, str(SCRIPT), *argv], capture_output=True, text=True, timeout=60, cwd=ROOT_DIR)


def test_without_pymysql_the_database_says_what_to_install(bare_python):
    proc = run_bare(bare_python, "--dbpass=x")
    assert_clean_failure(
        proc,
        "the Python package PyMySQL is not installed: pip install PyMySQL (Debian/Ubuntu: apt-get install python3-pymysql)",
    )


def test_without_dnspython_reverse_dns_says_what_to_install(bare_python):
    proc = run_bare(bare_python, "--alerts-log=examples/alerts.log", "--all", "--do-reverse")
    assert_clean_failure(proc, "pip install dnspython (Debian/Ubuntu: apt-get install python3-dnspython)")


def test_without_dependencies_help_version_and_files_still_work(bare_python):
    assert run_bare(bare_python, "--version").stdout == f"alerts2afterglow {alerts2afterglow.__version__}\n"
    assert "--read-timeout SECONDS" in run_bare(bare_python, "--help").stdout
    files = run_bare(bare_python, "--alerts-log=examples/alerts.log", "--all")
    with_deps = run_script("--alerts-log=examples/alerts.log", "--all", cwd=ROOT_DIR)
    assert (files.returncode, files.stderr) == (0, "")
    assert files.stdout == with_deps.stdout != ""
