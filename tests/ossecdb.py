"""Build OSSEC databases in MariaDB the way ossec-dbd fills them (shared by tests and bench).

The DDL follows OSSEC's ``src/os_dbd/mysql.schema``: the 2.6-2.8 layout
(integer IPs, users in ``data``) and the 2.9+ layout (text IPs, ``level``
and ``user`` in ``alert``).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql

HOST = "127.0.0.1"
PORT = 3306
ROOT = "root"

COMMON_DDL = [
    """CREATE TABLE signature (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT,
        rule_id MEDIUMINT UNSIGNED NOT NULL UNIQUE,
        level TINYINT UNSIGNED,
        description VARCHAR(255) NOT NULL,
        PRIMARY KEY (id), INDEX (level), INDEX (rule_id))""",
    """CREATE TABLE server (
        id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
        last_contact INT UNSIGNED NOT NULL,
        version VARCHAR(32) NOT NULL,
        hostname VARCHAR(64) NOT NULL UNIQUE,
        information TEXT NOT NULL,
        PRIMARY KEY (id))""",
    """CREATE TABLE location (
        id SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT,
        server_id SMALLINT UNSIGNED NOT NULL,
        name VARCHAR(128) NOT NULL,
        PRIMARY KEY (id, server_id))""",
]

LAYOUT_DDL = {
    "2.8": [
        """CREATE TABLE alert (
            id INT UNSIGNED NOT NULL AUTO_INCREMENT,
            server_id SMALLINT UNSIGNED NOT NULL,
            rule_id MEDIUMINT UNSIGNED NOT NULL,
            timestamp INT UNSIGNED NOT NULL,
            location_id SMALLINT UNSIGNED NOT NULL,
            src_ip INT UNSIGNED,
            dst_ip INT UNSIGNED,
            src_port SMALLINT UNSIGNED,
            dst_port SMALLINT UNSIGNED,
            alertid VARCHAR(30) DEFAULT NULL,
            PRIMARY KEY (id, server_id),
            INDEX (alertid), INDEX time (timestamp), INDEX (rule_id), INDEX (src_ip))""",
        """CREATE TABLE data (
            id INT UNSIGNED NOT NULL,
            server_id SMALLINT UNSIGNED NOT NULL,
            user TEXT NOT NULL,
            full_log TEXT NOT NULL,
            timestamp INT UNSIGNED NOT NULL,
            PRIMARY KEY (id, server_id), INDEX (timestamp))""",
    ],
    "2.9": [
        """CREATE TABLE alert (
            id INT UNSIGNED NOT NULL AUTO_INCREMENT,
            server_id SMALLINT UNSIGNED NOT NULL,
            rule_id MEDIUMINT UNSIGNED NOT NULL,
            level TINYINT UNSIGNED,
            timestamp INT UNSIGNED NOT NULL,
            location_id SMALLINT UNSIGNED NOT NULL,
            src_ip VARCHAR(46),
            dst_ip VARCHAR(46),
            src_port SMALLINT UNSIGNED,
            dst_port SMALLINT UNSIGNED,
            alertid VARCHAR(30) DEFAULT NULL,
            user TEXT NOT NULL,
            full_log TEXT NOT NULL,
            is_hidden TINYINT NOT NULL DEFAULT '0',
            tld VARCHAR(5) NOT NULL DEFAULT '',
            PRIMARY KEY (id, server_id),
            INDEX (alertid), INDEX (level), INDEX time (timestamp), INDEX (rule_id),
            INDEX (src_ip), INDEX (tld))""",
    ],
}

LAYOUTS = tuple(LAYOUT_DDL)


def root_connection(database: str | None = None, **kwargs: object) -> pymysql.connections.Connection:
    return pymysql.connect(
        host=HOST, port=PORT, user=ROOT, password="", database=database, charset="utf8mb4", autocommit=True, **kwargs
    )


@contextmanager
def scratch_database(prefix: str = "a2ag_test") -> Iterator[str]:
    """A uniquely named database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = root_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def create_schema(conn: pymysql.connections.Connection, layout: str) -> None:
    with conn.cursor() as cur:
        for ddl in COMMON_DDL + LAYOUT_DDL[layout]:
            cur.execute(ddl)


@dataclass(frozen=True)
class Row:
    """One alert as ossec-dbd would insert it.

    ``src_ip`` is written as the layout stores it: an integer for 2.8 (``None``
    or a missing address becomes 0), the text itself for 2.9 (so the missing
    forms NULL, '' and '(null)' can be written as such).
    """

    rule_id: int
    timestamp: int
    location: str
    src_ip: str | None = None
    user: str = ""
    level: int = 5
    server_id: int = 1
    full_log: str = "log line"


def ip_for_layout(value: str | None, layout: str) -> int | str | None:
    if layout == "2.9":
        return value
    if value in (None, "", "(null)"):
        return 0
    if value.isdigit():
        return int(value)
    return int(ipaddress.IPv4Address(value))


def insert_alerts(
    conn: pymysql.connections.Connection,
    layout: str,
    rows: Iterable[Row],
    signatures: dict[int, tuple[int, str]] | None = None,
) -> None:
    """Insert signatures ({rule_id: (level, description)}), locations and alerts."""
    locations: dict[tuple[int, str], int] = {}
    with conn.cursor() as cur:
        for rule_id, (level, description) in (signatures or {}).items():
            cur.execute(
                "INSERT INTO signature (rule_id, level, description) VALUES (%s, %s, %s)", (rule_id, level, description)
            )
        for row in rows:
            key = (row.server_id, row.location)
            if key not in locations:
                # Location ids restart per server, as on managers that share a database.
                next_id = 1 + sum(1 for server, _ in locations if server == row.server_id)
                cur.execute(
                    "INSERT INTO location (id, server_id, name) VALUES (%s, %s, %s)",
                    (next_id, row.server_id, row.location),
                )
                locations[key] = next_id
            ip = ip_for_layout(row.src_ip, layout)
            if layout == "2.9":
                cur.execute(
                    "INSERT INTO alert (server_id, rule_id, level, timestamp, location_id, src_ip, user, full_log)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (row.server_id, row.rule_id, row.level, row.timestamp, locations[key], ip, row.user, row.full_log),
                )
            else:
                cur.execute(
                    "INSERT INTO alert (server_id, rule_id, timestamp, location_id, src_ip) VALUES (%s, %s, %s, %s, %s)",
                    (row.server_id, row.rule_id, row.timestamp, locations[key], ip),
                )
                cur.execute(
                    "INSERT INTO data (id, server_id, user, full_log, timestamp) VALUES (%s, %s, %s, %s, %s)",
                    (cur.lastrowid, row.server_id, row.user, row.full_log, row.timestamp),
                )
