"""A run that writes nothing says why, once, to a person (stderr a terminal, or --debug) and to no cron
job; --debug's counts add up (alerts read = removed + without a source + cut + written)."""

from __future__ import annotations

import gzip
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import SCRIPT
from ossecdb import Row
from test_file_windows import big_file, day, month, small_blocks  # noqa: F401 (a fixture)
from test_files import LOG, make_examples
from test_lookup import load_examples
from test_use_host import EVENING

DAY = make_examples.build_day()
LAST = DAY[-1].epoch
SPAN = "the alerts run from 2026-11-27 02:10:21 UTC to 2026-11-27 18:11:01 UTC"
TAKE = "--all or --start-time=2026-11-27T02:10:21Z takes them"
WINDOW = r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)"  # the default: the last 30 minutes


def command(*argv: str) -> list[str]:
    return [sys.executable, str(SCRIPT), *argv]


def on_terminal(*argv: str, stdin: Path | None = None) -> tuple[int, str, str]:
    """Run the CLI as a person at a shell does: stderr a pseudo-terminal (stdout a pipe); returns
    the exit status, stdout, and what the terminal showed (its CR LF line ends made LF)."""
    master, slave = os.openpty()
    with open(stdin or os.devnull, "rb") as given:
        try:
            proc = subprocess.Popen(command(*argv), stdin=given, stdout=subprocess.PIPE, stderr=slave)
        finally:
            os.close(slave)
    shown = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal the child held is closed
                break
            if not data:
                break
            shown += data
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
    return proc.returncode, out.decode(), shown.decode().replace("\r\n", "\n")


