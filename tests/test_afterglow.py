"""The default CSV survives AfterGlow's own parser (ossec.properties: tests/test_pictures.py)."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest
from conftest import ROOT_DIR
from ossecdb import Row

PERL = ROOT_DIR / "tests" / "perl"
T0 = 1764237600
WINDOW = ["--start-time", str(T0), "--end-time", str(T0 + 1000)]

HOSTILE = {
    1001: "Login failed, user unknown",
    1002: 'Query "DROP TABLE" seen',
    1003: "multi\nline\tdescription\r",
    1004: "Accès refusé – 認証失敗 🔒",
    1005: "path C:\\Windows\\ ends in \\",
}


def afterglow_parse(text: str) -> list[list]:
    proc = subprocess.run(
        ["perl", str(PERL / "afterglow_csv.pl")], input=text, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_default_output_parses_with_afterglows_text_csv(ossec, cli):
    ossec.insert(
        [Row(rule, T0 + rule - 1000, "(web1) 10.0.0.2->C:\\logs\\a,b.log", "192.0.2.1") for rule in HOSTILE],
        {rule: (5, text) for rule, text in HOSTILE.items()},
    )
    result = cli(*ossec.args, *WINDOW, "--count")
    assert result.code == 0, result.err
    records = afterglow_parse(result.out)
    location = "(web1) 10.0.0.2->C:\\\\logs\\\\a,b.log"
    assert records == [
        [1, "192.0.2.1", "Acc\\u00e8s refus\\u00e9 \\u2013 \\u8a8d\\u8a3c\\u5931\\u6557 \\U0001f512", location, "1"],
        [1, "192.0.2.1", "Login failed, user unknown", location, "1"],
        [1, "192.0.2.1", "Query \\u0022DROP TABLE\\u0022 seen", location, "1"],
        [1, "192.0.2.1", "multi\\u000aline\\u0009description\\u000d", location, "1"],
        [1, "192.0.2.1", "path C:\\\\Windows\\\\ ends in \\\\", location, "1"],
    ]
    assert '"' not in "".join(field for record in records for field in record[1:])


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_plain_csv_is_what_afterglow_would_choke_on(ossec, cli):
    ossec.insert([Row(1004, T0, "host->syscheck", "192.0.2.1")], {1004: (5, HOSTILE[1004])})
    plain = cli(*ossec.args, *WINDOW, "--plain-csv")
    assert plain.out == f"192.0.2.1,{HOSTILE[1004]},host->syscheck\n"
    assert afterglow_parse(plain.out) == [[0]]


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_plain_csv_reads_back_exactly(ossec, cli):
    location = "(web1) 10.0.0.2->C:\\logs\\a,b.log"
    descriptions = {**HOSTILE, 1006: "a lone carriage\rreturn"}
    ossec.insert(
        [Row(rule, T0 + rule - 1000, location, "192.0.2.1") for rule in descriptions],
        {rule: (5, text) for rule, text in descriptions.items()},
    )
    plain = cli(*ossec.args, *WINDOW, "--plain-csv", "--count")
    records = list(csv.reader(io.StringIO(plain.out, newline="")))
    assert sorted(records) == sorted(["192.0.2.1", text, location, "1"] for text in descriptions.values())
