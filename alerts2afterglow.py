#!/usr/bin/env python3
"""alerts2afterglow: turn OSSEC / Wazuh alerts into link graphs.

Reads alerts from the OSSEC MySQL database (every schema generation OSSEC and
Wazuh shipped), or from alerts.log / alerts.json, and writes one
``source,description,location`` line per unique triple, ready for AfterGlow
and Graphviz, or draws the graph itself::

    alerts2afterglow --exclude-alerts=3302,3303 --time-interval="1 hour" \\
        | afterglow.pl -c ossec.properties | circo -Tgif -o alerts.gif
    alerts2afterglow --alerts-log=/var/ossec/logs/alerts/alerts.log --render=alerts.png

The module reads top to bottom: constants and record types; options; sources
(the database, the rules files, alerts.log and alerts.json); reverse DNS;
transforms (filters, triples, grouping); output (CSV, DOT, Graphviz); main().
"""

from __future__ import annotations

import argparse
import array
import bisect
import contextlib
import errno
import fnmatch
import functools
import gc
import io
import ipaddress
import itertools
import logging
import math
import operator
import os
import re
import signal
import socket
import stat
import sys
import textwrap
import threading
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO, NamedTuple, TextIO

try:
    import pymysql
    import pymysql.cursors
except ModuleNotFoundError:  # run in place without it: files, --help and --version work; connect() says so
    pymysql = None  # type: ignore[assignment]

# What only some runs need (gzip, json, ElementTree, tempfile, subprocess, shutil, select
# and dnspython) is imported where it is used: a cron job would pay for it at every start.

__version__ = "1.0.0"

PROG = "alerts2afterglow"

EXIT_OK = 0
EXIT_FAILURE = 1  # runtime failure: database, I/O, Graphviz
EXIT_USAGE = 2  # bad flag or value, as argparse itself uses
EXIT_SIGNAL = 128  # plus the number of the signal that ended the run, as shells report it (Ctrl-C: 130)

# Defaults of the Perl original, kept so that existing cron lines work unchanged.
DEFAULT_DBHOST = "127.0.0.1"
DEFAULT_DBPORT = 3306
DEFAULT_DBNAME = "ossec"
DEFAULT_DBUSER = "ossec"
DEFAULT_INTERVAL = "30 minute"
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds for the TCP connect and the MySQL handshake together
# Seconds the server may stay silent mid-session. The grouping query sends nothing until it has
# grouped every alert of the window: a million alerts take it about a second (bench/RESULTS.md), so
# ten minutes leave room for some 300 million on a slow, busy server, and still end a stalled run
# (a dead proxy, a lock never released) long before the next run of a half-hourly cron job.
DEFAULT_READ_TIMEOUT = 600.0
# In-memory temporary tables for this session's GROUP BY (never lowered): with MariaDB's default
# 16 MB, grouping a million alerts spills to disk and takes five times longer.
SESSION_TMP_TABLE_BYTES = 256 * 1024 * 1024
# Sources repeat the same alerts (one line per alert of a brute force): LRU caches work out what
# becomes of this many distinct ones once, and keep memory bounded whatever the number of alerts.
REPEAT_CACHE_ENTRIES = 16384
# The most distinct (source, description, location) triples a grouped run holds (--max-triples): they
# are all held before --top, --min-count and the pictures choose among them, and a hostile day of
# millions of distinct users or URLs would otherwise take the machine's memory (too_many_triples).
MAX_TRIPLES = 4_000_000
DEFAULT_DNS_WORKERS = 64  # PTR lookups in flight at once
# The most --dns-workers may ask for. Each lookup in flight is a thread (8 MiB of address space for its
# stack) holding a socket: 256 stay well under the usual limit of 1,024 open files, and more bring
# nothing, as the GIL serialises the work (bench/bench_dns.py --addresses 4000 --workers 64,128,256:
# 6.9, 4.7, 5.2 s; 512 and 1,024, measured before the cap, were no faster).
MAX_DNS_WORKERS = 256
DEFAULT_DNS_TIMEOUT = 3.0  # seconds for one lookup
DEFAULT_DNS_BUDGET = 60.0  # seconds for all lookups of a run
DEFAULT_LAYOUT = "auto"  # Graphviz engine for --render: circo for small graphs, sfdp beyond (choose_layout)
DEFAULT_RENDER_TIMEOUT = 300.0  # seconds; a huge graph must not hang a cron job
# What a graph draws by default (--max-nodes): the busiest sources that fit in this many nodes and
# LINKS_PER_NODE times as many links. A picture (--render FILE.png/svg/gif/pdf, --format=dot) is seen
# whole: beyond some 80 nodes and 160 links its links cannot be followed (bench/bench_render.py
# --legibility, docs/pictures.md). The page can zoom, and its search and table hold every triple.
PICTURE_MAX_NODES = 80
PAGE_MAX_NODES = 1000

# What OSSEC writes where an alert has no source address or no user.
NO_ADDRESS = frozenset({"", "0", "(null)", "(none)", "0.0.0.0", "::"})
NO_USER = frozenset({"", "(none)", "(null)"})

# Times a window may name (--start-time, --end-time): from OSSEC's first possible (unsigned) epoch up
# to 9999-12-31 00:00 UTC (excluded), which every time zone can still show as a date.
MAX_WINDOW_EPOCH = 253402214400
# The longest any timeout may be (pymysql's own limit for connect_timeout): every wait stays finite.
MAX_TIMEOUT = 365 * 86400

INTERVAL_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}

log = logging.getLogger(PROG)


# ---------------------------------------------------------------------------
# Errors and records
# ---------------------------------------------------------------------------


class Failure(Exception):
    """A runtime failure reported as one line on stderr, exit status 1."""

    exit_code = EXIT_FAILURE


class UsageError(Failure):
    """A bad option value found after argparse (cross-option checks), exit 2."""

    exit_code = EXIT_USAGE


class Alert(NamedTuple):
    """One alert, or ``times`` identical alerts as the database and file readers group them.

    ``src_ip`` and ``user`` are already decoded: ``None`` when OSSEC recorded
    no usable value; ``src_ip`` is spelled as a source (see USER_MARK), ``user``
    is the name as recorded, for --src-user. The time is not kept: every
    source applies the time window itself, and alerts that differ only in
    time are then equal, which lets the repeats of an alert be handled once.
    (A NamedTuple: files yield hundreds of thousands a second.) A grouped
    source says when the alerts it merged were first and last seen; one alert
    at a time (--show-duplicate) needs no times.
    """

    rule_id: int
    description: str
    location: str
    src_ip: str | None = None  # as a source names it (address_source): an IP address, else marked "address:"
    user: str | None = None
    level: int | None = None
    times: int = 1  # how many alerts this stands for ("count" would hide tuple.count)
    first: int | None = None  # epoch of the earliest of them, where the source says
    last: int | None = None  # epoch of the latest


class Survey(NamedTuple):
    """What a source holds, whatever the window and the filters: learnt only when a run wrote nothing,
    to say why (explain_empty_output)."""

    alerts: int  # every alert the source holds
    outside: int  # of them, outside the time window (alerts.json lines without a time count here)
    first: int | None  # the time of the earliest alert
    last: int | None  # of the latest
    in_window: int | None = None  # the database: alerts in the window before any filter (files: the run counted them)
    no_source_user: int | None = None  # the database: alerts of the run without an address that have a user


class Source(NamedTuple):
    """A run's alerts, the filters (by flag) that the source applied itself (in SQL), and how to
    learn what it holds in all once they are read (for a run that wrote nothing)."""

    alerts: Iterator[Alert]
    applied: frozenset[str] = frozenset()
    survey: Callable[[Stats], Survey] | None = None  # given what the run counted
    producers: Callable[[], dict[str, str]] | None = None  # once read: who wrote each kind of source (producer_name)


class Tally(NamedTuple):
    """What stands behind a triple: how many alerts, the highest OSSEC level among them, when first and last seen."""

    alerts: int
    level: int | None
    first: int | None = None
    last: int | None = None


# The per-alert paths make these records with tuple.__new__, without the Python-level __new__
# that NamedTuple adds (8% of a grouped export's instructions): new_record(Tally, (alerts, level)).
new_record = tuple.__new__


# One line of output: who, what, where: (source, description, location). A plain tuple, not a
# NamedTuple: sorted() takes a fast path for plain tuples that a subclass misses.
Triple = tuple[str, str, str]
Row = tuple[Triple, Tally]

K = typing.TypeVar("K")
# A source's text says where it came from, one-to-one, and source_kind() reads it back: an attacker
# writes user names and some address fields, and must not pass one kind of source off as another.
# As recorded: an IP address from the alert's address field (Src IP:, srcip, the src_ip column), a
# host name that --do-reverse confirmed for one (always with a dot), a host that raised the alert
# (--use-host: in parentheses, host_source), a user (--use-user). Marked with the field it came
# from: address-field text that is no IP address ("address:web1"), and a user whose name alone
# would read as another kind: an IP address, a host, a host name, a mark ("user:10.0.0.5",
# "user:(web1) 10.0.0.2", "user:john.doe"). So a user is never merged with an address, looked up in
# DNS or drawn as one; and the CSV of IP sources is what it always was (docs/reverse-dns.md).
USER_MARK = "user:"
ADDRESS_MARK = "address:"

V = typing.TypeVar("V")


class Memo(dict[K, V]):
    """What ``make`` gives for each distinct value, made once; emptied when full, so memory stays bounded.

    A dictionary looked up with ``memo[value]``: on a hot path a hit costs a
    subscript, a fraction of a call to an lru_cache.

    >>> memo = Memo(str.upper)
    >>> memo["web1"], memo["web1"], len(memo)
    ('WEB1', 'WEB1', 1)
    """

    def __init__(self, make: Callable[[K], V]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, value: K) -> V:
        if len(self) >= REPEAT_CACHE_ENTRIES:
            self.clear()
        made = self[value] = self.make(value)
        return made


class Stats:
    """What a run did with the alerts it read, reported by --debug and written to the log file.

    The counts add up: alerts read = removed by filters + without a source +
    cut (--min-count, --top, --max-nodes) + written (Stats.report).
    """

    def __init__(self) -> None:
        self.alerts = 0  # alerts the filters kept, with a source or without
        self.no_source = 0  # of those, alerts that no source stands for (no address, and no user or host asked for)
        self.no_source_user = 0  # of those, alerts that have a user (--use-user would draw them)
        self.no_source_host = 0  # of those, alerts that name their host (--use-host would draw them)
        self.removed: Counter[str] = Counter()  # alerts removed, by filter
        self.cut: Counter[str] = Counter()  # alerts left out of the output, by flag: --min-count, --top, --max-nodes
        self.triples = 0  # lines written (or drawn, with --render alone): triples, or alerts with --show-duplicate
        self.written = 0  # the alerts those lines stand for
        self.drawn_only = False  # a picture alone (--render without --output): the lines are those it draws
        self.grouped = True  # lines are triples (not --show-duplicate's one line per alert)
        self.dns_unresolved = 0  # addresses left as IPs because --dns-budget ran out
        self.unknown_level = 0  # alerts kept by --min-level because their level is unknown
        self.row_filters: list[str] = []  # the filters applied row by row (not in SQL), by flag
        self.sql_filters: list[str] = []  # those the database's query applied
        self.users_known = True  # whether the alerts read say their user (the database: only with --use-user)
        self.survey: Survey | None = None  # set when nothing was written and someone will read why

    def removed_by_flag(self) -> list[tuple[str, int]]:
        """What each filter removed, in the filters' order."""
        return sorted(self.removed.items(), key=lambda item: FILTER_FLAGS.index(item[0]))

    @property
    def read(self) -> int:
        """The alerts the run read in the time window (as far as it counted those the database's filters removed)."""
        return self.alerts + self.removed.total()

    def count(self, kept: int, unknown_level: int, no_source: int, with_user: int, with_host: int) -> None:
        """Add what a pass over the alerts counted in its own variables (faster than attributes)."""
        self.alerts += kept
        self.unknown_level += unknown_level
        self.no_source += no_source
        self.no_source_user += with_user
        self.no_source_host += with_host

    def report(self, settings: Settings) -> None:
        """A line per filter (the cuts have theirs where they apply), one for the alerts without a
        source, then the sum: every alert read is removed, without a source, cut or written."""
        for flag, count in self.removed_by_flag():
            log.debug("%s removed %d alert(s)", flag, count)
        if self.unknown_level:
            log.debug("--min-level kept %d alert(s) of unknown level", self.unknown_level)
        if self.no_source:
            log.debug("without a source: %s", no_source_note(settings, self))
        terms = [f"{self.removed.total()} removed by filters", f"{self.no_source} without a source"]
        if self.cut:
            terms.append(f"{self.cut.total()} cut by {', '.join(self.cut)}")
        done = "drawn" if self.drawn_only else "written"
        if self.grouped:
            duplicates = self.written - self.triples
            triples = f"{self.triples} triple{'' if self.triples == 1 else 's'}"
            terms.append(f"{self.written} {done} as {triples} ({duplicates} duplicate{'' if duplicates == 1 else 's'})")
        else:
            terms.append(f"{self.written} {done}, a line each")
        log.debug("alerts read: %d = %s", self.read, " + ".join(terms))


# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------


class Window(NamedTuple):
    """Alerts with ``start <= timestamp < end`` (UNIX seconds); both None: no window."""

    start: int | None
    end: int | None
    interval: int | None = None  # --time-interval (or its default): the window is the last this many seconds
    to_now: bool = False  # --start-time without --end-time: the window ends now

    def contains(self, epoch: int) -> bool:
        return self.start is None or self.end is None or self.start <= epoch < self.end

    def describe_short(self) -> str:
        if self.start is None or self.end is None:
            return "all alerts"
        start, end = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") for t in (self.start, self.end))
        return f"{start} to {end} UTC"

    def describe(self) -> str:
        if self.start is None or self.end is None:
            return "all alerts (no time window)"
        return f"{_both_zones(self.start)} to {_both_zones(self.end)} (end excluded)"


def utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _both_zones(epoch: int) -> str:
    local = datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"{utc(epoch)} ({local})"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# The flags of the filters, in the order they apply and are reported (filter_steps, filter_conditions).
FILTER_FLAGS = ("--exclude-alerts", "--rules", "--min-level", "--location", "--src", "--src/--src-user")


class Filters(NamedTuple):
    """The incident-lookup filters, in the order they apply and are reported."""

    excluded_rules: tuple[int, ...] = ()  # --exclude-alerts: wins over --rules
    rules: tuple[int, ...] = ()  # --rules: keep only these
    min_level: int | None = None  # --min-level: alerts of unknown level are kept
    locations: tuple[str, ...] = ()  # --location: shell-style patterns, any may match
    networks: tuple[Network, ...] = ()  # --src
    users: tuple[str, ...] = ()  # --src-user (with --use-user)

    def describe(self) -> list[str]:
        parts = []
        if self.excluded_rules:
            parts.append(f"excluded rule IDs: {','.join(map(str, self.excluded_rules))}")
        if self.rules:
            parts.append(f"only rule IDs: {','.join(map(str, self.rules))}")
        if self.min_level is not None:
            parts.append(f"minimum level: {self.min_level}")
        if self.locations:
            parts.append(f"locations: {' | '.join(self.locations)}")
        if self.networks or self.users:
            parts.append(f"sources: {', '.join([*map(str, self.networks), *self.users])}")
        return parts


class DatabaseTarget(NamedTuple):
    """Where and how to connect; the password is never logged."""

    host: str
    port: int
    user: str
    password: str
    database: str
    connect_timeout: float
    read_timeout: float

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class Settings(NamedTuple):
    """Everything a run needs, validated; travels to sources, transforms and writers."""

    window: Window
    filters: Filters = Filters()
    use_user: bool = False
    use_host: bool = False  # --use-host: an alert with neither address nor (--use-user) user is drawn from its host
    show_duplicate: bool = False
    no_skip: bool = False  # --no-skip: a time window skips no file of alerts (skip_reason)
    count_column: bool = False  # --count
    plain_csv: bool = False
    output: str | None = None
    database: DatabaseTarget | None = None
    alerts_logs: tuple[str, ...] = ()
    alerts_jsons: tuple[str, ...] = ()
    dns: DnsSettings | None = None  # set with --do-reverse
    rules_dirs: tuple[str, ...] | None = None  # None: the standard OSSEC/Wazuh directories
    format: str = "csv"
    render: str | None = None  # a picture to draw with Graphviz
    layout: str = DEFAULT_LAYOUT
    render_timeout: float = DEFAULT_RENDER_TIMEOUT
    min_count: int = 1  # drop triples seen fewer times
    top: int | None = None  # keep only the sources with the most alerts
    max_triples: int = MAX_TRIPLES  # the most distinct triples a grouped run holds
    max_nodes: int | None = None  # --max-nodes: 0 for no limit, None for the default of each output (node_limits)
    location_detail: str = "file"  # --location-detail: "file", or "agent" for one location per agent
    made_at: int = 0  # when the graph was made: now, or SOURCE_DATE_EPOCH for reproducible output
    cuts: tuple[str, ...] = ()  # what --min-count, --top and --max-nodes left out, for the title (set by run)
    producers: tuple[tuple[str, str], ...] = ()  # (kind of source, who wrote it) for the title (set by run)
    explain_empty: bool = False  # say why when nothing is written: stderr is a terminal, or --debug


def parse_interval(text: str) -> int:
    """Parse ``N unit`` / ``N units`` (any case) into seconds.

    >>> parse_interval("30 minute"), parse_interval("1 Hours"), parse_interval("2week")
    (1800, 3600, 1209600)
    """
    match = re.fullmatch(r"\s*([0-9]{1,12})\s*([a-zA-Z]+?)s?\s*", text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in INTERVAL_UNITS or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid interval {text!r}: expected 'N unit' with N > 0 and unit one of "
            "second, minute, hour, day, week (e.g. '30 minute', '2 hours')"
        )
    return int(match.group(1)) * INTERVAL_UNITS[unit]


def parse_time(text: str) -> int:
    """Parse a UNIX epoch, ``yyyy/mm/dd hh:mm:ss`` or ISO 8601 into epoch seconds.

    Times without a zone are local time, as the Perl original read them. A
    time must lie between 1970 (OSSEC stores unsigned epochs) and the end of
    year 9999, which every time zone can still show.

    >>> parse_time("1700000000"), parse_time("2023-11-14T22:13:20Z")
    (1700000000, 1700000000)
    """
    value = text.strip()
    try:
        if re.fullmatch(r"[0-9]{1,20}", value):
            epoch = int(value)
        else:
            try:
                moment = datetime.strptime(value, "%Y/%m/%d %H:%M:%S")
            except ValueError:
                moment = datetime.fromisoformat(value)
            epoch = int(moment.timestamp())  # OverflowError or OSError where the local zone cannot say
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: expected a UNIX epoch, 'yyyy/mm/dd hh:mm:ss' "
            "or ISO 8601 (e.g. 2026-11-27T10:00:00+01:00)"
        ) from None
    if not 0 <= epoch < MAX_WINDOW_EPOCH:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: out of range (1970-01-01 to 9999-12-30 UTC)")
    return epoch


def parse_rule_ids(text: str) -> tuple[int, ...]:
    """Parse ``id1[,id2,...]`` into rule IDs.

    >>> parse_rule_ids("3302, 3303,")
    (3302, 3303)
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(re.fullmatch(r"\d{1,8}", part) for part in parts):
        raise argparse.ArgumentTypeError(
            f"invalid rule ID list {text!r}: expected numbers separated by commas (e.g. 3302,3303)"
        )
    return tuple(int(part) for part in parts)


def parse_network(text: str) -> Network:
    """An IP address or CIDR network, IPv4 or IPv6.

    >>> parse_network("203.0.113.0/24"), parse_network("2001:db8::1")
    (IPv4Network('203.0.113.0/24'), IPv6Network('2001:db8::1/128'))
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid address or network {text!r}: expected IP or IP/PREFIX (e.g. 203.0.113.0/24, 2001:db8::/32)"
        ) from None


def parse_level(text: str) -> int:
    if not re.fullmatch(r"\d{1,2}", text.strip()) or int(text) > 15:
        raise argparse.ArgumentTypeError(f"invalid level {text!r}: expected an OSSEC level from 0 to 15")
    return int(text)


def resolve_window(args: argparse.Namespace, now: int) -> Window:
    """Turn --all, --time-interval, --start-time and --end-time into one window."""
    if args.all:
        if args.time_interval or args.start_time is not None or args.end_time is not None:
            raise UsageError("--all cannot be combined with --time-interval, --start-time or --end-time")
        return Window(None, None)
    if args.time_interval and (args.start_time is not None or args.end_time is not None):
        raise UsageError("--time-interval cannot be combined with --start-time or --end-time")
    if args.start_time is None:
        if args.end_time is not None:
            raise UsageError("--end-time needs --start-time")
        seconds = args.time_interval or parse_interval(DEFAULT_INTERVAL)
        # Up to and including the current second; an interval longer than the epoch is all time since.
        return Window(max(now - seconds, 0), now + 1, interval=seconds)
    start = args.start_time
    end = args.end_time if args.end_time is not None else now + 1
    if start > now:
        raise UsageError(f"--start-time {_both_zones(start)} is in the future")
    if start >= end:
        raise UsageError("--start-time must be before --end-time")
    return Window(start, end, to_now=args.end_time is None)


OPTION_FILE_MAX_BYTES = 1024 * 1024  # a MySQL option file holds a few lines; /dev/zero must not fill memory
_OPTION_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "s": " ", '"': '"', "'": "'", "\\": "\\"}


def parse_option_file(text: str) -> dict[str, dict[str, str]]:
    r"""The options of each ``[group]`` of a MySQL option file, read as the mysql client reads it.

    Names and values lose their surrounding spaces (a line that starts with
    spaces is an option, not a continuation); ``#`` outside quotes starts a
    comment; a value may be quoted, and ``\n``, ``\t``, ``\s``... are escapes.
    Names are matched in any case, ``-`` and ``_`` alike. ``!include``
    directives are not followed; an option without a value is a flag.

    >>> parse_option_file("[client]\n  user = ossec # the reader\npassword='a#b\\sc'\nno-beep\n")
    {'client': {'user': 'ossec', 'password': 'a#b c', 'no_beep': ''}}
    """
    if text.startswith("\ufeff"):
        # mysys (my_default.c) reads no byte order mark either: "Found option without preceding group".
        raise Failure("line 1: the file starts with a UTF-8 byte order mark (BOM), which the mysql client refuses too")
    groups: dict[str, dict[str, str]] = {}
    group: dict[str, str] | None = None
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): a password may hold U+2028
        line = _strip_option_comment(line).strip()
        if not line or line[0] in "#;!":
            continue
        if line[0] == "[":
            if not line.endswith("]"):
                raise Failure(f"line {number}: a group is written [name]")
            group = groups.setdefault(line[1:-1].strip().lower(), {})
            continue
        if group is None:
            raise Failure(f"line {number}: an option before any [group]")
        name, _, value = line.partition("=")
        group[name.strip().lower().replace("-", "_")] = _option_value(value.strip())
    return groups


def _strip_option_comment(line: str) -> str:
    """The line up to a ``#`` that is not inside quotes (mysys' remove_end_comment)."""
    quote = ""
    escaped = False
    for index, char in enumerate(line):
        if char in "'\"" and not escaped:
            quote = "" if quote == char else quote or char
        if not quote and char == "#":
            return line[:index]
        escaped = bool(quote) and char == "\\" and not escaped
    return line


def _option_value(value: str) -> str:
    if len(value) >= 2 and value[0] in "'\"" and value[0] == value[-1]:
        value = value[1:-1]
    return re.sub(r"\\(.)", lambda m: _OPTION_ESCAPES.get(m.group(1), m.group(0)), value)


def read_option_files(defaults_file: str | None, wait: float) -> tuple[str, dict[str, str]]:
    """The file read and the options of its ``[client]`` (then ``[alerts2afterglow]``) groups.

    With --defaults-file only that file is read and it must exist; otherwise
    ``~/.my.cnf`` is read when present. The file is read as bytes, as the
    mysql client reads it: bytes that are not UTF-8 travel on unchanged (a
    latin-1 password reaches the server as written). A file that cannot be
    read or parsed is a runtime failure (exit 1), like any other input.
    """
    path = defaults_file if defaults_file is not None else os.path.expanduser("~/.my.cnf")
    try:
        data = read_option_file(path, wait)
    except OSError as err:
        if defaults_file is None and err.errno == errno.ENOENT:
            return path, {}
        raise Failure(f"cannot read MySQL option file {path}: {err.strerror}") from None
    if len(data) > OPTION_FILE_MAX_BYTES:
        raise Failure(f"cannot read MySQL option file {path}: larger than {OPTION_FILE_MAX_BYTES // 1024} KiB")
    try:
        groups = parse_option_file(data.decode("utf-8", "surrogateescape"))
    except Failure as err:
        raise Failure(f"cannot parse MySQL option file {path}: {err}") from None
    return path, {**groups.get("client", {}), **groups.get(PROG, {})}


def read_option_file(path: str, wait: float) -> bytes:
    """An option file's bytes, up to one byte beyond OPTION_FILE_MAX_BYTES, never blocking for good.

    Opened without blocking: a FIFO that nobody writes would hold the open
    for ever (the mysql client waits), and reads as an empty file here. A
    pipe that is written, as by ``--defaults-file=<(printf ...)``, must
    deliver the whole file within ``wait`` seconds (--connect-timeout).
    """
    import select

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + wait
        chunks: list[bytes] = []
        size = 0
        while size <= OPTION_FILE_MAX_BYTES:
            try:
                chunk = os.read(fd, OPTION_FILE_MAX_BYTES + 1 - size)
            except BlockingIOError:  # a writer, but nothing written yet
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    raise OSError(errno.ETIMEDOUT, f"the file did not end within {wait:g} s (--connect-timeout)") from None
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def resolve_database(args: argparse.Namespace) -> DatabaseTarget:
    """Command line first, then the option file, then MYSQL_PWD / the defaults.

    What the option file says is checked here: a bad value there is a
    runtime failure (exit 1); the same value on the command line is a usage
    error, which argparse reports (exit 2).
    """
    connect_timeout = args.connect_timeout or DEFAULT_CONNECT_TIMEOUT
    path, options = read_option_files(args.defaults_file, connect_timeout)
    password = args.dbpass
    if password is None:
        password = options.get("password")
    if password is None:
        password = os.environ.get("MYSQL_PWD")
    if password is None:
        raise UsageError(
            "no database password: give --dbpass, set MYSQL_PWD, or put password= in the "
            "[client] section of ~/.my.cnf or of a --defaults-file"
        )
    try:
        port = args.dbport if args.dbport is not None else port_number(options.get("port", str(DEFAULT_DBPORT)))
        host = args.dbhost or host_name(options.get("host") or DEFAULT_DBHOST)
    except argparse.ArgumentTypeError as err:
        raise Failure(f"MySQL option file {path}: {err}") from None
    return DatabaseTarget(
        host=host,
        port=port,
        user=args.dbuser or options.get("user") or DEFAULT_DBUSER,
        password=password,
        database=args.dbname or options.get("database") or DEFAULT_DBNAME,
        connect_timeout=connect_timeout,
        read_timeout=args.read_timeout or DEFAULT_READ_TIMEOUT,
    )


def host_name(text: str) -> str:
    """A database host as the system resolver can be asked for it: an IP address or a host name
    whose labels (between dots, IDNA-encoded) are 1 to 63 characters long.

    >>> host_name("db.example.org"), host_name("::1")
    ('db.example.org', '::1')
    """
    try:
        if is_ip(text):
            return text
        if "\x00" in text or text.strip() != text or not text.rstrip(".") or len(text) > 253:
            raise UnicodeError("not a host name")
        text.encode("idna")  # what the socket module does with the name: empty or long labels fail here
    except UnicodeError:
        raise argparse.ArgumentTypeError(
            f"invalid host {text!r}: expected an IP address or a host name (labels of 1-63 characters)"
        ) from None
    return text


def positive_float(text: str) -> float:
    """A number of seconds for a timeout: finite, above 0, at most a year.

    >>> positive_float("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_TIMEOUT:  # nan and inf fail here
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: expected a number of seconds > 0 and at most {MAX_TIMEOUT}"
        )
    return value


def positive_int(text: str) -> int:
    if not re.fullmatch(r"\d{1,6}", text) or int(text) == 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number > 0")
    return int(text)


def dns_workers(text: str) -> int:
    if not re.fullmatch(r"\d{1,6}", text) or not 0 < int(text) <= MAX_DNS_WORKERS:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number from 1 to {MAX_DNS_WORKERS}")
    return int(text)


def node_limit(text: str) -> int:
    if not re.fullmatch(r"\d{1,7}", text):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a whole number (0: no limit)")
    return int(text)


def port_number(text: str) -> int:
    if not re.fullmatch(r"\d{1,5}", text) or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 1-65535")
    return int(text)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error of ours."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {visible(message)} (see --help)\n")  # it may quote what was typed


HELP_COLUMNS = (60, 100)  # --help fills the terminal's width (COLUMNS), within these


class _HelpFormatter(argparse.HelpFormatter):
    """--help as a manual page reads: wrapped to the terminal's width (COLUMNS, else the terminal's
    own, else 80; from 60 to 100 columns), the description and the epilog's sections too
    (manual_text)."""

    def __init__(self, prog: str) -> None:
        import shutil

        narrowest, widest = HELP_COLUMNS
        width = min(max(shutil.get_terminal_size().columns, narrowest), widest) - 1  # the last column left free
        super().__init__(prog, max_help_position=min(32, width // 3), width=width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return manual_text(text, width)

    def _split_lines(self, text: str, width: int) -> list[str]:
        """An option's help, wrapped; "(default: X)" kept on one line (textwrap never breaks at U+00A0)."""
        lines = super()._split_lines(text.replace("(default: ", "(default:\u00a0"), width)
        return [line.replace("\u00a0", " ") for line in lines]


def manual_text(text: str, width: int) -> str:
    r"""The description and the epilog, wrapped to ``width`` as a manual page sets them. Blocks are
    separated by blank lines; in each, a line in capitals alone is a heading, kept; lines indented by
    four spaces are commands, kept as they are; "  TERM  meaning" (two spaces or more after the term)
    is a definition, its meaning wrapped under itself; "  # ..." a comment; anything else a paragraph.

    >>> print(manual_text("EXIT STATUS\n  0    success, an empty window included\n  1    failure", 30))
    EXIT STATUS
      0    success, an empty
           window included
      1    failure
    """
    lines: list[str] = []
    for block in text.strip("\n").split("\n\n"):
        paragraph: list[str] = []
        for line in [*block.splitlines(), ""]:
            definition = _DEFINITION.match(line)
            if line.startswith("  ") and not line.startswith(("    ", "  # ")) and not definition:
                paragraph.append(line.strip() if paragraph else line)  # the paragraph's first line keeps its indent
                continue
            if paragraph:
                indent = paragraph[0][: len(paragraph[0]) - len(paragraph[0].lstrip())]
                lines += textwrap.wrap(" ".join(paragraph).strip(), width, initial_indent=indent, subsequent_indent=indent)
                paragraph = []
            if line.startswith("  # "):
                lines += textwrap.wrap(line[4:], width, initial_indent="  # ", subsequent_indent="  # ")
            elif definition:
                term, meaning = definition.groups()
                lines += textwrap.wrap(meaning, width, initial_indent=term, subsequent_indent=" " * len(term))
            elif line.startswith("    ") or (line and line == line.upper()):
                lines.append(line)  # a command, or a heading
            elif line:
                paragraph.append(line)
        lines.append("")
    return "\n".join(lines).rstrip("\n")


_DEFINITION = re.compile(r"(  [^ #]\S*  +)(\S.*)")  # "  TERM  meaning": a term of one word, two spaces or more after it


