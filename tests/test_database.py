"""End-to-end exports from real OSSEC databases in both schema generations."""

from __future__ import annotations

import csv
import io
import time

from ossecdb import Row

T0 = 1764237600  # 2025-11-27 10:00:00 UTC
WEB1 = "(web1) 10.0.0.2->/var/log/auth.log"
WEB2 = "(web2) 10.0.0.3->/var/log/apache2/access.log"
DB1 = "(db1) 10.1.0.2->/var/log/auth.log"
SECURE = "ossec-server->/var/log/secure"
SYSCHECK = "ossec-server->syscheck"

SIGNATURES = {
    5716: (5, "SSHD authentication failed."),
    5712: (10, "SSHD brute force trying to get access to the system."),
    31101: (5, "Web server 400 error code."),
    31103: (6, 'SQL injection attempt, "union select" seen'),
    2502: (10, "User missed the password more than one time"),
    9999: (3, "Échec d'authentification – Ошибка"),
    # 550 (syscheck) deliberately has no signature row, as since OSSEC 2.9.
}

COMMON_ROWS = [
    Row(5716, T0, WEB1, "203.0.113.5", user="root"),
    Row(5716, T0 + 10, WEB1, "203.0.113.5", user="root"),
    Row(5716, T0 + 20, WEB1, "198.51.100.7"),
    Row(5712, T0 + 30, WEB1, "203.0.113.5", level=10),
    Row(31101, T0 + 40, WEB2, "192.0.2.10"),
    Row(31103, T0 + 50, WEB2, "192.0.2.10", level=6),
    Row(550, T0 + 60, SYSCHECK, None, level=7),
    Row(2502, T0 + 70, SECURE, None, user="alice", level=10),
    Row(9999, T0 + 80, SECURE, "", user="(none)", level=3),
    Row(5716, T0 + 90, WEB1, "(null)", user="bob"),
    Row(5716, T0 + 130, DB1, "203.0.113.5", server_id=2),  # server 2's location 1
    Row(9999, T0 + 140, SECURE, "192.0.2.10", level=3),
]
# What only the 2.9+ layout can hold: IPv6, Wazuh <= 4.3 decimal text, the migration's 0.0.0.0.
TEXT_ONLY_ROWS = [
    Row(5716, T0 + 100, "(web3) 10.0.0.4->/var/log/auth.log", "2001:db8::5"),
    Row(5716, T0 + 110, WEB1, "3405803781"),  # 203.0.113.5 as Wazuh stored it
    Row(5716, T0 + 120, WEB1, "0.0.0.0"),
]

SQLI = '"SQL injection attempt, \\u0022union select\\u0022 seen"'  # AfterGlow-safe: '"' written \u0022
NON_ASCII = "\\u00c9chec d'authentification \\u2013 \\u041e\\u0448\\u0438\\u0431\\u043a\\u0430"


def load(ossec) -> None:
    rows = COMMON_ROWS + (TEXT_ONLY_ROWS if ossec.layout == "2.9" else [])
    ossec.insert(rows, SIGNATURES)


def expected_default(layout: str) -> list[str]:
    web1_count = 3 if layout == "2.9" else 2
    lines = [
        (f"192.0.2.10,{SQLI},{WEB2}", 1),
        (f"192.0.2.10,Web server 400 error code.,{WEB2}", 1),
        (f"192.0.2.10,{NON_ASCII},{SECURE}", 1),
        (f"198.51.100.7,SSHD authentication failed.,{WEB1}", 1),
        (f"203.0.113.5,SSHD authentication failed.,{DB1}", 1),
        (f"203.0.113.5,SSHD authentication failed.,{WEB1}", web1_count),
        (f"203.0.113.5,SSHD brute force trying to get access to the system.,{WEB1}", 1),
    ]
    if layout == "2.9":
        lines.insert(4, ("2001:db8::5,SSHD authentication failed.,(web3) 10.0.0.4->/var/log/auth.log", 1))
    return [f"{line},{count}" for line, count in lines]


WINDOW = ["--start-time", str(T0), "--end-time", str(T0 + 1000)]


def test_default_export_is_unique_sorted_triples(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW)
    assert result.code == 0, result.err
    assert result.lines == [line.rsplit(",", 1)[0] for line in expected_default(ossec.layout)]
    assert result.err == ""


