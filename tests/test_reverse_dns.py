"""--do-reverse against a real DNS exchange over UDP on 127.0.0.1."""

from __future__ import annotations

import time

import dns.rcode
import pytest
from dnsresponder import DnsResponder
from ossecdb import Row
from test_files import alert_text

T0 = 1764237600
WINDOW = ["--start-time", str(T0), "--end-time", str(T0 + 1000)]
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"
WEB = "(web2) 10.0.0.3->/var/log/apache2/access.log"
SIGNATURES = {5716: (5, "SSHD authentication failed."), 31101: (5, "Web server 400 error code.")}


@pytest.fixture
def responder():
    with DnsResponder() as server:
        yield server


def sshd_failures(path, addresses) -> str:
    """An alerts.log with one SSH failure per address, a second apart; returns its name."""
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'"
    path.write_text(
        "".join(alert_text(T0 + i, AUTH, rule, f"Src IP: {ip}", "sshd: x") for i, ip in enumerate(addresses))
    )
    return str(path)


def reverse(responder, *extra: str) -> list[str]:
    return ["--do-reverse", f"--nameserver={responder.address}", "--dns-timeout=1", *extra]


@pytest.mark.parametrize("ossec", ["2.9"], indirect=True)
def test_names_replace_ips_each_asked_once_and_merged(ossec, cli, responder):
    rows = [
        Row(5716, T0 + i, AUTH, ip)
        for i, ip in enumerate(["203.0.113.5", "203.0.113.5", "203.0.113.6", "2001:db8::5", "192.0.2.1", "192.0.2.2"])
    ] + [Row(31101, T0 + 10, WEB, "203.0.113.5"), Row(5716, T0 + 11, AUTH, None, user="alice")]
    ossec.insert(rows, SIGNATURES)
    responder.ptr("203.0.113.5", "scanner.example.net.")
    responder.ptr("203.0.113.6", "scanner.example.net.")  # a second address of the same host
    responder.ptr("2001:db8::5", "v6host.example.org.")
    responder.ptr("192.0.2.1", "zz.example.com.", "aa.example.com.")  # two PTRs: the first in order wins
    responder.fail("192.0.2.2", dns.rcode.NXDOMAIN)
    result = cli(*ossec.args, *WINDOW, "--count", "--use-user", *reverse(responder), "--debug")
    assert result.code == 0, result.err
    assert result.lines == [
        f"192.0.2.2,SSHD authentication failed.,{AUTH},1",
        f"aa.example.com,SSHD authentication failed.,{AUTH},1",
        f"alice,SSHD authentication failed.,{AUTH},1",
        f"scanner.example.net,SSHD authentication failed.,{AUTH},3",
        f"scanner.example.net,Web server 400 error code.,{WEB},1",
        f"v6host.example.org,SSHD authentication failed.,{AUTH},1",
    ]
    assert dict(responder.queries) == {
        ip: 1 for ip in ["203.0.113.5", "203.0.113.6", "2001:db8::5", "192.0.2.1", "192.0.2.2"]
    }
    assert "reverse DNS: 5 lookups, 4 answered, failed: NXDOMAIN 1, not tried (budget spent): 0" in result.err


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        (lambda r: r.fail("192.0.2.9", dns.rcode.SERVFAIL), "SERVFAIL"),
        (lambda r: r.fail("192.0.2.9", dns.rcode.REFUSED), "refused"),
        (lambda r: r.ptr("192.0.2.9"), "no PTR"),
        (lambda r: r.silence("192.0.2.9"), "timeout"),
    ],
    ids=["servfail", "refused", "no-ptr", "silent"],
)
def test_failed_lookups_keep_the_ip(tmp_path, cli, responder, setup, kind):
    setup(responder)
    log = sshd_failures(tmp_path / "alerts.log", ["192.0.2.9"])
    result = cli(f"--alerts-log={log}", "--all", *reverse(responder, "--dns-timeout=0.3"), "--debug")
    assert result.code == 0
    assert result.lines == [f"192.0.2.9,SSHD authentication failed.,{AUTH}"]
    assert f"failed: {kind} 1" in result.err


def test_budget_ends_a_run_against_a_silent_server(tmp_path, cli, responder):
    responder.default = responder.default.__class__(silent=True)
    log = sshd_failures(tmp_path / "alerts.log", [f"198.51.100.{i}" for i in range(200)])
    out = tmp_path / "graph.csv"
    started = time.monotonic()
    result = cli(
        f"--alerts-log={log}",
        "--all",
        f"--output={out}",
        *reverse(responder, "--dns-timeout=5", "--dns-budget=1.5", "--dns-workers=10"),
    )
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 3.5, elapsed
    assert result.code == 0, "reverse DNS is decoration: a spent budget is a warning"
    lines = out.read_text().splitlines()
    assert sorted(line.split(",")[0] for line in lines) == sorted(f"198.51.100.{i}" for i in range(200))
    assert result.err == (
        "alerts2afterglow: warning: --dns-budget of 1.5 s spent: 190 address(es) were not looked up and keep their IP\n"
    )


def test_show_duplicate_resolves_in_order(tmp_path, cli, responder):
    responder.ptr("203.0.113.5", "scanner.example.net.")
    log = sshd_failures(tmp_path / "alerts.log", ["203.0.113.5", "192.0.2.3", "203.0.113.5"])
    result = cli(f"--alerts-log={log}", "--all", "--show-duplicate", *reverse(responder))
    assert [line.split(",")[0] for line in result.lines] == ["scanner.example.net", "192.0.2.3", "scanner.example.net"]
    assert responder.queries == {"203.0.113.5": 1, "192.0.2.3": 1}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nameserver=127.0.0.1"], "--nameserver needs --do-reverse"),
        (["--do-reverse", "--nameserver=resolver.example"], "invalid name server 'resolver.example'"),
        (["--do-reverse", "--nameserver=127.0.0.1:0"], "invalid name server"),
        (["--do-reverse", "--dns-workers=0"], "invalid value '0'"),
        (["--do-reverse", "--dns-budget=-1"], "invalid value '-1'"),
    ],
)
def test_dns_usage_errors(cli, argv, message):
    assert message in cli("--alerts-log=-", *argv).usage_error()


def test_a_single_label_ptr_name_keeps_the_address(tmp_path, cli, responder):
    """`gateway.` could be any user's name: as a source it would read as (and merge with) the user."""
    responder.ptr("192.0.2.4", "gateway.")  # confirmed: gateway. has an A record for it
    responder.ptr("192.0.2.5", "gateway.example.net.")
    log = sshd_failures(tmp_path / "alerts.log", ["192.0.2.4", "192.0.2.5"])
    result = cli(f"--alerts-log={log}", "--all", *reverse(responder), "--debug")
    assert [line.split(",")[0] for line in result.lines] == ["192.0.2.4", "gateway.example.net"]
    assert "failed: not a host name 1" in result.err