EPILOG = """\
EXAMPLES
  # The classic pipeline, from cron every 30 minutes (the password in ~/.my.cnf).
    alerts2afterglow --exclude-alerts=3302,3303 --time-interval="30 minute" \\
        | afterglow.pl -c ossec.properties | circo -Tgif -o alerts.gif

  # The same picture without AfterGlow, written atomically.
    alerts2afterglow --time-interval="30 minute" --top=40 --render=alerts.png

  # An incident window: one network, levels 10 and up, with alert counts.
    alerts2afterglow --start-time="2026/11/27 22:00:00" \\
        --end-time="2026/11/28 06:00:00" \\
        --src=203.0.113.0/24 --min-level=10 --count

  # An archived day without a database, users where an alert has no IP, names for IPs.
    alerts2afterglow --all --use-user --do-reverse --output=alerts.csv \\
        --alerts-log=/var/ossec/logs/alerts/2026/Nov/ossec-alerts-27.log.gz

ENVIRONMENT
  MYSQL_PWD          the database password, where neither --dbpass nor the option file gives one
  HOME               where ~/.my.cnf is looked for (without --defaults-file)
  TZ                 the local time zone: of --start-time and --end-time written yyyy/mm/dd \
hh:mm:ss, and of the local times --debug shows; pictures and their titles say UTC
  PATH               where Graphviz's commands are found: the layout engines (dot, sfdp...) and neato
  TMPDIR             where Graphviz's drawing waits to be finished, in a file without a name
  SOURCE_DATE_EPOCH  the "made" time in a picture's title: same input, same bytes
  COLUMNS            the width of this help (60 to 100 columns; else the terminal's)

FILES
  ~/.my.cnf          the MySQL option file, read as the mysql client reads it: [client] user, \
password, host, port, database
  /etc/resolv.conf   the DNS servers of --do-reverse, without --nameserver
  /var/ossec/rules   rule descriptions missing from the database, without --rules-dir (and \
/var/ossec/ruleset/rules, /var/ossec/etc/rules)

EXIT STATUS
  0      success, an empty window included (no output, nothing on stderr); a spent \
--dns-budget is a warning
  1      runtime failure: the database, an option file, I/O, Graphviz, out of memory
  2      usage error: a bad flag or value, conflicting flags, a start in the future
  128+N  ended by signal N (130 for Ctrl-C, 143 for SIGTERM); temporary files are removed

  Every error is one line on stderr, "alerts2afterglow: error: ...". stdout carries data only.

SEE ALSO
  afterglow.pl(1), dot(1), sfdp(1); README.md and docs/ in the source: the pictures, the page, \
the database, the alert files, diagnostics.
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line, GNU style: --flag=value and --flag value both work."""
    parser = _Parser(
        prog=PROG,
        description="Turn OSSEC and Wazuh alerts into link graphs: who (the attacker's address, or a user) -> "
        "what (the alert) -> where (the agent and its log). Reads the OSSEC MySQL database (the default), or "
        "alerts.log and alerts.json files; writes the triples as CSV for AfterGlow, as a Graphviz graph (DOT), "
        "as a picture drawn by Graphviz, or as an interactive page.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    files = parser.add_argument_group("alert files (instead of the database)")
    files.add_argument(
        "--alerts-log",
        metavar="FILE",
        nargs="+",
        action="extend",
        default=[],
        help="read OSSEC/Wazuh alerts.log; one or more files (a shell glob), repeatable, - for stdin, .gz read as gzip",
    )
    files.add_argument(
        "--alerts-json",
        metavar="FILE",
        nargs="+",
        action="extend",
        default=[],
        help="read OSSEC/Wazuh alerts.json (one object a line); one or more files, repeatable, - for stdin, .gz as gzip",
    )

    db = parser.add_argument_group("database (the default source)")
    db.add_argument("--dbhost", metavar="HOST", type=host_name, help=f"MySQL server (default: {DEFAULT_DBHOST})")
    db.add_argument("--dbport", metavar="PORT", type=port_number, help=f"MySQL port (default: {DEFAULT_DBPORT})")
    db.add_argument("--dbname", metavar="NAME", help=f"OSSEC database (default: {DEFAULT_DBNAME})")
    db.add_argument("--dbuser", metavar="USER", help=f"database user (default: {DEFAULT_DBUSER})")
    db.add_argument(
        "--dbpass",
        metavar="PASSWORD",
        help="database password (default: MYSQL_PWD, or password= in the option file; visible to ps when given here)",
    )
    db.add_argument(
        "--defaults-file",
        metavar="FILE",
        help="read [client] options (user, password, host, port, database) from FILE only "
        "(default: ~/.my.cnf when present)",
    )
    db.add_argument(
        "--connect-timeout",
        metavar="SECONDS",
        type=positive_float,
        help="give up connecting (TCP connect and MySQL handshake together) after SECONDS "
        f"(default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    db.add_argument(
        "--read-timeout",
        metavar="SECONDS",
        type=positive_float,
        help="give up when the server sends nothing for SECONDS mid-session, e.g. while it groups "
        f"(default: {DEFAULT_READ_TIMEOUT:g})",
    )
    db.add_argument(
        "--rules-dir",
        metavar="DIR",
        action="append",
        help="read rule descriptions missing from the signature table from DIR/*.xml; repeatable "
        f"(default: those of {', '.join(DEFAULT_RULES_DIRS)} that exist)",
    )

    sel = parser.add_argument_group("selection")
    sel.add_argument(
        "--time-interval",
        metavar="'N UNIT'",
        type=parse_interval,
        help=f"alerts of the last N second(s), minute(s), hour(s), day(s) or week(s) (default: '{DEFAULT_INTERVAL}')",
    )
    sel.add_argument(
        "--start-time",
        metavar="TIME",
        type=parse_time,
        help="alerts from TIME on: UNIX epoch, 'yyyy/mm/dd hh:mm:ss' (local) or ISO 8601",
    )
    sel.add_argument("--end-time", metavar="TIME", type=parse_time, help="alerts before TIME (default: now)")
    sel.add_argument("--all", action="store_true", help="no time window: every alert")
    sel.add_argument(
        "--no-skip",
        action="store_true",
        help="alert files: read every byte of every file, skipping none for the time window (on its "
        "modification time or first alert); for a manager whose clock is suspect",
    )
    sel.add_argument(
        "--exclude-alerts",
        metavar="ID[,ID...]",
        type=parse_rule_ids,
        action="append",
        default=[],
        help="leave out alerts of these OSSEC rule IDs (repeatable)",
    )
    sel.add_argument(
        "--use-user",
        action="store_true",
        help="use the alert's user as the source where it has no source IP",
    )
    sel.add_argument(
        "--use-host",
        action="store_true",
        help="use the host that raised the alert, '(web1) 10.0.0.2' or '(ossec-server)', as the source where "
        "it has neither a source IP nor (with --use-user) a user: rootcheck, syscheck and other checks of a host",
    )

    look = parser.add_argument_group("incident lookup (each filter repeatable where it says so)")
    look.add_argument(
        "--src",
        metavar="IP|CIDR",
        type=parse_network,
        action="append",
        default=[],
        help="keep alerts whose source IP is in one of these networks; repeatable, IPv4 and IPv6",
    )
    look.add_argument(
        "--src-user",
        metavar="NAME",
        action="append",
        default=[],
        help="with --use-user: keep alerts whose source is one of these users; repeatable",
    )
    look.add_argument(
        "--location",
        metavar="PATTERN",
        action="append",
        default=[],
        help="keep alerts whose location matches one of these shell patterns ('(web*', "
        "'*->/var/log/auth.log'); repeatable",
    )
    look.add_argument(
        "--min-level",
        metavar="N",
        type=parse_level,
        help="keep alerts of OSSEC level N (0-15) and above; alerts of unknown level are kept",
    )
    look.add_argument(
        "--rules",
        metavar="ID[,ID...]",
        type=parse_rule_ids,
        action="append",
        default=[],
        help="keep only alerts of these rule IDs; repeatable (--exclude-alerts still wins)",
    )

    out = parser.add_argument_group("output")
    out.add_argument(
        "--show-duplicate",
        action="store_true",
        help="one line per alert, in time order, instead of unique triples",
    )
    out.add_argument("--count", action="store_true", help="add a 4th column: alerts behind each line")
    out.add_argument(
        "--plain-csv",
        action="store_true",
        help="RFC 4180 CSV in UTF-8 with every value in full, for consumers other than "
        "AfterGlow; in both modes a value that a spreadsheet would run as a formula gets a ' "
        "before it (default: AfterGlow-safe ASCII)",
    )
    out.add_argument(
        "--output",
        metavar="FILE",
        help="write to FILE atomically (temporary file, then rename), keeping its mode, owner and "
        "group; a device or FIFO is written in place (default: stdout)",
    )
    out.add_argument(
        "--format",
        choices=sorted(WRITERS),
        default="csv",
        help="csv: lines for AfterGlow; dot: a Graphviz graph drawn by this tool; html: an interactive page "
        "of the graph, drawn by Graphviz (default: %(default)s)",
    )
    out.add_argument(
        "--render",
        metavar="FILE",
        help="draw the graph into FILE with Graphviz (.png, .svg, .gif, .pdf; .html: the interactive page), atomically; "
        "then only --output gets text",
    )
    out.add_argument(
        "--layout",
        choices=LAYOUTS,
        metavar="ENGINE",
        default=DEFAULT_LAYOUT,
        help=f"Graphviz layout engine for --render: {', '.join(LAYOUTS)}; auto: dot (left to right) up to "
        f"{DOT_MAX_NODES} nodes and {DOT_MAX_LINKS} links, sfdp beyond (default: %(default)s)",
    )
    out.add_argument(
        "--max-nodes",
        metavar="N",
        type=node_limit,
        help="draw only the busiest sources that fit in N nodes (and, in a picture, "
        f"{LINKS_PER_NODE['picture']}*N links; in the page's graph, {LINKS_PER_NODE['page']}*N), and say so in the "
        f"title; 0 draws everything (default: {PICTURE_MAX_NODES} for a picture, --render FILE.png and "
        f"--format=dot; {PAGE_MAX_NODES} for the page, which holds every triple in its table)",
    )
    out.add_argument(
        "--render-timeout",
        metavar="SECONDS",
        type=positive_float,
        default=DEFAULT_RENDER_TIMEOUT,
        help="give up drawing after SECONDS (default: %(default)g)",
    )
    out.add_argument(
        "--min-count",
        metavar="N",
        type=positive_int,
        default=1,
        help="drop triples seen fewer than N times (default: %(default)s)",
    )
    out.add_argument("--top", metavar="N", type=positive_int, help="keep only the N sources with the most alerts")
    out.add_argument(
        "--max-triples",
        metavar="N",
        type=positive_int,
        default=MAX_TRIPLES,
        help="stop with an error rather than hold more than N distinct triples, some 500 bytes each "
        "(default: %(default)s)",
    )
    out.add_argument(
        "--location-detail",
        choices=LOCATION_DETAILS,
        default="file",
        help="file: a location per agent and log file, '(web1) 10.0.0.2->/var/log/auth.log'; "
        "agent: one per agent, '(web1) 10.0.0.2', counts added up (default: %(default)s)",
    )

    rdns = parser.add_argument_group("reverse DNS")
    rdns.add_argument("--do-reverse", action="store_true", help="replace source IPs by their host names (PTR)")
    rdns.add_argument(
        "--nameserver",
        metavar="IP[:PORT]",
        type=parse_nameserver,
        action="append",
        help="ask this DNS server; repeatable (default: the servers of /etc/resolv.conf)",
    )
    rdns.add_argument(
        "--dns-timeout",
        metavar="SECONDS",
        type=positive_float,
        default=DEFAULT_DNS_TIMEOUT,
        help="give up one lookup after SECONDS (default: %(default)g)",
    )
    rdns.add_argument(
        "--dns-budget",
        metavar="SECONDS",
        type=positive_float,
        default=DEFAULT_DNS_BUDGET,
        help="stop looking up after SECONDS in all; the rest keep their IP, with a warning (default: %(default)g)",
    )
    rdns.add_argument(
        "--dns-workers",
        metavar="N",
        type=dns_workers,
        default=DEFAULT_DNS_WORKERS,
        help=f"lookups in flight at once, at most {MAX_DNS_WORKERS} (default: %(default)s)",
    )

    diag = parser.add_argument_group("diagnostics")
    diag.add_argument("--debug", action="store_true", help="explain the run on stderr")
    diag.add_argument(
        "--logfile",
        metavar="FILE",
        help="append timestamped diagnostics, warnings and errors to FILE",
    )
    return parser


DATABASE_FLAGS = (
    "dbhost",
    "dbport",
    "dbname",
    "dbuser",
    "dbpass",
    "defaults_file",
    "connect_timeout",
    "read_timeout",
    "rules_dir",
)


def check_file_sources(args: argparse.Namespace) -> None:
    """File sources exclude database flags, and stdin can be read only once."""
    given = [f"--{name.replace('_', '-')}" for name in DATABASE_FLAGS if getattr(args, name) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be combined with --alerts-log or --alerts-json")
    if (args.alerts_log + args.alerts_json).count("-") > 1:
        raise UsageError("standard input (-) can be read only once")


def build_settings(args: argparse.Namespace, now: int) -> Settings:
    """Validate what argparse cannot check alone and gather it in one object."""
    files = bool(args.alerts_log or args.alerts_json)
    if files:
        check_file_sources(args)
    elif args.no_skip:
        raise UsageError("--no-skip works on --alerts-log and --alerts-json (a database is read by its index)")
    return Settings(
        window=resolve_window(args, now),
        filters=build_filters(args),
        use_user=args.use_user,
        use_host=args.use_host,
        show_duplicate=args.show_duplicate,
        no_skip=args.no_skip,
        count_column=args.count,
        plain_csv=args.plain_csv,
        output=args.output if args.output != "-" else None,
        database=None if files else resolve_database(args),
        alerts_logs=tuple(args.alerts_log),
        alerts_jsons=tuple(args.alerts_json),
        dns=dns_settings(args),
        rules_dirs=tuple(args.rules_dir) if args.rules_dir else None,
        explain_empty=args.debug or is_terminal(sys.stderr),
        **graph_options(args),
    )


def graph_options(args: argparse.Namespace) -> dict[str, Any]:
    """--format, --render and the cuts, which need whole triples (not --show-duplicate)."""
    if args.show_duplicate:
        for flag, given in (
            (f"--format={args.format}", args.format in ("dot", "html")),
            ("--render", args.render),
            ("--min-count", args.min_count > 1),
            ("--top", args.top),
        ):
            if given:
                raise UsageError(f"{flag} works on grouped triples: it cannot be combined with --show-duplicate")
    if args.render and os.path.splitext(args.render)[1].lower() not in RENDER_FORMATS:
        raise UsageError(f"--render {args.render}: the name must end in {', '.join(RENDER_FORMATS)}")
    made_at = os.environ.get("SOURCE_DATE_EPOCH", "")
    return {
        "format": args.format,
        "render": args.render,
        "layout": args.layout,
        "render_timeout": args.render_timeout,
        "min_count": args.min_count,
        "top": args.top,
        "max_triples": args.max_triples,
        "max_nodes": args.max_nodes,
        "location_detail": args.location_detail,
        "made_at": int(made_at) if made_at.isdigit() else int(time.time()),
    }


def build_filters(args: argparse.Namespace) -> Filters:
    if args.src_user and not args.use_user:
        raise UsageError("--src-user needs --use-user")
    return Filters(
        excluded_rules=tuple(sorted({rule for group in args.exclude_alerts for rule in group})),
        rules=tuple(sorted({rule for group in args.rules for rule in group})),
        min_level=args.min_level,
        locations=tuple(dict.fromkeys(args.location)),
        networks=tuple(dict.fromkeys(args.src)),
        users=tuple(dict.fromkeys(name for user in args.src_user for name in recorded_names(user))),
    )


def recorded_names(user: str) -> tuple[str, ...]:
    """The user names ``--src-user=USER`` keeps: USER as recorded, and, where USER is spelled as the
    output writes a marked user (``user:10.0.0.5``, user_source), the name behind that spelling too.

    >>> recorded_names("root"), recorded_names("user:10.0.0.5")
    (('root',), ('user:10.0.0.5', '10.0.0.5'))
    """
    return (user, user.removeprefix(USER_MARK)) if user.startswith(USER_MARK) else (user,)


def dns_settings(args: argparse.Namespace) -> DnsSettings | None:
    if not args.do_reverse:
        if args.nameserver:
            raise UsageError("--nameserver needs --do-reverse")
        return None
    return DnsSettings(
        nameservers=tuple(args.nameserver) if args.nameserver else None,
        timeout=args.dns_timeout,
        budget=args.dns_budget,
        workers=args.dns_workers,
    )


# ---------------------------------------------------------------------------
# Sources: the OSSEC MySQL database
# ---------------------------------------------------------------------------

REQUIRED_TABLES = ("alert", "location", "signature")
# What places an alert: OSSEC declares these NOT NULL, but an altered table may hold NULLs there.
ALERT_KEYS = ("rule_id", "server_id", "location_id", "timestamp")


class Schema(NamedTuple):
    """What this database looks like, read once from information_schema."""

    generation: str
    integer_ips: bool
    level_expr: str  # SQL for the alert level: alert.level (2.9+) or signature.level
    user_join: str  # extra JOIN that brings the user, or ""
    user_expr: str  # SQL for the user, or NULL
    stored_user_join: str = ""  # the same, whatever --use-user says: where the database keeps users
    stored_user_expr: str = "NULL"
    nullable_keys: tuple[str, ...] = ()  # the ALERT_KEYS that this alert table lets be NULL


def connect(target: DatabaseTarget) -> pymysql.connections.Connection:
    """Open the connection, TCP connect and MySQL handshake within --connect-timeout together.

    pymysql bounds only the TCP connect with its connect_timeout; the
    handshake then waits as long as its read timeout allows at each read, and a
    server (or anything else on the port) that accepts and never greets, or
    greets a byte at a time, would hold the run. So the socket is connected
    here, and a timer shuts it down when the time is up, whatever step the
    handshake has reached (TLS included). After the handshake every read and
    write waits at most --read-timeout. Failures become one clear line.
    """
    if pymysql is None:
        raise missing_package("pymysql")
    deadline = time.monotonic() + target.connect_timeout
    where = f"cannot connect to MySQL {target.describe()}"
    conn = pymysql.connect(
        host=target.host,
        port=target.port,
        # Bytes, as the mysql client sends what it was given: pymysql would encode a password as
        # latin-1 (failing on "€") and the names as UTF-8 (failing on bytes an option file held).
        user=as_bytes(target.user),
        password=as_bytes(target.password),
        database=as_bytes(target.database),
        charset="utf8mb4",
        connect_timeout=target.connect_timeout,
        read_timeout=target.read_timeout,
        write_timeout=target.read_timeout,
        autocommit=True,
        # TLS when the server offers it (pymysql's default), except on loopback, where it protects nothing.
        ssl_disabled=is_loopback(target.host) or None,
        defer_connect=True,
    )
    try:
        sock = socket.create_connection((target.host, target.port), timeout=target.connect_timeout)
    except TimeoutError:
        raise Failure(f"{where}: no TCP connection within {target.connect_timeout:g} s (--connect-timeout)") from None
    except OSError as err:
        raise Failure(f"{where}: {err.strerror or err}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as pymysql sets its own sockets
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    spare = sock.dup()  # the same connection under a second descriptor: TLS takes ``sock`` over
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        with contextlib.suppress(OSError):
            spare.shutdown(socket.SHUT_RDWR)  # the handshake's read or write returns at once

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), expire)
    timer.daemon = True
    timer.start()
    try:
        conn.connect(sock)
    except pymysql.MySQLError as err:
        if not expired.is_set():
            raise Failure(f"{where}: {mysql_message(err)}") from None
    finally:
        timer.cancel()
        timer.join()
        spare.close()
    if expired.is_set():  # also when the timer fired just as the handshake ended: the socket is shut
        if conn.open:
            conn.close()
        raise Failure(
            f"{where}: the server did not complete the MySQL handshake within "
            f"{target.connect_timeout:g} s (--connect-timeout)"
        )
    return conn


def as_bytes(text: str) -> bytes:
    """A value as the bytes the user gave (arguments, option files and the environment keep
    bytes that are not UTF-8 as surrogates)."""
    return text.encode("utf-8", "surrogateescape")


def missing_package(module: str) -> Failure:
    """The error for a dependency that is not installed, naming what to install."""
    pip, debian = {"pymysql": ("PyMySQL", "python3-pymysql"), "dns": ("dnspython", "python3-dnspython")}[module]
    return Failure(
        f"the Python package {pip} is not installed: pip install {pip} (Debian/Ubuntu: apt-get install {debian})"
    )


def is_loopback(host: str) -> bool:
    """
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("db.example.org")
    (True, True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mysql_message(err: pymysql.MySQLError) -> str:
    """The server's or driver's own text, without the error-number tuple."""
    if len(err.args) >= 2:
        return str(err.args[1]).splitlines()[0]
    return str(err) or type(err).__name__


def explaining() -> bool:
    """Whether the run's diagnostics are read (--debug, --logfile): what only they need is done only then."""
    return any(handler.level <= logging.DEBUG for handler in log.handlers)


def log_sql(statement: str) -> str:
    """A statement the run sends, shown under --debug (the benchmark's raw client replays them all)."""
    log.debug("SQL: %s", statement)
    return statement


def detect_schema(conn: pymysql.connections.Connection, use_user: bool) -> Schema:
    """Tell the OSSEC schema generation from column types, once per run."""
    with conn.cursor() as cur:
        statement = cur.mogrify(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s, %s, %s, %s)",
            (*REQUIRED_TABLES, "data"),
        )
        cur.execute(log_sql(statement))
        columns: dict[str, dict[str, str]] = {}
        nullable: set[tuple[str, str]] = set()
        for table, column, data_type, is_nullable in cur.fetchall():
            columns.setdefault(table.lower(), {})[column.lower()] = data_type.lower()
            if is_nullable == "YES":
                nullable.add((table.lower(), column.lower()))
    missing = [table for table in REQUIRED_TABLES if table not in columns]
    if missing:
        raise Failure(
            f"database {conn.db.decode() if isinstance(conn.db, bytes) else conn.db} is not an "
            f"OSSEC database: missing table(s) {', '.join(missing)}"
        )
    alert = columns["alert"]
    integer_ips = alert.get("src_ip", "int") in {"int", "bigint", "mediumint", "integer"}
    has_level = "level" in alert
    if "user" in alert:
        user_join, user_expr = "", "a.user"
    elif "data" in columns:
        user_join = " LEFT JOIN data d ON d.id = a.id AND d.server_id = a.server_id"
        user_expr = "d.user"
    else:
        user_join, user_expr = "", "NULL"
        if use_user:
            raise Failure("--use-user: this database keeps no user (neither alert.user nor a data table)")
    generation = (
        "OSSEC 2.6-2.8 (integer IPs, users in data)"
        if integer_ips and not has_level
        else ("OSSEC 2.9+/Wazuh (text IPs, level and user in alert)")
    )
    return Schema(
        generation=generation,
        integer_ips=integer_ips,
        level_expr="a.level" if has_level else "s.level",
        user_join=user_join if use_user else "",
        user_expr=user_expr if use_user else "NULL",
        stored_user_join=user_join,
        stored_user_expr=user_expr,
        nullable_keys=tuple(key for key in ALERT_KEYS if ("alert", key) in nullable),
    )


SqlCondition = tuple[str, str, list[Any]]  # (the flag it comes from, SQL with placeholders, parameters)


def window_condition(window: Window) -> list[SqlCondition]:
    if window.start is None:
        return []
    return [("time window", "a.timestamp >= %s AND a.timestamp < %s", [window.start, window.end])]


def placed_alerts(conn: pymysql.connections.Connection, schema: Schema, window: Window) -> list[SqlCondition]:
    """The condition that keeps out the alerts that cannot be placed (a NULL in ALERT_KEYS), after
    one warning with their count: none for OSSEC's own schemas, whose keys are NOT NULL.

    Those of the time window are counted, and with a window those without a
    time too, which no window holds (as alert files count them).
    """
    if not schema.nullable_keys:
        return []
    unplaced = " OR ".join(f"a.{key} IS NULL" for key in schema.nullable_keys)
    params: list[Any] = []
    if window.start is not None:
        ((_, in_window, params),) = window_condition(window)
        unplaced = f"(({unplaced}) AND {in_window})"
        if "timestamp" in schema.nullable_keys:
            unplaced += " OR a.timestamp IS NULL"
    with conn.cursor() as cur:
        cur.execute(log_sql(cur.mogrify(f"SELECT COUNT(*) FROM alert a WHERE {unplaced}", params)))
        (skipped,) = cur.fetchone() or (0,)
    if skipped:
        log.warning(
            "skipped %d alert(s) whose %s is NULL (OSSEC's schema declares them NOT NULL)",
            skipped,
            " or ".join(schema.nullable_keys),
        )
    return [("", " AND ".join(f"a.{key} IS NOT NULL" for key in schema.nullable_keys), [])]


def filter_conditions(schema: Schema, filters: Filters, use_host: bool = False) -> list[SqlCondition]:
    """The filters that the schema lets the database apply, in the order of Filters.

    What cannot be pushed down (--src on text IPs, --src-user, a --location
    pattern with a [class] or bytes that are not UTF-8; --src with --use-user or --use-host, which remove
    the alerts without an address that a user or host would draw) is applied
    to the rows afterwards, as for files.
    """
    conditions: list[SqlCondition] = []
    if filters.excluded_rules:
        marks = ", ".join(["%s"] * len(filters.excluded_rules))
        conditions.append(("--exclude-alerts", f"a.rule_id NOT IN ({marks})", list(filters.excluded_rules)))
    if filters.rules:
        conditions.append(("--rules", f"a.rule_id IN ({', '.join(['%s'] * len(filters.rules))})", list(filters.rules)))
    if filters.min_level is not None:
        if schema.level_expr == "a.level":
            sql = "(a.level >= %s OR a.level IS NULL)"
        else:  # OSSEC 2.6-2.8: the level lives in signature; a rule without a row has no known level
            sql = "a.rule_id NOT IN (SELECT rule_id FROM signature WHERE level < %s)"
        conditions.append(("--min-level", sql, [filters.min_level]))
    likes = [fnmatch_to_like(pattern) for pattern in filters.locations]
    if likes and all(like is not None for like in likes):
        # Character by character, as fnmatch compares the name the client reads: LIKE's '_' is one
        # character under a utf8mb4 collation (as bytes, BINARY, it was one byte), and _bin keeps
        # case and every code point apart.
        matches = " OR ".join(["CONVERT(name USING utf8mb4) COLLATE utf8mb4_bin LIKE %s ESCAPE '!'"] * len(likes))
        sql = f"(a.location_id, a.server_id) IN (SELECT id, server_id FROM location WHERE {matches})"
        conditions.append(("--location", sql, likes))
    if filters.networks and not filters.users and schema.integer_ips and schema.user_expr == "NULL" and not use_host:
        # Rows without an address stay, to be counted as "no source" like everywhere else.
        ranges = [(int(net[0]), int(net[-1])) for net in filters.networks if net.version == 4]
        sql = " OR ".join(["a.src_ip IS NULL OR a.src_ip = 0", *["a.src_ip BETWEEN %s AND %s"] * len(ranges)])
        conditions.append(("--src", f"({sql})", [bound for pair in ranges for bound in pair]))
    return conditions


def fnmatch_to_like(pattern: str) -> str | None:
    """A shell pattern as a LIKE pattern with ! as escape, or None where LIKE cannot say the same.

    >>> fnmatch_to_like("(w?b*"), fnmatch_to_like("*100%_done?"), fnmatch_to_like("*[0-9]")
    ('(w_b%', '%100!%!_done_', None)
    """
    if "[" in pattern or not is_utf8(pattern):  # a [class]; or bytes that are not UTF-8, which no name holds
        return None
    escaped = re.sub(r"([!%_])", r"!\1", pattern)
    return escaped.replace("*", "%").replace("?", "_")


def is_utf8(text: str) -> bool:
    """Whether a string from the command line is UTF-8 (its other bytes come as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def where_clause(conditions: Sequence[SqlCondition]) -> tuple[str, list[Any]]:
    """WHERE ... AND ... with its parameters."""
    if not conditions:
        return "", []
    return " WHERE " + " AND ".join(sql for _, sql, _ in conditions), [p for _, _, params in conditions for p in params]


def count_removed_in_sql(
    conn: pymysql.connections.Connection, window: list[SqlCondition], filters: list[SqlCondition]
) -> Counter[str]:
    """For --debug: how many alerts each pushed-down filter removed, one COUNT(*) per filter."""
    removed: Counter[str] = Counter()

    def count(conditions: list[SqlCondition]) -> int:
        where, params = where_clause(conditions)
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM alert a{where}", params)
            (number,) = cur.fetchone() or (0,)
        return int(number)

    before = count(window)
    for index, (flag, _, _) in enumerate(filters):
        after = count(window + filters[: index + 1])
        removed[flag] += before - after
        before = after
    return removed


FIELD_SEP = "\x1f"  # between the fields of a packed alert or group (ASCII unit separator)
ITEM_SEP = "\x1e"  # between the alerts of one second packed into one row (ASCII record separator)
CONTEXT_SEP = ":"  # between rule, manager, location and level in a packed context
# The grouped result comes back packed into this many rows at most: pymysql spends more on each
# row it reads than the tool spends on the group it holds, and the server packs them for free.
GROUP_CHUNKS = 256


def sql_char(char: str) -> str:
    """A separator as an SQL text expression (a hex literal would turn the packed text into bytes)."""
    return f"CHAR({ord(char)} USING utf8mb4)"


def sql_separator(char: str) -> str:
    """A separator as GROUP_CONCAT's SEPARATOR, which takes only a literal."""
    return f"x'{ord(char):02x}'"


def text_field(sql: str) -> str:
    """A text column as a packed field: the separators OSSEC could have copied from a log line
    (a user name is whatever the attacker typed) become spaces, as AfterGlow would show them."""
    return f"REPLACE(REPLACE(IFNULL({sql}, ''), {sql_char(ITEM_SEP)}, ' '), {sql_char(FIELD_SEP)}, ' ')"


def packed_row(schema: Schema, level: str, grouped: bool = False) -> str:
    """SQL for one column: [count,] address, context[, user (--use-user)], separated by FIELD_SEP.

    The context is ``rule:manager:location:level``, which many alerts share:
    DatabaseNames works out what each distinct context means once. Grouped,
    the row of a group starts with its count, and its text columns are taken
    as MIN(): the group's one value (grouped_columns), in a form that
    ONLY_FULL_GROUP_BY (MySQL's default) accepts.
    """
    fields = ["COUNT(*)"] if grouped else []
    if schema.integer_ips:
        fields.append("IFNULL(a.src_ip, '')")
    else:
        fields.append(text_field("MIN(a.src_ip)" if grouped else "a.src_ip"))
    fields.append(f"CONCAT_WS('{CONTEXT_SEP}', a.rule_id, a.server_id, a.location_id, IFNULL({level}, ''))")
    if schema.user_expr != "NULL":
        fields.append(text_field(f"MIN({schema.user_expr})" if grouped else schema.user_expr))
    return f"CONCAT_WS({sql_char(FIELD_SEP)}, {', '.join(fields)})"


def grouped_columns(schema: Schema) -> str:
    """GROUP BY's columns: rule, manager, location, address[, user], text as its exact bytes.

    Under a text column's collation (OSSEC's tables take the server's default,
    case- and accent-insensitive, trailing spaces ignored) the users ``root``,
    ``ROOT``, ``Root `` and ``röot``, or the addresses ``2001:DB8::1`` and
    ``2001:db8::1``, would be one group, which --show-duplicate and alert
    files keep apart; as bytes they never merge (and MariaDB groups bytes
    faster: bench/bench_database.py).
    """
    address = "a.src_ip" if schema.integer_ips else "CAST(a.src_ip AS BINARY)"
    # The user only when read: a constant column slows MariaDB's grouping down.
    user = f", CAST({schema.user_expr} AS BINARY)" if schema.user_expr != "NULL" else ""
    return f"a.rule_id, a.server_id, a.location_id, {address}{user}"


def build_query(schema: Schema, settings: Settings, conditions: list[SqlCondition]) -> tuple[str, list[Any]]:
    """The one query of a run, as (number of items, packed items[, times]) rows.

    Grouped: the groups of distinct (rule, manager, location, address[, user]),
    each with its count and when it was first and last seen, packed into at most GROUP_CHUNKS rows (spread by a
    hash of the group, so that no row outgrows the others), every field of
    every group separated by FIELD_SEP. One line per alert (--show-duplicate):
    one row per second, its alerts in order and separated by ITEM_SEP, the
    server walking the timestamp index. No joins: names come from the small location
    and signature tables, read once (DatabaseNames). Few rows of few fields is
    what makes a million alerts cheap to read with pymysql.
    """
    where, params = where_clause(conditions)
    if settings.show_duplicate:
        level = "a.level" if schema.level_expr == "a.level" else "NULL"
        sql = (
            f"SELECT COUNT(*), GROUP_CONCAT({packed_row(schema, level)} ORDER BY a.server_id, a.id SEPARATOR {sql_separator(ITEM_SEP)})"
            f" FROM alert a{schema.user_join}{where} GROUP BY a.timestamp ORDER BY a.timestamp"
        )
        return sql, params
    level = "MAX(a.level)" if schema.level_expr == "a.level" else "NULL"
    # When each group was first and last seen: two epochs as 8 hex digits each, in a column of their own
    # that the client reads into an array at once (as many int() calls cost a tenth of the export).
    seen = "CONCAT(LPAD(HEX(MIN(a.timestamp)), 8, '0'), LPAD(HEX(MAX(a.timestamp)), 8, '0'))"
    groups = (
        f"SELECT {packed_row(schema, level, grouped=True)} AS packed, {seen} AS seen"
        f" FROM alert a{schema.user_join}{where} GROUP BY {grouped_columns(schema)}"
    )
    sql = (
        f"SELECT COUNT(*), GROUP_CONCAT(g.packed SEPARATOR {sql_separator(FIELD_SEP)}), GROUP_CONCAT(g.seen SEPARATOR '')"
        f" FROM ({groups}) AS g GROUP BY MOD(CRC32(g.packed), {GROUP_CHUNKS})"
    )
    return sql, params


def unpack(packed: str, separator: str, expected: int, holds: str, advice: str) -> list[str]:
    """The pieces of one packed row; a row the server cut short is an error, never a silent loss."""
    pieces = packed.split(separator)
    if len(pieces) != expected:
        raise Failure(f"{holds}, more than the server's max_allowed_packet lets through; {advice}")
    return pieces


class DatabaseNames:
    """Location names and signature rows, read once, to turn a packed row into an Alert.

    What a context (rule, manager, location, level) means, and what a stored
    address is, are worked out once per distinct value and kept, so that most
    groups and alerts cost dictionary lookups. Stored addresses that are not IP
    addresses are counted, for one warning at the end of the run.
    """

    def __init__(self, conn: pymysql.connections.Connection, descriptions: RuleDescriptions, with_user: bool) -> None:
        with conn.cursor() as cur:
            cur.execute(log_sql("SELECT id, server_id, name FROM location"))
            self.locations = {(row[0], row[1]): row[2] for row in cur.fetchall()}
            cur.execute(log_sql("SELECT rule_id, level, description FROM signature"))
            self.signatures = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
        self.descriptions = descriptions
        self.with_user = with_user
        self.contexts = Memo(self.context)  # bounded, whatever the database holds
        self.sources = Memo(self.source)
        self.odd_sources = 0  # distinct stored addresses kept as text (counted again after a Memo clears)
        self.odd_example = ""

    def context(self, text: str) -> tuple[int, str, str, int | None]:
        """(rule id, description, location, level) of ``rule:manager:location:level``."""
        rule, server, location, level = text.split(CONTEXT_SEP)
        rule_id = int(rule)
        signature_level, signature = self.signatures.get(rule_id, (None, None))
        return (
            rule_id,
            self.descriptions.describe(rule_id, signature),
            self.locations.get((int(location), int(server))) or f"(unknown location {location})",
            int(level) if level else signature_level,
        )

    def source(self, stored: str) -> str | None:
        """The source of a stored address (decode_ip, address_source), noting one that is not an IP address."""
        address = decode_ip(stored)
        # A dotted quad made from an integer is an address; stored text must be checked.
        if address is None or address != stored.strip():
            return address
        source = address_source(address)
        if source is not address:
            self.odd_sources += 1
            self.odd_example = self.odd_example or address
        return source

    def group(self, first: int, last: int, times: str, address: str, context: str, user: str | None = None) -> Alert:
        """An Alert from the times and the fields of a packed group (packed_row); ``user`` only with --use-user."""
        rule_id, description, location, level = self.contexts[context]
        if user is not None:
            user = clean_user(user)
        return new_record(
            Alert, (rule_id, description, location, self.sources[address], user, level, int(times), first, last)
        )

    def alert(self, packed: str) -> Alert:
        """An Alert from one packed alert of --show-duplicate: its fields, without a count or times."""
        address, context, *user = packed.split(FIELD_SEP)
        rule_id, description, location, level = self.contexts[context]
        who = clean_user(user[0]) if user else None
        return new_record(Alert, (rule_id, description, location, self.sources[address], who, level, 1, None, None))

    def report(self) -> None:
        if self.odd_sources:
            log.warning(
                "%d stored source address(es) are not IP addresses and were kept as text (first: %r)",
                self.odd_sources,
                self.odd_example[:60],
            )