def from_cron(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as cron does: no terminal anywhere."""
    return subprocess.run(command(*argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def hint(err: str) -> str:
    """The one line that says why nothing was written."""
    lines = [line for line in err.splitlines() if ": info: " in line]
    assert len(lines) == 1, err
    return lines[0]


def archive(tmp_path: Path, kind: str = "log", gz: bool = False, alerts=DAY) -> Path:
    """The example day as an archived file, last written just after its last alert."""
    data = "".join(map(make_examples.log_entry if kind == "log" else make_examples.json_entry, alerts)).encode()
    path = tmp_path / f"old.{kind}{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    os.utime(path, (LAST + 5, LAST + 5))
    return path


def flag(kind: str) -> str:
    return "--alerts-log" if kind == "log" else "--alerts-json"


# --- outside the window ---------------------------------------------------------------------------


def says_all_lie_outside(argv: list[str], count: int, where: str) -> None:
    """The default window's run on a terminal says that all the source's alerts lie outside it, their
    span, and what takes them; and what it suggests gives what --all gives."""
    code, out, shown = on_terminal(*argv)
    assert (code, out) == (0, "")
    assert re.fullmatch(
        rf"alerts2afterglow: info: nothing written: all {count} alerts of {re.escape(where)} lie outside the time "
        rf"window {WINDOW}; {SPAN}: {TAKE}\n",
        shown,
    ), shown
    suggested = from_cron(*argv, "--start-time=2026-11-27T02:10:21Z")
    assert (suggested.returncode, suggested.stderr) == (0, "")
    assert suggested.stdout == from_cron(*argv, "--all").stdout != ""


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("kind", ["log", "json"])
def test_an_archived_file_outside_the_default_window_says_so_and_what_takes_it(tmp_path, kind, gz):
    path = archive(tmp_path, kind, gz)
    says_all_lie_outside([f"{flag(kind)}={path}"], 75, str(path))
    # The cron job on the same quiet interval: nothing on stderr, nothing on stdout, success.
    cron = from_cron(f"{flag(kind)}={path}")
    assert (cron.returncode, cron.stdout, cron.stderr) == (0, "", "")


def test_a_file_read_whole_and_one_skipped_are_counted_alike(tmp_path, cli):
    """The file the window skipped (last written before it) is read again for its times; of a file that
    was read (its time of writing is recent), the pieces whose headers hold no time of the window were
    passed over, and are read again for their times too."""
    skipped = archive(tmp_path)
    read = tmp_path / "recent.log"
    shutil.copy(skipped, read)
    for path in (skipped, read):
        result = cli(f"--alerts-log={path}", "--debug")
        assert result.code == 0 and result.out == ""
        assert ("(its modification time)" in result.err) == (path == skipped)
        assert ("bytes hold no alert of the time window: their headers alone were read" in result.err) == (path == read)
        assert re.fullmatch(rf".*: all 75 alerts of {re.escape(str(path))} lie outside the time window {WINDOW}; {SPAN}: {TAKE}", hint(result.err))


def test_standard_input_is_counted_as_it_is_read(tmp_path):
    code, out, shown = on_terminal("--alerts-log=-", stdin=archive(tmp_path))
    assert (code, out) == (0, "")
    assert "nothing written: all 75 alerts of standard input lie outside the time window" in shown
    assert shown.endswith(f"; {SPAN}: {TAKE}\n")


def test_a_window_between_archives_with_filters_says_both(tmp_path, cli):
    """Three daily archives, one skipped for the window (its first alert comes after it): alerts outside
    the window are counted in all three, and what the filters did to the window's alerts is said too."""
    paths = []
    for offset in (-1, 0, 1):
        path = tmp_path / "2026" / "Nov" / f"ossec-alerts-{27 + offset}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(map(make_examples.log_entry, day(offset))))
        os.utime(path, (make_examples.DAY + (offset + 1) * 86400 + 5,) * 2)
        paths.append(f"--alerts-log={path}")
    window = [f"--start-time={make_examples.DAY}", f"--end-time={make_examples.DAY + 86400}"]
    result = cli(*paths, *window, "--rules=5716,5712", "--location=(web2*", "--debug")
    assert (result.code, result.out) == (0, "")
    in_window = {"--rules": sum(a.rule_id not in (5716, 5712) for a in DAY)}
    in_window["--location"] = len(DAY) - in_window["--rules"]  # the SSH rules fire on web1 and wazuh-agent1 only
    assert hint(result.err) == (
        "alerts2afterglow: info: nothing written: 150 of the 225 alerts of the 3 files lie outside the time window "
        "(2026-11-27 00:00:00 to 2026-11-28 00:00:00 UTC); the alerts run from 2026-11-26 02:10:21 UTC to "
        "2026-11-28 18:11:01 UTC: --all or --start-time=2026-11-26T02:10:21Z takes them; of the 75 alerts in the "
        f"time window, the filters removed all 75 (--rules {in_window['--rules']}, --location {in_window['--location']})"
    )


@pytest.mark.usefixtures("small_blocks")
def test_a_file_passed_over_in_part_is_read_again_for_its_times(tmp_path, cli):
    """The pieces of a file whose headers hold no time of the window are passed over: they are read
    again, their headers only, and counted exactly."""
    days = month()
    path = big_file(tmp_path, "log", days)
    result = cli(f"--alerts-log={path}", f"--start-time={make_examples.DAY}", f"--end-time={make_examples.DAY + 86400}", "--rules=1", "--debug")
    assert "bytes hold no alert of the time window: their headers alone were read" in result.err
    assert hint(result.err) == (
        f"alerts2afterglow: info: nothing written: {len(days) - 75:,} of the {len(days):,} alerts of {path} lie "
        "outside the time window (2026-11-27 00:00:00 to 2026-11-28 00:00:00 UTC); the alerts run from "
        "2026-10-29 02:10:21 UTC to 2026-11-27 18:11:01 UTC: --all or --start-time=2026-10-29T02:10:21Z takes "
        "them; of the 75 alerts in the time window, the filters removed all 75 (--rules 75)"
    )


# --- in the window: without a source, filtered, cut -------------------------------------------------

SOURCELESS = EVENING[1:]  # syscheck, rootcheck, SCA and a sudo: no source address; one has a user (bob)


@pytest.mark.parametrize("kind", ["log", "json"])
def test_alerts_without_a_source_say_what_would_draw_them(tmp_path, kind):
    path = archive(tmp_path, kind, alerts=SOURCELESS)
    code, out, shown = on_terminal(f"{flag(kind)}={path}", "--all")
    assert (code, out) == (0, "")
    assert shown == (
        "alerts2afterglow: info: nothing written: of the 9 alerts, 9 alerts have no source address: --use-host draws "
        "them from the host that raised them, --use-user draws 1 of them by their user\n"
    )
    code, out, shown = on_terminal(f"{flag(kind)}={path}", "--all", "--use-user")
    assert (code, out.count("\n"), shown) == (0, 1, "")  # bob's sudo is drawn: something was written, nothing to say
    code, out, shown = on_terminal(f"{flag(kind)}={path}", "--all", "--use-host")
    assert (code, shown) == (0, "")
    assert sorted({line.split(",")[0] for line in out.splitlines()}) == [
        "(ossec-server)", "(wazuh-agent1) 10.0.0.5", "(web1) 10.0.0.2", "(web2) 10.0.0.3",
    ]  # fmt: skip


def test_alerts_without_a_source_in_the_database(ossec, cli):
    """The database reads users only for --use-user: one more count says how many have one, unless a
    filter is applied row by row (a --location [class]), which that count could not follow."""
    ossec.insert([Row(a.rule_id, a.epoch, a.location, None, user=a.user or "", level=a.level) for a in SOURCELESS])
    result = cli(*ossec.args, "--all", "--debug")
    assert (result.code, result.out) == (0, "")
    assert hint(result.err).endswith(
        "nothing written: of the 9 alerts, 9 alerts have no source address: --use-host draws them from the host "
        "that raised them, --use-user draws 1 of them by their user"
    )
    row_by_row = cli(*ossec.args, "--all", "--location=*[a-z]*", "--debug")
    assert "filtered row by row: --location" in row_by_row.err
    assert hint(row_by_row.err).endswith("--use-host draws them from the host that raised them, --use-user draws those that have a user")
    drawn = cli(*ossec.args, "--all", "--use-user", "--use-host", "--count")
    assert drawn.lines[0] == "(ossec-server),Rule 510,ossec-server->rootcheck,2"
    assert "bob,Rule 5402,(web2) 10.0.0.3->/var/log/auth.log,1" in drawn.lines


def test_filters_that_remove_everything_are_named_with_their_counts(tmp_path):
    path = archive(tmp_path)
    code, out, shown = on_terminal(f"--alerts-log={path}", "--all", "--min-level=10", "--location=(db*")
    assert (code, out) == (0, "")
    removed = Counter("--min-level" if a.level < 10 else "--location" for a in DAY)
    assert removed["--location"], "the level 10 alerts: on web1 and web2"
    assert shown == (
        "alerts2afterglow: info: nothing written: of the 75 alerts, the filters removed all 75 "
        f"(--min-level {removed['--min-level']}, --location {removed['--location']})\n"
    )


def test_filters_in_the_database_query_are_counted_together_without_debug(ossec):
    """Without --debug the database does not count what each filter of its query removed (a query a
    filter): the hint names them, with what they removed together; --debug counts each."""
    alerts = load_day(ossec)
    args = [*ossec.args, "--all", "--rules=5716,5710", "--min-level=6"]
    code, out, shown = on_terminal(*args)
    assert (code, out) == (0, "")
    n = len(alerts)
    assert shown.endswith(f"nothing written: of the {n} alerts, the filters removed all {n} (--rules and --min-level {n})\n")
    with_debug = from_cron(*args, "--debug")
    rules = sum(a.rule_id not in (5716, 5710) for a in alerts)
    assert hint(with_debug.stderr).endswith(f"the filters removed all {n} (--rules {rules}, --min-level {n - rules})")


def test_a_cut_that_leaves_nothing_says_so(cli):
    result = cli(f"--alerts-log={LOG}", "--all", "--min-count=100", "--debug")
    assert hint(result.err).endswith(
        "nothing written: of the 75 alerts, 6 alerts have no source address: --use-host draws them from the host "
        "that raised them, --use-user draws 3 of them by their user; --min-count=100 left out 69 alerts"
    )


def test_a_source_without_alerts_says_so(tmp_path, ossec):
    empty = tmp_path / "alerts.log"
    empty.write_text("")
    assert on_terminal(f"--alerts-log={empty}")[1:] == ("", f"alerts2afterglow: info: nothing written: {empty} holds no alerts\n")
    assert on_terminal(*ossec.args)[1:] == (
        "",
        f"alerts2afterglow: info: nothing written: the database root@127.0.0.1:3306/{ossec.name} holds no alerts\n",
    )


# --- the database, outside the window; and silence ------------------------------------------------


def load_day(ossec) -> list[make_examples.Example]:
    """The example day in the database, as test_lookup stores it (2.6-2.8 cannot hold IPv6 addresses)."""
    load_examples(ossec)
    return [a for a in DAY if ossec.layout == "2.9" or not (a.src_ip and ":" in a.src_ip)]


def test_the_database_outside_the_window_says_so_in_one_more_query(ossec):
    alerts = load_day(ossec)
    says_all_lie_outside(ossec.args, len(alerts), f"the database root@127.0.0.1:3306/{ossec.name}")
    suggested = from_cron(*ossec.args, "--start-time=2026-11-27T02:10:21Z", "--debug")
    queries = [line for line in from_cron(*ossec.args, "--debug").stderr.splitlines() if ": SQL: SELECT" in line]
    assert queries[-1].endswith(
        "SQL: SELECT (SELECT COUNT(*) FROM alert), (SELECT MIN(timestamp) FROM alert), (SELECT MAX(timestamp) FROM alert), "
        "(SELECT COUNT(*) FROM alert a WHERE a.timestamp >= %s AND a.timestamp < %s)"
    ), "one query more, only when nothing was written"
    assert not any("SELECT (SELECT COUNT(*)" in line for line in suggested.stderr.splitlines())


def test_a_cron_job_on_a_quiet_interval_stays_silent_and_pays_nothing(tmp_path, ossec):
    """No terminal, no --debug: no hint, and nothing done to find one (the log file, which gets every
    diagnostic, shows neither the database's extra query nor a hint); the picture says "no alerts"."""
    load_day(ossec)
    for source in ([f"--alerts-log={archive(tmp_path)}"], ossec.args):
        logfile = tmp_path / "cron.log"
        picture = tmp_path / "alerts.svg"
        for extra in ([], [f"--render={picture}"]):
            cron = from_cron(*source, '--time-interval=10 minute', f"--logfile={logfile}", *extra)
            assert (cron.returncode, cron.stdout, cron.stderr) == (0, "", "")
        logged = logfile.read_text()
        assert "alerts read: 0 = 0 removed by filters" in logged
        assert "nothing written" not in logged and "SELECT (SELECT COUNT(*)" not in logged
        assert ">no alerts<" in picture.read_text()


def test_a_terminal_that_got_output_hears_nothing(tmp_path):
    code, out, shown = on_terminal(f"--alerts-log={archive(tmp_path)}", "--all")
    assert (code, shown) == (0, "")
    assert len(out.splitlines()) == 24


# --- --debug's counts add up ------------------------------------------------------------------------

SUM = re.compile(
    r"debug: alerts read: (?P<read>\d+) = (?P<removed>\d+) removed by filters \+ (?P<no_source>\d+) without a source"
    r"(?: \+ (?P<cut>\d+) cut by (?P<cuts>[^+]+))? \+ (?P<written>\d+) (?P<done>written|drawn)"
    r"(?: as (?P<triples>\d+) triples? \((?P<duplicates>\d+) duplicates?\)|, a line each)$",
    re.M,
)


def the_sum(err: str) -> dict[str, int | str | None]:
    """The closing line of --debug, checked to add up."""
    found = [match.groupdict() for match in SUM.finditer(err)]
    assert len(found) == 1, err
    counts = {k: int(v) if v and v.isdigit() else v for k, v in found[0].items()}
    parts = counts["removed"] + counts["no_source"] + (counts["cut"] or 0) + counts["written"]
    assert counts["read"] == parts
    if counts["triples"] is not None:
        assert counts["duplicates"] == counts["written"] - counts["triples"]
    return counts


def expected_counts(alerts, excluded: tuple[int, ...] = (), min_count: int = 1, top: int | None = None) -> dict:
    """The sum written out from the examples: --exclude-alerts, then sources (IP only), then the cuts."""
    kept = [a for a in alerts if a.rule_id not in excluded]
    triples = Counter((a.src_ip, a.description, a.location) for a in kept if a.src_ip)
    cut = sum(n for n in triples.values() if n < min_count)
    triples = Counter({t: n for t, n in triples.items() if n >= min_count})
    if top is not None:
        per_source = Counter()
        for (source, _, _), n in triples.items():
            per_source[source] += n
        chosen = {s for s, _ in sorted(per_source.items(), key=lambda item: (-item[1], item[0]))[:top]}
        cut += sum(n for t, n in triples.items() if t[0] not in chosen)
        triples = Counter({t: n for t, n in triples.items() if t[0] in chosen})
    written = sum(triples.values())
    return {
        "read": len(alerts),
        "removed": len(alerts) - len(kept),
        "no_source": sum(1 for a in kept if not a.src_ip),
        "cut": cut or None,
        "written": written,
        "triples": len(triples),
        "duplicates": written - len(triples),
    }


CUTS = {
    "none": ([], {}),
    "top and min-count": (["--top=2", "--min-count=2"], {"min_count": 2, "top": 2}),
    "filter and top": (["--exclude-alerts=5712", "--top=3"], {"excluded": (5712,), "top": 3}),
}


@pytest.mark.parametrize("flags, cuts", CUTS.values(), ids=CUTS.keys())
def test_the_counts_of_the_example_day_add_up(cli, flags, cuts):
    result = cli(f"--alerts-log={LOG}", "--all", "--count", "--debug", *flags)
    counts = the_sum(result.err)
    want = expected_counts(DAY, **cuts)
    assert {k: counts[k] for k in want} == want
    assert counts["written"] == sum(int(line.rsplit(",", 1)[1]) for line in result.lines)
    assert counts["triples"] == len(result.lines)
    if cuts:
        assert counts["cuts"] == ", ".join(f"--{name.replace('_', '-')}" for name in ("min_count", "top") if name in cuts)


def test_the_issue_s_duplicates_are_alerts_written_not_cut(cli):
    """The report of issue 17: cut alerts were counted as duplicates."""
    result = cli(f"--alerts-log={LOG}", "--all", "--count", "--top=1", "--debug")
    counts = the_sum(result.err)
    written = sum(int(line.rsplit(",", 1)[1]) for line in result.lines)
    assert counts["duplicates"] == written - len(result.lines) < 75 - 6 - len(result.lines)


def test_one_line_per_alert_adds_up(cli):
    result = cli(f"--alerts-log={LOG}", "--all", "--show-duplicate", "--debug", "--exclude-alerts=5716")
    counts = the_sum(result.err)
    assert (counts["removed"], counts["no_source"], counts["written"]) == (
        sum(a.rule_id == 5716 for a in DAY),
        sum(1 for a in DAY if not a.src_ip),
        len(result.lines),
    )
    assert counts["triples"] is None


def test_a_picture_s_cut_is_counted_where_it_applies(tmp_path):
    """--render alone: the alerts --max-nodes leaves out of the picture are a term of the sum, and what
    is drawn is what the picture's title says; with --output the text holds everything; so does the
    page (--format=html, --render=FILE.html), whose graph alone --max-nodes cuts."""
    picture = tmp_path / "day.svg"
    alone = from_cron(f"--alerts-log={LOG}", "--all", f"--render={picture}", "--max-nodes=8", "--debug")
    counts = the_sum(alone.stderr)
    assert (counts["done"], counts["cuts"]) == ("drawn", "--max-nodes")
    drawn = re.search(r"(\d+) alerts from \d+ sources?,", picture.read_text())
    assert drawn and int(drawn.group(1)) == counts["written"] == 69 - counts["cut"]
    both = from_cron(f"--alerts-log={LOG}", "--all", f"--render={picture}", "--max-nodes=8", f"--output={tmp_path / 'day.csv'}", "--debug")
    counts = the_sum(both.stderr)
    assert (counts["done"], counts["cut"], counts["written"]) == ("written", None, 69)
    assert f"debug: --max-nodes left {69 - int(drawn.group(1))} alert(s) out of the picture" in both.stderr
    for page in (
        from_cron(f"--alerts-log={LOG}", "--all", "--format=html", "--max-nodes=8", "--debug"),
        from_cron(f"--alerts-log={LOG}", "--all", f"--render={tmp_path / 'day.html'}", "--max-nodes=8", "--debug"),
    ):
        counts = the_sum(page.stderr)  # the interactive page holds every triple: its table and search show them
        assert (counts["done"], counts["cut"], counts["written"]) == ("written", None, 69)
        assert f"debug: --max-nodes left {69 - int(drawn.group(1))} alert(s) out of the page's graph" in page.stderr


def test_the_counts_add_up_on_the_database(ossec, cli):
    alerts = load_day(ossec)
    flags = ["--all", "--count", "--debug", "--exclude-alerts=5712", "--location=(web*", "--top=3", "--min-count=2"]
    from_db = cli(*ossec.args, *flags)
    counts = the_sum(from_db.err)
    web = [a for a in alerts if a.location.startswith("(web")]
    want = expected_counts(web, excluded=(5712,), min_count=2, top=3)
    want["read"], want["removed"] = len(alerts), len(alerts) - len(web) + want["removed"]
    assert {k: counts[k] for k in want} == want
    assert counts["written"] == sum(int(line.rsplit(",", 1)[1]) for line in from_db.lines)