def test_count_adds_alerts_per_triple(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--count")
    assert result.code == 0, result.err
    assert result.lines == expected_default(ossec.layout)


def test_use_user_takes_the_user_where_there_is_no_ip(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--use-user", "--count")
    assert result.code == 0, result.err
    expected = expected_default(ossec.layout) + [
        f"alice,User missed the password more than one time,{SECURE},1",
        f"bob,SSHD authentication failed.,{WEB1},1",
    ]
    assert result.lines == sorted(expected)


def test_rule_without_signature_stays_as_rule_id(ossec, cli):
    ossec.insert([Row(550, T0, SYSCHECK, "10.9.9.9")])
    result = cli(*ossec.args, *WINDOW)
    assert result.lines == [f"10.9.9.9,Rule 550,{SYSCHECK}"]


def test_show_duplicate_prints_every_alert_in_time_order(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--show-duplicate", "--exclude-alerts=9999,31103,31101")
    assert result.code == 0, result.err
    auth = "SSHD authentication failed."
    expected = [
        f"203.0.113.5,{auth},{WEB1}",
        f"203.0.113.5,{auth},{WEB1}",
        f"198.51.100.7,{auth},{WEB1}",
        f"203.0.113.5,SSHD brute force trying to get access to the system.,{WEB1}",
    ]
    if ossec.layout == "2.9":
        expected += [f"2001:db8::5,{auth},(web3) 10.0.0.4->/var/log/auth.log", f"203.0.113.5,{auth},{WEB1}"]
    expected.append(f"203.0.113.5,{auth},{DB1}")
    assert result.lines == expected


def test_show_duplicate_with_count_writes_one(ossec, cli):
    ossec.insert([Row(5716, T0, WEB1, "203.0.113.5"), Row(5716, T0 + 1, WEB1, "203.0.113.5")], SIGNATURES)
    result = cli(*ossec.args, *WINDOW, "--show-duplicate", "--count")
    assert result.lines == [f"203.0.113.5,SSHD authentication failed.,{WEB1},1"] * 2


def test_exclude_alerts_are_rule_ids_and_repeatable(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--exclude-alerts=5716,5712", "--exclude-alerts", "31101")
    assert result.code == 0, result.err
    assert result.lines == [f"192.0.2.10,{SQLI},{WEB2}", f"192.0.2.10,{NON_ASCII},{SECURE}"]


def test_window_includes_start_and_excludes_end(ossec, cli):
    ossec.insert([Row(5716, T0 + i, WEB1, f"192.0.2.{i}") for i in range(5)], SIGNATURES)
    result = cli(*ossec.args, "--start-time", str(T0 + 1), "--end-time", str(T0 + 3))
    assert [line.split(",")[0] for line in result.lines] == ["192.0.2.1", "192.0.2.2"]


def test_time_formats_are_equivalent(ossec, cli):
    ossec.insert([Row(5716, T0 + i, WEB1, f"192.0.2.{i}") for i in range(5)], SIGNATURES)
    iso = cli(*ossec.args, "--start-time=2025-11-27T10:00:01Z", "--end-time=2025-11-27T11:00:03+01:00")
    epoch = cli(*ossec.args, f"--start-time={T0 + 1}", f"--end-time={T0 + 3}")
    assert iso.code == epoch.code == 0
    assert (
        iso.lines
        == epoch.lines
        == [
            f"192.0.2.1,SSHD authentication failed.,{WEB1}",
            f"192.0.2.2,SSHD authentication failed.,{WEB1}",
        ]
    )


def test_perl_style_local_time(ossec, cli, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        ossec.insert([Row(5716, T0 + i, WEB1, f"192.0.2.{i}") for i in range(5)], SIGNATURES)
        result = cli(*ossec.args, "--start-time=2025/11/27 10:00:04", "--end-time=2025/11/27 10:00:05")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.lines == [f"192.0.2.4,SSHD authentication failed.,{WEB1}"]


def test_default_window_is_the_last_30_minutes(ossec, cli):
    now = int(time.time())
    ossec.insert([Row(5716, now - 60, WEB1, "192.0.2.1"), Row(5716, now - 31 * 60, WEB1, "192.0.2.2")], SIGNATURES)
    assert cli(*ossec.args).lines == [f"192.0.2.1,SSHD authentication failed.,{WEB1}"]
    wider = cli(*ossec.args, "--time-interval=1 Hours")
    assert [line.split(",")[0] for line in wider.lines] == ["192.0.2.1", "192.0.2.2"]
    assert cli(*ossec.args, "--time-interval", "10 SECOND").lines == []


def test_all_drops_the_window(ossec, cli):
    ossec.insert([Row(5716, 1000, WEB1, "192.0.2.1"), Row(5716, T0, WEB1, "192.0.2.2")], SIGNATURES)
    result = cli(*ossec.args, "--all")
    assert [line.split(",")[0] for line in result.lines] == ["192.0.2.1", "192.0.2.2"]


def test_empty_window_prints_nothing_and_succeeds(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, "--start-time=1000", "--end-time=2000")
    assert (result.code, result.out, result.err) == (0, "", "")


def test_plain_csv_keeps_values_unchanged(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--plain-csv", "--exclude-alerts=5716,5712,31101")
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows == [
        ["192.0.2.10", 'SQL injection attempt, "union select" seen', WEB2],
        ["192.0.2.10", "Échec d'authentification – Ошибка", SECURE],
    ]


def test_debug_explains_the_run_on_stderr_only(ossec, cli):
    load(ossec)
    result = cli(*ossec.args, *WINDOW, "--debug", "--exclude-alerts=3302")
    assert result.code == 0
    assert result.lines == [line.rsplit(",", 1)[0] for line in expected_default(ossec.layout)]
    err = result.err
    generation = "OSSEC 2.6-2.8" if ossec.layout == "2.8" else "OSSEC 2.9+"
    assert f"schema: {generation}" in err
    assert f"server: root@127.0.0.1:3306/{ossec.name}" in err
    assert "SQL: SELECT" in err and "%s" in err
    assert f"SQL parameters: [{T0}, {T0 + 1000}, 3302]" in err
    assert "2025-11-27 10:00:00 UTC" in err
    assert "excluded rule IDs: 3302" in err
    skipped = 5 if ossec.layout == "2.9" else 4
    alerts = len(COMMON_ROWS) + (3 if ossec.layout == "2.9" else 0)
    triples = len(result.lines)
    assert (
        f"alerts read: {alerts} = 0 removed by filters + {skipped} without a source + {alerts - skipped} written "
        f"as {triples} triples ({alerts - skipped - triples} duplicate"
    ) in err
    assert all(line.startswith("alerts2afterglow: debug: ") for line in err.splitlines())


def test_two_servers_sharing_location_ids_keep_their_names(ossec, cli):
    ossec.insert(
        [Row(5716, T0, WEB1, "192.0.2.1", server_id=1), Row(5716, T0, DB1, "192.0.2.1", server_id=2)], SIGNATURES
    )
    result = cli(*ossec.args, *WINDOW)
    assert result.lines == [
        f"192.0.2.1,SSHD authentication failed.,{DB1}",
        f"192.0.2.1,SSHD authentication failed.,{WEB1}",
    ]


def test_show_duplicate_with_users_matches_the_grouped_counts(ossec, cli):
    load(ossec)
    grouped = cli(*ossec.args, *WINDOW, "--use-user", "--count")
    one_by_one = cli(*ossec.args, *WINDOW, "--use-user", "--show-duplicate")
    assert grouped.code == one_by_one.code == 0
    counts: dict[str, int] = {}
    for line in one_by_one.lines:
        counts[line] = counts.get(line, 0) + 1
    assert sorted(f"{line},{count}" for line, count in counts.items()) == grouped.lines


def test_separator_characters_in_logged_values_do_not_break_the_export(ossec, cli):
    """A user name is whatever an attacker typed: ASCII record and unit separators in it must not
    split or cut the packed rows the tool reads (they become spaces, as other control characters)."""
    ossec.insert(
        [
            Row(5716, T0, WEB1, None, user="ev\x1eil\x1fuser"),
            Row(5716, T0 + 1, WEB1, None, user="ev\x1eil\x1fuser"),
            Row(5716, T0 + 2, WEB1, "192.0.2.1"),
        ],
        SIGNATURES,
    )
    for flags in (["--count"], ["--show-duplicate"]):
        result = cli(*ossec.args, *WINDOW, "--use-user", *flags)
        assert result.code == 0, result.err
        lines = [f"192.0.2.1,SSHD authentication failed.,{WEB1}"] + [f"ev il user,SSHD authentication failed.,{WEB1}"]
        if flags == ["--count"]:
            assert result.lines == [f"{lines[0]},1", f"{lines[1]},2"]
        else:
            assert result.lines == [lines[1], lines[1], lines[0]]