def query_database(
    conn: pymysql.connections.Connection,
    settings: Settings,
    descriptions: RuleDescriptions,
    removed: Counter[str],
) -> tuple[pymysql.cursors.SSCursor, Source]:
    """Send the run's query to an open OSSEC database: its cursor, and the alerts (or groups of
    alerts) that stream from it as they are read.

    The filters the schema allows are applied in SQL, and the Source says which;
    under --debug, what each removed is counted into ``removed``.
    """
    schema = detect_schema(conn, settings.use_user)
    log.debug("schema: %s", schema.generation)
    window = window_condition(settings.window) + placed_alerts(conn, schema, settings.window)
    pushed = filter_conditions(schema, settings.filters, settings.use_host)
    if pushed and explaining():
        removed.update(count_removed_in_sql(conn, window, pushed))
    names = DatabaseNames(conn, descriptions, schema.user_expr != "NULL")
    sql, params = build_query(schema, settings, window + pushed)
    with conn.cursor() as cur:
        # Grouping in memory, and packed rows (GROUP_CONCAT) up to the largest row the server sends.
        session = (
            "SET SESSION tmp_table_size = GREATEST(@@tmp_table_size, %s),"
            " max_heap_table_size = GREATEST(@@max_heap_table_size, %s),"
            " group_concat_max_len = @@max_allowed_packet"
        )
        statement = cur.mogrify(session, (SESSION_TMP_TABLE_BYTES, SESSION_TMP_TABLE_BYTES))
        cur.execute(log_sql(statement))
    log.debug("SQL: %s", sql)
    log.debug("SQL parameters: %s", params)
    # An unbuffered cursor streams rows as the server sends them.
    cursor = conn.cursor(pymysql.cursors.SSCursor)
    cursor.execute(sql, params)
    alerts = alerts_one_by_one(cursor, names) if settings.show_duplicate else groups_of(cursor, names)
    applied = frozenset(flag for flag, _, _ in pushed)
    survey = functools.partial(survey_database, conn, schema, settings, pushed)
    return cursor, Source(alerts, applied, survey)


def survey_database(
    conn: pymysql.connections.Connection, schema: Schema, settings: Settings, pushed: list[SqlCondition], stats: Stats
) -> Survey:
    """What the database holds (Survey), for a run that wrote nothing, in one query: how many
    alerts (a scan of the smallest index: some 90 ms for a million alerts), their span and how
    many lie in the window (the timestamp index); and, where the run's alerts without a source
    could have had a user (no --use-user), how many do.

    The users are counted with the query's own conditions, and only when no filter was left to
    apply row by row (which the count could not follow).
    """
    window = settings.window
    columns = ["(SELECT COUNT(*) FROM alert)", "(SELECT MIN(timestamp) FROM alert)", "(SELECT MAX(timestamp) FROM alert)"]
    params: list[Any] = []
    if window.start is not None:
        where, more = where_clause(window_condition(window))
        columns.append(f"(SELECT COUNT(*) FROM alert a{where})")
        params += more
    users = bool(stats.no_source) and not settings.use_user and not settings.use_host and not stats.row_filters
    if users and schema.stored_user_expr != "NULL":
        where, more = where_clause([*window_condition(window), *pushed, *no_address_with_user(schema)])
        columns.append(f"(SELECT COUNT(*) FROM alert a{schema.stored_user_join}{where})")
        params += more
    try:
        with conn.cursor() as cur:
            cur.execute(log_sql(f"SELECT {', '.join(columns)}"), params)
            total, first, last, *rest = cur.fetchone() or (0, None, None, *[0] * (len(columns) - 3))
    except pymysql.MySQLError as err:
        raise Failure(mysql_message(err)) from None
    in_window = int(rest.pop(0)) if window.start is not None else int(total)
    if users:
        with_user = int(rest[0]) if rest else 0  # a database that keeps no user
    return Survey(
        alerts=int(total),
        outside=int(total) - in_window,
        first=first,
        last=last,
        in_window=in_window,
        no_source_user=with_user if users else None,
    )


def no_address_with_user(schema: Schema) -> list[SqlCondition]:
    """The alerts without an address (decode_ip's forms of "none") that have a user (clean_user's)."""
    if schema.integer_ips:
        no_address: SqlCondition = ("", "(a.src_ip IS NULL OR a.src_ip = 0)", [])
    else:
        marks = ", ".join(["%s"] * len(NO_ADDRESS))
        no_address = ("", f"(a.src_ip IS NULL OR TRIM(a.src_ip) IN ({marks}))", sorted(NO_ADDRESS))
    user = schema.stored_user_expr
    marks = ", ".join(["%s"] * len(NO_USER))
    return [no_address, ("", f"TRIM({user}) NOT IN ({marks})", sorted(NO_USER))]


def groups_of(chunks: Iterable[tuple[int, str | bytes, str]], names: DatabaseNames) -> Iterator[Alert]:
    """The groups of each packed row of the grouped query, as Alerts with their counts and times."""
    width = 4 if names.with_user else 3  # count, address, context[, user]
    for count, packed, seen in chunks:
        holds = f"the grouped result packs {count} groups into one row"
        fields = iter(unpack(as_text(packed), FIELD_SEP, width * count, holds, "raise max_allowed_packet"))
        times = iter(epochs(seen, 2 * count, holds))
        yield from map(names.group, times, times, *[fields] * width)  # first, last, then the fields
    names.report()


def epochs(hex_digits: str, expected: int, holds: str) -> array.array[int]:
    """The epochs of a row's times column (8 hex digits each, big-endian), read at once."""
    try:
        times = array.array("I", bytes.fromhex(hex_digits))  # "I": 4 bytes, as INT UNSIGNED
    except ValueError:  # cut short mid-number
        times = array.array("I")
    if len(times) != expected:
        raise Failure(f"{holds}, more than the server's max_allowed_packet lets through; raise max_allowed_packet")
    if sys.byteorder == "little":
        times.byteswap()
    return times


def alerts_one_by_one(seconds: Iterable[tuple[int, str | bytes]], names: DatabaseNames) -> Iterator[Alert]:
    """The alerts of each second, in order. They repeat: the most recent distinct ones are made once (LRU)."""
    make = functools.lru_cache(maxsize=REPEAT_CACHE_ENTRIES)(names.alert)
    advice = "raise max_allowed_packet, or leave out --show-duplicate"
    for count, packed in seconds:
        yield from map(
            make, unpack(as_text(packed), ITEM_SEP, count, f"one second holds {count} alerts in one row", advice)
        )
    names.report()


def as_text(packed: str | bytes) -> str:
    """A packed row as text: a binary column (VARBINARY, BLOB) makes the server send bytes, which
    may be anything; what is not UTF-8 becomes U+FFFD rather than ending the run."""
    return packed if isinstance(packed, str) else packed.decode("utf-8", "replace")


def end_query(conn: pymysql.connections.Connection, cursor: pymysql.cursors.SSCursor) -> None:
    """Close the query's cursor, whatever became of the query and the connection.

    Closing the cursor of an unfinished query, or letting pymysql collect it,
    would drain every row left (millions, for --show-duplicate), or, when the
    connection was lost mid-query (a KILL, a proxy that drops it, --read-timeout),
    read from a closed socket and print "Exception ignored ... Traceback" at
    exit. pymysql has no public call for this, so the result is marked
    finished and the connection closed instead.
    """
    result = getattr(cursor, "_result", None)
    if result is not None and result.unbuffered_active:
        result.unbuffered_active = False
        if conn.open:
            conn.close()
    cursor.close()


def database_failure(err: pymysql.MySQLError, target: DatabaseTarget) -> Failure:
    """A database error mid-session as one line; a read that timed out says which limit it met."""
    if isinstance(err.__context__, TimeoutError):
        return Failure(
            f"database error on {target.describe()}: the server sent nothing for {target.read_timeout:g} s "
            "(--read-timeout)"
        )
    return Failure(f"database error on {target.describe()}: {mysql_message(err)}")


# ---------------------------------------------------------------------------
# Sources: rule descriptions from the OSSEC / Wazuh rules files
# ---------------------------------------------------------------------------

# Where OSSEC and Wazuh keep the rules the manager loads, when --rules-dir is not given.
DEFAULT_RULES_DIRS = ("/var/ossec/rules", "/var/ossec/ruleset/rules", "/var/ossec/etc/rules")
# OSSEC's stock rules files are at most some 100 KB; a larger "rules file" is not one.
RULES_FILE_MAX_BYTES = 16 * 1024 * 1024
# A rules file is read by a small scanner (parse_rules_file), not by regular expressions over the whole
# file: those backtrack, and a hostile file of a few hundred bytes held the run for good. Each pattern
# below only finds the next mark from a position, and every step of the scanner moves past what it
# read, so the time grows with the file's size and nothing else (bench/bench_rules.py). Patterns as
# text, compiled (and cached by re) on first use: most runs read no rule file.
_SKIPPED_OPENING = r"<[!?]"  # a comment, a declaration or a processing instruction
_COMMENT_END = r"-->|!>"
_DOCTYPE_MARK = r"[\[>]"  # an internal subset's start, or the declaration's end
_RULE_OPENING = r"<rule\b"
_RULE_CLOSING = r"</rule\s*+>"
_TAG_MARK = r"[>\"']"  # the end of an opening tag, or a quoted attribute value that may hold '>'
_DESCRIPTION_OPENING = r"<description(?=[>\s])"
_DESCRIPTION_CLOSING = r"</description\s*+>"
# name="value" or name='value'; never from the middle of a name, so a long name costs its length once.
_RULE_ATTRIBUTE = r"(?<![\w-])([\w-]++)\s*+=\s*+(?:\"([^\"]*+)\"|'([^']*+)')"


def parse_rules_file(text: str) -> Iterator[tuple[int, str, bool]]:
    """(rule id, description, overwrite) for every rule of one rules file, read as OSSEC reads it.

    A rules file is not one XML document, and OSSEC's own reader (os_xml) is
    not an XML parser: several top-level elements, ``--`` inside a comment, a
    raw ``\\<`` or ``&`` inside ``<pcre2>`` are all fine to it, and it expands
    no entity. So this reader skips comments as os_xml does and takes each
    ``<rule>`` and its ``<description>`` elements as text (element names in
    any case, as rules.c compares them). Several descriptions are joined in
    order, each with its first line break made a space, as rules.c does; the
    text is kept as OSSEC keeps it (spaces at its ends included), so that a
    description reads the same as in alerts.log. What is never closed ends
    the reading: a ``<rule`` whose tag has no ``>``, or whose ``</rule>`` never
    comes, holds the rest of the file, and no rule follows it.

    >>> list(parse_rules_file('<var name="X">1</var><group name="a,"><rule id="5" level="3">'
    ...     '<pcre2>^\\\\<\\\\d+\\\\> &</pcre2><description>Rejected by access list </description>'
    ...     '<description>(code &lt;550&gt;).</description></rule></group><!-- c -- d -->'
    ...     '<group name="b,"><rule id="6" level="1" overwrite="yes"><description>$(srcip) seen</description>'
    ...     '</rule><!-- <rule id="7"><description>commented out</description></rule> --></group>'))
    [(5, 'Rejected by access list (code &lt;550&gt;).', False), (6, '$(srcip) seen', True)]
    """
    text = without_rules_comments(text)
    opening, closing = re.compile(_RULE_OPENING, re.IGNORECASE), re.compile(_RULE_CLOSING, re.IGNORECASE)
    position = 0
    while found := opening.search(text, position):
        tag_end = opening_tag_end(text, found.end())
        end = closing.search(text, tag_end + 1) if tag_end >= 0 else None
        if end is None:
            return
        attributes = text[found.end() : tag_end]
        found_attributes = {
            name.lower(): double or single for name, double, single in re.findall(_RULE_ATTRIBUTE, attributes)
        }
        rule_id = found_attributes.get("id", "").strip()
        parts = descriptions_of(text[tag_end + 1 : end.start()])
        if re.fullmatch(r"[0-9]{1,9}", rule_id) and parts:
            yield int(rule_id), "".join(parts), found_attributes.get("overwrite", "").lower() == "yes"
        position = end.end()


def without_rules_comments(text: str) -> str:
    """The text with what os_xml skips made one space each.

    A comment runs from ``<!`` to the first ``-->`` or ``!>`` (``--`` inside is
    allowed), one never closed to the end of the file. A ``<!DOCTYPE ...>``,
    its internal subset included, and ``<?...?>`` are skipped too (OSSEC would
    refuse them); a ``<?`` never closed is text. No entity is ever expanded:
    ``&lt;`` stays ``&lt;``, as OSSEC shows it, and what a DOCTYPE declares is
    never read.

    >>> without_rules_comments('a<!-- b -- c -->d<?xml x?>e<!DOCTYPE r [<!ENTITY x "y">]>f<?g')
    'a d e f<?g'
    """
    opening, comment_end = re.compile(_SKIPPED_OPENING), re.compile(_COMMENT_END)
    kept: list[str] = []
    start = position = 0  # copied up to start; looking for the next opening from position
    while found := opening.search(text, position):
        at = found.start()
        if text[at + 1] == "?":
            close = text.find("?>", at + 2)
            if close < 0:  # never closed: this "<?" is text, and so is every later one
                opening = re.compile("<!")
                position = at + 1
                continue
            end = close + 2
        elif text.startswith("<!DOCTYPE", at):
            end = doctype_end(text, at + len("<!DOCTYPE"))
        else:
            comment = comment_end.search(text, at + 2)
            end = comment.end() if comment else len(text)
        kept += (text[start:at], " ")
        start = position = end
    kept.append(text[start:])
    return "".join(kept)


def doctype_end(text: str, position: int) -> int:
    """Where a ``<!DOCTYPE`` declaration ends: after the first ``>`` outside its internal subsets
    (``[...]``, each to its first ``]``); one never closed runs to the end of the file."""
    marks = re.compile(_DOCTYPE_MARK)
    while (mark := marks.search(text, position)) and mark.group() == "[":
        close = text.find("]", mark.end())
        if close < 0:
            return len(text)
        position = close + 1
    return mark.end() if mark else len(text)


def opening_tag_end(text: str, position: int) -> int:
    """The index of the ``>`` that ends an opening tag (a quoted value may hold one), or -1."""
    marks = re.compile(_TAG_MARK)
    while mark := marks.search(text, position):
        if mark.group() == ">":
            return mark.start()
        close = text.find(mark.group(), mark.end())
        if close < 0:
            return -1
        position = close + 1
    return -1


def descriptions_of(body: str) -> list[str]:
    """The text of each ``<description>`` of a rule, in order, its first line break made a space."""
    opening = re.compile(_DESCRIPTION_OPENING, re.IGNORECASE)
    closing = re.compile(_DESCRIPTION_CLOSING, re.IGNORECASE)
    parts = []
    position = 0
    while found := opening.search(body, position):
        tag_end = body.find(">", found.end())
        end = closing.search(body, tag_end + 1) if tag_end >= 0 else None
        if end is None:  # never closed: no later description is either
            break
        parts.append(body[tag_end + 1 : end.start()].replace("\n", " ", 1))
        position = end.end()
    return parts


def read_rules_file(path: str) -> str:
    """The text of a rules file; OSError for anything that is not a regular file of a sane size.

    Opened without blocking (a FIFO would wait for a writer forever) and
    checked before it is read (``/dev/zero`` never ends).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = stream.read(RULES_FILE_MAX_BYTES + 1)
    if len(data) > RULES_FILE_MAX_BYTES:
        raise OSError(errno.EFBIG, f"larger than {RULES_FILE_MAX_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8", "replace")


def load_rule_descriptions(directories: Sequence[str], explicit: bool) -> dict[int, str]:
    """Descriptions by rule ID from every *.xml file of the directories, in order.

    A later definition replaces an earlier one only with overwrite="yes", as in
    OSSEC. A file that cannot be read is named in one warning and skipped.
    """
    descriptions: dict[int, str] = {}
    started = time.monotonic()
    files = 0
    for directory in directories:
        try:
            names = sorted(name for name in os.listdir(directory) if name.endswith(".xml"))
        except OSError as err:
            if explicit:
                raise Failure(f"cannot read --rules-dir {directory}: {err.strerror}") from None
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                rules = list(parse_rules_file(read_rules_file(path)))
            except OSError as err:
                log.warning("rules file %s skipped: %s", path, err.strerror)
                continue
            files += 1
            for rule_id, description, overwrite in rules:
                if overwrite or rule_id not in descriptions:
                    descriptions[rule_id] = description
    log.debug(
        "rules files: %d descriptions from %d file(s) in %s (%.2f s)",
        len(descriptions),
        files,
        ", ".join(directories) or "no directory",
        time.monotonic() - started,
    )
    return descriptions


class RuleDescriptions:
    """A rule's description: the signature table's, else the rules files', else "Rule <id>".

    The rules files are read only when the first rule without a signature row
    shows up (every rule, since OSSEC 2.9 stopped filling the table).
    """

    def __init__(self, directories: Sequence[str] | None) -> None:
        self.explicit = directories is not None
        self.directories = list(directories) if directories is not None else list(DEFAULT_RULES_DIRS)
        self.from_files: dict[int, str] | None = None
        self.origin: dict[int, str] = {}  # rule id -> where its description came from

    def describe(self, rule_id: int, signature: str | None) -> str:
        if signature is not None:
            self.origin[rule_id] = "signature table"
            return signature
        if self.from_files is None:
            self.from_files = load_rule_descriptions(self.directories, self.explicit)
        description = self.from_files.get(rule_id)
        self.origin[rule_id] = "rules files" if description is not None else "rule ID only"
        return description if description is not None else f"Rule {rule_id}"

    def report(self) -> None:
        counts = Counter(self.origin.values())
        log.debug(
            "descriptions of %d rule(s): %d from the signature table, %d from rules files, %d as 'Rule <id>'",
            len(self.origin),
            counts["signature table"],
            counts["rules files"],
            counts["rule ID only"],
        )


# ---------------------------------------------------------------------------
# Sources: alerts.log and alerts.json
# ---------------------------------------------------------------------------

# The longest alert (alerts.log, from its "** Alert" line to the next) or line (alerts.json) read;
# a longer one is skipped and counted. OSSEC's largest event is 6 KiB (OS_MAXSTR), Wazuh's 64 KiB;
# an alert adds its fields and, for a frequency rule, the events before it ("Previous output"),
# and JSON may write one byte as six (\u0000): 4 MiB holds dozens of the largest events, and keeps
# the memory a file can take to a few times that, whatever it holds or its .gz expands to.
MAX_ALERT_BYTES = 4 << 20
_BLOCK = 1 << 20  # bytes read at a time
# A time window skips whole files on the premise that no alert in a file is stamped more than this
# before one written earlier in it: the clock of the manager was never set back by more while it
# wrote the file (skip_reason; --no-skip reads every file; a file read that breaks it is warned of).
TIME_ORDER_SLACK = 3600
_PROBE = 1 << 16  # the bytes (decompressed) in which a file's first alert is looked for
JSON_DEPTH = 1100  # how deep alerts.json values may nest: deeper than orjson parses (1,024), see deep_json
# The latest time an alert's record may say: 11 digits, the year 5138; later "times" are junk. (A window
# may name later times, MAX_WINDOW_EPOCH: it only bounds what is read.)
MAX_RECORD_EPOCH = 99_999_999_999

_HEADER = b"\n** Alert "  # an alert starts on a line of its own with this


# The rest of an alert after "\n** Alert <epoch>": its header line and 20-character date, then the
# fields that tell an alert from another, in four groups, the key under which equal alerts group
# (LogKey): the location (after it, any Wazuh label lines), the Rule line's ID, level and description
# (_LOG_RULE_RE reads them), the optional "Src IP:" line, and of the optional lines that follow in
# OSSEC's order, "User:". An optional line that is not there gives b"".
#
# Each line is matched from the newline before it, never through the one after it: the last line of
# an alert may be a field (no log line follows), and its newline is then the next header's. Repeats
# are possessive (``*+``): the engine keeps no state for each line it passes, so that an alert of a
# million short lines costs its length in time and nothing in memory. Python 3.11.0-3.11.2 (Debian
# 12's is 3.11.2) get possessive repeats of groups wrong (the fix came in 3.11.3): there, found by
# matching a known alert, the repeats are atomic groups instead, which match the same, but keep
# state for each line while in them (an alert of two million empty lines took 1.4 GB there; the
# longest alert read, MAX_ALERT_BYTES of them, would take some 3 GB).
def _log_alert_body(possessive: bool) -> bytes:
    def repeat(group: bytes) -> bytes:
        return group + b"*+" if possessive else b"(?>" + group + b"*)"

    return (
        rb"[^\n]*\n\d{4} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^\n]*)"
        + repeat(rb"(?:\n(?!\*\* Alert |Rule: )[^\n]*)")
        + rb"\nRule: (\d{1,9} \(level \d{1,9}\) -> '[^\n]*)'[ \t\r]*(?![^\n])"
        rb"(?:\nSrc IP: ([^\n]*))?"
        + repeat(rb"(?:\n(?:Src Location|Src Port|Dst IP|Dst Location|Dst Port): [^\n]*)")
        + rb"(?:\nUser: ([^\n]*))?"
    )


_KNOWN_ALERT = b"x\n2026 Nov 27 10:00:00 (web1) 10.0.0.2->/var/log/auth.log\nlabel\nRule: 1 (level 3) -> 'd'\nSrc Port: 22\nUser: u"
_LOG_ALERT_BODY = _log_alert_body(
    possessive=re.match(_log_alert_body(possessive=True), _KNOWN_ALERT) is not None
)
# The Rule line's fields. Numbers are bounded, so that no field can become a 5,000-digit int().
_LOG_RULE_RE = re.compile(rb"(\d{1,9}) \(level (\d{1,9})\) -> '(.*)", re.DOTALL)
_LOG_EPOCH_RE = re.compile(rb"\n\*\* Alert (\d{1,11})(?![0-9])")
_LOG_HEADER_RE = re.compile(rb"\n\*\* Alert (?:(\d{1,11})(?![0-9]))?")  # every header: its epoch, or b""
_LOG_ALERT_RE = re.compile(_LOG_EPOCH_RE.pattern + _LOG_ALERT_BODY)  # with the epoch
_LOG_KEY_RE = re.compile(rb"\n\*\* Alert \d{1,11}(?![0-9])" + _LOG_ALERT_BODY)  # without: alerts that group
_JSON_LOCAL_TIME = "%Y %b %d %H:%M:%S"  # OSSEC 3.x "timestamp": "2019 Mar 01 10:00:00"

LogKey = tuple[bytes, bytes, bytes | None, bytes | None]  # location, rule (_LOG_RULE_RE), source, user


def fast_json() -> Callable[[bytes], Any] | None:
    """orjson's parser, some 4 times faster than json's, when the [fast] extra installed it; else None.

    (ISA-L's gzip, whose decompression alone is 3 times zlib's, made reading a
    .gz alerts.log 40% slower as a whole on the development machine: the
    extra leaves it out.)
    """
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


class FileCounters:
    """What a file held that could not become an alert; one warning per file and kind."""

    def __init__(self, path: str, unit: str) -> None:
        self.path = path
        self.unit = unit  # "alert(s)" or "line(s)"
        self.malformed = 0
        self.too_long = 0
        self.not_json = 0
        self.no_time = 0
        self.not_alerts = False  # text, but never an alert header: not an alerts.log
        self.producers: set[str] = set()  # alerts.json: "OSSEC", "Wazuh", as the objects read are written
        self.unterminated = False  # the last line has no newline (json_lines is yielding it)
        self.passed = 0  # of them, bytes whose headers alone were read: no alert of the window there
        self.incomplete = False  # the last alert or line ends mid-line: a file being written

    def warn(self) -> None:
        name = self.path
        if self.incomplete:  # OSSEC is appending to it: the next run reads it whole, and a cron job stays quiet
            log.debug("%s: the last %s is incomplete (is the file being written?): not read", name, self.unit.removesuffix("(s)"))
        if self.not_alerts:
            log.warning("%s: no '** Alert' line anywhere: is it an OSSEC alerts.log?", name)
        elif self.malformed:
            log.warning("%s: skipped %d malformed or truncated alert(s)", name, self.malformed)
        if self.too_long:
            log.warning("%s: skipped %d %s longer than %d MiB", name, self.too_long, self.unit, MAX_ALERT_BYTES >> 20)
        if self.not_json:
            log.warning("%s: skipped %d line(s) that are not JSON", name, self.not_json)
        if self.no_time:
            log.warning(
                "%s: skipped %d alert(s) without a time, outside any time window (use --all)", name, self.no_time
            )


def read_blocks(path: str) -> Iterator[bytes]:
    """The bytes of a file, of stdin (-) or of a .gz archive, in blocks.

    A block is _BLOCK bytes but at the end, from a pipe too (a pipe hands
    over 64 KiB at most at a time, and every block costs the readers the same
    whatever its size). An archive cut short yields what came before the cut,
    with a warning; a corrupt one is an error. Bytes are never decoded here:
    only the values that reach the output are, once each.
    """
    import zlib

    try:
        raw = open_raw(path)
    except OSError as err:
        raise Failure(f"cannot read {path}: {err.strerror}") from None
    with raw:
        try:
            if path.endswith(".gz"):
                yield from gunzip(raw, path)
                return
            while block := raw.read(_BLOCK):
                yield block
        except (OSError, zlib.error) as err:
            reason = getattr(err, "strerror", None) or str(err)
            raise Failure(f"cannot read {path}: {reason}") from None


def open_raw(path: str) -> io.BufferedReader:
    """A file, or stdin for -, as bytes. Started with stdin closed (``<&-``), Python has no sys.stdin,
    and descriptor 0 may since be another file the run opened: that is an error, never read."""
    if path == "-":
        if sys.stdin is None:
            raise Failure("cannot read standard input (-): it is closed")
        return open(sys.stdin.fileno(), "rb", closefd=False)
    return open(path, "rb")


def gunzip(raw: BinaryIO, path: str) -> Iterator[bytes]:
    """The data of a gzip file (every member, as gzip reads them), at most a block at a time.

    No more than _BLOCK bytes come out of one call, so that memory stays flat
    however far a small archive expands; every byte before a cut comes out.
    """
    import zlib

    member = None  # the decompressor of the member being read
    pending = raw.read(_BLOCK // 4)
    if pending[:2] not in (b"", b"\x1f\x8b"):
        raise Failure(f"cannot read {path}: not a gzip file")
    while pending or (pending := raw.read(_BLOCK // 4)):
        if member is None:
            member = zlib.decompressobj(wbits=31)  # gzip's header and trailer (CRC) checked
        data = member.decompress(pending, _BLOCK)
        pending = member.unconsumed_tail
        if member.eof:  # another member may follow; zeros after the last one are padding, as for gzip
            pending, member = (member.unused_data + pending).lstrip(b"\x00"), None
        if data:
            yield data
    if member is not None:
        log.warning("%s: the compressed file ends early; the alerts before the cut were read", path)


def text(raw: bytes) -> str:
    """A value of the file as text: bytes that are not UTF-8 survive as surrogates (--plain-csv writes them back)."""
    return raw.decode("utf-8", "surrogateescape")


# ---- alerts.log


def log_pieces(blocks: Iterable[bytes], counters: FileCounters) -> Iterator[bytes]:
    """Cut alerts.log bytes into pieces that each hold whole alerts of at most MAX_ALERT_BYTES.

    Every piece starts with "\\n** Alert ". An alert ends where the next
    header begins, not at a blank line (Wazuh writes some inside one). Text
    before the first header (a file that starts mid-alert) counts as malformed;
    a last alert cut mid-line (a live file) is left for the next run
    (``counters.incomplete``). Each byte is copied a bounded
    number of times, and an alert that outgrows the cap is dropped as it grows:
    time is linear and memory flat, whatever the file holds.
    """
    keep = len(_HEADER) - 1  # what may be the start of a header cut by the block's end
    pending = b"\n"  # so that a header on the very first line looks like any other
    lead = True  # still before the first header
    fragment = False  # text seen before the first header
    skipping = False  # inside an alert too long to keep
    for block in blocks:
        if lead or skipping:
            data = pending + block
            first = data.find(_HEADER)
            if first == -1:
                fragment = fragment or (lead and bool(data[:-keep].strip()))
                pending = data[-keep:]
                continue
            if lead:
                counters.malformed += fragment or bool(data[:first].strip())
            lead = skipping = False
            pending, block = b"", data[first:]
        cut = block.rfind(_HEADER)
        if cut == -1:  # no header starts in the block (one may start at its seam)
            data = pending + block
            cut = data.rfind(_HEADER)
            if cut > 0:
                yield within_cap(data[:cut], counters)
            pending = data[cut:]
        else:
            if pending or cut:
                yield within_cap(b"".join((pending, memoryview(block)[:cut])), counters)
            pending = block[cut:]
        if len(pending) > MAX_ALERT_BYTES + keep:  # too long, even if its end is the start of a header
            counters.too_long += 1
            pending, skipping = pending[-keep:], True
    if lead:
        counters.not_alerts = fragment or bool(pending.strip())
    elif skipping:
        pass
    elif pending.endswith(b"\n"):
        yield within_cap(pending, counters)
    else:
        counters.incomplete = True
        tail = pending.rfind(b"\n") + 1
        if tail > 1 and _HEADER[1:].startswith(pending[tail:]):  # the next header being written: the alert before it is whole
            yield within_cap(pending[:tail], counters)


def within_cap(piece: bytes, counters: FileCounters) -> bytes:
    """A piece of whole alerts without those longer than MAX_ALERT_BYTES (rarely any: pieces are mostly smaller)."""
    if len(piece) <= MAX_ALERT_BYTES:
        return piece
    alerts = piece.split(_HEADER)[1:]
    kept = [alert for alert in alerts if len(alert) + len(_HEADER) <= MAX_ALERT_BYTES]
    counters.too_long += len(alerts) - len(kept)
    return b"".join(_HEADER + alert for alert in kept)


class LogFields:
    """The Alerts of alerts.log keys (LogKey): every distinct field decoded once (bounded), so that
    alerts that differ in one field, their source say, cost a dictionary look-up for the others."""

    def __init__(self) -> None:
        self.locations: Memo[bytes, str] = Memo(log_location)
        self.rules: Memo[bytes, tuple[int, int, str]] = Memo(log_rule)
        self.sources: Memo[bytes, str | None] = Memo(log_source)
        self.users: Memo[bytes, str | None] = Memo(clean_user_bytes)

    def alert(self, key: LogKey, times: int = 1, first: int | None = None, last: int | None = None) -> Alert:
        """An Alert from a key, with its count and when first and last seen."""
        location, rule, source, user = key
        rule_id, level, description = self.rules[rule]
        return new_record(
            Alert,
            (
                rule_id,
                description,
                self.locations[location],
                self.sources[source] if source else None,
                self.users[user] if user else None,
                level,
                times,
                first,
                last,
            ),
        )


def log_rule(rule: bytes) -> tuple[int, int, str]:
    """The rule ID, level and description of a Rule line (as _LOG_ALERT_BODY keeps it)."""
    rule_id, level, description = typing.cast(re.Match[bytes], _LOG_RULE_RE.match(rule)).groups()
    return int(rule_id), int(level), text(description)


def log_location(raw: bytes) -> str:
    return text(raw).rstrip(" \t\r")  # CRLF files, and spaces OSSEC never writes


def log_source(raw: bytes) -> str | None:
    """What "Src IP:" says, as decode_text_ip reads it (without its cache: each distinct value comes here once)."""
    address = text(raw).strip()
    return None if address in NO_ADDRESS else address_source(address)


def clean_user_bytes(raw: bytes) -> str | None:
    return clean_user(text(raw))


def tally(keys: list[K], epochs: list[int | None], in_order: bool | None = None) -> Iterator[tuple[K, int, int | None, int | None]]:
    """Each distinct key with how often it occurs and its earliest and latest epoch.

    Alerts are mostly in time order, and then counting, the latest (the last
    occurrence) and the earliest (the first) are one C-level pass each; else a
    loop in Python does it. ``in_order``: whether the epochs are all known and
    sorted, when the caller knows.

    >>> list(tally(["a", "b", "a"], [1, 2, 3])), list(tally(["a", "b", "a"], [5, 2, None]))
    ([('a', 2, 1, 3), ('b', 1, 2, 2)], [('a', 2, 5, 5), ('b', 1, 2, 2)])
    """
    counts = Counter(keys)
    if in_order if in_order is not None else None not in epochs and epochs == sorted(epochs):  # type: ignore[type-var]
        last = dict(zip(keys, epochs, strict=True))
        first = dict(zip(reversed(keys), reversed(epochs), strict=True))
    else:
        first, last = {}, {}
        for key, epoch in zip(keys, epochs, strict=True):
            first[key] = earlier(first.get(key), epoch)
            last[key] = later(last.get(key), epoch)
    for key, count in counts.items():
        yield key, count, first[key], last[key]


class AlertTimes:
    """For a run that wrote nothing and says why (FileSurvey): how many alerts a file held with a
    time, how many lay outside ``window``, and their span. Every epoch read passes through note().

    ``every``: every epoch is to be read, and no piece of alerts.log passed over on the strength of
    its headers (log_alerts); it stays true when none was."""

    def __init__(self, window: Window, every: bool = False) -> None:
        self.window = window
        self.every = every
        self.passing = not every  # log_alerts may pass over pieces
        self.highest: int | None = None
        self.lowest: int | None = None
        self.seen = 0  # alerts with a time (alerts.log: headers with an epoch)
        self.outside = 0  # of them, outside the window
        self.untimed = 0  # alerts.json alerts without a time, left out of every window
        self.latest: int | None = None  # the latest epoch read in file order, for set_back
        self.set_back: tuple[int, int] | None = None  # (earlier, later) epochs that break TIME_ORDER_SLACK

    def follow(self, epochs: list[int], in_order: bool) -> None:
        """Check the premise of skipping (skip_reason) on epochs read in file order (nonempty,
        ``in_order`` when sorted): one more than TIME_ORDER_SLACK before an epoch read earlier in the
        file means that the clock was set back (``set_back``: the two epochs)."""
        latest = epochs[0] if self.latest is None else self.latest
        if self.set_back is None:
            if in_order:
                drop, earlier, later = epochs[0] - latest, latest, epochs[0]
            else:  # each epoch against the latest before it, in C
                before = list(itertools.accumulate(epochs[:-1], max, initial=latest))
                drop, earlier, later = min(zip(map(operator.sub, epochs, before), before, epochs, strict=True))
            if drop < -TIME_ORDER_SLACK:
                self.set_back = (earlier, later)
        self.latest = max(latest, epochs[-1] if in_order else max(epochs))

    def note(self, epochs: list[int], in_order: bool) -> None:
        """Count the epochs of a piece (nonempty, ``in_order`` when sorted) and check their order."""
        low, high = (epochs[0], epochs[-1]) if in_order else (min(epochs), max(epochs))
        self.follow(epochs, in_order)
        self.highest = high if self.highest is None else max(self.highest, high)
        self.lowest = low if self.lowest is None else min(self.lowest, low)
        self.seen += len(epochs)
        start, end = self.window.start, self.window.end
        if start is not None and end is not None and (low < start or high >= end):
            if in_order:  # a piece is mostly all in or all out: two bisections
                inside = bisect.bisect_left(epochs, end) - bisect.bisect_left(epochs, start)
            else:
                inside = sum(1 for epoch in epochs if start <= epoch < end)
            self.outside += len(epochs) - inside


class OddSources:
    """Alerts of the files whose source address is not an IP address (`Src IP: evil.example`, `-`):
    kept as text, marked as such (address_source), and counted for one line a run (report)."""

    def __init__(self) -> None:
        self.alerts = 0
        self.first: str | None = None
        # Counted only where the line is read: a cron job's runs pay nothing for it.
        self.counting = any(handler.level <= logging.INFO for handler in log.handlers)

    def odd(self, source: str | None) -> int:
        """1 when ``source`` is an address field's text that is not an IP address (the caller adds its alerts), else 0."""
        if source is None or not source.startswith(ADDRESS_MARK):
            return 0
        self.first = self.first or source.removeprefix(ADDRESS_MARK)
        return 1

    def report(self) -> None:
        """One line, a hint: on a terminal or with --debug (and in --logfile), never to a cron job's
        mail, which would get it at every run over the same files (docs/diagnostics.md)."""
        if self.alerts:
            log.info(
                "%s of the alert files %s a source address that is not an IP address, kept as text (first: %r)",
                plural(self.alerts, "alert"),
                "has" if self.alerts == 1 else "have",
                self.first[:60] if self.first else "",
            )


