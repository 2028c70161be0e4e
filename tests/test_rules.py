"""Rule descriptions from OSSEC / Wazuh rules files when the signature table lacks them."""

from __future__ import annotations

import pytest
import test_files
from ossecdb import Row

import alerts2afterglow

T0 = 1764237600
WINDOW = ["--start-time", str(T0), "--end-time", str(T0 + 1000)]
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"

STOCK = """<?xml version="1.0" encoding="UTF-8"?>
<!-- OSSEC-style rules: variables, several groups, comments, entities -->
<var name="BAD_WORDS">failure|error|attack</var>

<group name="syslog,sshd,">
  <rule id="5700" level="0" noalert="1">
    <decoded_as>sshd</decoded_as>
    <description>SSHD messages grouped.</description>
  </rule>

  <rule id="5716" level="5">
    <if_sid>5700</if_sid>
    <match>^Failed|^error: PAM: Authentication</match>
    <description>SSHD authentication failed.</description>
    <group>authentication_failed,</group>
  </rule>
</group> <!-- SYSLOG,SSHD -->

<group name="smtp,">
  <rule id="3302" level="6">
    <match>reject=550 5.7.1 </match>
    <description>Rejected by access list </description>
    <description>(Requested action not taken).</description>
  </rule>
  <rule id="31103" level="6">
    <url>=select%20|select+|insert%20|%20from%20</url>
    <description>SQL injection attempt: "&lt;select&gt;" &amp; friends.</description>
  </rule>
</group>
"""

WAZUH = """<group name="sshd,">
  <rule id="5760" level="5">
    <description>sshd: authentication failed from $(srcip).</description>
  </rule>
</group>
"""

LOCAL = """<group name="local,">
  <rule id="5716" level="8" overwrite="yes">
    <description>SSH login failure (local policy).</description>
  </rule>
  <rule id="100001" level="10">
    <description>Local rule.</description>
  </rule>
</group>
"""


@pytest.fixture
def rules(tmp_path):
    stock, local = tmp_path / "ruleset", tmp_path / "etc-rules"
    stock.mkdir()
    local.mkdir()
    (stock / "0095-sshd_rules.xml").write_text(STOCK)
    (stock / "0500-wazuh.xml").write_text(WAZUH)
    (stock / "README.txt").write_text("not a rules file")
    (local / "local_rules.xml").write_text(LOCAL)
    return stock, local


def test_load_rule_descriptions(rules):
    stock, local = rules
    descriptions = alerts2afterglow.load_rule_descriptions([str(stock), str(local)], explicit=True)
    assert descriptions == {
        5700: "SSHD messages grouped.",
        5716: "SSH login failure (local policy).",
        3302: "Rejected by access list (Requested action not taken).",
        31103: 'SQL injection attempt: "&lt;select&gt;" &amp; friends.',  # as OSSEC shows it: no entity expanded
        5760: "sshd: authentication failed from $(srcip).",
        100001: "Local rule.",
    }


def test_without_overwrite_the_first_definition_stays(tmp_path):
    (tmp_path / "a.xml").write_text('<group><rule id="1"><description>first</description></rule></group>')
    (tmp_path / "b.xml").write_text('<group><rule id="1"><description>second</description></rule></group>')
    assert alerts2afterglow.load_rule_descriptions([str(tmp_path)], explicit=True) == {1: "first"}


def test_an_unreadable_file_is_named_once_and_the_rest_still_count(tmp_path, caplog):
    (tmp_path / "good.xml").write_text('<group><rule id="7"><description>ok</description></rule></group>')
    (tmp_path / "broken.xml").mkdir()  # a directory named like a rules file
    with caplog.at_level("WARNING", logger="alerts2afterglow"):
        descriptions = alerts2afterglow.load_rule_descriptions([str(tmp_path)], explicit=True)
    assert descriptions == {7: "ok"}
    assert [r.getMessage() for r in caplog.records] == [f"rules file {tmp_path / 'broken.xml'} skipped: Is a directory"]


