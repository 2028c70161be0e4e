#!/usr/bin/env python3
"""Write examples/alerts.log and examples/alerts.json: one made-up day on an OSSEC manager.

The same alerts go to both files, in the formats OSSEC 3.x and Wazuh 4 write
(see the README's "Supported versions"). Every address is from the
documentation ranges (RFC 5737, RFC 3849) or private. Run it again after
changing the scenario; the output is deterministic.

    python examples/make_examples.py
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())
MANAGER = "ossec-server"


@dataclass(frozen=True)
class Agent:
    name: str
    ip: str
    agent_id: str


WEB1 = Agent("web1", "10.0.0.2", "001")
WEB2 = Agent("web2", "10.0.0.3", "002")
DB1 = Agent("db1", "10.0.0.4", "003")
WAZUH1 = Agent("wazuh-agent1", "10.0.0.5", "004")


@dataclass(frozen=True)
class Example:
    """One alert of the day, with what both files and the database need."""

    epoch: int
    offset: int
    rule_id: int
    level: int
    description: str
    groups: str
    log: str  # "/var/log/auth.log", "syscheck", ...
    agent: Agent | None  # None: the manager's own log
    full_log: str
    src_ip: str | None = None
    src_port: int | None = None
    user: str | None = None
    wazuh: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    extra_lines: tuple[str, ...] = field(default=())

    @property
    def location(self) -> str:
        """What alerts.log writes after the date (and ossec-dbd stores in location.name)."""
        if self.agent is None:
            return f"{MANAGER}->{self.log}"
        return f"({self.agent.name}) {self.agent.ip}->{self.log}"


def stamp(epoch: int, fmt: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(fmt)


def build_day() -> list[Example]:
    rng = random.Random(20261127)
    alerts: list[Example] = []

    def add(when: int, **kwargs: object) -> None:
        alerts.append(Example(epoch=when, offset=0, **kwargs))  # type: ignore[arg-type]

    # 02:10-02:25: an SSH brute force on web1 from three addresses.
    attackers = ["203.0.113.45", "198.51.100.23", "192.0.2.77"]
    t = DAY + 2 * 3600 + 600
    for i in range(36):
        ip = attackers[i % 3]
        user = rng.choice(["root", "admin", "oracle", "test", "ubuntu"])
        t += rng.randint(3, 25)
        port = rng.randint(30000, 65000)
        exists = user in ("root", "admin")
        add(
            t,
            rule_id=5716 if exists else 5710,
            level=5,
            description="SSHD authentication failed." if exists else "Attempt to login using a non-existent user",
            groups="syslog,sshd,authentication_failed,"
            if exists
            else "syslog,sshd,invalid_login,authentication_failed,",
            log="/var/log/auth.log",
            agent=WEB1,
            full_log=(
                f"{stamp(t, '%b %d %H:%M:%S')} web1 sshd[{4100 + i}]: "
                + (f"Failed password for {user}" if exists else f"Invalid user {user}")
                + f" from {ip} port {port} ssh2"
            ),
            src_ip=ip,
            src_port=port if exists else None,
            user=user if exists else None,
        )
        if i % 7 == 6:
            add(
                t,
                rule_id=5712,
                level=10,
                description="SSHD brute force trying to get access to the system.",
                groups="syslog,sshd,authentication_failures,",
                log="/var/log/auth.log",
                agent=WEB1,
                full_log=f"{stamp(t, '%b %d %H:%M:%S')} web1 sshd[{4100 + i}]: Invalid user {user} from {ip}",
                src_ip=ip,
            )

    # 09:00-09:40: web attacks on web2, one of them over IPv6.
    t = DAY + 9 * 3600
    requests = [
        (31101, 5, "Web server 400 error code.", "web,accesslog,attack,", 'GET /wp-login.php HTTP/1.1" 404'),
        (
            31103,
            6,
            "SQL injection attempt.",
            "web,accesslog,attack,sql_injection,",
            'GET /item.php?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1" 200',
        ),
        (31104, 6, "Common web attack.", "web,accesslog,attack,", 'GET /../../../../etc/passwd HTTP/1.1" 400'),
        (
            31106,
            6,
            "A web attack returned code 200 (success).",
            "web,accesslog,attack,",
            'GET /search.php?q=<script>alert(1)</script> HTTP/1.1" 200',
        ),
    ]
    web_sources = ["198.51.100.99", "2001:db8:85a3::8a2e:370:7334", "203.0.113.45"]
    for i in range(24):
        rule_id, level, description, groups, request = requests[i % 4 if i % 5 else 0]
        ip = web_sources[i % 3]
        t += rng.randint(20, 120)
        add(
            t,
            rule_id=rule_id,
            level=level,
            description=description,
            groups=groups,
            log="/var/log/apache2/access.log",
            agent=WEB2,
            full_log=f'{ip} - - [{stamp(t, "%d/%b/%Y:%H:%M:%S +0000")}] "{request} 512 "-" "Mozilla/5.0"',
            src_ip=ip,
        )
    add(
        t + 5,
        rule_id=31151,
        level=10,
        description="Multiple web server 400 error codes from same source ip.",
        groups="web,accesslog,web_scan,recon,",
        log="/var/log/apache2/access.log",
        agent=WEB2,
        full_log=f'198.51.100.99 - - [{stamp(t + 5, "%d/%b/%Y:%H:%M:%S +0000")}] "GET /admin/ HTTP/1.1" 404 209',
        src_ip="198.51.100.99",
    )

    # 11:30: an administrator on the manager itself.
    for minute, (rule_id, level, description, groups, line, user) in enumerate(
        [
            (
                5501,
                3,
                "Login session opened.",
                "pam,syslog,authentication_success,",
                "sshd[901]: pam_unix(sshd:session): session opened for user alice by (uid=0)",
                "alice",
            ),
            (
                5402,
                3,
                "Successful sudo to ROOT executed.",
                "syslog,sudo,",
                "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt-get upgrade",
                "alice",
            ),
            (
                5502,
                3,
                "Login session closed.",
                "pam,syslog,",
                "sshd[901]: pam_unix(sshd:session): session closed for user alice",
                "alice",
            ),
        ]
    ):
        when = DAY + 11 * 3600 + 1800 + 60 * minute
        add(
            when,
            rule_id=rule_id,
            level=level,
            description=description,
            groups=groups,
            log="/var/log/secure",
            agent=None,
            full_log=f"{stamp(when, '%b %d %H:%M:%S')} {MANAGER} {line}",
            user=user,
        )

    # 14:00: a changed file on db1 (syscheck) and a rootcheck finding on the manager.
    add(
        DAY + 14 * 3600,
        rule_id=550,
        level=7,
        description="Integrity checksum changed.",
        groups="ossec,syscheck,",
        log="syscheck",
        agent=DB1,
        full_log="Integrity checksum changed for: '/etc/mysql/my.cnf'",
        extra_lines=(
            "Size changed from '3505' to '3541'",
            "Old md5sum was: '9f1a3c1e6b0f4b6a4d3c2b1a09f8e7d6'",
            "New md5sum is : 'b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2'",
        ),
    )
    add(
        DAY + 14 * 3600 + 900,
        rule_id=510,
        level=7,
        description="Host-based anomaly detection event (rootcheck).",
        groups="ossec,rootcheck,",
        log="rootcheck",
        agent=None,
        full_log="File '/dev/.udev/rules.d/99-root.rules' present on /dev. Possible hidden file.",
    )

    # 18:01: a Wazuh 4 agent: labels before "Rule:", new-style descriptions, FIM with blank lines.
    t = DAY + 18 * 3600 + 61
    for i, ip in enumerate(["203.0.113.45", "203.0.113.45", "198.51.100.23"]):
        when = t + 7 * i
        port = 51234 + i
        add(
            when,
            rule_id=5760,
            level=5,
            description="sshd: authentication failed.",
            groups="syslog,sshd,authentication_failed,pci_dss_10.2.4,pci_dss_10.2.5,gdpr_IV_35.7.d,",
            log="/var/log/secure",
            agent=WAZUH1,
            full_log=f"{stamp(when, '%b %d %H:%M:%S')} wazuh-agent1 sshd[2202]: Failed password for root from {ip} port {port} ssh2",
            src_ip=ip,
            src_port=port,
            user="root",
            wazuh=True,
            labels=(("aws.region", "eu-west-1"), ("environment", "production")),
        )
    add(
        t + 600,
        rule_id=550,
        level=7,
        description="Integrity checksum changed.",
        groups="ossec,syscheck,syscheck_entry_modified,syscheck_file,pci_dss_11.5,gdpr_II_5.1.f,",
        log="syscheck",
        agent=WAZUH1,
        full_log="File '/etc/passwd' modified\nMode: realtime\nChanged attributes: size,mtime,md5,sha1,sha256",
        wazuh=True,
        extra_lines=(
            "Size changed from '2310' to '2352'",
            "",
            "Attributes:",
            " - Size: 2352",
            " - Permissions: rw-r--r--",
            " - User: root (0)",
            "",
            "What changed:",
            "31a32",
            "> mallory:x:1001:1001::/home/mallory:/bin/bash",
        ),
    )
    alerts.sort(key=lambda alert: alert.epoch)
    position = 0
    numbered = []
    for alert in alerts:
        numbered.append(Example(**{**alert.__dict__, "offset": position}))
        position += 700 + len(alert.full_log)
    return numbered


def log_entry(alert: Example) -> str:
    """An alert as ossec-analysisd (or wazuh-analysisd) writes it to alerts.log."""
    lines = [
        f"** Alert {alert.epoch}.{alert.offset}: - {alert.groups}",
        f"{stamp(alert.epoch, '%Y %b %d %H:%M:%S')} {alert.location}",
        *(f"{key}: {value}" for key, value in alert.labels),
        f"Rule: {alert.rule_id} (level {alert.level}) -> '{alert.description}'",
    ]
    if alert.src_ip:
        lines.append(f"Src IP: {alert.src_ip}")
    if alert.src_port:
        lines.append(f"Src Port: {alert.src_port}")
    if alert.user:
        lines.append(f"User: {alert.user}")
    lines.append(alert.full_log)
    lines.extend(alert.extra_lines)
    if alert.wazuh and alert.src_ip:
        lines.append(f"srcip: {alert.src_ip}")
    return "\n".join(lines) + "\n\n"


def json_entry(alert: Example) -> str:
    """The same alert as alerts.json: OSSEC 3.x objects, or Wazuh 4 ones for Wazuh agents."""
    full_log = "\n".join((alert.full_log, *alert.extra_lines))
    if alert.wazuh:
        agent = alert.agent
        obj: dict[str, object] = {
            "timestamp": stamp(alert.epoch, "%Y-%m-%dT%H:%M:%S.000+0000"),
            "rule": {
                "level": alert.level,
                "description": alert.description,
                "id": str(alert.rule_id),
                "groups": alert.groups.rstrip(",").split(","),
            },
            "agent": {"id": agent.agent_id, "name": agent.name, "ip": agent.ip}
            if agent
            else {"id": "000", "name": MANAGER},
            "manager": {"name": MANAGER},
            "id": f"{alert.epoch}.{alert.offset}",
            "full_log": full_log,
            "decoder": {"name": "sshd" if alert.src_ip else "syscheck_integrity_changed"},
            "data": {
                k: v
                for k, v in (
                    ("srcip", alert.src_ip),
                    ("srcport", str(alert.src_port) if alert.src_port else None),
                    ("dstuser", alert.user),
                )
                if v
            },
            "location": alert.log,
        }
    else:
        obj = {
            "rule": {"level": alert.level, "comment": alert.description, "sidid": alert.rule_id, "group": alert.groups},
            "id": f"{alert.epoch}.{alert.offset}",
            "TimeStamp": alert.epoch * 1000,
            "location": alert.location,
            "full_log": full_log,
            **({"srcip": alert.src_ip} if alert.src_ip else {}),
            **({"dstuser": alert.user} if alert.user else {}),
        }
        if alert.agent:
            obj.update(agent_name=alert.agent.name, agentip=alert.agent.ip)
    return json.dumps(obj, ensure_ascii=False) + "\n"


def main() -> None:
    day = build_day()
    (HERE / "alerts.log").write_text("".join(map(log_entry, day)), encoding="utf-8")
    (HERE / "alerts.json").write_text("".join(map(json_entry, day)), encoding="utf-8")
    print(f"{len(day)} alerts written to {HERE / 'alerts.log'} and {HERE / 'alerts.json'}")


if __name__ == "__main__":
    main()