def log_alerts(
    pieces: Iterable[bytes],
    window: Window,
    times: AlertTimes,
    counters: FileCounters,
    one_by_one: bool,
    odd: OddSources,
) -> Iterator[Alert]:
    """The alerts of alerts.log pieces in the window: one by one and in order (--show-duplicate), or
    equal ones merged into one Alert with its count and when first and last seen.

    The regular expression engine finds and groups the alerts; Python only sees
    each distinct one. A piece that holds no header of the window's times is
    passed over after one search (window_headers); the window is checked alert
    by alert only in a piece that straddles one of its edges. ``times`` counts
    the epochs of the pieces read (of all, unless ``times.passing``).
    """
    start, end = window.start, window.end
    wanted = window_headers(window) if times.passing else None
    made: dict[LogKey, Alert] = {}  # one by one, alerts repeat: each distinct one is made once (bounded)
    fields = LogFields()
    counting = odd.counting
    times.every = True
    for piece in pieces:
        if wanted is not None and wanted.search(piece) is None:
            counters.passed += len(piece)
            times.every = False
            if ends := header_ends(piece):  # the order of what is passed over, checked at its ends
                times.follow(ends, ends[0] <= ends[-1])
            continue  # its headers prove that none of its alerts is in the window
        found = _LOG_HEADER_RE.findall(piece)
        if b"" in found:  # headers without a readable epoch
            counters.malformed += found.count(b"")
            found = [epoch for epoch in found if epoch]
        if not found:
            continue
        epochs = list(map(int, found))
        in_order = epochs == sorted(epochs)
        times.note(epochs, in_order)
        if start is not None and end is not None and (epochs[-1] < start or epochs[0] >= end) and in_order:
            continue  # no alert of this piece is in the window
        whole = start is None or end is None or (start <= epochs[0] and epochs[-1] < end and in_order)
        if one_by_one:
            matched = 0
            for match in _LOG_ALERT_RE.finditer(piece):
                matched += 1
                if whole or start <= int(match[1]) < end:  # type: ignore[operator]
                    key: LogKey = match.group(2, 3, 4, 5)  # type: ignore[assignment]  # a line not there: None
                    alert = made.get(key)
                    if alert is None:
                        alert = made[key] = fields.alert(key)
                    if counting:
                        odd.alerts += odd.odd(alert.src_ip)
                    yield alert
            counters.malformed += len(epochs) - matched
            if len(made) > REPEAT_CACHE_ENTRIES:
                made.clear()
            continue
        keys: list[LogKey] = _LOG_KEY_RE.findall(piece)
        if len(keys) != len(epochs):  # a malformed alert: pair epochs and alerts one by one
            matches = _LOG_ALERT_RE.findall(piece)
            counters.malformed += len(epochs) - len(matches)
            keys = [match[1:] for match in matches]
            epochs = [int(match[0]) for match in matches]
        if not whole:
            kept = [(key, epoch) for key, epoch in zip(keys, epochs, strict=True) if start <= epoch < end]  # type: ignore[operator]
            keys, epochs = [key for key, _ in kept], [epoch for _, epoch in kept]
        # Each key stands for the position where it first comes: a tuple hashed once, then small ints.
        first_positions: dict[LogKey, int] = {}
        positions: list[int] = list(map(first_positions.setdefault, keys, itertools.count()))
        for position, count, first, last in tally(positions, epochs, in_order):  # type: ignore[arg-type]
            alert = fields.alert(keys[position], count, first, last)
            if counting:
                odd.alerts += count * odd.odd(alert.src_ip)
            yield alert


def header_ends(piece: bytes) -> list[int]:
    """The epochs of the first and the last header of an alerts.log piece, those that are readable."""
    last = piece.rfind(_HEADER)
    return [int(match[1]) for match in (_LOG_EPOCH_RE.match(piece), _LOG_EPOCH_RE.match(piece, last)) if match]


# ---- alerts.json


def json_lines(blocks: Iterable[bytes], counters: FileCounters) -> Iterator[tuple[list[bytes], bool]]:
    """The lines of alerts.json bytes (without their newline), a block's worth at a time, and whether
    json_alerts is to check them one by one: when one may be over the cap, or when they are short
    (64 bytes on average, where an alert takes hundreds: millions of junk lines; checked, each costs
    no parse, and unchecked, one that fails).

    A line longer than MAX_ALERT_BYTES is dropped as it grows, in linear time
    and flat memory; one found whole in a block is left to the reader to drop.
    A last line without a newline comes alone, ``counters.unterminated`` set:
    if it is not JSON, it is being written (json_alerts).
    """
    pending = b""
    skipping = False  # inside a line too long to keep
    for block in blocks:
        if skipping:
            newline = block.find(b"\n")
            if newline == -1:
                continue
            block, skipping = block[newline + 1 :], False
        data = pending + block
        lines = data.split(b"\n")
        pending = lines.pop()
        checked = len(data) > MAX_ALERT_BYTES or len(lines) * 64 > len(data)
        if checked:  # empty lines: dropped here, in C (millions of them cost next to nothing)
            lines = list(filter(None, lines))
        if len(pending) > MAX_ALERT_BYTES:
            counters.too_long += 1
            pending, skipping = b"", True
        yield lines, checked
    if pending and not skipping:
        counters.unterminated = True
        yield [pending], True


def json_number(value: Any, highest: int) -> int | None:
    """A whole number from 0 to ``highest`` as JSON gives it: an integer, or a string of ASCII digits.

    >>> json_number(5, 15), json_number("5716", 999999999), json_number(True, 15), json_number(1e400, 15), json_number("²", 15)
    (5, 5716, None, None, None)
    """
    if type(value) is int:
        return value if 0 <= value <= highest else None
    if type(value) is str and 0 < len(value) <= len(str(highest)) and value.isascii() and value.isdigit():
        number = int(value)
        return number if number <= highest else None
    return None


def json_text(value: Any) -> str | None:
    return value if type(value) is str else None


def json_location(obj: dict[str, Any]) -> str | None:
    """The location as alerts.log writes it, rebuilt where the JSON leaves out the agent or host.

    >>> json_location({"location": "/var/log/auth.log", "agent": {"id": "001", "name": "web1", "ip": "10.0.0.2"}})
    '(web1) 10.0.0.2->/var/log/auth.log'
    >>> json_location({"location": "syscheck", "agent": {"id": "000", "name": "manager"}})
    'manager->syscheck'
    >>> json_location({"location": "/var/log/syslog-ng/messages", "hostname": "ubnt"})  # OSSEC 2.9-3.x
    'ubnt->/var/log/syslog-ng/messages'

    Wazuh leaves agent.ip out where the agent was registered with the address "any" (its default),
    and alerts.log writes that word (W_JSON_ParseAgentIP, OS_Log in wazuh/wazuh):

    >>> json_location({"location": "/var/log/secure", "agent": {"id": "005", "name": "wz2"}})
    '(wz2) any->/var/log/secure'
    """
    location = obj.get("location")
    if type(location) is not str:
        return None
    if location.startswith("(") or "->" in location:
        return location
    agent = obj.get("agent")
    if type(agent) is dict:
        name, ip, agent_id = json_text(agent.get("name")), json_text(agent.get("ip")), agent.get("id")
        if agent_id is not None and agent_id != "000":  # an agent: its address, or "any"
            ip = ip or "any"
    else:  # OSSEC 2.9-3.x: agent_name and agentip for an agent, hostname for the manager itself
        name, ip, agent_id = json_text(obj.get("agent_name")), json_text(obj.get("agentip")), None
        if not name:
            hostname = json_text(obj.get("hostname"))
            name = hostname if hostname and "->" not in hostname else None
    if not name:
        return location
    if agent_id == "000" or not ip:
        return f"{name}->{location}"
    return f"({name}) {ip}->{location}"