def test_missing_default_directories_are_silent(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(alerts2afterglow, "DEFAULT_RULES_DIRS", (str(tmp_path / "nope"),))
    descriptions = alerts2afterglow.RuleDescriptions(None)
    with caplog.at_level("WARNING", logger="alerts2afterglow"):
        assert descriptions.describe(5716, None) == "Rule 5716"
    assert caplog.records == []


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_export_with_empty_signature_table_shows_real_descriptions(ossec, cli, rules):
    stock, local = rules
    ossec.insert(
        [
            Row(5716, T0, AUTH, "192.0.2.1"),
            Row(3302, T0 + 1, "mail->/var/log/maillog", "192.0.2.2"),
            Row(5760, T0 + 2, AUTH, "192.0.2.3"),
            Row(99999, T0 + 3, AUTH, "192.0.2.4"),
        ]
    )
    result = cli(*ossec.args[:-1], f"--rules-dir={stock}", f"--rules-dir={local}", *WINDOW, "--debug")
    assert result.code == 0, result.err
    assert result.lines == [
        f"192.0.2.1,SSH login failure (local policy).,{AUTH}",
        "192.0.2.2,Rejected by access list (Requested action not taken).,mail->/var/log/maillog",
        f"192.0.2.3,sshd: authentication failed from $(srcip).,{AUTH}",
        f"192.0.2.4,Rule 99999,{AUTH}",
    ]
    assert "descriptions of 4 rule(s): 0 from the signature table, 3 from rules files, 1 as 'Rule <id>'" in result.err
    assert "rules files: 6 descriptions from 3 file(s)" in result.err


@pytest.mark.parametrize("ossec", ["2.8"], indirect=True)
def test_signature_table_wins_over_rules_files(ossec, cli, rules):
    stock, _ = rules
    ossec.insert([Row(5716, T0, AUTH, "192.0.2.1"), Row(3302, T0, AUTH, "192.0.2.1")], {5716: (5, "From the table.")})
    result = cli(*ossec.args[:-1], f"--rules-dir={stock}", *WINDOW, "--debug")
    assert result.lines == [
        f"192.0.2.1,From the table.,{AUTH}",
        f"192.0.2.1,Rejected by access list (Requested action not taken).,{AUTH}",
    ]
    assert "1 from the signature table, 1 from rules files, 0 as 'Rule <id>'" in result.err


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_unreadable_explicit_directory_is_an_error(ossec, cli, tmp_path):
    ossec.insert([Row(5716, T0, AUTH, "192.0.2.1")])
    result = cli(*ossec.args[:-1], f"--rules-dir={tmp_path}/missing", *WINDOW)
    assert result.code == 1
    assert (
        result.err
        == f"alerts2afterglow: error: cannot read --rules-dir {tmp_path}/missing: No such file or directory\n"
    )


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_descriptions_keep_the_spaces_at_their_ends_as_alerts_log_shows_them(ossec, cli, tmp_path):
    """Stock rules 2504 and 12149 have a space at one end: the database export and alerts.log agree on it."""
    (ossec.rules_dir / "syslog_rules.xml").write_text(
        '<group name="syslog,"><rule id="2504" level="9"><description>Illegal root login. </description></rule>\n'
        '<rule id="12149" level="10"><description> Multiple query (cache) failures.</description></rule></group>'
    )
    ossec.insert([Row(2504, T0, AUTH, "192.0.2.1"), Row(12149, T0 + 1, AUTH, "192.0.2.2")])
    from_database = cli(*ossec.args, *WINDOW)
    log = tmp_path / "alerts.log"
    log.write_text(
        test_files.alert_text(T0, AUTH, "Rule: 2504 (level 9) -> 'Illegal root login. '", "Src IP: 192.0.2.1")
        + test_files.alert_text(
            T0 + 1, AUTH, "Rule: 12149 (level 10) -> ' Multiple query (cache) failures.'", "Src IP: 192.0.2.2"
        )
    )
    from_log = cli(f"--alerts-log={log}", *WINDOW)
    assert (from_database.code, from_log.code) == (0, 0)
    assert from_database.lines == from_log.lines == [
        f"192.0.2.1,Illegal root login. ,{AUTH}",
        f"192.0.2.2, Multiple query (cache) failures.,{AUTH}",
    ]
