"""Incident lookup: --src, --src-user, --location, --min-level and --rules over every source."""

from __future__ import annotations

import re

import pytest
from ossecdb import Row
from test_files import JSON, LOG, make_examples

DAY = make_examples.build_day()


def load_examples(ossec) -> None:
    """The example day, as ossec-dbd would have stored it (2.6-2.8 cannot hold IPv6 addresses)."""
    alerts = [a for a in DAY if ossec.layout == "2.9" or not (a.src_ip and ":" in a.src_ip)]
    ossec.insert(
        [Row(a.rule_id, a.epoch, a.location, a.src_ip, user=a.user or "", level=a.level) for a in alerts],
        {a.rule_id: (a.level, a.description) for a in alerts},
    )


def without_ipv6(lines: list[str]) -> list[str]:
    return [line for line in lines if ":" not in line.split(",")[0]]


LOOKUPS = {
    "src-v4-net": ["--src=203.0.113.0/24"],
    "src-v6-net": ["--src=2001:db8::/32"],
    "src-several": ["--src=198.51.100.0/24", "--src=192.0.2.77"],
    "location-agent": ["--location=(web2*"],
    "location-log-users": ["--location=*->/var/log/secure", "--use-user"],
    "location-class": ["--location=(web[12]) 10.0.0.?->*"],
    "min-level": ["--min-level=7", "--use-user"],
    "rules-and-exclusion": ["--rules=5716,5712", "--exclude-alerts=5712"],
    "src-user": ["--use-user", "--src-user=alice", "--src=192.0.2.0/24"],
    "combined": ["--src=203.0.113.0/24", "--location=(web1*", "--min-level=5", "--rules=5716,5710,5712"],
}


@pytest.mark.parametrize("lookup", LOOKUPS.values(), ids=LOOKUPS.keys())
def test_same_lookup_same_triples_from_every_source(ossec, cli, lookup):
    load_examples(ossec)
    args = ["--all", "--count", *lookup]
    from_log = cli(f"--alerts-log={LOG}", *args)
    from_json = cli(f"--alerts-json={JSON}", *args)
    from_db = cli(*ossec.args, *args)
    unfiltered = cli(f"--alerts-log={LOG}", "--all", "--count", *(["--use-user"] if "--use-user" in lookup else []))
    assert from_log.code == from_json.code == from_db.code == 0
    assert from_log.out == from_json.out
    assert from_log.lines, "every lookup here finds something"
    assert set(from_log.lines) < set(unfiltered.lines), "and leaves something out"
    expected = from_log.lines if ossec.layout == "2.9" else without_ipv6(from_log.lines)
    assert from_db.lines == expected


def sources(result) -> set[str]:
    return {line.split(",")[0] for line in result.lines}


def test_lookups_select_what_they_say(cli):
    base = [f"--alerts-log={LOG}", "--all"]
    assert sources(cli(*base, "--src=203.0.113.0/24")) == {"203.0.113.45"}
    assert sources(cli(*base, "--src=2001:db8::/32")) == {"2001:db8:85a3::8a2e:370:7334"}
    assert sources(cli(*base, "--use-user", "--src-user=alice")) == {"alice"}
    assert {line.split(",")[2] for line in cli(*base, "--location=(web2*").lines} == {
        "(web2) 10.0.0.3->/var/log/apache2/access.log"
    }
    high = cli(*base, "--min-level=10")
    assert {line.split(",")[1] for line in high.lines} == {
        "SSHD brute force trying to get access to the system.",
        "Multiple web server 400 error codes from same source ip.",
    }
    only = cli(*base, "--rules=5716,5712", "--rules=31151", "--exclude-alerts=5712")
    assert {line.split(",")[1] for line in only.lines} == {
        "SSHD authentication failed.",
        "Multiple web server 400 error codes from same source ip.",
    }