def json_time(obj: dict[str, Any]) -> int | None:
    """The alert time from "id" (epoch.offset), "TimeStamp" (ms) or "timestamp" (text), or None.

    >>> json_time({"id": "1795745421.0"}), json_time({"TimeStamp": 1e400}), json_time({"id": "9" * 5000 + ".1"})
    (1795745421, None, None)
    """
    alert_id = obj.get("id")
    if type(alert_id) is str:
        seconds, dot, _ = alert_id.partition(".")
        if dot and 0 < len(seconds) <= 11 and seconds.isascii() and seconds.isdigit():
            return int(seconds)
    millis = obj.get("TimeStamp")
    if isinstance(millis, int | float) and not isinstance(millis, bool) and 0 <= millis <= MAX_RECORD_EPOCH * 1000:  # not NaN
        return int(millis // 1000)
    stamp = obj.get("timestamp")
    if type(stamp) is str and len(stamp) <= 64:
        for parse in (lambda: datetime.strptime(stamp, _JSON_LOCAL_TIME), lambda: datetime.fromisoformat(stamp)):
            try:
                epoch = int(parse().timestamp())
            except (ValueError, OverflowError, OSError):
                continue
            return epoch if 0 <= epoch <= MAX_RECORD_EPOCH else None
    return None


def parse_json_alert(obj: Any) -> Alert | None:
    """One alerts.json object of any OSSEC (2.9, 3.x) or Wazuh version as an Alert, or None when it is
    not one; every value of the wrong type or out of range makes it None, never an exception."""
    rule = obj.get("rule") if type(obj) is dict else None
    if type(rule) is not dict:
        return None
    rule_id = json_number(rule.get("id", rule.get("sidid")), 999_999_999)
    level = json_number(rule["level"], 999_999_999) if "level" in rule else None
    location = json_location(obj)
    if rule_id is None or location is None or (level is None and "level" in rule):
        return None
    data = obj.get("data")
    if type(data) is not dict:
        data = {}
    description = json_text(rule.get("description", rule.get("comment")))
    user = None
    for candidate in (data.get("dstuser"), data.get("srcuser"), obj.get("dstuser"), obj.get("srcuser")):
        if type(candidate) is str and (user := clean_user(candidate)) is not None:
            break
    return new_record(
        Alert,
        (
            rule_id,
            description if description is not None else f"Rule {rule_id}",
            location,
            decode_text_ip(json_text(data.get("srcip", obj.get("srcip")))),
            user,
            level,
            1,
            None,
            None,
        ),
    )


def json_producer(obj: Any) -> str:
    """Who wrote an alerts.json object: Wazuh names its rule's "id" and "description", OSSEC 2.9-3.x
    its "sidid" and "comment"; "" when neither tells."""
    rule = obj.get("rule") if type(obj) is dict else None
    if type(rule) is not dict:
        return ""
    return "Wazuh" if "id" in rule else "OSSEC" if "sidid" in rule else ""


_ABSENT = ("absent",)  # a key's value for a field an object does not have (None would say it is null)


def json_key(obj: dict[str, Any]) -> tuple[Any, ...]:
    """Every value parse_json_alert looks at in an object, as the key under which its outcome is
    remembered: the objects of one alert differ only in time and log. Numbers come with their type:
    1, 1.0 and True are equal keys, but only 1 is a rule ID. Raises TypeError when a value cannot be
    a key (a list or an object where a string belongs), and the object is then parsed alone."""
    get = obj.get
    rule, agent, data = get("rule"), get("agent"), get("data")
    if type(rule) is dict:
        rule_id, sidid, level = rule.get("id", _ABSENT), rule.get("sidid"), rule.get("level", _ABSENT)
        rule_key = (rule_id, type(rule_id), sidid, type(sidid), level, type(level), rule.get("description", _ABSENT), rule.get("comment"))
    else:
        rule_key = None
    return (
        rule_key,
        (agent.get("name"), agent.get("ip"), agent.get("id")) if type(agent) is dict else None,
        (data.get("srcip", _ABSENT), data.get("dstuser"), data.get("srcuser")) if type(data) is dict else None,
        get("location"),
        get("hostname"),
        get("agent_name"),
        get("agentip"),
        get("srcip"),
        get("dstuser"),
        get("srcuser"),
    )


# The bytes a JSON value may start with (json.loads takes NaN and Infinity too), after spaces.
_JSON_STARTS = frozenset(bytes([byte]) for byte in b'{["-0123456789tfnNI')
_JSON_CLOSERS = {b"{": b"}", b"[": b"]", b'"': b'"'}  # the last byte of a value that starts with the first
# What json.loads accepts and orjson refuses: NaN and Infinity, numbers that overflow a double,
# bytes that are not UTF-8, lone surrogates (\ud800), nesting beyond 1,024 levels (counted apart).
_JSON_ONLY = re.compile(rb"[^\x00-\x7f]|NaN|Infinity|\\u|[0-9][eE]|[0-9]{300}")


def load_json(line: bytes, fast: Callable[[bytes], Any] | None) -> Any:
    """A line's JSON value; ValueError when it is not JSON (nested too deep included).

    The fast parser (orjson) refuses what the standard one accepts (NaN, bytes
    that are not UTF-8, lone surrogates): those lines go to json, so both give
    the same values; a line with none of that is not given to json again
    (junk costs one failed parse, not two). json nests as deep as orjson at
    least while deep_json is on.
    """
    import json

    if fast is not None:
        try:
            return fast(line)
        except ValueError:
            if line.count(b"[") + line.count(b"{") < 1024 and not _JSON_ONLY.search(line):
                raise
    try:
        return json.loads(text(line))
    except RecursionError:
        raise ValueError("nested too deep") from None


@contextlib.contextmanager
def deep_json() -> Iterator[None]:
    """Let json.loads nest values JSON_DEPTH deep, as deep as orjson (1,024) and a little more, so
    that a line gives the same value with the [fast] extra or without it. Python's default limit
    (1,000 frames, of which the caller's count) is far from the C stack's; json's C parser uses
    some hundreds of bytes of it per level."""
    depth, frame = 0, typing.cast(Any, sys._getframe())
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, depth + JSON_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def json_alerts(
    line_lists: Iterable[tuple[list[bytes], bool]],
    window: Window,
    times: AlertTimes,
    counters: FileCounters,
    one_by_one: bool,
    odd: OddSources,
) -> Iterator[Alert]:
    """The alerts of alerts.json lines in the window: one by one, or merged with counts and times (as
    log_alerts). Every line is parsed: its time is known only then."""
    fast = fast_json()
    start, end = window.start, window.end
    made: dict[Any, int] = {}  # json_key -> the number of what parse_json_alert made of it
    numbered: list[Alert | None] = []  # by number: counting small numbers is cheaper than Alerts
    odd_numbers: set[int] = set()  # of them, those whose source is not an IP address
    times.every = True
    # Objects that repeat (a brute force) are looked up by their json_key; where few do, the key costs
    # more than it saves, and objects are parsed alone, the key tried again every KEYLESS_BLOCKS blocks.
    keyless = 0  # blocks to go without keys
    for lines, checked in line_lists:
        if len(numbered) > REPEAT_CACHE_ENTRIES:
            made.clear()
            numbered.clear()
            odd_numbers.clear()
        numbers: list[int] = []
        epochs: list[int | None] = []
        keyed, hits = not keyless, 0
        keyless = max(keyless - 1, 0)
        for line in lines:
            if checked:  # a line that may be over the cap, or junk
                if len(line) > MAX_ALERT_BYTES:
                    counters.too_long += 1
                    continue
                if line[-1:] != b"}":  # maybe no JSON at all (cheap to tell: junk costs no parse)
                    shape = line_shape(line)
                    if shape is None:
                        continue
                    if not shape:
                        not_json(counters)
                        continue
            try:
                obj = load_json(line, fast)
            except ValueError:
                if line.strip(b" \t\r"):  # a blank line is no line
                    not_json(counters)
                continue
            if keyed:
                try:
                    key = json_key(obj) if type(obj) is dict else None
                    number = made.get(key)
                    if number is None:
                        number = made[key] = json_number_of(obj, numbered, counters, odd, odd_numbers)
                    else:
                        hits += 1
                except TypeError:  # a value that cannot be a key: this object alone
                    number = json_number_of(obj, numbered, counters, odd, odd_numbers)
            else:
                number = json_number_of(obj, numbered, counters, odd, odd_numbers)
            if numbered[number] is None:
                counters.malformed += 1
                continue
            epoch = json_time(obj)
            if epoch is None and start is not None:
                counters.no_time += 1
                times.untimed += 1
                continue
            numbers.append(number)
            epochs.append(epoch)
        if keyed and hits * 3 < len(lines):  # a key costs a third of a parse (bench/bench_alerts_log.py, varied)
            keyless = KEYLESS_BLOCKS
        known = [epoch for epoch in epochs if epoch is not None] if None in epochs else typing.cast(list[int], epochs)
        in_order = known == sorted(known)
        if known:
            times.note(known, in_order)
        if known and start is not None and end is not None and not (in_order and start <= known[0] and known[-1] < end):
            kept = [(number, epoch) for number, epoch in zip(numbers, known, strict=True) if start <= epoch < end]
            numbers, epochs = [number for number, _ in kept], [epoch for _, epoch in kept]
        if one_by_one:
            if odd_numbers:
                odd.alerts += sum(1 for number in numbers if number in odd_numbers)
            yield from map(numbered.__getitem__, numbers)
        else:
            for number, count, first, last in tally(numbers, epochs, in_order and len(known) == len(epochs)):
                if odd_numbers:
                    odd.alerts += count if number in odd_numbers else 0
                yield new_record(Alert, (*typing.cast(Alert, numbered[number])[:6], count, first, last))


KEYLESS_BLOCKS = 8  # json_alerts: blocks read without keys, where few objects repeated


def line_shape(line: bytes) -> bool | None:
    """Of a line that does not end in "}": None when it is blank, False when it cannot be JSON (its
    first byte starts no value, or an object, array or string is not closed at its end), else True:
    junk lines, millions of them in a hostile file, are not parsed at all (json would accept no more)."""
    stripped = line.strip(b" \t\r")
    if not stripped:
        return None
    first = stripped[:1]
    if first not in _JSON_STARTS:
        return False
    closing = _JSON_CLOSERS.get(first)
    return closing is None or (len(stripped) > 1 and stripped.endswith(closing))


def not_json(counters: FileCounters) -> None:
    """Count a line that is not JSON, unless it is the last and being written."""
    if counters.unterminated:
        counters.incomplete = True
    else:
        counters.not_json += 1


def json_number_of(obj: Any, numbered: list[Alert | None], counters: FileCounters, odd: OddSources, odd_numbers: set[int]) -> int:
    """The number under which what parse_json_alert makes of ``obj`` is kept (json_alerts); who wrote
    it goes to ``counters.producers``."""
    alert = parse_json_alert(obj)
    number = len(numbered)
    numbered.append(alert)
    counters.producers.add(json_producer(obj))
    if alert is not None and odd.counting and odd.odd(alert.src_ip):
        odd_numbers.add(number)
    return number


# ---- what a time window skips


def window_headers(window: Window) -> re.Pattern[bytes] | None:
    r"""What every alerts.log header whose epoch lies in the window holds, and few others hold: "** Alert "
    and the digits that all the window's epochs of a length begin with, or a leading zero ("0017957..."
    is an epoch too). None without a window: every alert is read.

    A piece of alerts.log in which it is not found holds no alert of the window, and this is a proof,
    whatever order the alerts were written in: no header shows a time of the window. Found, the piece
    is read as usual (the hours around the window hold it too).

    >>> window_headers(Window(1795737600, 1795741200)).pattern  # one hour: 1795737600 to 1795741199
    b'\\n\\*\\* Alert (?:0|179573|179574)'
    >>> window_headers(Window(999_999_000, 1_000_000_500)).pattern  # 9 digits, then 10
    b'\\n\\*\\* Alert (?:0|999999|1000000)'
    """
    if window.start is None or window.end is None:
        return None
    prefixes = ["0"]
    low, high = window.start, min(window.end, MAX_RECORD_EPOCH + 1) - 1
    while low <= high:
        length = len(str(low))
        top = min(high, 10**length - 1)  # the highest epoch with as many digits as ``low``
        for digits in range(length, -1, -1):  # the longest prefixes, at most four of them
            unit = 10 ** (length - digits)
            if top // unit - low // unit < 4:
                prefixes += [str(prefix) if digits else "" for prefix in range(low // unit, top // unit + 1)]
                break
        low = top + 1
    return re.compile(rb"\n\*\* Alert (?:" + "|".join(prefixes).encode() + b")")


def skip_reason(path: str, kind: str, window: Window) -> str | None:
    """Why none of a file's alerts can lie in the window, or None when some may (or it cannot be told cheaply).

    Two bounds, each sound on the premise of TIME_ORDER_SLACK (the clock
    never went back more than that while the file was written):

    * before the window, its modification time: an alert is stamped before
      it is written, so none is later than the last write and the slack;
    * after the window, its first alert (first_alert_time): none after it is
      earlier than it less the slack.

    Never its name: a clock stepped forward a day within the hour in which a
    daily archive is written (a VM restored a day behind, then NTP) writes
    the next day's alerts into it, and only its modification time says so.
    """
    start, end = window.start, window.end
    if start is None or end is None or path == "-":
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None  # reading it will say why
    if not stat.S_ISREG(status.st_mode):
        return None  # a pipe, a device: no times of its own, and read only once
    if status.st_mtime + TIME_ORDER_SLACK < start:
        return f"last written {utc(int(status.st_mtime))}, more than an hour before the window starts (its modification time)"
    first = first_alert_time(path, kind)
    if first is not None and first - TIME_ORDER_SLACK >= end:
        return f"its first alert, of {utc(first)}, comes more than an hour after the window ends"
    return None


def first_alert_time(path: str, kind: str) -> int | None:
    """The time of a file's first alert, from its first _PROBE bytes (decompressed), or None.

    alerts.log: the first header whose epoch is readable and whose line ends
    within the bytes read (an epoch cut short by their end is never taken).
    alerts.json: the first line that the reader takes for an alert with a
    time; lines that are junk, empty, cut or no alert are passed, as it
    passes them. The first KiB mostly tells; more is read only when it does not.
    """
    for head in probe(path):
        epoch = first_log_time(head) if kind == "log" else first_json_time(head)
        if epoch is not None:
            return epoch  # what more bytes come after it cannot change
    return None


def first_log_time(head: bytes) -> int | None:
    head = b"\n" + head  # a header on the very first line, as log_pieces reads it
    for match in _LOG_HEADER_RE.finditer(head):
        if head.find(b"\n", match.end()) == -1:
            return None  # the bytes end in the header's line: its epoch may be cut short
        if match[1]:
            return int(match[1])
    return None


def first_json_time(head: bytes) -> int | None:
    fast = fast_json()
    with deep_json():
        for line in head.split(b"\n")[:-1]:  # the last is cut, or empty
            try:
                obj = load_json(line, fast) if line.strip() else None
            except ValueError:
                continue
            if type(obj) is dict and parse_json_alert(obj) is not None and (epoch := json_time(obj)) is not None:
                return epoch
    return None


def probe(path: str) -> Iterator[bytes]:
    """The start of a file (of a .gz, its first member decompressed), as it grows to 1, 4, 16 and 64
    KiB (_PROBE) or to its end; nothing more once unreadable. A .gz is read 512 bytes at a time, and
    without a buffer: most files cost a read of 512 bytes."""
    import zlib

    head, target = b"", 1024
    with contextlib.suppress(OSError, zlib.error), open(path, "rb", buffering=0) as raw:
        member = zlib.decompressobj(wbits=31) if path.endswith(".gz") else None
        while True:
            if member is None:
                chunk = raw.read(target - len(head))
                head += chunk
            else:
                chunk = member.unconsumed_tail or raw.read(512)
                head += member.decompress(chunk, target - len(head)) if chunk else b""
                if member.eof:
                    chunk = b""
            if len(head) >= target or not chunk:
                yield head
                if target >= _PROBE or not chunk:
                    return
                target *= 4


# ---- the files of a run


def file_alerts(
    path: str, kind: str, window: Window, one_by_one: bool, times: AlertTimes, counters: FileCounters, odd: OddSources
) -> Iterator[Alert]:
    """The alerts of a file in the window."""
    blocks = read_blocks(path)
    if kind == "log":
        yield from log_alerts(log_pieces(blocks, counters), window, times, counters, one_by_one, odd)
        return
    with deep_json():
        yield from json_alerts(json_lines(blocks, counters), window, times, counters, one_by_one, odd)


def read_alert_file(
    path: str, kind: str, window: Window, one_by_one: bool, times: AlertTimes, odd: OddSources, producers: set[str] | None = None
) -> Iterator[Alert]:
    """Stream the alerts of one alerts.log (OSSEC 2.x-3.x, Wazuh) or alerts.json in the time window;
    ``times`` learns the times of what was read, ``producers`` who wrote it (json_producer)."""
    counters = FileCounters(path, "alert(s)" if kind == "log" else "line(s)")
    yield from file_alerts(path, kind, window, one_by_one, times, counters, odd)
    if counters.passed:
        log.debug("%s: %s bytes hold no alert of the time window: their headers alone were read", path, f"{counters.passed:,}")
    counters.warn()
    if producers is not None:
        producers |= counters.producers


class FileSurvey:
    """What the files of a run hold in all (Survey), for a run that wrote nothing: what the readers
    saw of each file whose every alert they read (AlertTimes), and the times of the others (where
    pieces held no header of the window) read again when asked, every header counted this time."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.times: list[AlertTimes] = []
        self.unread: list[tuple[str, str]] = []  # (path, kind)
        self.producers: set[str] = set()  # who wrote the alerts.json objects read (json_producer)

    def survey(self, stats: Stats) -> Survey:
        """The Survey of every file (the run's own counts are not needed: it read every alert of the window)."""
        for path, kind in self.unread:
            times = AlertTimes(self.window, every=True)
            counters = FileCounters(path, "")  # what is wrong with the file, warned of when it is read for alerts
            for _ in file_alerts(path, kind, self.window, False, times, counters, OddSources()):
                pass
            self.times.append(times)
        self.unread = []
        files = self.times
        return Survey(
            alerts=sum(file.seen + file.untimed for file in files),
            outside=sum(file.outside + file.untimed for file in files),
            first=min((file.lowest for file in files if file.lowest is not None), default=None),
            last=max((file.highest for file in files if file.highest is not None), default=None),
        )


def read_alert_files(settings: Settings, survey: FileSurvey | None = None) -> Iterator[Alert]:
    """Every alert in the window of every --alerts-log, then every --alerts-json, in file order.

    With a window, a file whose alerts all lie outside it on the premise of
    TIME_ORDER_SLACK is skipped (skip_reason; --debug says why), unless
    --no-skip; a file read that breaks the premise is warned of once, when
    files were skipped (docs/alert-files.md). What the readers saw of the times
    goes to ``survey``; a file skipped is read there when asked."""
    files = [(path, "log") for path in settings.alerts_logs] + [(path, "json") for path in settings.alerts_jsons]
    odd = OddSources()
    skipped = 0
    set_back: tuple[str, tuple[int, int]] | None = None  # the first file read that broke the premise
    for path, kind in files:
        reason = None if settings.no_skip else skip_reason(path, kind, settings.window)
        if reason is not None:
            log.debug("%s: skipped: %s", path, reason)
            skipped += 1
            if survey is not None:
                survey.unread.append((path, kind))
            continue
        times = AlertTimes(settings.window, every=path == "-")  # stdin cannot be read again: count it all now
        yield from read_alert_file(
            path, kind, settings.window, settings.show_duplicate, times, odd, survey.producers if survey is not None else None
        )
        if set_back is None and times.set_back is not None:
            set_back = (path, times.set_back)
        if survey is not None:
            if times.every:
                survey.times.append(times)
            else:
                survey.unread.append((path, kind))
    if set_back is not None and skipped:
        warn_set_back(*set_back, skipped)
    odd.report()


def warn_set_back(path: str, epochs: tuple[int, int], skipped: int) -> None:
    """Say once a run that a file read shows a clock set back by more than TIME_ORDER_SLACK: the files
    skipped were skipped on the premise that it never is, and may hold alerts of the window. A
    warning, so that a cron job's mail has it: it bears on what the run wrote."""
    earlier, later = epochs
    log.warning(
        "%s: an alert of %s follows one of %s, so the clock was set back by more than an hour; the %s this "
        "run skipped for the time window (on the premise that it never is) may hold alerts of it: --no-skip reads every file",
        path,
        utc(later),
        utc(earlier),
        plural(skipped, "file"),
    )


# ---------------------------------------------------------------------------
# Reverse DNS (--do-reverse)
# ---------------------------------------------------------------------------


class DnsSettings(NamedTuple):
    """How --do-reverse resolves: the servers (None: /etc/resolv.conf) and its bounds."""

    nameservers: tuple[tuple[str, int], ...] | None
    timeout: float
    budget: float
    workers: int


class DnsStats:
    """What --do-reverse did, for --debug."""

    def __init__(self) -> None:
        self.lookups = 0
        self.answered = 0
        self.failed: Counter[str] = Counter()  # failed lookups, by kind
        self.unresolved = 0  # left as IPs because the budget was spent
        self.seconds = 0.0

    def report(self) -> None:
        failures = ", ".join(f"{kind} {count}" for kind, count in sorted(self.failed.items())) or "none"
        log.debug(
            "reverse DNS: %d lookups, %d answered, failed: %s, not tried (budget spent): %d, %.2f s",
            self.lookups,
            self.answered,
            failures,
            self.unresolved,
            self.seconds,
        )


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` into (address, port).

    >>> parse_nameserver("127.0.0.1:5353"), parse_nameserver("::1"), parse_nameserver("[::1]:53")
    (('127.0.0.1', 5353), ('::1', 53), ('::1', 53))
    """
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?|([^:]+)(?::(\d{1,5}))?|([0-9a-fA-F:.]+)", text.strip())
    address = port = None
    if match:
        address = match.group(1) or match.group(3) or match.group(5)
        port = match.group(2) or match.group(4)
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        address = None
    if address is None or (port is not None and not 0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"invalid name server {text!r}: expected IP, IP:PORT or [IPv6]:PORT")
    return address, int(port or 53)


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_ip_fast(text: str) -> bool:
    """is_ip in C, where thousands of stored addresses are checked (bench/bench_database.py).

    >>> is_ip_fast("203.0.113.5"), is_ip_fast("2001:db8::1"), is_ip_fast("web1"), is_ip_fast("1.2.3.4 ")
    (True, True, False, False)
    """
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError):  # ValueError: an embedded NUL
            continue
        return True
    return False


MAX_PTR_NAMES = 4  # PTR names of one address that are tried for confirmation (each costs a lookup)
# A host name's shape: two labels or more of letters, digits and hyphens (1-63 characters, no hyphen
# at either end), 253 characters at most, a last label that is not all digits (so no IPv4 address,
# RFC 3696). A single label could be anyone's user name. ossec.properties repeats it. As text, compiled
# (and cached by re) on first use, as the patterns of rules files are.
_HOST_NAME = r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?![0-9]+\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z"


def host_name_shaped(text: str) -> bool:
    """Whether text has a host name's shape (_HOST_NAME): what source_kind reads as a host name.

    >>> [host_name_shaped(n) for n in ("scanner.example.net", "localhost", "10.0.0.99", "a..b", "bad_name.example")]
    [True, False, False, False, False]
    """
    return re.match(_HOST_NAME, text) is not None


def is_host_name(name: str) -> bool:
    """Whether a PTR target may stand for an address: a host name, not an address in disguise.

    A host name's shape (host_name_shaped), and IDNA labels (``xn--``) that
    decode. The name is kept in that ASCII form: a Unicode look-alike cannot
    pose as another.

    >>> [is_host_name(n) for n in ("scanner.example.net", "10.0.0.99", "gateway", "xn--bcher-kva.ch", "xn--zz.example")]
    [True, False, False, True, False]
    """
    if not host_name_shaped(name):
        return False
    for label in name.split("."):
        if label[:4].lower() == "xn--":
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return False
    return True


class ReverseResolver:
    """PTR lookups with dnspython: each address once, many at a time, within a budget.

    The budget starts with the first lookup; a lookup never outlives it, so a
    run against a silent server ends in about the budget's time.
    """

    def __init__(self, settings: DnsSettings) -> None:
        # dnspython adds a seventh of a second to every start; most runs never resolve anything.
        try:
            import dns.exception
            import dns.nameserver
            import dns.resolver
        except ModuleNotFoundError:
            raise missing_package("dns") from None

        self.settings = settings
        try:
            self.resolver = dns.resolver.Resolver(configure=settings.nameservers is None)
        except UnicodeError:
            raise NoNameServer("/etc/resolv.conf holds bytes that are not UTF-8") from None
        except (dns.exception.DNSException, ValueError) as err:  # none listed, no file, a bad address or domain
            said = str(err)
            raise NoNameServer(said if "/etc/resolv.conf" in said else f"/etc/resolv.conf: {said}") from None
        if settings.nameservers is not None:
            self.resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port) for ip, port in settings.nameservers]
        self.resolver.timeout = settings.timeout
        self.resolver.lifetime = settings.timeout
        self.names: dict[str, str | None] = {}
        self.stats = DnsStats()
        self.lock = threading.Lock()  # the statistics are counted from the worker threads
        self.deadline: float | None = None
        self.threads_warned = False

    def resolve_all(self, addresses: Iterable[str]) -> None:
        """Look up every address not yet known, up to --dns-workers at a time.

        This thread is one of the workers. One that cannot start (a memory or
        process limit) leaves the lookups to those that did, with one warning.
        """
        todo = sorted({ip for ip in addresses if ip not in self.names})
        if not todo:
            return
        started = time.monotonic()
        if self.deadline is None:
            self.deadline = started + self.settings.budget
        pending = iter(todo)
        taking = threading.Lock()
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                with taking:
                    ip = next(pending, None)
                if ip is None:
                    return
                self.names[ip] = self._lookup(ip)

        helpers: list[threading.Thread] = []
        try:
            for _ in range(min(self.settings.workers, len(todo)) - 1):
                helper = threading.Thread(target=work, name="dns", daemon=True)
                try:
                    helper.start()
                except RuntimeError as err:  # "can't start new thread"
                    self._warn_threads(len(helpers) + 1, err)
                    break
                helpers.append(helper)
            work()
        finally:
            stop.set()  # on a signal: no new lookup; those in flight end within --dns-timeout
            for helper in helpers:
                helper.join()
            self.stats.seconds += time.monotonic() - started

    def _warn_threads(self, running: int, err: RuntimeError) -> None:
        if not self.threads_warned:
            self.threads_warned = True
            log.warning(
                "--dns-workers=%d: only %d lookup(s) can run at once (%s); the others wait their turn",
                self.settings.workers,
                running,
                err,
            )

    def _lookup(self, ip: str) -> str | None:
        """The confirmed host name of an address, or None (counted by why).

        A PTR record says whatever its zone's owner wants, and attackers own
        the reverse zones of their addresses: a PTR of ``10.0.0.99.`` or
        ``web1.example.org.`` would relabel them as one of our hosts. So a
        name replaces the address only if it is a host name (not an address,
        letters, digits and hyphens in labels of 1-63 characters) and it
        resolves back to the address (forward-confirmed reverse DNS, as
        sshd's UseDNS and Postfix check): one more lookup per name, within
        the same timeout and budget.
        """
        import dns.exception

        deadline = min(time.monotonic() + self.settings.timeout, self.deadline or 0.0)
        if deadline <= time.monotonic():
            with self.lock:
                self.stats.unresolved += 1
            return None
        outcome: str | None = None
        name = None
        try:
            answer = self.resolver.resolve_address(ip, lifetime=deadline - time.monotonic())
            candidates = sorted({rr.target.to_text(omit_final_dot=True) for rr in answer})[:MAX_PTR_NAMES]
            names = [candidate for candidate in candidates if is_host_name(candidate)]
            if not names:
                outcome = "not a host name"
            for candidate in names:
                if self._resolves_to(candidate, ip, deadline):
                    name = candidate
                    break
            else:
                outcome = outcome or "not confirmed"
        except dns.exception.DNSException as err:
            outcome = dns_failure_kind(err)
        except (ValueError, UnicodeError):  # an answer dnspython read but cannot turn into text or an address
            outcome = "unreadable answer"
        with self.lock:
            self.stats.lookups += 1
            if name is None:
                self.stats.failed[outcome or "not confirmed"] += 1
            else:
                self.stats.answered += 1
        return name

    def _resolves_to(self, name: str, ip: str, deadline: float) -> bool:
        """Whether ``name`` has an A (or AAAA) record for ``ip``; a failed lookup says no."""
        import dns.exception

        address = ipaddress.ip_address(ip)
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            answer = self.resolver.resolve(name, "A" if address.version == 4 else "AAAA", lifetime=remaining)
        except dns.exception.DNSException:
            return False
        return any(ipaddress.ip_address(rr.address) == address for rr in answer)

    def name(self, source: str) -> str:
        """The host name for an address looked up before, else the source unchanged."""
        return self.names.get(source) or source


class NoNameServer(Failure):
    """The system's resolver configuration names no usable name server (and --nameserver was not given)."""


def reverse_resolver(settings: DnsSettings) -> ReverseResolver | None:
    """The resolver for --do-reverse; None, with a warning, when there is no name server to ask:
    reverse DNS is decoration, and the run goes on with the addresses."""
    try:
        return ReverseResolver(settings)
    except NoNameServer as err:
        log.warning("--do-reverse: no name server to ask (%s): addresses keep their IP; give --nameserver", err)
        return None


def dns_failure_kind(err: Exception) -> str:
    """A short word for why a lookup failed, for --debug."""
    import dns.exception
    import dns.resolver

    if isinstance(err, dns.resolver.NXDOMAIN):
        return "NXDOMAIN"
    if isinstance(err, dns.resolver.NoAnswer):
        return "no PTR"
    if isinstance(err, dns.exception.Timeout):
        return "timeout"
    if isinstance(err, dns.resolver.NoNameservers):
        text = str(err)
        return "SERVFAIL" if "SERVFAIL" in text else "refused" if "REFUSED" in text else "no server"
    return type(err).__name__


def resolve_grouped(rows: Iterable[Row], resolver: ReverseResolver) -> list[Row]:
    """Replace IP sources by their names, then merge again: two addresses may share a name.

    A source that is an IP address came from an address field: a user or other text that looks
    like one is marked (see USER_MARK), so only addresses are ever looked up.
    """
    rows = list(rows)
    resolver.resolve_all(source for (source, _, _), _ in rows if is_ip_fast(source))
    return group_triples(((resolver.name(source), what, where), tally) for (source, what, where), tally in rows)


def resolve_stream(rows: Iterable[Row], resolver: ReverseResolver, batch: int = 10_000) -> Iterator[Row]:
    """Replace IP sources by their names in one-line-per-alert output, a batch at a time."""
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, batch)):
        resolver.resolve_all(source for (source, _, _), _ in chunk if is_ip_fast(source))
        for (source, what, where), tally in chunk:
            yield (resolver.name(source), what, where), tally


# ---------------------------------------------------------------------------
# Transforms: pure functions, no I/O
# ---------------------------------------------------------------------------


def decode_ip(stored: str) -> str | None:
    """A source address as an OSSEC or Wazuh database stored it (memoised per value by DatabaseNames).

    Decimal integers, the only form of OSSEC 2.6-2.8 (INT) and one of Wazuh
    up to 4.3 (text), become dotted quads; only ASCII digits count ('²' is a
    digit to str.isdigit()). Other text is kept as stored, including decimals
    that are no IPv4 address (0 and 2**32 and above): the caller tells an IP
    address from the rest. The forms meaning "no address" become None.

    >>> decode_ip("3232235777"), decode_ip("2001:db8::1"), decode_ip("4294967296"), decode_ip("²")
    ('192.168.1.1', '2001:db8::1', '4294967296', '²')
    >>> decode_ip("0"), decode_ip("(null)"), decode_ip(" "), decode_ip("::")
    (None, None, None, None)
    """
    text = stored.strip()
    if text in NO_ADDRESS:
        return None
    if len(text) <= 10 and text.isascii() and text.isdigit() and 0 < int(text) < 2**32:
        return socket.inet_ntoa(int(text).to_bytes(4, "big"))
    return text


@functools.lru_cache(maxsize=REPEAT_CACHE_ENTRIES)
def decode_text_ip(raw: str | None) -> str | None:
    """A source address as alerts.log and alerts.json write it: its text, or None for "no address".

    Unlike decode_ip, digits alone are not an address here: only old Wazuh
    databases store addresses as decimal integers.

    >>> decode_text_ip(" 203.0.113.5 "), decode_text_ip("(none)"), decode_text_ip("3232235777")
    ('203.0.113.5', None, 'address:3232235777')
    """
    if raw is None:
        return None
    raw = raw.strip()
    return None if raw in NO_ADDRESS else address_source(raw)


def address_source(address: str) -> str:
    """An address field's value as a source: an IP address as recorded; anything else (a name a
    decoder matched, junk) marked ``address:``, so that it never reads as, nor merges with, a user,
    a host or a name --do-reverse confirmed, and is never looked up (see USER_MARK).

    >>> address_source("203.0.113.5"), address_source("2001:db8::1"), address_source("web1.example.org")
    ('203.0.113.5', '2001:db8::1', 'address:web1.example.org')
    """
    return address if is_ip_fast(address) else ADDRESS_MARK + address


# What a reader might take for an address, IP or not: four dotted numbers, or hex digits and dots
# around a colon, a %zone after them too (fe80::1%eth0), in any script's digits (full-width
# digits read as 10.0.0.5). The page's script offers --src for such a name; AfterGlow colours some as IPv6.
_ADDRESS_LIKE = r"\d{1,3}(?:\.\d{1,3}){3}|[\dA-Fa-f.]*:[\dA-Fa-f:.]*(?:%\S*)?"


def user_source(user: str) -> str:
    """A user as a source: its name, or ``user:`` and its name where the name alone would read as
    another kind of source (source_kind), looks like an address, or starts with the mark (see
    USER_MARK).

    >>> [user_source(u) for u in ("root", "bob@example.org", "10.0.0.5", "(web1) 10.0.0.2", "john.doe", "user:x")]
    ['root', 'bob@example.org', 'user:10.0.0.5', 'user:(web1) 10.0.0.2', 'user:john.doe', 'user:user:x']
    >>> user_source("999.1.1.1"), user_source("dead:beef"), user_source("fe80::1%eth0"), user_source("\uff11\uff10.0.0.5")
    ('user:999.1.1.1', 'user:dead:beef', 'user:fe80::1%eth0', 'user:\uff11\uff10.0.0.5')
    """
    if source_kind(user) != "user" or user.startswith(USER_MARK) or re.fullmatch(_ADDRESS_LIKE, user):
        return USER_MARK + user
    return user


def clean_user(raw: str | bytes | None) -> str | None:
    """The alert's user, or None for the values OSSEC writes when there is none."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    user = raw.strip()
    return None if user in NO_USER else user


class LocationMatcher:
    """Shell-pattern matching of locations, each distinct location matched once."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = patterns
        self.seen = Memo(self.matches)

    def matches(self, location: str) -> bool:
        return any(fnmatch.fnmatchcase(location, pattern) for pattern in self.patterns)

    def __call__(self, alert: Alert) -> bool:
        return self.seen[alert.location]


def in_networks(address: str, networks: Sequence[Network]) -> bool:
    """Whether an address (an IPv4-mapped IPv6 one counts as IPv4) is in any of the networks.

    >>> nets = [ipaddress.ip_network("203.0.113.0/24")]
    >>> in_networks("203.0.113.9", nets), in_networks("::ffff:203.0.113.9", nets), in_networks("web1", nets)
    (True, True, False)
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in networks)


FilterSteps = list[tuple[str, Callable[[Alert], bool]]]  # (flag, keep-this-alert predicate)


def host_source(location: str) -> str | None:
    """The host that raised an alert, as its source for --use-host: an agent as its location names it,
    the manager's name in parentheses, so that a host never reads as (nor merges with) a user of the
    same name; None where the location names no host.

    >>> host_source("(web1) 10.0.0.2->syscheck"), host_source("ossec-server->rootcheck"), host_source("syscheck")
    ('(web1) 10.0.0.2', '(ossec-server)', None)
    """
    host, arrow, _ = location.partition("->")
    host = host.strip()
    if not arrow or not host:
        return None
    return host if host.startswith("(") else f"({host})"


class Sourcing:
    """Who an alert's source node is: its address; else, with --use-user, its user; else, with
    --use-host, the host that raised it; else no one. Each is spelled to say where it came from
    (see USER_MARK); users and hosts are worked out once per distinct value."""

    def __init__(self, use_user: bool, use_host: bool) -> None:
        self.use_user = use_user
        self.use_host = use_host
        self.users = Memo(user_source)
        self.hosts = Memo(host_source)

    def without_address(self, user: str | None, location: str) -> str | None:
        """Who stands for an alert that has no address."""
        if self.use_user and user is not None:
            return self.users[user]
        return self.hosts[location] if self.use_host else None


def filter_steps(filters: Filters, use_user: bool, applied: frozenset[str], use_host: bool = False) -> FilterSteps:
    """The filters as (flag, keep-this-alert predicate), in their order, but for those already ``applied``.

    --src and --src-user keep the sources they name: a host (--use-host) is neither.
    """
    steps: FilterSteps = []
    if filters.excluded_rules:
        excluded = frozenset(filters.excluded_rules)
        steps.append(("--exclude-alerts", lambda alert: alert.rule_id not in excluded))
    if filters.rules:
        kept = frozenset(filters.rules)
        steps.append(("--rules", lambda alert: alert.rule_id in kept))
    if filters.min_level is not None:
        floor = filters.min_level
        steps.append(("--min-level", lambda alert: alert.level is None or alert.level >= floor))
    if filters.locations:
        steps.append(("--location", LocationMatcher(filters.locations)))
    if filters.networks or filters.users:
        users = frozenset(filters.users)
        known: Memo[str, bool] = Memo(lambda address: in_networks(address, filters.networks))
        hosts = Memo(host_source)

        def wanted_source(alert: Alert) -> bool:
            if alert.src_ip is not None:
                return known[alert.src_ip]
            if use_user and alert.user is not None:
                return alert.user in users
            # A host is no source these flags name; no source at all: skipped and counted later.
            return not use_host or hosts[alert.location] is None

        steps.append(("--src" if not users else "--src/--src-user", wanted_source))
    steps = [(flag, keep) for flag, keep in steps if flag not in applied]
    if steps:
        log.debug("filtered row by row: %s", ", ".join(flag for flag, _ in steps))
    return steps


def passing(alerts: Iterable[Alert], steps: FilterSteps, removed: Counter[str]) -> Iterator[Alert]:
    """The alerts that every filter step keeps; each one removed is counted under its step's flag."""
    for alert in alerts:
        for flag, keep in steps:
            if not keep(alert):
                removed[flag] += alert.times
                break
        else:
            yield alert


def tally_triples(
    source: Source, filters: Filters, use_user: bool, stats: Stats, use_host: bool = False, limit: int = MAX_TRIPLES
) -> list[Row]:
    """The triples of the alerts the filters keep, each with its tally, sorted so output can be diffed.

    Alerts that make the same triple are merged: counts added, the highest
    level kept. One loop with no call per alert: this is where a grouped export
    of a million alerts spends most of its own time. More than ``limit``
    distinct triples (--max-triples) end the run (too_many_triples).
    """
    alerts: Iterable[Alert] = source.alerts
    steps = filter_steps(filters, use_user, source.applied, use_host)
    stats.row_filters, stats.sql_filters = [flag for flag, _ in steps], sorted(source.applied, key=FILTER_FLAGS.index)
    if steps:
        alerts = passing(alerts, steps, stats.removed)
    totals: dict[Triple, Tally] = {}
    held = totals.get
    sourcing = Sourcing(use_user, use_host)
    without_address, hosts = sourcing.without_address, sourcing.hosts
    # Counted in local variables, which a million-alert loop notices, and added up at the end.
    kept = unknown_level = no_source = with_user = with_host = 0
    for _, description, location, src_ip, user, level, times, first, last in alerts:
        kept += times
        if level is None:
            unknown_level += times
        # Who: the graph's source node (Sourcing).
        who = src_ip if src_ip is not None else without_address(user, location)
        if who is None:
            no_source += times
            if user is not None:
                with_user += times
            if hosts[location] is not None:
                with_host += times
            continue
        triple = (who, description, location)
        tally = new_record(Tally, (times, level, first, last))
        seen = held(triple)  # add_tally, inlined: only a new triple needs the count checked
        if seen is None:
            if len(totals) >= limit:
                raise too_many_triples(limit)
            totals[triple] = tally
        else:
            totals[triple] = merged(seen, tally)
    stats.count(kept, unknown_level if filters.min_level is not None else 0, no_source, with_user, with_host)
    return sorted_rows(totals)


def alert_rows(source: Source, filters: Filters, use_user: bool, stats: Stats, use_host: bool = False) -> Iterator[Row]:
    """Filter alerts and turn each into a (triple, tally) row, in order, counting what is removed and why.

    Sources repeat identical alerts (a brute force is one alert many times
    over): what becomes of each distinct alert is worked out once (a bounded
    LRU cache).
    """
    steps = filter_steps(filters, use_user, source.applied, use_host)
    stats.row_filters, stats.sql_filters = [flag for flag, _ in steps], sorted(source.applied, key=FILTER_FLAGS.index)
    sourcing = Sourcing(use_user, use_host)

    @functools.lru_cache(maxsize=REPEAT_CACHE_ENTRIES)
    def outcome(alert: Alert) -> tuple[str | None, Row | None]:
        """(the flag that removes the alert, None) or (None, its row; None if it has no source)."""
        for flag, keep in steps:
            if not keep(alert):
                return flag, None
        # Who: the graph's source node (Sourcing).
        who = alert.src_ip if alert.src_ip is not None else sourcing.without_address(alert.user, alert.location)
        if who is None:
            return None, None
        return None, ((who, alert.description, alert.location), new_record(Tally, (alert.times, alert.level, alert.first, alert.last)))

    kept = unknown_level = no_source = with_user = with_host = 0
    removed: Counter[str] = Counter()
    try:
        for alert in source.alerts:
            removed_by, row = outcome(alert)
            if removed_by is not None:
                removed[removed_by] += alert.times
                continue
            kept += alert.times
            if alert.level is None:
                unknown_level += alert.times
            if row is None:
                no_source += alert.times
                if alert.user is not None:
                    with_user += alert.times
                if sourcing.hosts[alert.location] is not None:
                    with_host += alert.times
            else:
                yield row
    finally:
        stats.removed.update(removed)
        stats.count(kept, unknown_level if filters.min_level is not None else 0, no_source, with_user, with_host)


def higher_level(first: int | None, second: int | None) -> int | None:
    """The higher of two OSSEC levels, either of which may be unknown.

    >>> higher_level(None, 3), higher_level(7, 3), higher_level(None, None)
    (3, 7, None)
    """
    if first is None:
        return second
    return first if second is None else max(first, second)


def earlier(first: int | None, second: int | None) -> int | None:
    """The earlier of two times, either of which may be unknown."""
    if first is None:
        return second
    return first if second is None or first <= second else second


def later(first: int | None, second: int | None) -> int | None:
    """The later of two times, either of which may be unknown."""
    if first is None:
        return second
    return first if second is None or first >= second else second


def add_tally(totals: dict[K, Tally], triple: K, tally: Tally) -> None:
    """Count ``tally`` behind ``triple`` (or a graph's node or link): counts add up, the highest level stays, the times widen.

    >>> totals = {}
    >>> add_tally(totals, ("a", "b", "c"), Tally(2, 3, 100, 200))
    >>> add_tally(totals, ("a", "b", "c"), Tally(1, None, 50, None))
    >>> totals
    {('a', 'b', 'c'): Tally(alerts=3, level=3, first=50, last=200)}
    """
    seen = totals.get(triple)
    totals[triple] = tally if seen is None else merged(seen, tally)


def merged(seen: Tally, tally: Tally) -> Tally:
    """Two tallies as one: counts added, the highest level, the widest span of times."""
    return new_record(
        Tally,
        (
            seen.alerts + tally.alerts,
            higher_level(seen.level, tally.level),
            earlier(seen.first, tally.first),
            later(seen.last, tally.last),
        ),
    )


def sorted_rows(totals: dict[Triple, Tally]) -> list[Row]:
    """The rows sorted by triple, so that output can be diffed (triples are unique: tallies are never compared)."""
    return sorted(totals.items(), key=operator.itemgetter(0))


def group_triples(rows: Iterable[Row]) -> list[Row]:
    """Merge equal triples, adding their counts and keeping the highest level; sorted so output can be diffed."""
    totals: dict[Triple, Tally] = {}
    for triple, tally in rows:
        add_tally(totals, triple, tally)
    return sorted_rows(totals)


def busiest_sources(rows: Iterable[Row]) -> list[str]:
    """The sources, those with the most alerts first (ties: by name): the order of --top and --max-nodes."""
    per_source: Counter[str] = Counter()
    for (source, _, _), tally in rows:
        per_source[source] += tally.alerts
    return [source for source, _ in sorted(per_source.items(), key=lambda item: (-item[1], item[0]))]


def alerts_in(rows: Iterable[Row]) -> int:
    """How many alerts the rows stand for."""
    return sum(tally.alerts for _, tally in rows)


def cut_rows(rows: list[Row], min_count: int, top: int | None, cut: Counter[str]) -> tuple[list[Row], list[str]]:
    """--min-count drops rare triples; --top keeps the sources with the most alerts (ties: by name).

    Returns the rows kept and, for the picture's title, what was cut ("top 10 of 161 sources");
    the alerts each flag left out are counted into ``cut``.
    """
    cuts = []
    if min_count > 1:
        kept = [row for row in rows if row[1].alerts >= min_count]
        dropped = [row for row in rows if row[1].alerts < min_count]
        cut["--min-count"] += alerts_in(dropped)
        log.debug("--min-count %d dropped %d triple(s), %d alert(s)", min_count, len(dropped), alerts_in(dropped))
        if dropped:
            cuts.append(f"triples of {min_count}+ alerts: {len(kept):,} of {len(rows):,}")
        rows = kept
    if top is not None:
        ranked = busiest_sources(rows)
        chosen = set(ranked[:top])
        dropped = [row for row in rows if row[0][0] not in chosen]  # row[0][0]: the triple's source
        cut["--top"] += alerts_in(dropped)
        log.debug(
            "--top %d dropped %d source(s), %d triple(s), %d alert(s)",
            top,
            len(ranked) - len(chosen),
            len(dropped),
            alerts_in(dropped),
        )
        if len(ranked) > top:
            cuts.append(f"top {top:,} of {len(ranked):,} sources")
        rows = [row for row in rows if row[0][0] in chosen]
    return rows, cuts


def fit_picture(rows: list[Row], max_nodes: int, max_links: int, drawing: str) -> tuple[list[Row], str | None]:
    """The rows of the busiest sources whose graph fits in ``max_nodes`` nodes and ``max_links``
    links (0: no limit), and what was cut, for the title; ``drawing`` names what is cut in the note
    that says so ("the picture", "the page's graph").

    Sources are taken in --top's order until the next would not fit, so that the
    picture shows the top K sources whole; the busiest is kept even alone too large.
    The note is a hint, not a warning: the title says the cut too, and a cron job
    that draws every ten minutes would mail the same line every time
    (docs/diagnostics.md).
    """
    if not max_nodes:
        return rows, None
    reached: dict[str, list[tuple[str, str]]] = {}  # source -> its (description, location) pairs
    for (source, description, location), _ in rows:
        reached.setdefault(source, []).append((description, location))
    ranked = busiest_sources(rows)
    nodes: set[tuple[str, str]] = set()
    links: set[tuple[str, str, str]] = set()
    kept = 0
    for source in ranked:
        pairs = reached[source]
        new_nodes = {("source", source)} | {("event", d) for d, _ in pairs} | {("target", loc) for _, loc in pairs}
        new_links = {("source", source, d) for d, _ in pairs} | {("event", d, loc) for d, loc in pairs}
        new_nodes -= nodes
        new_links -= links
        if kept and (len(nodes) + len(new_nodes) > max_nodes or len(links) + len(new_links) > max_links):
            break
        nodes |= new_nodes
        links |= new_links
        kept += 1
    if kept == len(ranked):
        return rows, None
    chosen = set(ranked[:kept])
    cut = f"busiest {kept:,} of {len(ranked):,} sources"
    log.info(
        "%s draws the %s, as many as fit in %s nodes and %s links (--max-nodes=%d; 0 draws everything)",
        drawing,
        cut,
        f"{max_nodes:,}",
        f"{max_links:,}",
        max_nodes,
    )
    return [row for row in rows if row[0][0] in chosen], f"{cut} (--max-nodes={max_nodes})"


def agent_location(location: str) -> str:
    """A location without its log: what --location-detail=agent draws.

    >>> agent_location("(web1) 10.0.0.2->/var/log/auth.log"), agent_location("ossec-server->syscheck")
    ('(web1) 10.0.0.2', 'ossec-server')
    >>> agent_location("(unknown location 7)")
    '(unknown location 7)'
    """
    agent, arrow, _ = location.partition("->")
    return agent if arrow and agent else location


def per_agent(rows: Iterable[Row]) -> Iterator[Row]:
    """The rows with each location cut down to its agent (--location-detail=agent), in order;
    group_triples then merges those that became equal."""
    agents = Memo(agent_location)
    for (source, description, location), tally in rows:
        yield (source, description, agents[location]), tally


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

# Everything written here lands in another program: AfterGlow's Text::CSV, Graphviz, a spreadsheet,
# a browser (SVG), a terminal. Each gets the value escaped for it, one-to-one: two different values
# never come out the same. docs/hostile-input.md ("Output") lists what each gets.

# Drawn as nothing although Python calls them printable: the default-ignorable code points that are
# not format characters (combining grapheme joiner, Hangul fillers, variation selectors).
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")


def hidden(char: str) -> bool:
    """Whether a character would not show as itself.

    Controls, format characters (U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO
    WIDTH SPACE, U+FEFF BOM), separators but the space (U+00A0, U+2028),
    surrogates (bytes that were not UTF-8), private-use, unassigned and
    default-ignorable code points.
    """
    return not char.isprintable() or _IGNORABLE.match(char) is not None


def escape_char(char: str) -> str:
    r"""``\uXXXX``, or ``\UXXXXXXXX`` beyond the BMP (a byte that was not UTF-8 is ``\udcXX``)."""
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible(text: str) -> str:
    r"""Text as it should reach a person (a picture, a terminal): every hidden character as ``\uXXXX``.

    One-to-one: a backslash is doubled where it could be read as the start of
    such an escape (before ``u``, ``U``, a backslash or a hidden character),
    and only there, so that ``C:\logs\`` reads as it is.

    >>> print(visible("invoice\u202efdp.exe"), visible("tab\there"), visible("C:\\logs\\ C:\\users \\\u200b"))
    invoice\u202efdp.exe tab\u0009here C:\logs\ C:\\users \\\u200b
    """
    if text.isprintable() and "\\" not in text and not _IGNORABLE.search(text):
        return text
    shown = []
    for index, char in enumerate(text):
        if char == "\\":
            following = text[index + 1 : index + 2]
            shown.append("\\\\" if following and (following in "\\uU" or hidden(following)) else "\\")
        else:
            shown.append(escape_char(char) if hidden(char) else char)
    return "".join(shown)


# Graphviz refuses a quoted string of 16,384 bytes ("longer than 16384?"), and so long a label is of
# no use to anyone: longer values are cut (shortened()). The limits count escaped characters.
MAX_SHOWN = 1024  # of a value in a picture: up to 5 bytes each in DOT ('&' is '&amp;'), two on a label
MAX_AFTERGLOW = 4096  # of an AfterGlow-safe CSV value: ASCII, and AfterGlow may join three in one DOT string


def shortened(value: str, escape: Callable[[str], str], limit: int) -> str:
    """``escape(value)``; where that reaches ``limit`` characters, the escape of the value's
    beginning and a marker with the value's length and its SHA-256 (the first 32 hex digits).

    Still one-to-one: a cut value comes out longer than ``limit``, any other
    shorter, and the hash keeps cut values apart. The full value stays in
    --plain-csv.

    >>> shortened("x" * 30, str, 10)
    'xxxxxxxxxx...[cut: 30 characters in all; sha256 666a596df2cf2181e69835c4f812f7c6]'
    """
    text = escape(value)
    if len(text) < limit:
        return text
    import hashlib

    # The shortest beginning whose escape reaches the limit (escaping never shortens a value).
    low, high = 1, min(len(value), limit)
    while low < high:
        middle = (low + high) // 2
        if len(escape(value[:middle])) >= limit:
            high = middle
        else:
            low = middle + 1
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{escape(value[:low])}...[cut: {len(value)} characters in all; sha256 {digest}]"


# What AfterGlow carries unchanged: printable ASCII but the quote (Text::CSV), the backslash and '&'
# (Graphviz reads escapes and entities in the DOT that AfterGlow writes, values unescaped).
_NOT_AFTERGLOW_SAFE = re.compile(r"[^\x20\x21\x23-\x25\x27-\x5b\x5d-\x7e]")


def _afterglow_char(match: re.Match[str]) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else escape_char(char)


def afterglow_escape(value: str) -> str:
    return _NOT_AFTERGLOW_SAFE.sub(_afterglow_char, value)


def afterglow_safe(value: str) -> str:
    r"""Make a value survive AfterGlow's Text::CSV (binary off) and the DOT it writes unescaped.

    Printable ASCII stays, but for the backslash, which is doubled; every other
    character, and the ``"`` and ``&`` that AfterGlow would hand to Graphviz, is
    written ``\uXXXX`` (escape_char), so nothing is lost and no two values come
    out the same. Beyond MAX_AFTERGLOW characters a value is cut (shortened).

    >>> print(afterglow_safe('Caf\u00e9 "x" &nbsp;\tC:\\'))
    Caf\u00e9 \u0022x\u0022 \u0026nbsp;\u0009C:\\
    """
    return shortened(value, afterglow_escape, MAX_AFTERGLOW)


# A lone UTF-16 surrogate (a JSON "\ud800") has no UTF-8 at all; the surrogates that stand for bytes
# that were not UTF-8 (U+DC80-U+DCFF) are written back as those bytes.
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")

# How a cell starts that a spreadsheet takes for a formula (OWASP's CSV injection rule); a cell that
# starts so, or with the ' that neutralises it, gets a ' before it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARKED_STARTS = (*FORMULA_STARTS, "'")


def spreadsheet_safe(cell: str) -> str:
    """A ``'`` before a value that a spreadsheet would take for a formula, and before one that starts with ``'``.

    The second keeps it one-to-one: drop one leading ``'`` to read the value back.

    >>> spreadsheet_safe("=cmd|' /C calc'!A0"), spreadsheet_safe("'quoted'"), spreadsheet_safe("root")
    ("'=cmd|' /C calc'!A0", "''quoted'", 'root')
    """
    return "'" + cell if cell.startswith(_MARKED_STARTS) else cell


def csv_cell(value: str) -> str:
    r"""One CSV field: quoted (RFC 4180) when it holds a comma, a quote or a line break.

    >>> csv_cell("plain"), csv_cell('a "b", c'), csv_cell("two\rlines")
    ('plain', '"a ""b"", c"', '"two\rlines"')
    """
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def afterglow_cell(value: str) -> str:
    return csv_cell(spreadsheet_safe(afterglow_safe(value)))


def plain_cell(value: str) -> str:
    """A value for --plain-csv: unchanged, but for a lone surrogate, which becomes U+FFFD."""
    if not value.isascii():
        value = _LONE_SURROGATE.sub("\ufffd", value)
    return csv_cell(spreadsheet_safe(value))


def terminal_cell(value: str) -> str:
    r"""A value for --plain-csv on a terminal: hidden characters as ``\uXXXX`` (visible()), as GNU ls
    shows file names there, so that no escape sequence a user name carries reaches the terminal.

    >>> terminal_cell("\x1b]0;pwned\x07=x")
    '\\u001b]0;pwned\\u0007=x'
    """
    return csv_cell(spreadsheet_safe(visible(value)))


def is_terminal(stream: typing.IO[Any] | None) -> bool:
    """Whether a person reads ``stream`` (a cron job's are pipes or files)."""
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):  # closed
        return False


def write_csv(rows: Iterable[Row], out: TextIO, settings: Settings) -> int:
    """Write CSV lines (with a count column under --count); returns the line count.

    Sources, descriptions and locations recur from line to line, so each
    distinct value is made safe and quoted once. Lines go out in batches.
    """
    make = afterglow_cell
    if settings.plain_csv:
        make = terminal_cell if is_terminal(out) else plain_cell
    cell = Memo(make)
    if settings.count_column:
        lines = (f"{cell[source]},{cell[what]},{cell[where]},{tally.alerts}\n" for (source, what, where), tally in rows)
    else:
        lines = (f"{cell[source]},{cell[what]},{cell[where]}\n" for (source, what, where), _ in rows)
    written = 0
    while batch := list(itertools.islice(lines, 1000)):
        out.write("".join(batch))
        written += len(batch)
    return written


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM, SIGHUP and SIGINT back (blocked) while a file is made and recorded as ours, so
    that the signal, delivered afterwards, finds it recorded and has it removed."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


# Files on disk. In a sticky directory that others may write (/tmp, /var/tmp) anyone can leave a name
# for root's cron job to trip on; the kernel's fs.protected_symlinks, protected_fifos and
# protected_regular (at 2) guard open() there when they are on. The same rules hold here whatever
# they are set to (foreign()), checked on the directory and the file held open, not on a path.

# How the directories of a path are opened: never through a link (locate() reads each link and
# checks it), and on Linux without needing to read the directory (O_PATH): a path needs only search.
_DIRECTORY = os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_PATH", os.O_RDONLY)
MAX_LINKS = 40  # the kernel's own limit on the links one path may follow


def foreign(entry: os.stat_result, directory: os.stat_result) -> bool:
    """Whether ``entry`` lies in a sticky directory that others may write (world or group) and
    belongs to neither this user nor the directory's owner: such a link is never followed, such a
    file never written, replaced nor handed back to its owner."""
    shared = directory.st_mode & stat.S_ISVTX and directory.st_mode & (stat.S_IWOTH | stat.S_IWGRP)
    return bool(shared) and entry.st_uid not in (os.geteuid(), directory.st_uid)


class Place(NamedTuple):
    """Where writing a path leads: the directory (held open), the name in it, what is there."""

    directory: int  # a descriptor: whatever is renamed meanwhile, the file is made or opened in this one
    where: str  # the directory's path, for messages
    name: str
    found: os.stat_result | None  # the entry itself (lstat), None when there is none
    through_link: bool = False  # a /proc/PID/fd link to a pipe or a socket, opened by following it


def _names(path: str) -> list[str]:
    """A path's names as a stack, the first last; an empty one (a trailing or doubled slash) is '.'."""
    return [name or "." for name in reversed(path.split("/"))]


def locate(path: str, flag: str) -> Place:
    """What writing ``path`` reaches, found one name at a time as open() finds it.

    Each directory is opened in the one before without following a link, and
    each symbolic link on the way is read and followed here: one that another
    user owns in a shared sticky directory (foreign()) is refused wherever it
    stands in the path. Only a link's owner (or the directory's) can replace
    it there, so the link checked is the link read. A /proc/PID/fd link to a
    pipe or a socket (/dev/stdout in a pipeline) names no path: it is kept, to
    be opened through.
    """
    names = _names(path)
    where = "/" if path.startswith("/") else "."
    directory = os.open(where, _DIRECTORY)
    links = 0
    try:
        while True:
            name = names.pop()
            try:
                found: os.stat_result | None = os.stat(name, dir_fd=directory, follow_symlinks=False)
            except FileNotFoundError:
                if names:
                    raise
                found = None
            if found is None or not stat.S_ISLNK(found.st_mode):
                if not names:
                    return Place(directory, where, name, found)
                inner = os.open(name, _DIRECTORY, dir_fd=directory)
                os.close(directory)
                directory, where = inner, os.path.join(where, name)
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
            if foreign(found, os.fstat(directory)):
                raise Failure(
                    f"cannot write {flag} {path}: {os.path.normpath(os.path.join(where, name))} is a symbolic link "
                    "that another user owns in a sticky directory others may write, which is not followed "
                    "(as fs.protected_symlinks does)"
                )
            text = os.readlink(name, dir_fd=directory)
            if not names and not text.startswith("/") and on_procfs(directory):
                return Place(directory, where, name, os.stat(name, dir_fd=directory), through_link=True)
            if text.startswith("/"):
                root = os.open("/", _DIRECTORY)
                os.close(directory)
                directory, where = root, "/"
            names.extend(_names(text))
    except BaseException:
        os.close(directory)
        raise


def on_procfs(directory: int) -> bool:
    try:
        return os.fstat(directory).st_dev == os.stat("/proc").st_dev
    except OSError:  # no /proc: not Linux
        return False


def check_writable(place: Place, entry: os.stat_result, flag: str, path: str) -> None:
    """Refuse what is not a regular file, a character device or a FIFO, and another user's file
    in a shared sticky directory (as fs.protected_regular and protected_fifos do at 2)."""
    if stat.S_ISDIR(entry.st_mode):
        raise Failure(f"cannot write {flag} {path}: it is a directory")
    if not (stat.S_ISREG(entry.st_mode) or stat.S_ISCHR(entry.st_mode) or stat.S_ISFIFO(entry.st_mode)):
        raise Failure(f"cannot write {flag} {path}: it is neither a regular file, a character device nor a FIFO")
    if foreign(entry, os.fstat(place.directory)):
        raise Failure(
            f"cannot write {flag} {path}: it belongs to another user (uid {entry.st_uid}) in a sticky directory "
            "others may write, where it is neither written nor replaced (as fs.protected_regular and protected_fifos do)"
        )


def open_in_place(place: Place, flags: int, flag: str, path: str) -> int:
    """Open what ``place`` names for writing, in place (a device, a FIFO, a log file); returns the descriptor.

    The checks of check_writable() are made on what is found, then again on
    what was opened (fstat), which must be the very file found. The open does
    not wait for a FIFO's reader (O_NONBLOCK: a FIFO that no one reads is an
    error, never a hang); the descriptor blocks again once open.
    """
    if place.found is not None:
        check_writable(place, place.found, flag, path)
    follow = 0 if place.through_link else os.O_NOFOLLOW
    try:
        fd = os.open(
            place.name, flags | os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | follow, 0o666, dir_fd=place.directory
        )
    except OSError as err:
        if err.errno == errno.ENXIO and (place.found is None or stat.S_ISFIFO(place.found.st_mode)):
            raise Failure(
                f"cannot write {flag} {path}: no process reads this FIFO (it is written only while its reader runs)"
            ) from None
        raise
    try:
        opened = os.fstat(fd)
        check_writable(place, opened, flag, path)
        if place.found is not None and (opened.st_dev, opened.st_ino) != (place.found.st_dev, place.found.st_ino):
            raise Failure(f"cannot write {flag} {path}: it was replaced while being opened")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_temporary(directory: int, name: str, mode: int) -> tuple[int, str]:
    """Create ``.name.XXXXXXXX`` in ``directory``, a file no one else has; returns its descriptor and name."""
    while True:
        temporary = f".{name}.{os.urandom(4).hex()}"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            return os.open(temporary, flags, mode, dir_fd=directory), temporary
        except FileExistsError:
            continue


def _file(fd: int, binary: bool) -> typing.IO[Any]:
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="")


class AtomicOutput:
    """Where --output and --render write, so that nothing we do not own is replaced or left behind.

    A regular file (a symbolic link's target, the link kept) is replaced only
    once completely written: a temporary file made in its directory is renamed
    over it. The new file keeps the mode, owner and group of the one it
    replaces (when this user cannot give it that owner, nothing is written); a
    new file gets the mode any program's new file gets: 0666 less the umask.
    A character device (/dev/null, a terminal) or a FIFO is written in place:
    replacing it would destroy it, and it holds no data a failed run could
    spoil. Anything else (a directory, a block device, a socket), another
    user's link or file in a shared sticky directory (foreign()), and a FIFO
    that no one reads are refused. docs/output.md says what is guaranteed.

    Nothing exists before open_text() or open_binary(); discard() removes the
    temporary file, whenever called (a failure, a signal), and commit() makes
    the output appear.
    """

    def __init__(self, path: str, flag: str = "--output") -> None:
        self.path = path
        self.flag = flag
        self.place: Place | None = None  # until discard()
        self.tmp_name: str | None = None  # in place.directory, until renamed or removed
        self.mode: int | None = None  # the replaced file's mode; None for a new file
        self.stream: typing.IO[Any] | None = None

    def open_text(self) -> TextIO:
        return typing.cast(TextIO, self._open(binary=False))

    def open_binary(self) -> BinaryIO:
        return typing.cast(BinaryIO, self._open(binary=True))

    def failure(self, err: OSError) -> Failure:
        return Failure(f"cannot write {self.flag} {self.path}: {err.strerror or err}")

    def _open(self, binary: bool) -> typing.IO[Any]:
        try:
            self.place = place = locate(self.path, self.flag)
            existing = place.found
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                self.stream = _file(open_in_place(place, 0, self.flag, self.path), binary)
                return self.stream
            if existing is not None:
                check_writable(place, existing, self.flag, self.path)
        except OSError as err:
            raise self.failure(err) from None
        try:
            with signals_held():
                # An existing file's copy stays private until it gets that file's mode, at commit().
                fd, self.tmp_name = make_temporary(place.directory, place.name, 0o600 if existing else 0o666)
                self.stream = _file(fd, binary)
        except OSError as err:
            raise Failure(
                f"cannot write {self.flag} {self.path}: {err.strerror} "
                f"(it is written as a new file in {os.path.normpath(place.where)})"
            ) from None
        if existing is not None:
            self.mode = stat.S_IMODE(existing.st_mode)
            try:
                os.fchown(fd, existing.st_uid, existing.st_gid)
            except PermissionError:
                self.discard()
                raise Failure(
                    f"cannot write {self.flag} {self.path}: it belongs to user {existing.st_uid} and group "
                    f"{existing.st_gid}, which this user cannot give the file that would replace it"
                ) from None
        return self.stream

    def commit(self) -> None:
        """Flush, and put the finished file in the target's place."""
        assert self.stream is not None and self.place is not None
        try:
            self.stream.flush()
            if self.tmp_name is not None:
                os.fsync(self.stream.fileno())
                if self.mode is not None:
                    os.fchmod(self.stream.fileno(), self.mode)  # after fchown, which clears set-user-ID bits
            self.stream.close()
            if self.tmp_name is not None:
                directory = self.place.directory
                os.replace(self.tmp_name, self.place.name, src_dir_fd=directory, dst_dir_fd=directory)
                self.tmp_name = None
        except OSError as err:
            raise self.failure(err) from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the temporary file: the target stays as it was. Harmless after commit() and when called again."""
        if self.stream is not None:
            with contextlib.suppress(OSError):
                self.stream.close()
        if self.place is not None:
            if self.tmp_name is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.tmp_name, dir_fd=self.place.directory)
                self.tmp_name = None
            os.close(self.place.directory)
            self.place = None


def check_output_names(output: str | None, render: str | None, logfile: str | None) -> None:
    """Usage errors: an empty file name, and two of --output, --render and --logfile that name one
    file (through another spelling, a link or a hard link), where one would overwrite the other."""
    given = (("--output", output), ("--render", render), ("--logfile", logfile))
    named = [(flag, path) for flag, path in given if path is not None]
    for flag, path in named:
        if not path:
            raise UsageError(f"{flag} needs a file name (an empty one was given)")
    for (flag, path), (other, other_path) in itertools.combinations(named, 2):
        if same_file(path, other_path):
            raise UsageError(f"{flag} {path} and {other} {other_path} name the same file: one would overwrite the other")


def same_file(first: str, second: str) -> bool:
    """Whether two paths reach the same regular file, or the same name in the same directory when
    there is none yet. A device or a FIFO is written in place: two writers share it as 2>&1 does."""
    places: list[Place] = []
    try:
        for path in (first, second):
            places.append(locate(path, ""))
        if any(place.found is not None and not stat.S_ISREG(place.found.st_mode) for place in places):
            return False
        one, two = (file_identity(place) for place in places)
        return one == two
    except (OSError, Failure):
        return False  # opening it to write will say what is wrong
    finally:
        for place in places:
            os.close(place.directory)


def file_identity(place: Place) -> tuple[object, ...]:
    if place.found is not None:
        return place.found.st_dev, place.found.st_ino
    directory = os.fstat(place.directory)
    return directory.st_dev, directory.st_ino, place.name


# Graphviz output (--format=dot, --render). The one palette of the pictures, which ossec.properties
# repeats for AfterGlow (tests/test_pictures.py holds the two equal; docs/pictures.md shows it):
# descriptions by their highest OSSEC level, as OSSEC's own Picviz output had them; sources and
# locations by kind. Each role has its shape, and the legend of every picture says all of it.
LEVEL_COLOURS = ((12, "#ef3b2c"), (8, "#fd8d3c"), (4, "#74c476"), (0, "#6baed6"))  # red, orange, green, blue
UNKNOWN_LEVEL_COLOUR = "#d9d9d9"
SOURCE_COLOURS = {
    "private": "#b3de69",
    "public IPv4": "#fb8072",
    "IPv6": "#bc80bd",
    "other address": "#fccde5",  # address-field text that is no IP address, written "address:..." (pink)
    "host name": "#fdb462",
    "user": "#ffed6f",
    "agent or manager": "#8dd3c7",  # --use-host: one of ours, the host that raised the alert (teal, beside the locations' blues)
}
LOCATION_COLOURS = {"agent": "#80b1d3", "manager": "#bebada"}
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
# A node's DOT id is "role:value" (node_id), which the HTML page and docs/pictures.md rely on.
ROLES = ("source", "event", "target")  # who, what, where; nodes and links are written in this order
SHAPES = {"source": "ellipse", "event": "box", "target": "folder"}
# DejaVu Sans covers Latin, Greek, Cyrillic, Arabic, Hebrew and more (fonts-dejavu-core, which
# Graphviz pulls in); Graphviz's pango falls back glyph by glyph for the rest, e.g. to Noto Sans
# CJK (fonts-noto-cjk). In SVG, sans-serif is the browser's own fallback.
FONT = "DejaVu Sans,sans-serif"
LAYOUTS = ("auto", "circo", "dot", "neato", "fdp", "sfdp", "twopi")
# --layout=auto: dot, left to right (sources, their descriptions, the locations: each link one way),
# which draws who -> what -> where most legibly (docs/pictures.md), while its drawing stays within
# PICTURE_INCHES: it grows some 50 pixels a node of its tallest column, past 4,800 at about 100
# nodes. sfdp beyond, whose drawing stays square. dot is no slower than sfdp up to 400 nodes
# (bench/bench_render.py --auto-scan).
DOT_MAX_NODES = 100
DOT_MAX_LINKS = 200
# --max-nodes=N also caps the links at this many times N: a picture's links must stay few enough to
# follow; the page's cost Graphviz and the browser time.
LINKS_PER_NODE = {"picture": 2, "page": 4}
# Pictures larger than this square (inches) are scaled down to fit: 4,800 pixels a side at 96 dpi
# bound the bitmap (and Graphviz's memory), and a sparse circo drawing is mostly empty space.
PICTURE_INCHES = 50
# --render's formats by file name; .html is the interactive page, which embeds Graphviz's SVG.
RENDER_FORMATS = {".png": "png", ".svg": "svg", ".gif": "gif", ".pdf": "pdf", ".html": "svg"}
WRAP = 32  # description labels wrap at spaces after this many characters
LOCATION_DETAILS = ("file", "agent")  # --location-detail


def level_colour(level: int | None) -> str:
    """The fill of a description node.

    >>> level_colour(2), level_colour(5), level_colour(10), level_colour(15), level_colour(None)
    ('#6baed6', '#74c476', '#fd8d3c', '#ef3b2c', '#d9d9d9')
    """
    if level is None:
        return UNKNOWN_LEVEL_COLOUR
    return next(colour for floor, colour in LEVEL_COLOURS if level >= floor)


def source_kind(source: str) -> str:
    """Where a source came from, as its spelling says (see USER_MARK): an address field (private,
    public IPv4, IPv6; other address for text that is no IP address), an address --do-reverse named
    (host name), --use-user (user), --use-host (agent or manager, in parentheses: host_source).

    >>> [source_kind(s) for s in ("10.1.2.3", "203.0.113.5", "2001:db8::1", "fd00::1", "mail.example.org", "root")]
    ['private', 'public IPv4', 'IPv6', 'private', 'host name', 'user']
    >>> [source_kind(s) for s in ("(web1) 10.0.0.2", "(ossec-server)", "user:10.0.0.5", "address:(web1)")]
    ['agent or manager', 'agent or manager', 'user', 'other address']
    """
    if source.startswith(USER_MARK):
        return "user"
    if source.startswith(ADDRESS_MARK):
        return "other address"
    if source.startswith("("):
        return "agent or manager"
    if not is_ip_fast(source):  # the test that address_source and user_source make
        return "host name" if host_name_shaped(source) else "user"
    ip = ipaddress.ip_address(source)
    if in_networks(source, PRIVATE_NETWORKS):
        return "private"
    return "IPv6" if ip.version == 6 and getattr(ip, "ipv4_mapped", None) is None else "public IPv4"


def location_kind(location: str) -> str:
    return "agent" if location.startswith("(") else "manager"


def shown_text(value: str) -> str:
    """A value as a picture (or any page) shows it: visible(), cut beyond MAX_SHOWN characters."""
    return shortened(value, visible, MAX_SHOWN)


def dot_escape(text: str) -> str:
    r"""Text for inside a DOT double-quoted string, read by Graphviz as it is.

    The quote and the backslash are escaped, so that Graphviz's escapes (\N,
    \G, \L, \n) stay literal text, and ``&`` is written ``&amp;``: Graphviz
    reads entities in labels and tooltips (``&nbsp;``, ``&#1;``) and copies
    node names into SVG as they are, where an entity XML does not know makes
    the whole picture invalid.
    """
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")


def dot_text(value: str) -> str:
    r"""A value as text for inside a DOT double-quoted string: shown_text(), then dot_escape().

    >>> print(dot_text('say "hi" \\N &nbsp; \u202e\n'))
    say \"hi\" \\N &amp;nbsp; \\u202e\\u000a
    """
    return dot_escape(shown_text(value))


def dot_label(value: str, width: int = 0) -> str:
    """A quoted label, wrapped at spaces into centred lines when ``width`` is given."""
    text = shown_text(value)  # wrapped as shown: an escaped tab or newline does not break a line
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) if width else [text]
    return _dot_quoted([dot_escape(line) for line in lines])


def dot_lines(lines: Sequence[str]) -> str:
    """Values as the lines of one quoted label."""
    return _dot_quoted([dot_text(line) for line in lines])


def _dot_quoted(escaped: list[str]) -> str:
    return '"' + "\\n".join(escaped or [""]) + '"'


def location_lines(location: str) -> list[str]:
    """A location on two lines, the agent above its log: '(web1) 10.0.0.2' / '->/var/log/auth.log'."""
    agent, arrow, log_name = location.partition("->")
    return [agent, arrow + log_name] if arrow and agent else [location]


def node_id(role: str, name: str) -> str:
    """Nodes are named by role and value, so one string as source and as location stays two nodes."""
    return f'"{role}:{dot_text(name)}"'


def graph_id(*parts: str) -> str:
    """The ``id`` of a node (role, name) or an edge (role, name, role, name) in Graphviz's SVG.

    Graphviz puts it on the node's or edge's group as it is, where the HTML
    page finds each element without undoing Graphviz's rendering of names in
    ``<title>`` (backslashes doubled, runs of spaces, dashes as ``&#45;``). A hash, so that it is
    short and safe whatever the names hold; 80 bits, so that no two collide.

    >>> graph_id("source", "203.0.113.5")
    'g29bbe1f2558a3f09b967'
    """
    import hashlib

    return "g" + hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=10).hexdigest()


def scale(count: int, largest: int) -> float:
    """0 for a single alert, 1 for the largest count, logarithmic between."""
    return math.log(count) / math.log(largest) if largest > 1 else 0.0


def html_text(value: str) -> str:
    r"""Text for inside a Graphviz HTML-like label (the title and legend): shown_text(), markup as entities.

    >>> print(html_text('<b>&"x"</b>\n'))
    &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;\u000a
    """
    text = shown_text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;")


def plural(count: int, noun: str) -> str:
    """
    >>> plural(1, "alert"), plural(1234, "source")
    ('1 alert', '1,234 sources')
    """
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


class Graph(NamedTuple):
    """A picture's nodes and links, each with the tally of the alerts behind it."""

    nodes: dict[tuple[str, str], Tally]  # (role, value), the role one of ROLES
    links: dict[tuple[tuple[str, str], tuple[str, str]], Tally]  # (tail node, head node)

    @property
    def alerts(self) -> int:
        return sum(tally.alerts for (role, _), tally in self.nodes.items() if role == "source")

    def sorted_nodes(self) -> list[tuple[tuple[str, str], Tally]]:
        """Sources, then descriptions, then locations, each sorted by value: same input, same output."""
        return sorted(self.nodes.items(), key=lambda item: (ROLES.index(item[0][0]), item[0][1]))

    def sorted_links(self) -> list[tuple[tuple[tuple[str, str], tuple[str, str]], Tally]]:
        return sorted(self.links.items(), key=lambda item: (ROLES.index(item[0][0][0]), item[0][0][1], item[0][1][1]))


def graph_of(rows: Iterable[Row]) -> Graph:
    """Each triple is a path source -> description -> location; nodes and links add up the tallies of theirs."""
    graph = Graph({}, {})
    for (source, description, location), tally in rows:
        who, what, where = ("source", source), ("event", description), ("target", location)
        for node in (who, what, where):
            add_tally(graph.nodes, node, tally)
        add_tally(graph.links, (who, what), tally)
        add_tally(graph.links, (what, where), tally)
    return graph


def node_kind(role: str, value: str, level: int | None) -> tuple[str, str]:
    """A node's kind as its tooltip names it, and its fill colour."""
    if role == "source":
        kind = source_kind(value)
        return kind, SOURCE_COLOURS[kind]
    if role == "target":
        kind = location_kind(value)
        return kind, LOCATION_COLOURS[kind]
    return f"level {'unknown' if level is None else level}", level_colour(level)


def seen(tally: Tally) -> str:
    """When the alerts behind a node or link were seen, for its tooltip; nothing where the source did not say."""
    first, last = tally.first, tally.last
    if first is None or last is None or first == last:
        known = first if first is not None else last
        return "" if known is None else f", seen {utc(known)}"
    return f", first seen {utc(first)}, last seen {utc(last)}"


def node_tooltip(role: str, value: str, kind: str, tally: Tally) -> str:
    """
    >>> node_tooltip("source", "203.0.113.5", "public IPv4", Tally(3, 10, 1795745421, 1795749021))
    '203.0.113.5 (public IPv4): 3 alerts, highest level 10, first seen 2026-11-27 02:10:21 UTC, last seen 2026-11-27 03:10:21 UTC'
    >>> node_tooltip("event", "SQL injection attempt.", "level 6", Tally(1, 6))
    'SQL injection attempt. (level 6): 1 alert'
    """
    level = "" if role == "event" or tally.level is None else f", highest level {tally.level}"
    return f"{value} ({kind}): {plural(tally.alerts, 'alert')}{level}{seen(tally)}"


PRODUCERS = ("OSSEC", "Wazuh")
# ossec-dbd writes its manager's uname into server.information, ending in its name and version:
# "Linux ossec 5.10.0 ... x86_64 - OSSEC HIDS v2.9.0", "... - Wazuh v3.13.1".
_DBD_PRODUCER = re.compile(r" - (OSSEC HIDS|Wazuh) v[0-9]")


def producer_name(found: Iterable[str]) -> str:
    """Who wrote a source, for the title, from what its alerts say (json_producer, database_producer).

    >>> producer_name({"Wazuh"}), producer_name({"OSSEC", "Wazuh"}), producer_name({""}), producer_name(())
    ('Wazuh', 'OSSEC and Wazuh', 'OSSEC/Wazuh', 'OSSEC/Wazuh')
    """
    named = [name for name in PRODUCERS if name in set(found)]
    return " and ".join(named) if named else "OSSEC/Wazuh"


def database_producer(conn: pymysql.connections.Connection) -> str:
    """Who filled the database, as the managers' rows of its ``server`` table say (_DBD_PRODUCER);
    OSSEC/Wazuh when they do not. Asked only for a run that draws a title (titled)."""
    try:
        with conn.cursor() as cur:
            cur.execute(log_sql("SELECT information FROM server LIMIT 100"))
            rows = cur.fetchall()
    except pymysql.MySQLError as err:
        log.debug("who filled the database is not known: %s", mysql_message(err))
        return producer_name(())
    found = set()
    for (information,) in rows:
        text = information.decode("utf-8", "replace") if isinstance(information, bytes) else str(information)
        match = _DBD_PRODUCER.search(text)
        if match:
            found.add("OSSEC" if match.group(1).startswith("OSSEC") else "Wazuh")
    return producer_name(found)


def titled(settings: Settings) -> bool:
    """Whether the run draws a title: a picture, the DOT or the page."""
    return settings.render is not None or settings.format in ("dot", "html")


def source_description(settings: Settings) -> str:
    """What the alerts were read from, and who wrote them, for the title. alerts.log says nothing of
    who wrote it (OSSEC and Wazuh write the same lines), alerts.json and the database do."""
    producers = dict(settings.producers)
    if settings.database is not None:
        return f"{producers.get('database', 'OSSEC/Wazuh')} database {settings.database.describe()}"
    files = [
        f"{producers.get(kind, 'OSSEC/Wazuh')} {name} {', '.join('standard input' if path == '-' else path for path in paths)}"
        for kind, name, paths in (("log", "alerts.log", settings.alerts_logs), ("json", "alerts.json", settings.alerts_jsons))
        if paths
    ]
    return " and ".join(files)


def duration(seconds: int) -> str:
    """
    >>> duration(1800), duration(3600), duration(5400), duration(1209600), duration(90061)
    ('30 minutes', '1 hour', '90 minutes', '2 weeks', '90,061 seconds')
    """
    unit, size = max(((unit, size) for unit, size in INTERVAL_UNITS.items() if seconds % size == 0), key=lambda item: item[1])
    return plural(seconds // size, unit)


def window_title(window: Window) -> str:
    """The time window as it was asked for (--all, --time-interval, --start-time, --end-time), in UTC.

    >>> window_title(Window(1795744800, 1795746601, interval=1800))
    'the last 30 minutes, 2026-11-27 02:00:00 to 02:30:01 UTC'
    >>> window_title(Window(1795744800, 1795831200))
    '2026-11-27 02:00:00 to 2026-11-28 02:00:00 UTC'
    >>> window_title(Window(1795744800, 1795746601, to_now=True))
    'from 2026-11-27 02:00:00 UTC to now, 2026-11-27 02:30:01 UTC'
    """
    if window.start is None or window.end is None:
        return "all alerts"
    start, end = (datetime.fromtimestamp(t, UTC) for t in (window.start, window.end))
    shown = start.strftime("%Y-%m-%d %H:%M:%S")
    until = end.strftime("%H:%M:%S" if start.date() == end.date() else "%Y-%m-%d %H:%M:%S")
    if window.interval is not None:
        return f"the last {duration(window.interval)}, {shown} to {until} UTC"
    if window.to_now:
        return f"from {shown} UTC to now, {end.strftime('%Y-%m-%d %H:%M:%S')} UTC"
    return f"{shown} to {end.strftime('%Y-%m-%d %H:%M:%S')} UTC"


def graph_title(settings: Settings, graph: Graph) -> list[str]:
    """The picture's title, line by line: what was read, who wrote it and which window was asked for;
    what the graph holds, then what left alerts out, in the order it applied (the filters, one
    location per agent, --min-count, --top, --max-nodes); when and by what it was made."""
    sources = sum(1 for role, _ in graph.nodes if role == "source")
    holds = f"{plural(graph.alerts, 'alert')} from {plural(sources, 'source')}, {plural(len(graph.links), 'link')}"
    notes = settings.filters.describe()
    if settings.location_detail == "agent":
        notes.append("one location per agent")
    notes += settings.cuts
    made = datetime.fromtimestamp(settings.made_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"{source_description(settings)}: {window_title(settings.window)}",
        "; ".join([holds, *notes]),
        f"made {made} by {PROG} {__version__}",
    ]


def legend() -> list[tuple[str, list[tuple[str, str]]]]:
    """What each colour means, role by role: (heading, [(colour, meaning), ...])."""
    ceilings = [15, *(floor - 1 for floor, _ in LEVEL_COLOURS[:-1])]
    levels = [
        (colour, f"{floor}\u2013{ceiling}") for (floor, colour), ceiling in zip(LEVEL_COLOURS, ceilings, strict=True)
    ]
    return [
        (f"sources ({SHAPES['source']}s)", [(colour, kind) for kind, colour in SOURCE_COLOURS.items()]),
        (
            f"alert descriptions ({SHAPES['event']}es), by highest OSSEC level",
            [*levels, (UNKNOWN_LEVEL_COLOUR, "unknown")],
        ),
        (f"locations ({SHAPES['target']}s)", [(colour, kind) for kind, colour in LOCATION_COLOURS.items()]),
    ]


LEGEND_NOTE = (
    "links: source \u2192 alert description \u2192 location; size and line width: the alert count (logarithmic)"
)


SWATCH = "\u25a0"  # a colour's square in the legend
LABEL_POINTS = 11  # the label's text; its first line, squares and "made" line have sizes of their own


def graph_label(settings: Settings, graph: Graph, scale: float = 1.0) -> str:
    """The title above the legend, as one HTML-like label: a graph's own label is drawn beside the
    layout, never in it, whatever the engine. Each colour is a coloured square before its meaning.
    ``scale`` multiplies every font size (label_scale)."""

    def font(points: float, text: str, colour: str = "") -> str:
        coloured = f' COLOR="{colour}"' if colour else ""
        return f'<FONT{coloured} POINT-SIZE="{points * scale:g}">{text}</FONT>'

    first, holds, made = map(html_text, graph_title(settings, graph))
    rows = [font(14, first), font(LABEL_POINTS, holds)]
    for heading, entries in legend():
        swatches = "   ".join(f"{font(16, SWATCH, colour)} {html_text(text)}" for colour, text in entries)
        rows.append(font(LABEL_POINTS, f"{html_text(heading)}:  {swatches}"))
    rows += [font(LABEL_POINTS, html_text(LEGEND_NOTE)), font(9, made)]
    body = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{2 * scale:g}">{body}</TABLE>>'


# A picture's label is drawn at its own sizes up to this drawing width (points): about its own width
# and a half, which a screen shows whole. A wider drawing is seen smaller, and the label grows with
# it, so that it keeps about two thirds of the drawing's width, and Graphviz's scaling down of a picture
# past PICTURE_INCHES leaves it as large, seen whole, as on a picture that needs no scaling.
LABEL_WIDTH_POINTS = 960


def label_scale(width: float) -> float:
    """How much larger than its own sizes a picture's label is drawn, for a drawing ``width`` points wide.

    >>> label_scale(600), label_scale(1920), label_scale(9600)
    (1.0, 2.0, 10.0)
    """
    return max(1.0, width / LABEL_WIDTH_POINTS)


def title_attributes(settings: Settings, graph: Graph, scale: float = 1.0) -> str:
    """The graph attributes that put the title and legend above the drawing."""
    return f"label={graph_label(settings, graph, scale)}, labelloc=t"


def write_dot(rows: Iterable[Row], out: TextIO, settings: Settings, titled: bool = True) -> int:
    """A Graphviz digraph, source -> description -> location, same input same bytes; returns the triple count.

    Nodes are named "role:value" (node_id) with role source, event or target;
    their size, and the width of links, grow with the alert count; tooltips say
    the kind, count, highest level and, where the source says, first and last seen.
    ``titled=False`` leaves out the graph's label (title and legend): the page shows its own.
    """
    rows = list(rows)
    graph = graph_of(rows)
    largest = max([tally.alerts for tally in graph.nodes.values()] + [1])
    write = out.write
    write(f"// {PROG} {__version__}: source -> alert description -> location\n")
    write('digraph "alerts" {\n')
    label = f"{title_attributes(settings, graph)}, " if titled else ""
    write(
        f"  graph [{label}fontname={dot_label(FONT)}, fontsize={LABEL_POINTS}, rankdir=LR,"
        f' overlap=false, mindist=1.5, outputorder=edgesfirst, size="{PICTURE_INCHES},{PICTURE_INCHES}"];\n'
    )
    write(f"  node [fontname={dot_label(FONT)}, style=filled, penwidth=0];\n")
    write('  edge [color="#4d4d4d80", arrowsize=0.6];\n')
    if not rows:  # a quiet interval still gives a readable picture
        write('  "empty" [label="no alerts", shape=plaintext, style=""];\n')
    growth = {"source": 8, "event": 6, "target": 8}  # font points added for the largest count
    for (role, value), tally in graph.sorted_nodes():
        kind, colour = node_kind(role, value, tally.level)
        if role == "event":
            label = dot_label(value, WRAP)
        elif role == "target":
            label = dot_lines(location_lines(value))
        else:
            label = dot_label(value)
        write(
            f'  {node_id(role, value)} [label={label}, shape={SHAPES[role]}, fillcolor="{colour}", '
            f"fontsize={10 + growth[role] * scale(tally.alerts, largest):.1f}, "
            f"id={graph_id(role, value)}, tooltip={dot_label(node_tooltip(role, value, kind, tally))}];\n"
        )
    for ((tail_role, tail), (head_role, head)), tally in graph.sorted_links():
        write(
            f"  {node_id(tail_role, tail)} -> {node_id(head_role, head)} "
            f"[penwidth={1 + 5 * scale(tally.alerts, largest):.2f}, "
            f"id={graph_id(tail_role, tail, head_role, head)}, "
            f"tooltip={dot_label(plural(tally.alerts, 'alert') + seen(tally))}];\n"
        )
    write("}\n")
    return len(rows)


def choose_layout(layout: str, graph: Graph) -> str:
    """The Graphviz engine for a picture: the one --layout names, or for auto dot while its drawing
    stays within PICTURE_INCHES (DOT_MAX_NODES, DOT_MAX_LINKS) and sfdp beyond; --debug says which and why."""
    if layout != "auto":
        return layout
    nodes, links = len(graph.nodes), len(graph.links)
    engine = "dot" if nodes <= DOT_MAX_NODES and links <= DOT_MAX_LINKS else "sfdp"
    log.debug(
        "layout: %s (--layout=auto: %d nodes, %d links; dot up to %d nodes and %d links)",
        engine,
        nodes,
        links,
        DOT_MAX_NODES,
        DOT_MAX_LINKS,
    )
    return engine


# Where Graphviz's laid-out DOT says how large the drawing is: its bounding box, the first attribute
# of the graph's first statement, before any node (whose names come from the alerts) is written.
_BOUNDING_BOX = re.compile(r'\A[^\n]*\{\s*graph \[bb="([-0-9.e+]+),([-0-9.e+]+),([-0-9.e+]+),([-0-9.e+]+)"')


def render_picture(rows: list[Row], path: str, settings: Settings) -> None:
    """Draw a picture of ``rows`` into ``path``, in two passes of Graphviz: the layout engine lays the
    graph out without its label (-Tdot), then the label, its fonts scaled to the drawing's width
    (label_scale), goes above it and ``neato -n2`` draws both as laid out. One pass would draw the
    label at its own size in a drawing of any size: tiny in a large one, which Graphviz also scales
    down to fit PICTURE_INCHES. Both passes share --render-timeout; the picture is written as
    AtomicOutput writes, its format from the name's extension.

    Graphviz never outlives the call: it is killed on a failure, on the timeout and on a signal,
    and (on Linux) by the kernel should this process die first, even of SIGKILL (run_graphviz).
    """
    graph = graph_of(rows)
    layout = choose_layout(settings.layout, graph)
    deadline = time.monotonic() + settings.render_timeout
    untitled = io.StringIO()
    write_dot(rows, untitled, settings, titled=False)
    picture = AtomicOutput(path, "--render")  # before the layout: a picture that cannot be written fails at once
    try:
        out = picture.open_binary()
        drawn = graphviz_output(graphviz_command(layout, "dot", path), untitled.getvalue(), layout, settings.render_timeout)
        laid_out = drawn.decode("utf-8", "surrogateescape")
        box = _BOUNDING_BOX.match(laid_out)
        width = float(box.group(3)) - float(box.group(1)) if box else 0.0
        label = title_attributes(settings, graph, label_scale(width))
        with_title = f"{laid_out.rstrip().removesuffix('}')}\tgraph [{label}];\n}}\n".encode("utf-8", "surrogateescape")
        command = [*graphviz_command("neato", RENDER_FORMATS[os.path.splitext(path)[1].lower()], path), "-n2"]
        run_graphviz(command, with_title, out, layout, settings.render_timeout, max(deadline - time.monotonic(), 0.001))
        picture.commit()
    finally:
        picture.discard()


def graphviz_output(command: list[str], dot: str, layout: str, timeout: float) -> bytes:
    """What Graphviz writes (-Tdot, -Tsvg), through a temporary file that has no name, so that
    nothing is left behind whatever ends the run."""
    import tempfile

    with tempfile.TemporaryFile() as written:
        run_graphviz(command, dot.encode("utf-8"), written, layout, timeout)
        written.seek(0)
        return written.read()


def graphviz_command(layout: str, output_format: str, drawing: str) -> list[str]:
    """The command that draws with Graphviz's ``layout`` engine; a Failure naming ``drawing`` when it is missing."""
    import shutil

    executable = shutil.which(layout)
    if executable is None:
        raise Failure(
            f"cannot render {drawing}: Graphviz's '{layout}' command is not installed "
            "(Debian/Ubuntu: apt-get install graphviz)"
        )
    return [executable, f"-T{output_format}"]


# The longest wait subprocess can express (poll() takes milliseconds in a C int): a longer
# --render-timeout waits this long, some 24 days, instead of failing with OverflowError.
LONGEST_WAIT = (2**31 - 1) / 1000


def run_graphviz(command: list[str], dot: bytes, out: BinaryIO, layout: str, timeout: float, left: float | None = None) -> None:
    """Run Graphviz on ``dot``, its picture written to ``out``, for at most ``left`` of the run's
    --render-timeout ``timeout`` seconds (all of them by default); its first error line becomes a Failure."""
    import subprocess

    graphviz = None
    try:
        with signals_held():  # a signal while Popen() starts it would leave a Graphviz no one holds
            graphviz = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, preexec_fn=graphviz_child()
            )
        _, errors = graphviz.communicate(dot, timeout=min(timeout if left is None else left, LONGEST_WAIT))
    except subprocess.TimeoutExpired:
        raise Failure(
            f"Graphviz '{layout}' did not finish within {timeout:g} s; a smaller graph (--top, --min-count) "
            "or --layout=sfdp draws faster"
        ) from None
    finally:
        if graphviz is not None and graphviz.returncode is None:  # a timeout, a signal, any error
            graphviz.kill()
            graphviz.communicate()  # reaped, its pipes closed
    if graphviz.returncode != 0:
        message = errors.decode("utf-8", "replace").strip().splitlines()
        raise Failure(f"Graphviz '{layout}' failed: {message[0] if message else f'exit status {graphviz.returncode}'}")


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def graphviz_child() -> Callable[[], None]:
    """What Graphviz's process runs before exec: it takes again the signals that run_graphviz()
    held back while starting it, and on Linux has the kernel kill it (SIGKILL) when we die.

    The kernel sends that signal when the *thread* that started the child
    ends, not the process: run_graphviz() starts Graphviz and waits for it in
    the same thread, which therefore outlives it. The function runs between
    fork and exec (preexec_fn), where nothing but simple system calls is safe
    should other threads exist (none does by then: the DNS pool has ended):
    prctl() through a function looked up beforehand, and a check that we did
    not die before it (then no signal would ever come).
    """
    parent = os.getpid()
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
        death_signal = ctypes.c_ulong(signal.SIGKILL)

    def in_child() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, death_signal)
            if os.getppid() != parent:
                os._exit(1)

    return in_child


def node_limits(settings: Settings, kind: str) -> tuple[int, int]:
    """The nodes and links a ``kind`` of graph ("picture" or "page") may draw: --max-nodes, or the
    kind's default (0, 0: no limit)."""
    nodes = settings.max_nodes
    if nodes is None:
        nodes = PAGE_MAX_NODES if kind == "page" else PICTURE_MAX_NODES
    return nodes, LINKS_PER_NODE[kind] * nodes


Picture = tuple[list[Row], Settings]  # what a picture draws, and its settings with the cut for its title


def fitted(rows: list[Row], settings: Settings) -> Picture:
    """The rows a picture (--render FILE.png, --format=dot) draws (--max-nodes), the cut said in its title."""
    drawn, cut = fit_picture(rows, *node_limits(settings, "picture"), "the picture")
    return drawn, settings._replace(cuts=(*settings.cuts, cut)) if cut else settings


def needs_picture(settings: Settings) -> bool:
    """Whether the run draws a picture: --render into anything but the page, or --format=dot text."""
    return settings.format == "dot" or (settings.render is not None and not is_page(settings.render))


def draw(path: str, rows: list[Row], settings: Settings, picture: Picture | None) -> list[Row]:
    """Draw the graph into ``path``: the ``picture`` (fitted()) by Graphviz, or the interactive page
    of every row for a name in .html (its graph draws those that fit, its table and search hold
    them all). Returns the rows it holds."""
    if is_page(path):
        write_page(rows, path, settings)
        return rows
    assert picture is not None
    rows, settings = picture
    render_picture(rows, path, settings)
    return rows


# ---------------------------------------------------------------------------
# Output: the interactive page (--format=html, --render=FILE.html)
# ---------------------------------------------------------------------------
# One self-contained file: Graphviz's SVG of the same graph, rebuilt from an allowlist of
# elements and attributes; the names and counts as JSON in a block that never runs; the script
# and style below, the only ones a Content-Security-Policy lets run. Every name came from an
# attacker in part: it reaches the page only inside that JSON block, and the script inserts it
# with textContent. docs/html.md says what the page may and may not do.

PAGE_SUFFIX = ".html"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
# What the page keeps of Graphviz's SVG: shapes and text positions, nothing that can link, load or run.
SVG_SHAPES = frozenset({"polygon", "polyline", "ellipse", "path"})
_SVG_VALUE = re.compile(r"[A-Za-z0-9 .,()+\-]*\Z")  # numbers, path commands, transform functions, keywords
_SVG_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}\Z|[A-Za-z]+\Z")  # never url(...)
_SVG_FONT = re.compile(r"[A-Za-z0-9 ,.\-]*\Z")
SVG_ATTRIBUTES = {
    **dict.fromkeys(("fill", "stroke"), _SVG_COLOUR),
    **dict.fromkeys(("font-family",), _SVG_FONT),
    **dict.fromkeys(
        (
            "viewBox", "transform", "points", "d", "x", "y", "cx", "cy", "rx", "ry", "stroke-width",
            "stroke-opacity", "fill-opacity", "stroke-dasharray", "font-size", "font-weight", "font-style",
            "text-anchor",
        ),
        _SVG_VALUE,
    ),
}  # fmt: skip
# Graphviz's SVG is read whatever it holds: dot_escape keeps entities out of the names it is given, and
# what XML would still refuse is neutralised before parsing (a stray "&", a reference to a character
# XML forbids, the character itself), so that no name, and no Graphviz version, can stop a page.
_XML_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6})|(amp|lt|gt|quot|apos));|&")
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def is_xml_char(code: int) -> bool:
    """Whether XML 1.0 allows this character (its Char production)."""
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _xml_reference(match: re.Match[str]) -> str:
    decimal, hexadecimal, named = match.groups()
    if named:
        return match.group(0)
    if (decimal or hexadecimal) and is_xml_char(int(decimal, 10) if decimal else int(hexadecimal, 16)):
        return match.group(0)
    return "&amp;" + match.group(0)[1:]


def well_formed(svg: bytes) -> str:
    r"""Graphviz's SVG made well-formed XML: what it passes through from labels becomes text.

    >>> well_formed(b"<t>&nbsp; &amp; &#1; &#65; \x01 &</t>")
    '<t>&amp;nbsp; &amp; &amp;#1; &#65; \ufffd &amp;</t>'
    """
    text = svg.decode("utf-8", "replace")
    return _XML_FORBIDDEN.sub("\ufffd", _XML_REFERENCE.sub(_xml_reference, text))


class PageGraph:
    """The graph as the page numbers it: nodes (sources, then descriptions, then locations) and edges.

    A node's index is its place in the page's JSON and its element's id in the
    page's SVG (``n7``); an edge's id names its two nodes (``e7-12``): the script
    finds the edges from the triples. Graphviz's elements are found by graph_id.
    The page holds every row; its SVG draws those of ``drawn`` (--max-nodes).
    """

    def __init__(self, rows: Sequence[Row], drawn: Sequence[Row]) -> None:
        self.graph = graph_of(rows)
        self.drawn = graph_of(drawn) if len(drawn) < len(rows) else self.graph
        self.nodes = {node: index for index, (node, _) in enumerate(self.graph.sorted_nodes())}

    def svg_ids(self) -> dict[str, str]:
        """{the id write_dot gave an element: the page's id for it}, for the elements drawn."""
        ids = {graph_id(*node): f"n{self.nodes[node]}" for node in self.drawn.nodes}
        for tail, head in self.drawn.links:
            ids[graph_id(*tail, *head)] = f"e{self.nodes[tail]}-{self.nodes[head]}"
        return ids