@pytest.mark.parametrize("ossec", ["2.8", "2.9"], indirect=True)
def test_debug_counts_what_each_filter_removed_alike_for_db_and_files(ossec, cli):
    load_examples(ossec)
    lookup = [
        "--all",
        "--debug",
        "--exclude-alerts=31101",
        "--rules=5716,5710,5712,31101,31151,550",
        "--min-level=6",
        "--location=(web*",
        "--src=192.0.2.0/24",
    ]
    from_db = cli(*ossec.args, *lookup)
    from_log = cli(f"--alerts-log={LOG}", *lookup)

    def removed(err: str) -> dict[str, int]:
        return {m[0]: int(m[1]) for m in re.findall(r"debug: (\S+) removed (\d+) alert", err)}

    def expected(alerts) -> dict[str, int]:
        """The filters' meaning, written out independently of the tool, in their order."""
        counts: dict[str, int] = {}
        for alert in alerts:
            if alert.rule_id == 31101:
                flag = "--exclude-alerts"
            elif alert.rule_id not in (5716, 5710, 5712, 31101, 31151, 550):
                flag = "--rules"
            elif alert.level < 6:
                flag = "--min-level"
            elif not alert.location.startswith("(web"):
                flag = "--location"
            elif alert.src_ip and not alert.src_ip.startswith("192.0.2."):
                flag = "--src"
            else:
                continue
            counts[flag] = counts.get(flag, 0) + 1
        return counts

    in_db = [a for a in DAY if ossec.layout == "2.9" or not (a.src_ip and ":" in a.src_ip)]
    # Pushed into the query wherever the layout allows: integer IP ranges only on 2.6-2.8.
    sql = next(line for line in from_db.err.splitlines() if "debug: SQL: SELECT COUNT(*), GROUP_CONCAT" in line)
    for condition in ("a.rule_id NOT IN (%s)", "a.rule_id IN (%s, %s, %s, %s, %s, %s)", "COLLATE utf8mb4_bin LIKE %s"):
        assert condition in sql
    assert ("a.src_ip BETWEEN %s AND %s" in sql) == (ossec.layout == "2.8")
    # What the query applied is not applied again to each row; files have no query.
    row_by_row = re.findall(r"debug: filtered row by row: (.*)", from_db.err)
    assert row_by_row == ([] if ossec.layout == "2.8" else ["--src"])
    assert re.findall(r"debug: filtered row by row: (.*)", from_log.err) == [
        "--exclude-alerts, --rules, --min-level, --location, --src"
    ]
    assert removed(from_log.err) == expected(DAY)
    assert removed(from_db.err) == expected(in_db)
    assert f"alerts read: {len(DAY)} = {sum(expected(DAY).values())} removed by filters + " in from_log.err
    assert f"alerts read: {len(in_db)} = {sum(expected(in_db).values())} removed by filters + " in from_db.err
    assert (
        from_db.lines
        == from_log.lines
        == ["192.0.2.77,SSHD brute force trying to get access to the system.,(web1) 10.0.0.2->/var/log/auth.log"]
    )


@pytest.mark.parametrize("ossec", ["2.8", "2.9"], indirect=True)
def test_location_wildcards_with_sql_special_characters(ossec, cli):
    names = [
        "host->/var/log/100%_done.log",
        "host->/var/log/100xydone.log",
        "host->/var/log/[x].log",
        "host->/var/log/AUTH.log",
    ]
    ossec.insert([Row(5716, 1000 + i, name, f"192.0.2.{i}") for i, name in enumerate(names)])

    def matched(pattern: str) -> list[str]:
        result = cli(*ossec.args, "--all", f"--location={pattern}")
        assert result.code == 0, result.err
        return [line.split(",", 2)[2] for line in result.lines]

    assert matched("*100%_done*") == ["host->/var/log/100%_done.log"]
    assert matched("*100??done*") == ["host->/var/log/100%_done.log", "host->/var/log/100xydone.log"]
    assert matched("*/[[]x].log") == ["host->/var/log/[x].log"]
    assert matched("*auth*") == []  # case matters, as in the shell
    assert matched("*AUTH*") == ["host->/var/log/AUTH.log"]


@pytest.mark.parametrize("ossec", ["2.8", "2.9"], indirect=True)
def test_injection_attempts_are_only_data(ossec, cli):
    ossec.insert([Row(5716, 1000, "(web1) 10.0.0.2->/var/log/auth.log", "192.0.2.1", user="root")])
    assert cli(*ossec.args, "--all", "--location=x' OR '1'='1").out == ""
    assert cli(*ossec.args, "--all", "--location=%' OR 1=1 -- ").out == ""
    assert cli(*ossec.args, "--all", "--use-user", "--src-user='; DROP TABLE alert; --").out == ""
    for bad in [
        "--src=1.2.3.4' OR '1'='1",
        "--rules=1) OR (1=1",
        "--min-level=1 OR 1=1",
        "--exclude-alerts=1;DELETE FROM alert",
    ]:
        assert "invalid" in cli(*ossec.args, "--all", bad).usage_error(), bad
    assert cli(*ossec.args, "--all").lines == ["192.0.2.1,Rule 5716,(web1) 10.0.0.2->/var/log/auth.log"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--src=10.0.0.0/33"], "invalid address or network '10.0.0.0/33'"),
        (["--src=web1"], "invalid address or network 'web1'"),
        (["--min-level=high"], "invalid level 'high'"),
        (["--min-level=16"], "invalid level '16'"),
        (["--rules=ssh"], "invalid rule ID list 'ssh'"),
        (["--src-user=root"], "--src-user needs --use-user"),
    ],
)
def test_lookup_usage_errors(cli, argv, message):
    assert message in cli(f"--alerts-log={LOG}", "--all", *argv).usage_error()


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_unknown_level_is_kept_and_counted(ossec, cli, tmp_path):
    ossec.insert([Row(5716, 1000, "h->/l", "192.0.2.1", level=3)])
    with ossec.conn.cursor() as cur:
        cur.execute("UPDATE alert SET level = NULL")
    result = cli(*ossec.args, "--all", "--min-level=10", "--debug")
    assert result.lines == ["192.0.2.1,Rule 5716,h->/l"]
    assert "--min-level kept 1 alert(s) of unknown level" in result.err