def is_page(path: str) -> bool:
    """Whether --render names the interactive page."""
    return os.path.splitext(path)[1].lower() == PAGE_SUFFIX


def graphviz_svg(rows: list[Row], settings: Settings, page: str) -> bytes:
    """Graphviz's SVG of the graph without its label (the page shows its own title and legend)."""
    dot = io.StringIO()
    write_dot(rows, dot, settings, titled=False)
    layout = choose_layout(settings.layout, graph_of(rows))
    command = graphviz_command(layout, RENDER_FORMATS[PAGE_SUFFIX], page)
    return graphviz_output(command, dot.getvalue(), layout, settings.render_timeout)


def clean_svg(svg: bytes, ids: dict[str, str]) -> tuple[str, list[str]]:
    """Graphviz's SVG rebuilt from an allowlist, and the text of its labels, in order.

    Kept: the svg root's viewBox, groups, shapes and text elements with the
    attributes of SVG_ATTRIBUTES whose values have the expected form. Dropped:
    titles, links (Graphviz's tooltips), everything else. Nodes and edges of
    ``ids`` get the page's id and class ``n`` or ``e``. Text elements are left
    empty: their text travels with the other data, for the script to insert.
    """
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(well_formed(svg))
    except ElementTree.ParseError as err:
        raise Failure(f"cannot read Graphviz's SVG: {err}") from None
    parts: list[str] = []
    labels: list[str] = []

    def attributes(element: ElementTree.Element) -> str:
        kept = [
            f' {name}="{value}"'
            for name, value in element.attrib.items()
            if name in SVG_ATTRIBUTES and SVG_ATTRIBUTES[name].match(value)
        ]
        return "".join(kept)

    def rebuild(element: ElementTree.Element) -> None:
        tag = element.tag.removeprefix(SVG_NAMESPACE)
        if tag == "text":
            parts.append(f"<text{attributes(element)}></text>")
            labels.append("".join(element.itertext()))
        elif tag in SVG_SHAPES:
            parts.append(f"<{tag}{attributes(element)}/>")
        elif tag == "a" or (tag == "g" and "class" not in element.attrib):  # Graphviz's wrappers for tooltips
            for child in element:
                rebuild(child)
        elif tag == "g":
            page_id = ids.get(element.get("id", ""))
            kind = element.get("class", "")
            if page_id is not None:  # a node (n7) or an edge (e12) of the page
                kind = page_id[0]
            elif kind not in ("graph", "node", "edge", "cluster"):
                kind = "other"
            parts.append(f'<g class="{kind}"' + (f' id="{page_id}"' if page_id else "") + f"{attributes(element)}>")
            for child in element:
                rebuild(child)
            parts.append("</g>")

    parts.append(f"<svg{attributes(root)}>")
    for child in root:
        rebuild(child)
    parts.append("</svg>")
    return "".join(parts), labels


def page_data(rows: list[Row], graph: PageGraph, labels: list[str], settings: Settings, cut: str | None) -> dict[str, Any]:
    """What the page's script reads: the picture's title and legend, the labels of the SVG, the
    nodes (drawn or not), the triples, and what --max-nodes left out of the graph.

    The title's second line starts with what the graph holds ("72 alerts from 6 sources, 39
    links"): the page counts that itself, for the alerts the level filter shows, and gets the rest.
    Written compactly, as the page holds every triple (20,000 sources a day: 4 MB): a node's kind
    is an index into "kinds", and times are seconds after "epoch", the earliest of them.
    """
    first, holds_and_notes, made = graph_title(settings, graph.graph)
    nodes = graph.nodes
    kinds: dict[str, int] = {}
    times = [time for _, tally in rows for time in (tally.first, tally.last) if time is not None]
    epoch = min(times, default=0)

    def since(time: int | None) -> int | None:
        return None if time is None else time - epoch

    return {
        "title": first,
        "notes": holds_and_notes.partition("; ")[2],
        "made": made,
        "cut": cut,  # "busiest 866 of 3,919 sources (--max-nodes=1000)": the sources the graph draws
        "labels": labels,
        "nodes": [
            (
                ROLES.index(role),
                name,
                kinds.setdefault(node_kind(role, name, tally.level)[0], len(kinds)),
                int((role, name) in graph.drawn.nodes),
            )
            for (role, name), tally in graph.graph.sorted_nodes()
        ],
        "kinds": list(kinds),
        "epoch": epoch,
        "triples": [
            (
                nodes["source", source],
                nodes["event", description],
                nodes["target", location],
                tally.alerts,
                tally.level,
                since(tally.first),
                since(tally.last),
            )
            for (source, description, location), tally in rows
        ],
        "legend": legend(),
        "legend_note": LEGEND_NOTE,
    }


def script_json(value: Any) -> str:
    r"""JSON for a ``<script type="application/json">`` block, which nothing in it can end or run.

    ASCII only (so U+2028, U+2029 and lone surrogates are escaped too), and
    ``<``, ``>`` and ``&`` escaped: no ``</script>``, no ``<!--``.

    >>> script_json(["</script><!-- & \u2028"])
    '["\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"]'
    """
    import json

    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that lets this one inline script or style run."""
    import base64
    import hashlib

    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_markup(svg: str, data: dict[str, Any]) -> str:
    """The whole page: nothing to load, and only its own script and style may run."""
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {csp_hash(PAGE_SCRIPT)}",
            f"style-src {csp_hash(PAGE_STYLE)}",
            "base-uri 'none'",
            "form-action 'none'",
            "require-trusted-types-for 'script'",  # where supported, assigning HTML to innerHTML throws
            "trusted-types 'none'",
        )
    )
    return PAGE_HTML.format(
        policy=policy,
        generator=f"{PROG} {__version__}",
        style=PAGE_STYLE,
        svg=svg,
        data=script_json(data),
        script=PAGE_SCRIPT,
    )


def page_html(rows: list[Row], settings: Settings, page: str) -> str:
    """The interactive page (docs/html.md): every row in its data, the graph of those that fit --max-nodes."""
    drawn, cut = fit_picture(rows, *node_limits(settings, "page"), "the page's graph")
    if cut:
        log.debug(
            "--max-nodes left %d alert(s) out of the page's graph; its table and search hold them",
            alerts_in(rows) - alerts_in(drawn),
        )
    graph = PageGraph(rows, drawn)
    svg, labels = clean_svg(graphviz_svg(drawn, settings, page), graph.svg_ids())
    return page_markup(svg, page_data(rows, graph, labels, settings, cut))


def write_html(rows: Iterable[Row], out: TextIO, settings: Settings) -> int:
    """--format=html: the page; returns the triple count."""
    rows = list(rows)
    out.write(page_html(rows, settings, f"the page {settings.output or 'on standard output'}"))
    return len(rows)


def write_page(rows: list[Row], path: str, settings: Settings) -> None:
    """--render=FILE.html: the page, written atomically once Graphviz has drawn it."""
    text = page_html(rows, settings, f"the page {path}")
    page = AtomicOutput(path, "--render")
    try:
        page.open_text().write(text)
        page.commit()
    finally:
        page.discard()


# The page itself. Its script and style are fixed text: the Content-Security-Policy names their
# hashes, and the data reaches them only through the JSON block.
PAGE_HTML = """\
<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{generator}">
<title>OSSEC alerts</title>
<style>{style}</style>
</head>
<body>
<header>
<h1 id="title"></h1>
<p id="subtitle"></p>
<noscript><p>This page needs JavaScript to show its graph; its data is in the script block at its end.</p></noscript>
<div class="bar">
<label>Search <input id="q" type="search" placeholder="IP, user, description, location" autocomplete="off" spellcheck="false"></label>
<button id="prev" type="button" title="previous match (Shift+Enter)">&#9664;</button>
<button id="next" type="button" title="next match (Enter)">&#9654;</button>
<span id="hits" aria-live="polite"></span>
<label title="alerts of unknown level are always shown">Show <select id="level"></select></label>
<button id="fit" type="button" title="the whole graph">Fit</button>
<button id="reset" type="button" title="no selection, no search, all levels (Esc clears the selection)">Reset</button>
</div>
</header>
<main>
<div id="graph"><div id="stage">{svg}</div></div>
<aside>
<section id="panel" aria-live="polite">
<h2 id="sel-kind"></h2>
<div id="sel-name" tabindex="-1"></div>
<p id="sel-summary"></p>
<p id="sel-note" class="note" hidden></p>
<div id="sel-lists"></div>
</section>
<section id="legend">
<h2>Legend</h2>
<div id="legend-list"></div>
<p id="legend-note"></p>
<p>Drag to pan, turn the wheel to zoom; Fit shows the whole graph.</p>
</section>
</aside>
</main>
<section id="triples">
<h2>Triples (source, description, location): <span id="table-count"></span></h2>
<p id="table-note" class="note" hidden></p>
<table>
<thead><tr id="columns"></tr></thead>
<tbody id="rows"></tbody>
</table>
<button id="more" type="button" hidden>Show more</button>
</section>
<div id="tip" role="tooltip" hidden></div>
<script type="application/json" id="data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

PAGE_STYLE = r"""
:root { color: #222; background: #fff; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; }
header { padding: 8px 12px 6px; border-bottom: 1px solid #ddd; }
h1 { margin: 0 0 6px; font-size: 14px; font-weight: 600; overflow-wrap: anywhere; }
h2 { margin: 0 0 4px; font-size: 13px; }
h3 { margin: 10px 0 4px; font-size: 12px; }
.bar { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; }
#q { width: 24em; }
#hits { min-width: 7em; color: #555; }
main { display: flex; height: 78vh; min-height: 320px; border-bottom: 1px solid #ddd; }
#graph { position: relative; flex: 1; min-width: 0; overflow: hidden; cursor: grab; touch-action: none; user-select: none; }
#stage { position: absolute; top: 0; left: 0; width: 100%; height: 100%; transform-origin: 0 0; will-change: transform; }
#stage > svg { position: absolute; top: 0; left: 0; width: 100%; height: 100%; display: block; }
#above { pointer-events: none; will-change: transform; }
#veil { fill: #fff; fill-rule: evenodd; }
#veil.dim { fill-opacity: 0.6; }
#veil.fade { fill-opacity: 0.85; }
#links { fill: none; stroke: #222; stroke-opacity: 0.9; }
#heads { fill: #222; }
#matches, #selected { fill: none; stroke-linejoin: round; }
#matches { stroke: #e6007e; stroke-width: 4px; }
#selected { stroke: #000; stroke-width: 5px; }
aside { width: 480px; max-width: 45vw; overflow: auto; padding: 8px 12px; border-left: 1px solid #ddd; }
#sel-name { font-weight: 600; overflow-wrap: anywhere; unicode-bidi: isolate; }
#sel-summary { color: #444; }
.note { padding: 4px 6px; border-left: 3px solid #fd8d3c; background: #fff7ec; }
#legend-list ul { margin: 0 0 4px; padding: 0; list-style: none; }
#legend-list li { display: inline-block; margin-right: 10px; }
#legend-note { color: #444; }
#subtitle { margin: 0 0 6px; color: #444; overflow-wrap: anywhere; }
#subtitle:empty { display: none; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; border: 1px solid #999; vertical-align: -1px; }
#triples { padding: 8px 12px; }
table { width: 100%; border-collapse: collapse; font-size: 12px; table-layout: fixed; }
#triples th:nth-child(1) { width: 17%; }
#triples th:nth-child(4) { width: 4.5em; }
#triples th:nth-child(5) { width: 3.5em; }
#triples th:nth-child(n+6) { width: 11em; }
aside th:nth-child(2) { width: 3.5em; }
aside th:nth-child(3) { width: 3em; }
aside th:nth-child(4) { width: 10.5em; }
th, td { padding: 2px 6px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; overflow-wrap: anywhere; unicode-bidi: isolate; }
th button { padding: 0; border: 0; background: none; font: inherit; font-weight: 600; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \25B2"; }
th[aria-sort="descending"] button::after { content: " \25BC"; }
th { white-space: nowrap; }
td.num, td.time { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
aside table { font-size: 11px; }
aside th { white-space: normal; }
.line { display: block; }
a.pick { color: #0645ad; text-decoration: none; }
a.pick:hover { text-decoration: underline; }
a.pick + a.pick { color: #4a5f8c; }
a.pick:focus-visible, #sel-name:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible {
  outline: 2px solid #e6007e; outline-offset: 1px; }
.arrow { white-space: nowrap; }
tr.undrawn a.pick { color: #6b7793; }
.tag { display: inline-block; margin-top: 1px; padding: 0 3px; border: 1px solid #bbb; border-radius: 2px; color: #666; font-size: 85%; white-space: nowrap; }
.ctl { margin: 0 1px; padding: 0 2px; border: 1px solid #c00; border-radius: 2px; color: #c00; font-size: 85%; }
#tip { position: fixed; z-index: 2; max-width: 420px; padding: 4px 7px; border: 1px solid #999; background: #fffff4;
  box-shadow: 0 1px 4px #0003; pointer-events: none; overflow-wrap: anywhere; unicode-bidi: isolate; }
#tip strong { display: block; }
g.n { cursor: pointer; }
g.off { visibility: hidden; } /* not display: none, which lays the whole graph out again */
.more, #more { margin-top: 6px; }
"""

PAGE_SCRIPT = r"""
"use strict";
(() => {
  performance.mark("a2a-start");
  const byId = (id) => document.getElementById(id);
  const data = JSON.parse(byId("data").textContent);
  const ROLE = ["source", "description", "location"];
  const PAGE = 50; // table rows shown at a time: every update stays fast whatever the graph (100: 40 ms more a click)
  const PANEL_PAGE = 50; // rows of each list of the side panel shown at a time, for the same reason
  const area = byId("graph");
  const stage = byId("stage");
  const svg = stage.querySelector("svg");
  const tip = byId("tip");

  // Text from the data is only ever inserted as text. Invisible and direction-changing
  // characters are shown as a boxed code point, so that a name cannot hide or reorder text.
  const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
  const codePoint = (ch) => "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  function put(parent, text) {
    let at = 0;
    for (const match of text.matchAll(HIDDEN)) {
      parent.append(text.slice(at, match.index));
      const box = document.createElement("span");
      box.className = "ctl";
      box.textContent = codePoint(match[0]);
      parent.append(box);
      at = match.index + match[0].length;
    }
    parent.append(text.slice(at));
    return parent;
  }
  // A name may wrap after "->" and after "/" (a location, a path, a URL), never inside "->".
  const BREAKS = /->|\//g;
  function putName(parent, text) {
    let at = 0;
    for (const match of text.matchAll(BREAKS)) {
      put(parent, text.slice(at, match.index));
      if (match[0] === "->") {
        const arrow = document.createElement("span");
        arrow.className = "arrow";
        arrow.textContent = "->";
        parent.append(arrow);
      } else parent.append("/");
      parent.append(document.createElement("wbr"));
      at = match.index + match[0].length;
    }
    return put(parent, text.slice(at));
  }
  const plain = (text) => text.replace(HIDDEN, (ch) => "[" + codePoint(ch) + "]");
  function element(tag, text, className) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) put(made, String(text));
    return made;
  }
  const numbers = new Intl.NumberFormat("en-US"); // made once: toLocaleString makes one a call (20 ms for a busy click)
  const number = (n) => numbers.format(n);
  const plural = (n, noun) => `${number(n)} ${noun}${n === 1 ? "" : "s"}`;
  const level = (l) => (l === null ? "unknown" : String(l));
  // Sources bound their times (alert files to the year 5138), far inside what a Date holds.
  const when = (t) => (t === null ? "unknown" : new Date(t * 1000).toISOString().slice(0, 19).replace("T", " "));

  document.title = plain(data.title);
  byId("title").textContent = plain(data.title);
  if (svg) svg.querySelectorAll("text").forEach((text, i) => { text.textContent = plain(data.labels[i] ?? ""); });

  const nodes = data.nodes.map(([role, name, kind, drawn], i) => ({
    i, role, name, kind: data.kinds[kind], drawn: drawn === 1, key: ROLE[role] + ":" + name, low: name.toLowerCase(), triples: [],
    el: drawn === 1 ? byId("n" + i) : null, alive: true, hit: false,
  }));
  const since = (t) => (t === null ? null : data.epoch + t);
  const triples = data.triples.map(([s, d, l, count, lvl, first, last]) => (
    { s, d, l, count, level: lvl, first: since(first), last: since(last), drawn: nodes[s].drawn }));
  // The edges, from the triples: "7-12" links node 7 to node 12, drawn as the element e7-12.
  const edgeOf = new Map();
  function edge(a, b) {
    const key = a + "-" + b;
    if (!edgeOf.has(key)) edgeOf.set(key, { a, b, el: byId("e" + key), triples: [] });
    return edgeOf.get(key);
  }
  for (const t of triples) {
    for (const n of [t.s, t.d, t.l]) nodes[n].triples.push(t);
    t.edges = [edge(t.s, t.d), edge(t.d, t.l)];
    for (const e of t.edges) e.triples.push(t);
  }
  const edges = [...edgeOf.values()];
  const wellFormed = (s) => (s.toWellFormed ? s.toWellFormed() : s);
  const nodeByKey = new Map();
  for (const n of nodes) if (!nodeByKey.has(wellFormed(n.key))) nodeByKey.set(wellFormed(n.key), n);
  const nodeOf = (el) => nodes[Number(el.id.slice(1))];
  function fragment(node) {
    try { return "#" + encodeURIComponent(wellFormed(node.key)); } catch (err) { return ""; }
  }
  const undrawn = nodes.filter((n) => n.role === 0 && !n.drawn).length;

  const state = { minLevel: null, query: "", selected: null, sort: "count", descending: true, limit: PAGE, hits: [], current: -1 };
  const panelLimits = new Map(); // rows shown of each list of the side panel, until the next selection
  const kept = (t) => state.minLevel === null || t.level === null || t.level >= state.minLevel;

  function tally(list, everyLevel = false) {
    const sum = { count: 0, level: null, first: null, last: null, drawn: false };
    for (const t of list) {
      if (!everyLevel && !kept(t)) continue;
      sum.count += t.count;
      if (t.level !== null && (sum.level === null || t.level > sum.level)) sum.level = t.level;
      if (t.first !== null && (sum.first === null || t.first < sum.first)) sum.first = t.first;
      if (t.last !== null && (sum.last === null || t.last > sum.last)) sum.last = t.last;
      if (t.drawn) sum.drawn = true;
    }
    return sum;
  }
  const alerts = (sum) => `${plural(sum.count, "alert")}, highest level ${level(sum.level)}`;
  const atLevel = () => `level ${state.minLevel} and up`;

  // What the page holds at the level shown, in the words of the picture's title.
  function showTitle() {
    let count = 0;
    const sources = new Set();
    for (const t of triples) {
      if (!kept(t)) continue;
      count += t.count;
      sources.add(t.s);
    }
    const links = edges.filter((e) => e.triples.some(kept)).length;
    const holds = `${plural(count, "alert")} from ${plural(sources.size, "source")}, ${plural(links, "link")}`;
    const parts = [(state.minLevel === null ? "" : `at ${atLevel()}: `) + holds];
    if (data.notes) parts.push(data.notes);
    if (data.cut) parts.push(`the graph draws the ${data.cut}`);
    byId("subtitle").textContent = plain(parts.join("; ") + " \u00b7 " + data.made);
  }

  // The graph itself changes only with the level filter (hide). What a click or a search shows is
  // drawn above it, in a layer of its own: a white veil with holes where the nodes to show are, and
  // over the veil their links and rings around the selected node and the matches. That is a
  // handful of paths whatever their number: copies of a thousand elements took 50 ms and more to
  // draw, and restyling the graph's own elements more still.
  let hidden = new Set();
  function hide(elements) {
    for (const el of hidden) if (!elements.has(el)) el.classList.remove("off");
    for (const el of elements) if (!hidden.has(el)) el.classList.add("off");
    hidden = elements;
  }
  const drawing = svg ? svg.querySelector("g.graph") : null;
  const above = svg ? document.createElementNS(svg.namespaceURI, "svg") : null;
  const layer = {}; // the paths drawn above the graph, by name
  if (svg) {
    above.id = "above";
    above.setAttribute("aria-hidden", "true");
    above.setAttribute("viewBox", svg.getAttribute("viewBox"));
    const inGraph = document.createElementNS(svg.namespaceURI, "g");
    if (drawing) inGraph.setAttribute("transform", drawing.getAttribute("transform"));
    for (const name of ["veil", "links", "heads", "matches", "selected"]) {
      layer[name] = document.createElementNS(svg.namespaceURI, name === "links" ? "g" : "path");
      layer[name].id = name;
      inGraph.append(layer[name]);
    }
    above.append(inGraph);
    svg.after(above);
  }
  // The outline of an element's shapes (Graphviz draws a node as a polygon or an ellipse, an edge's
  // head as a polygon), as path data in the graph's coordinates.
  function outline(el) {
    let d = "";
    for (const shape of el.children) {
      const at = (name) => Number(shape.getAttribute(name));
      if (shape.tagName === "polygon") d += "M" + shape.getAttribute("points") + "Z"; // pairs after M: lines to them
      else if (shape.tagName === "ellipse") {
        const [cx, cy, rx, ry] = ["cx", "cy", "rx", "ry"].map(at);
        d += `M${cx - rx},${cy}a${rx},${ry} 0 1,0 ${2 * rx},0a${rx},${ry} 0 1,0 ${-2 * rx},0Z`;
      }
    }
    return d;
  }
  const outlines = new Map();
  const outlineOf = (el) => outlines.get(el) ?? outlines.set(el, outline(el)).get(el);
  let covered = null;
  function cover() { // a rectangle over the whole graph, with room to spare
    if (covered === null) {
      const box = drawing ? drawing.getBBox() : { x: 0, y: 0, width: 0, height: 0 };
      covered = `M${box.x - 1e4},${box.y - 1e4}h${box.width + 2e4}v${box.height + 2e4}h${-box.width - 2e4}Z`;
    }
    return covered;
  }
  function drawAbove(name, shown, d) {
    layer[name].setAttribute("d", d);
    layer[name].dataset.of = shown.map((el) => el.id).join(" "); // what it shows, for the tests and the curious
  }
  function highlight() {
    if (!svg) return;
    const sel = state.selected;
    const current = state.current >= 0 ? state.hits[state.current] : null;
    const around = sel ? neighbourhood(sel) : { nodes: state.hits.filter((n) => n.el), edges: [] };
    const holes = around.nodes.map((n) => n.el);
    drawAbove("veil", holes, sel || state.query ? cover() + holes.map(outlineOf).join("") : "");
    layer.veil.setAttribute("class", sel ? "fade" : state.query ? "dim" : "");
    // The links, one path per line width (Graphviz's widths grow with the count), their heads in one more.
    const widths = new Map();
    for (const e of around.edges) {
      if (e.line === undefined) {
        const line = e.el.querySelector("path");
        e.line = line ? [Math.round(Number(line.getAttribute("stroke-width") || 1) * 2) / 2, line.getAttribute("d")] : [1, ""];
      }
      const [width, d] = e.line;
      if (!widths.has(width)) widths.set(width, []);
      widths.get(width).push(d);
    }
    layer.links.replaceChildren(...[...widths].map(([width, lines]) => {
      const path = document.createElementNS(svg.namespaceURI, "path");
      path.setAttribute("d", lines.join(""));
      path.setAttribute("stroke-width", String(width));
      return path;
    }));
    layer.links.dataset.of = around.edges.map((e) => e.el.id).join(" ");
    drawAbove("heads", around.edges.map((e) => e.el), around.edges.map((e) => outlineOf(e.el)).join(""));
    const rings = around.nodes.filter((n) => n.hit).map((n) => n.el);
    drawAbove("matches", rings, rings.map(outlineOf).join(""));
    const picked = [...new Set([sel, current])].filter((n) => n && n.el).map((n) => n.el);
    drawAbove("selected", picked, picked.map(outlineOf).join(""));
  }

  // ---- the view: pan and zoom move the drawn graph as one picture: a CSS transform of the stage
  // that holds it, a layer of its own (will-change) that the compositor moves without drawing the
  // graph again. Nothing a gesture does may restyle the graph's elements: even a cursor that
  // changes on the graph's area restyles all of them (80 ms a frame at 8,000 elements).
  const full = svg ? svg.viewBox.baseVal : null;
  let view = { s: 1, x: 0, y: 0 }; // the stage's scale and offset, in CSS pixels of the graph's area
  function setView(v) {
    view = v;
    stage.style.transform = `translate(${v.x}px, ${v.y}px) scale(${v.s})`;
  }
  // How the SVG's viewBox sits in the area at scale 1 (preserveAspectRatio: centred, whole).
  function geometry() {
    const w = area.clientWidth, h = area.clientHeight;
    const k = Math.min(w / full.width, h / full.height) || 1;
    return { w, h, k, x: (w - full.width * k) / 2 - full.x * k, y: (h - full.height * k) / 2 - full.y * k };
  }
  const MOST = 4; // the deepest zoom: 4 CSS pixels for a point of the graph (a 10-point label at 40 px)
  const clampScale = (s, k) => Math.min(Math.max(s, 0.5), Math.max(MOST / k, 2));
  function zoomAt(factor, x, y, k) {
    const s = clampScale(view.s * factor, k);
    const by = s / view.s;
    setView({ s, x: x - (x - view.x) * by, y: y - (y - view.y) * by });
  }
  // Show a node with its neighbours (those the level filter keeps), as large as fits, up to a 14-point label at 21 px.
  const toGraph = drawing && drawing.transform.baseVal.consolidate() ? drawing.transform.baseVal.consolidate().matrix : null;
  function showAround(node) {
    if (!svg) return;
    const around = neighbourhood(node).nodes;
    if (around.length === 0) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const { el } of around) {
      const box = el.getBBox();
      for (const [bx, by] of [[box.x, box.y], [box.x + box.width, box.y + box.height]]) {
        const p = toGraph ? new DOMPoint(bx, by).matrixTransform(toGraph) : { x: bx, y: by };
        x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
      }
    }
    const g = geometry();
    const margin = 24;
    const width = Math.max((x1 - x0) * g.k, 1), height = Math.max((y1 - y0) * g.k, 1);
    const fits = Math.min((g.w - 2 * margin) / width, (g.h - 2 * margin) / height);
    const s = Math.max(1, Math.min(fits, 1.5 / g.k));
    const cx = g.x + ((x0 + x1) / 2) * g.k, cy = g.y + ((y0 + y1) / 2) * g.k;
    setView({ s, x: g.w / 2 - s * cx, y: g.h / 2 - s * cy });
  }

  // ---- level filter, selection, search ----
  function applyLevel() {
    const off = new Set();
    for (const n of nodes) {
      n.alive = n.triples.some(kept);
      if (!n.alive && n.el) off.add(n.el);
    }
    for (const e of edges) if (e.el && !e.triples.some(kept)) off.add(e.el);
    hide(off);
    showTitle();
    const current = state.hits[state.current];
    findHits(byId("q").value);
    state.current = state.hits.indexOf(current); // -1 when the filter hides it
    select(state.selected, false); // draws the hits too
  }

  // The drawn nodes and edges of a node's triples that the level filter keeps, the node first.
  function neighbourhood(node) {
    const around = new Set(node.el ? [node] : []);
    const lines = new Set();
    for (const t of node.triples) {
      if (!kept(t)) continue;
      for (const n of [t.s, t.d, t.l]) if (nodes[n].el) around.add(nodes[n]);
      for (const e of t.edges) if (e.el) lines.add(e);
    }
    return { nodes: [...around], edges: [...lines] };
  }

  function select(node, remember = true) {
    state.selected = node;
    state.limit = PAGE;
    panelLimits.clear();
    highlight();
    showPanel();
    showTable();
    if (remember) {
      // A new history entry for Back; pushState, as setting location.hash lays the page out at once (25 ms).
      const hash = node ? fragment(node) : "";
      if (location.hash !== hash && !(hash === "" && location.hash === "#")) history.pushState(null, "", hash || location.href.split("#")[0]);
    }
  }

  function fromHash() {
    let key = "";
    try { key = decodeURIComponent(location.hash.slice(1)); } catch (err) { key = ""; }
    const node = nodeByKey.get(key) ?? null;
    if (node === state.selected) return;
    select(node, false);
    if (node) showAround(node);
  }

  function findHits(text) {
    state.query = text.trim().toLowerCase();
    const hits = [];
    for (const n of nodes) {
      n.hit = state.query !== "" && n.low.includes(state.query);
      if (n.hit && n.alive) hits.push(n);
    }
    state.hits = hits;
    const away = hits.filter((n) => !n.drawn).length;
    byId("hits").textContent = state.query === "" ? ""
      : `${number(hits.length)} match${hits.length === 1 ? "" : "es"}` + (away ? `, ${number(away)} not drawn` : "");
  }

  function search(text) {
    findHits(text);
    state.current = -1;
    state.limit = PAGE;
    highlight();
    showTable();
  }

  function step(by) {
    const hits = state.hits;
    if (hits.length === 0) return;
    state.current = (state.current + by + hits.length) % hits.length;
    const node = hits[state.current];
    byId("hits").textContent = `${state.current + 1} of ${number(hits.length)}` + (node.drawn ? "" : ", not drawn");
    select(node);
    showAround(node);
  }

  // ---- names: links to their node's address, so that they can be opened, copied and reached with Tab ----
  function nameLink(n) {
    const link = putName(document.createElement("a"), nodes[n].name);
    link.className = "pick line";
    link.href = fragment(nodes[n]);
    link.dataset.node = String(n);
    return link;
  }
  const notDrawn = () => element("span", "not drawn", "tag");
  // A cell naming one node, or two stacked (a description over its location).
  function namesCell(indices, drawn = true) {
    const cell = document.createElement("td");
    for (const n of indices) cell.append(nameLink(n));
    if (!drawn) cell.append(notDrawn());
    return cell;
  }

  // ---- the side panel: the alerts behind the selected node ----
  function table(headings, rows) {
    const made = element("table");
    const head = made.createTHead().insertRow();
    for (const heading of headings) head.append(element("th", heading));
    const body = made.createTBody();
    for (const [cells, drawn] of rows) {
      const row = body.insertRow();
      if (!drawn) row.className = "undrawn";
      for (const cell of cells) row.append(cell);
    }
    return made;
  }
  // The side panel is narrow: there, first seen stands over last seen in one cell.
  function panelFigureCells(sum) {
    const seen = element("td", undefined, "time");
    seen.append(element("div", when(sum.first), "line"), element("div", when(sum.last), "line"));
    return [element("td", number(sum.count), "num"), element("td", level(sum.level), "num"), seen];
  }
  const FIGURES = ["Alerts", "Level", "First / last seen (UTC)"];

  // The triples of a list merged by the nodes by(t) names, busiest first.
  function grouped(list, by) {
    const groups = new Map();
    for (const t of list) {
      if (!kept(t)) continue;
      const indices = by(t);
      const key = indices.length === 1 ? indices[0] : indices[0] * nodes.length + indices[1]; // a number: a quick key
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { indices, triples: [t] });
      else group.triples.push(t);
    }
    return [...groups.values()].map((g) => [g.indices, tally(g.triples)]).sort((a, b) => b[1].count - a[1].count);
  }
  // A list of the panel, PANEL_PAGE rows at a time; rows the graph does not draw say so (unless the node itself is not drawn).
  function listing(node, title, heading, by) {
    const groups = grouped(node.triples, by);
    const limit = panelLimits.get(title) ?? PANEL_PAGE;
    const rows = groups.slice(0, limit).map(([indices, sum]) => [
      [namesCell(indices, sum.drawn || !node.drawn), ...panelFigureCells(sum)], sum.drawn || !node.drawn,
    ]);
    const list = table([heading, ...FIGURES], rows);
    list.dataset.list = title;
    const parts = [element("h3", `${title} (${number(groups.length)})`), list];
    if (groups.length > limit) {
      const more = element("button", `Show ${number(Math.min(PANEL_PAGE, groups.length - limit))} more (${number(groups.length - limit)} not shown)`, "more");
      more.type = "button";
      more.addEventListener("click", () => {
        panelLimits.set(title, limit + PANEL_PAGE);
        showPanel();
        const shown = [...byId("sel-lists").querySelectorAll("table")].find((t) => t.dataset.list === title);
        const next = shown ? shown.tBodies[0].rows[limit] : null;
        if (next) next.querySelector("a").focus({ preventScroll: true }); // Tab goes on from the rows just shown
      });
      parts.push(more);
    }
    return parts;
  }
  // Why a node is not in the graph, and what would draw it.
  function notDrawnNote(node) {
    const draws = `the graph draws the ${data.cut}`;
    if (node.role !== 0) return `Not drawn in the graph: none of the sources it draws reached it (${draws}). --max-nodes=0 draws every one.`;
    const address = /^\d{1,3}(\.\d{1,3}){3}$|^[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*$/.test(node.name); // only an address goes into a command line
    const one = address ? ` --src=${node.name} draws this source alone;`
      : node.kind === "user" ? " --src-user=NAME (with --use-user) draws one user alone;" : "";
    return `Not drawn in the graph, which draws the ${data.cut}.${one} --max-nodes=0 draws every source.`;
  }

  function showPanel() {
    const node = state.selected;
    const lists = byId("sel-lists");
    const note = byId("sel-note");
    note.hidden = true;
    if (node === null) {
      byId("sel-kind").textContent = "Nothing selected";
      byId("sel-name").replaceChildren();
      byId("sel-summary").textContent = "Click a node or a name to see the alerts behind it; Esc or a click on the background resets.";
      lists.replaceChildren();
      return;
    }
    const sum = tally(node.triples);
    byId("sel-kind").textContent = `${ROLE[node.role]} (${node.kind})`;
    byId("sel-name").replaceChildren();
    putName(byId("sel-name"), node.name);
    if (sum.count === 0 && state.minLevel !== null) {
      byId("sel-summary").textContent = `No alerts at ${atLevel()}; at every level: ${alerts(tally(node.triples, true))}.`;
    } else {
      byId("sel-summary").textContent = `${alerts(sum)}, first seen ${when(sum.first)}, last seen ${when(sum.last)} (UTC)`
        + (state.minLevel === null ? "" : `, at ${atLevel()}`);
    }
    if (!node.drawn) {
      note.textContent = notDrawnNote(node);
      note.hidden = false;
    }
    const parts = node.role === 0 ? [listing(node, "Alerts it raised, where", "Description / location", (t) => [t.d, t.l])]
      : node.role === 1 ? [listing(node, "Sources", "Source", (t) => [t.s]), listing(node, "Locations", "Location", (t) => [t.l])]
      : [listing(node, "Who reached it, with what", "Source / description", (t) => [t.s, t.d])];
    lists.replaceChildren(...parts.flat());
  }

  // ---- the table of all triples: follows the filter, the selection and the search ----
  const COLUMNS = [
    ["source", "Source", (t) => nodes[t.s].name],
    ["description", "Description", (t) => nodes[t.d].name],
    ["location", "Location", (t) => nodes[t.l].name],
    ["count", "Alerts", (t) => t.count],
    ["level", "Level", (t) => t.level],
    ["first", "First seen (UTC)", (t) => t.first],
    ["last", "Last seen (UTC)", (t) => t.last],
  ];
  let order = null; // the triples sorted by the current column
  function sortTriples() {
    const [, , value] = COLUMNS.find(([key]) => key === state.sort);
    const sign = state.descending ? -1 : 1;
    order = triples.slice().sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === y) return 0;
      if (x === null) return 1; // unknown last, either way
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    });
  }
  function showTable() {
    if (order === null) sortTriples();
    const sel = state.selected;
    const q = state.query;
    const rows = order.filter((t) => kept(t)
      && (sel === null || t.s === sel.i || t.d === sel.i || t.l === sel.i)
      && (q === "" || nodes[t.s].hit || nodes[t.d].hit || nodes[t.l].hit));
    const body = byId("rows");
    body.replaceChildren(...rows.slice(0, state.limit).map((t) => {
      const row = document.createElement("tr");
      if (!t.drawn) row.className = "undrawn";
      row.append(namesCell([t.s], t.drawn), namesCell([t.d]), namesCell([t.l]),
        element("td", number(t.count), "num"), element("td", level(t.level), "num"),
        element("td", when(t.first), "time"), element("td", when(t.last), "time"));
      return row;
    }));
    const away = undrawn ? rows.filter((t) => !t.drawn).length : 0;
    byId("table-count").textContent = (rows.length === triples.length ? `all ${number(rows.length)}` : `${number(rows.length)} of ${number(triples.length)}`)
      + (away ? `, ${number(away)} not drawn` : "")
      + (rows.length > state.limit ? `; the first ${number(state.limit)} shown` : "");
    byId("more").hidden = rows.length <= state.limit;
    for (const button of document.querySelectorAll("#triples th button")) {
      const on = button.dataset.sort === state.sort;
      button.closest("th").setAttribute("aria-sort", on ? (state.descending ? "descending" : "ascending") : "none");
    }
  }

  // ---- the tooltip ----
  function showTip(el, x, y) {
    const lines = [];
    if (el.classList.contains("n")) {
      const node = nodeOf(el);
      const sum = tally(node.triples);
      lines.push(putName(document.createElement("strong"), node.name), element("div", `${ROLE[node.role]}: ${node.kind}`));
      lines.push(element("div", alerts(sum)));
      lines.push(element("div", `first seen ${when(sum.first)}`), element("div", `last seen ${when(sum.last)} (UTC)`));
    } else {
      const link = edgeOf.get(el.id.slice(1));
      lines.push(putName(document.createElement("strong"), nodes[link.a].name), element("div", "\u2192"));
      lines.push(putName(document.createElement("strong"), nodes[link.b].name), element("div", alerts(tally(link.triples))));
    }
    tip.replaceChildren(...lines);
    tip.hidden = false;
    moveTip(x, y);
  }
  function moveTip(x, y) {
    tip.style.left = `${Math.min(x + 14, window.innerWidth - tip.offsetWidth - 4)}px`;
    tip.style.top = `${Math.min(y + 14, window.innerHeight - tip.offsetHeight - 4)}px`;
  }

  // ---- wiring ----
  const levelChoice = byId("level");
  levelChoice.append(new Option("all levels", ""));
  for (let n = 1; n <= 15; n++) levelChoice.append(new Option(`level ${n} and up`, String(n)));
  levelChoice.addEventListener("change", () => {
    state.minLevel = levelChoice.value === "" ? null : Number(levelChoice.value);
    applyLevel();
  });
  const query = byId("q");
  query.addEventListener("input", () => search(query.value));
  query.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      step(event.shiftKey ? -1 : 1);
    }
  });
  byId("next").addEventListener("click", () => step(1));
  byId("prev").addEventListener("click", () => step(-1));
  byId("fit").addEventListener("click", () => setView({ s: 1, x: 0, y: 0 }));
  byId("reset").addEventListener("click", () => {
    query.value = "";
    levelChoice.value = "";
    state.minLevel = null;
    applyLevel();
    select(null);
    setView({ s: 1, x: 0, y: 0 });
  });
  byId("more").addEventListener("click", () => {
    state.limit += PAGE;
    showTable();
  });
  for (const [key, heading] of COLUMNS) {
    const button = element("button", heading);
    button.type = "button";
    button.dataset.sort = key;
    button.addEventListener("click", () => {
      state.descending = state.sort === key ? !state.descending : !["source", "description", "location"].includes(key);
      state.sort = key;
      order = null;
      showTable();
    });
    const th = document.createElement("th");
    th.append(button);
    byId("columns").append(th);
  }
  // A name selects its node in place; with a modifier key or the middle button, the browser opens
  // its link as it would any other (a new tab or window, the selection in its address).
  document.addEventListener("click", (event) => {
    const name = event.target.closest ? event.target.closest("a.pick") : null;
    if (!name || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const node = nodes[Number(name.dataset.node)];
    select(node);
    showAround(node);
    if (event.detail === 0) byId("sel-name").focus(); // Enter on a name: go on from the panel that shows it
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") select(null);
    else if (event.key === "/" && document.activeElement !== query) {
      event.preventDefault();
      query.focus();
    }
  });
  window.addEventListener("hashchange", fromHash); // an address typed or a link followed
  window.addEventListener("popstate", fromHash); // Back and Forward

  if (svg) {
    let drag = null;
    let dragged = false;
    let wheelBox = null; // the area's place on screen, read once per turn of the wheel
    area.addEventListener("wheel", (event) => {
      event.preventDefault();
      if (wheelBox === null) wheelBox = { ...area.getBoundingClientRect().toJSON(), k: geometry().k };
      zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - wheelBox.left, event.clientY - wheelBox.top, wheelBox.k);
      clearTimeout(wheelBox.end);
      wheelBox.end = setTimeout(() => { wheelBox = null; }, 150);
    }, { passive: false });
    area.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, view, moved: false };
      dragged = false;
    });
    area.addEventListener("pointermove", (event) => {
      if (drag === null) {
        if (!tip.hidden) moveTip(event.clientX, event.clientY);
        return;
      }
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) {
        area.setPointerCapture(event.pointerId);
        tip.hidden = true;
      }
      drag.moved = dragged = true;
      setView({ ...drag.view, x: drag.view.x + dx, y: drag.view.y + dy });
    });
    const stop = () => { drag = null; };
    area.addEventListener("pointerup", stop);
    area.addEventListener("pointercancel", stop);
    area.addEventListener("click", (event) => {
      if (dragged) {
        dragged = false;
        return;
      }
      const hit = event.target.closest("g.n");
      if (hit) select(nodeOf(hit));
      else if (!event.target.closest("g.e")) select(null); // the background; an edge changes nothing
    });
    svg.addEventListener("pointerover", (event) => {
      const el = event.target.closest("g.n, g.e");
      if (el && drag === null) showTip(el, event.clientX, event.clientY);
    });
    svg.addEventListener("pointerout", (event) => {
      if (!event.relatedTarget || !event.relatedTarget.closest || !event.relatedTarget.closest("g.n, g.e")) tip.hidden = true;
    });
  }

  for (const [heading, entries] of data.legend) {
    const list = element("ul");
    for (const [colour, meaning] of entries) {
      const swatch = element("span", undefined, "swatch");
      swatch.style.backgroundColor = colour; // through the CSS object model, which the policy allows
      const item = element("li");
      item.append(swatch, meaning); // a string becomes a text node
      list.append(item);
    }
    byId("legend-list").append(element("h3", heading), list);
  }
  byId("legend-note").textContent = data.legend_note;
  if (data.cut) {
    byId("table-note").textContent = `Rows marked "not drawn" are not in the graph, which draws the ${data.cut}; `
      + "the table and the search hold every triple.";
    byId("table-note").hidden = false;
  }

  applyLevel();
  fromHash();
  if (state.selected === null) showPanel();
  performance.mark("a2a-ready");
  requestAnimationFrame(() => setTimeout(() => performance.mark("a2a-drawn"))); // after the first frame
})();
"""


WRITERS: dict[str, Callable[[Iterable[Row], TextIO, Settings], int]] = {
    "csv": write_csv,
    "dot": write_dot,
    "html": write_html,
}


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


class _StderrFormatter(logging.Formatter):
    """One line per record, shown by visible(): a value an attacker wrote cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {visible(record.getMessage())}"


class _LogFileFormatter(logging.Formatter):
    """Timestamped lines for --logfile, shown by visible() as on stderr (tail -f shows them on a terminal).

    A traceback (--debug) comes after its record, each line shown by visible()
    and indented: an exception's message may hold what an attacker wrote, line
    breaks included, and no line of it can pass for a record of its own.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = visible(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return self._indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self._indented(stack_info)

    @staticmethod
    def _indented(text: str) -> str:
        return "\n".join(f"  {visible(line)}" for line in text.splitlines())


class LogFile(logging.StreamHandler[TextIO]):
    """--logfile, opened by open_log(). The first write that fails (a full disk) ends the writing:
    check() reports it once, as the run's error, where logging would print a traceback for every record."""

    def __init__(self, path: str) -> None:
        super().__init__(open_log(path))
        self.path = path
        self.failure: OSError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        failure = sys.exc_info()[1]
        if isinstance(failure, OSError):
            self.failure = failure
        else:  # a bug of ours, not the disk: logging's own report
            super().handleError(record)

    def close(self) -> None:
        try:
            self.stream.close()
        except OSError as err:  # what the failed write left in the buffer fails again
            self.failure = self.failure or err
        finally:
            super().close()

    def check(self) -> None:
        if self.failure is not None:
            raise Failure(f"cannot write --logfile {self.path}: {self.failure.strerror or self.failure}")


def open_log(path: str) -> TextIO:
    """--logfile, opened to append as AtomicOutput's checks allow (open_in_place): a new file gets
    0666 less the umask; a FIFO that no one reads is an error, never a hang."""
    place = locate(path, "--logfile")
    try:
        fd = open_in_place(place, os.O_APPEND | (0 if place.through_link else os.O_CREAT), "--logfile", path)
    finally:
        os.close(place.directory)
    return os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace")




def setup_logging(debug: bool, logfile: str | None) -> list[logging.Handler]:
    """stderr gets warnings, and on a terminal the hints for a person too (INFO: why nothing was
    written); everything under --debug. The log file gets everything."""
    log.setLevel(logging.DEBUG)
    log.propagate = False
    handlers: list[logging.Handler] = []
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if debug else logging.INFO if is_terminal(sys.stderr) else logging.WARNING)
    stderr.setFormatter(_StderrFormatter())
    handlers.append(stderr)
    if logfile:
        try:
            to_file = LogFile(logfile)
        except OSError as err:
            raise Failure(f"cannot open --logfile {logfile}: {err.strerror}") from None
        to_file.setFormatter(_LogFileFormatter("%(asctime)s " + PROG + "[%(process)d] %(levelname)s: %(message)s"))
        handlers.append(to_file)
    for handler in handlers:
        log.addHandler(handler)
    return handlers


class Interrupted(BaseException):
    """SIGTERM, SIGHUP or SIGINT, raised in the main thread so that every finally block cleans up.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: Any) -> None:
    # Further signals are ignored: the cleanup they would interrupt is short (a temporary file
    # removed, Graphviz killed, lookups in flight given their --dns-timeout).
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def catch_stop_signals() -> dict[int, Any]:
    """Have SIGTERM, SIGHUP and SIGINT raise Interrupted; returns the handlers to put back.

    A signal ignored when we started stays ignored (nohup, a background job of
    a shell); outside the main thread, which alone receives Python's signal
    handlers, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS if signal.getsignal(signum) != signal.SIG_IGN
    }


@contextlib.contextmanager
def open_source(settings: Settings, stats: Stats) -> Iterator[Source]:
    """The run's alerts: from the files, or from the database over one connection."""
    if settings.database is None:
        log.debug("sources: %s", ", ".join(settings.alerts_logs + settings.alerts_jsons))
        files = FileSurvey(settings.window)
        yield Source(read_alert_files(settings, files), survey=files.survey, producers=lambda: {"json": producer_name(files.producers)})
        return
    log.debug("server: %s", settings.database.describe())
    stats.users_known = settings.use_user  # the query reads users only for --use-user
    conn = connect(settings.database)
    descriptions = RuleDescriptions(settings.rules_dirs)
    cursor = None
    try:
        producer = database_producer(conn) if titled(settings) else ""
        cursor, source = query_database(conn, settings, descriptions, stats.removed)
        yield source._replace(producers=lambda: {"database": producer})
    except pymysql.MySQLError as err:
        raise database_failure(err, settings.database) from None
    finally:
        if cursor is not None:
            end_query(conn, cursor)
        if conn.open:
            conn.close()
    descriptions.report()


def source_name(settings: Settings) -> str:
    """What the alerts were read from, in a sentence."""
    if settings.database is not None:
        return f"the database {settings.database.describe()}"
    paths = settings.alerts_logs + settings.alerts_jsons
    if len(paths) == 1:
        return "standard input" if paths[0] == "-" else paths[0]
    return f"the {len(paths)} files"


def them(some: int, of: int) -> str:
    """
    >>> them(1, 1), them(5, 5), them(3, 5)
    ('it', 'them', '3 of them')
    """
    return f"{some:,} of them" if some != of else "it" if some == 1 else "them"


def no_source_note(settings: Settings, stats: Stats) -> str:
    """What the alerts without a source lack, and the flags that would draw them.

    >>> stats = Stats()
    >>> stats.count(kept=6, unknown_level=0, no_source=6, with_user=3, with_host=6)
    >>> no_source_note(Settings(Window(None, None)), stats)
    '6 alerts have no source address: --use-host draws them from the host that raised them, --use-user draws 3 of them by their user'
    """
    count = stats.no_source
    lack = "neither a source address nor a user" if settings.use_user else "no source address"
    if settings.use_host:
        lack += ", nor a host"
    draws = []
    if not settings.use_host and stats.no_source_host:
        draws.append(f"--use-host draws {them(stats.no_source_host, count)} from the host that raised them")
    if not settings.use_user and not stats.users_known:
        draws.append("--use-user draws those that have a user")
    elif not settings.use_user and stats.no_source_user:
        draws.append(f"--use-user draws {them(stats.no_source_user, count)} by their user")
    said = f"{plural(count, 'alert')} {'has' if count == 1 else 'have'} {lack}"
    return f"{said}: {', '.join(draws)}" if draws else said


def outside_note(window: Window, survey: Survey, where: str, now: int) -> str:
    """How many alerts lie outside the window, the span of all, and the flags that would take them."""
    if survey.outside == survey.alerts:
        share = f"all {plural(survey.outside, 'alert')} of {where}"
    else:
        share = f"{survey.outside:,} of the {plural(survey.alerts, 'alert')} of {where}"
    note = f"{share} {'lies' if survey.outside == 1 else 'lie'} outside the time window ({window.describe_short()})"
    if survey.first is None or survey.last is None:
        return f"{note}: --all takes them"
    take = "--all"
    if survey.last <= now:  # --start-time cannot be in the future, and ends the window now
        take += f" or --start-time={datetime.fromtimestamp(survey.first, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return f"{note}; the alerts run from {utc(survey.first)} to {utc(survey.last)}: {take} takes them"


def removed_note(stats: Stats, survey: Survey, in_window: int) -> str | None:
    """How many alerts the filters removed, by flag; those the database's query removed without
    counting them (no --debug) together."""
    counted = [f"{flag} {count:,}" for flag, count in stats.removed_by_flag() if count]
    uncounted = max(in_window - stats.read, 0)
    if uncounted:
        counted.append(f"{' and '.join(flag for flag in stats.sql_filters if not stats.removed[flag])} {uncounted:,}")
    total = stats.removed.total() + uncounted
    if not total:
        return None
    return f"the filters removed {'all ' if total == in_window else ''}{total:,} ({', '.join(counted)})"


def explain_empty_output(settings: Settings, stats: Stats, now: int) -> str | None:
    """Why a run wrote nothing although its source holds alerts, in one line a person can act on:
    each reason with the flag (and value) that would change it. None when the run wrote something
    or no one asked (Stats.survey is learnt only on a terminal or with --debug).

    >>> stats = Stats()
    >>> stats.survey = Survey(alerts=184, outside=184, first=1795745421, last=1795803061)
    >>> print(explain_empty_output(Settings(Window(1796176800, 1796178601), alerts_logs=("old.log",)), stats, 1796178600))
    nothing written: all 184 alerts of old.log lie outside the time window (2026-12-02 02:00:00 to 2026-12-02 02:30:01 UTC); the alerts run from 2026-11-27 02:10:21 UTC to 2026-11-27 18:11:01 UTC: --all or --start-time=2026-11-27T02:10:21Z takes them
    """
    survey = stats.survey
    if survey is None or stats.triples:
        return None
    where = source_name(settings)
    if not survey.alerts:
        return f"nothing written: {where} holds no alerts"
    reasons = [outside_note(settings.window, survey, where, now)] if survey.outside else []
    in_window = survey.in_window if survey.in_window is not None else stats.read
    became = [note for note in (removed_note(stats, survey, in_window),) if note]
    if stats.no_source:
        became.append(no_source_note(settings, stats))
    if stats.cut:
        values = {"--min-count": settings.min_count, "--top": settings.top, "--max-nodes": settings.max_nodes}
        cuts = " and ".join(f"{flag}={values[flag]}" for flag in stats.cut)
        became.append(f"{cuts} left out {plural(stats.cut.total(), 'alert')}")
    if in_window and became:
        read = f"{plural(in_window, 'alert')} in the time window" if settings.window.start is not None else plural(in_window, "alert")
        reasons.append(f"of the {read}, {'; '.join(became)}")
    return f"nothing written: {'; '.join(reasons)}" if reasons else None


def survey(learn: Callable[[Stats], Survey], stats: Stats) -> None:
    """Learn what the source holds in all, to say why nothing was written: a hint, which never fails the run."""
    try:
        stats.survey = learn(stats)
    except Failure as err:
        log.debug("what the source holds is not known: %s", err)
        return
    if stats.survey.no_source_user is not None:
        stats.no_source_user, stats.users_known = stats.survey.no_source_user, True


def run(settings: Settings, out: TextIO) -> Stats:
    """Read, transform and write; returns the run's statistics."""
    stats = Stats()
    log.debug("time window: %s", settings.window.describe())
    for line in settings.filters.describe():
        log.debug("%s", line)
    resolver = reverse_resolver(settings.dns) if settings.dns else None
    with open_source(settings, stats) as source:
        per_agent_locations = settings.location_detail == "agent"
        listed = 0  # the alerts behind the grouped rows, before a picture's or a page's cut (--max-nodes)
        if settings.show_duplicate:
            stats.grouped = False
            pairs = alert_rows(source, settings.filters, settings.use_user, stats, settings.use_host)
            if per_agent_locations:
                pairs = per_agent(pairs)
            rows: Iterable[Row] = resolve_stream(pairs, resolver) if resolver else pairs
        else:
            triples = tally_triples(
                source, settings.filters, settings.use_user, stats, settings.use_host, settings.max_triples
            )
            if per_agent_locations:
                triples = group_triples(per_agent(triples))
            rows, cuts = cut_rows(triples, settings.min_count, settings.top, stats.cut)
            producers = tuple(source.producers().items()) if source.producers else ()  # every alert is read by now
            settings = settings._replace(cuts=tuple(cuts), producers=producers)
            if resolver:
                rows = resolve_grouped(rows, resolver)
            listed = alerts_in(rows)
        picture = None  # a picture's rows and settings: what --max-nodes leaves in it
        if needs_picture(settings):
            rows = list(rows)
            picture = fitted(rows, settings)
        if settings.render:
            rows = list(rows)
            drawn = draw(settings.render, rows, settings, picture)  # a picture: what --max-nodes leaves in it; a page: all
        if settings.render is None or settings.output is not None:
            text, text_settings = picture if picture and settings.format == "dot" else (rows, settings)
            stats.triples = WRITERS[settings.format](text, out, text_settings)  # a page holds every row too
            stats.written = alerts_in(text) if stats.grouped else stats.triples
            if settings.render and alerts_in(drawn) < listed:
                log.debug("--max-nodes left %d alert(s) out of the picture", listed - alerts_in(drawn))
        else:
            stats.triples, stats.written, stats.drawn_only = len(drawn), alerts_in(drawn), not is_page(settings.render)
        if stats.written < listed:  # the output is a picture alone, which --max-nodes cut
            stats.cut["--max-nodes"] += listed - stats.written
        if not stats.triples and settings.explain_empty and source.survey is not None:
            survey(source.survey, stats)
    if resolver:
        resolver.stats.report()
        stats.dns_unresolved = resolver.stats.unresolved
    return stats


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    # A run makes hundreds of thousands of short-lived tuples, all freed by reference counting, while
    # what the imports made lives until exit: leave the latter out of the cycle collector's passes
    # and run them less often (a grouped export of a million alerts: some 5% fewer instructions).
    gc.freeze()
    gc.set_threshold(100_000)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    out = stdout if stdout is not None else sys.stdout
    handlers: list[logging.Handler] = []
    target: AtomicOutput | None = None
    stopped: dict[int, Any] = {}  # the signal handlers to put back
    try:
        try:
            stopped = catch_stop_signals()
            check_output_names(None if args.output == "-" else args.output, args.render, args.logfile)
            handlers = setup_logging(args.debug, args.logfile)
            now = int(time.time())
            settings = build_settings(args, now)
            if out is None:
                raise Failure("standard output is closed")
            if settings.output:
                target = AtomicOutput(settings.output)
                out = target.open_text()
            elif hasattr(out, "reconfigure"):
                out.reconfigure(encoding="utf-8", errors="surrogateescape")
            stats = run(settings, out)
            if target:
                target.commit()
                target = None
            else:
                out.flush()
            stats.report(settings)
            hint = explain_empty_output(settings, stats, now)
            if hint is not None:
                log.info("%s", hint)
            if stats.dns_unresolved:  # reverse DNS is decoration: the output is complete, the run a success
                assert settings.dns is not None
                log.warning(
                    "--dns-budget of %g s spent: %d address(es) were not looked up and keep their IP",
                    settings.dns.budget,
                    stats.dns_unresolved,
                )
            for handler in handlers:
                if isinstance(handler, LogFile):
                    handler.check()
            return EXIT_OK
        finally:
            # From here on the run only ends: what follows runs to its end, whatever signal comes.
            for signum in stopped:
                signal.signal(signum, signal.SIG_IGN)
    except BrokenPipeError:
        # The reader (| head) is gone: stop quietly, and keep Python from
        # complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:  # SIGINT before catch_stop_signals()
        _report_error("interrupted by SIGINT", handlers, False)
        return EXIT_SIGNAL + signal.SIGINT
    except Interrupted as stop:
        _report_error(f"interrupted by {signal.Signals(stop.signum).name}", handlers, False)
        return EXIT_SIGNAL + stop.signum
    except Failure as err:
        _report_error(str(err), handlers, args.debug)
        return err.exit_code
    except OSError as err:
        _report_error(f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""), handlers, args.debug)
        return EXIT_FAILURE
    except MemoryError as err:
        # The traceback keeps the run's frames, and what they hold, alive: let them go before reporting.
        err.__traceback__ = err.__context__ = None
        _report_error(OUT_OF_MEMORY, handlers, False)
        return EXIT_FAILURE
    finally:
        if target:
            target.discard()
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()
        for signum, handler in stopped.items():
            signal.signal(signum, handler)


# What a run holds at once (the rest streams): the distinct triples of its window, grouped; --top and
# --min-count choose among them only once all are held.
HOLD_FEWER = (
    "a narrower window (--time-interval, --start-time, --end-time) or filters (--min-level, --src, --src-user, "
    "--location, --rules, --exclude-alerts) hold fewer, and so does leaving out --use-user or --use-host where "
    "users or hosts make most of them; --show-duplicate writes CSV a line per alert without holding them; "
    "--top and --min-count choose only among triples already held"
)
OUT_OF_MEMORY = f"out of memory holding the distinct source, description and location triples of the alerts read: {HOLD_FEWER}"


def too_many_triples(limit: int) -> Failure:
    """The error of a run that met --max-triples."""
    return Failure(
        f"more than {limit:,} distinct source, description and location triples in the alerts read "
        f"(--max-triples={limit}): {HOLD_FEWER}"
    )


def _report_error(message: str, handlers: list[logging.Handler], debug: bool) -> None:
    if handlers:
        log.error(message, exc_info=debug)
    else:
        print(f"{PROG}: error: {visible(message)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
