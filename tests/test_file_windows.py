"""Time windows over alert files skip whole files on their modification time or first alert, and pass
over pieces of alerts.log whose headers show none of the window's times; the results equal a full
read (and --no-skip) wherever the clock stayed within TIME_ORDER_SLACK: daily archives shuffled, .gz
and plain mixed, alerts out of order, clocks set back and forward, windows on alert times and file
edges, empty windows; a clock set back further is warned of; first and last seen per triple against
values computed from the examples."""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import re
import sys
from collections import defaultdict

import pytest
from test_files import make_examples

import alerts2afterglow

DAY = 86400
D0 = make_examples.DAY  # 2026-11-27 00:00 UTC, the example day
AUTH = "(web1) 10.0.0.2->/var/log/auth.log"
EXAMPLE = make_examples.build_day()


@pytest.fixture(params=["orjson", "json"])
def parser(request, monkeypatch):
    """Every test here runs with the [fast] extra's parser and with the standard library's alone."""
    if request.param == "json":
        monkeypatch.setitem(sys.modules, "orjson", None)
    assert (alerts2afterglow.fast_json() is None) == (request.param == "json")
    return request.param


def day(offset: int) -> list[make_examples.Example]:
    """The example day moved by ``offset`` days."""
    return [make_examples.Example(**{**a.__dict__, "epoch": a.epoch + offset * DAY}) for a in EXAMPLE]


def entries(alerts: list[make_examples.Example], kind: str) -> bytes:
    return "".join(map(make_examples.log_entry if kind == "log" else make_examples.json_entry, alerts)).encode()


def expected_csv(alerts: list[make_examples.Example], start: int | None, end: int | None) -> str:
    """What --count --plain-csv must print, computed from the examples themselves, not by the tool."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for a in alerts:
        if a.src_ip and (start is None or start <= a.epoch < end):
            counts[a.src_ip, a.description, a.location] += 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([*triple, count] for triple, count in sorted(counts.items()))
    return out.getvalue()


def window_args(start: int | None, end: int | None) -> list[str]:
    return ["--all"] if start is None else [f"--start-time={start}", f"--end-time={end}"]


def write_archives(tmp_path, kind: str, offsets: range) -> list[str]:
    """Daily archives as OSSEC keeps them (2026/Nov/ossec-alerts-DD.log[.gz]), every other one
    compressed, each last written just after its day (when OSSEC rotates and compresses it)."""
    folder = tmp_path / "2026" / "Nov"
    folder.mkdir(parents=True)
    paths = []
    for offset in offsets:
        data = entries(day(offset), kind)
        name = f"ossec-alerts-{27 + offset:02d}.{kind}" + (".gz" if offset % 2 else "")
        path = folder / name
        path.write_bytes(gzip.compress(data, mtime=0) if offset % 2 else data)
        rotated = D0 + (offset + 1) * DAY + 5
        os.utime(path, (rotated, rotated))
        paths.append(str(path))
    return paths


def skipped(err: str) -> dict[str, str]:
    """The files that --debug says were skipped, and why."""
    return dict(re.findall(r"debug: (.*): skipped: (.*)", err))


def alerts_read(err: str) -> int:
    return int(re.search(r"debug: alerts read: (\d+) =", err)[1])


@pytest.mark.parametrize("kind", ["log", "json"])
def test_daily_archives_shuffled_give_what_a_full_read_gives(tmp_path, cli, parser, kind):
    offsets = range(-2, 4)  # Nov 25 to Nov 30
    paths = write_archives(tmp_path, kind, offsets)
    random.Random(7).shuffle(paths)
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
    files = [f"{flag}={path}" for path in paths]
    everything = [a for offset in offsets for a in day(offset)]
    brute = EXAMPLE[0].epoch + DAY  # Nov 28 02:10:21, the first alert of the brute force
    windows = [
        (D0 + DAY + 2 * 3600, D0 + DAY + 3 * 3600),  # one hour, Nov 28
        (brute, brute + 600),  # starting exactly on an alert
        (brute - 300, EXAMPLE[5].epoch + DAY),  # ending exactly on one (excluded)
        (D0 + DAY + 15 * 3600, D0 + DAY + 16 * 3600),  # no alert at all
        (D0 + 18 * 3600, D0 + DAY + 3 * 3600),  # across midnight, two files
        (D0 - 10 * DAY, D0 - 9 * DAY),  # before every file
        (None, None),
    ]
    # At and around every file's edges: its first and last alert, its last write, and where each
    # bound starts to skip it (the last write and the slack; the first alert less the slack).
    slack = alerts2afterglow.TIME_ORDER_SLACK
    for offset in offsets:
        first, last, written = EXAMPLE[0].epoch + offset * DAY, EXAMPLE[-1].epoch + offset * DAY, D0 + (offset + 1) * DAY + 5
        for point in (first, last, written, written + slack, first - slack):
            windows += [(point - 1, point), (point, point + 1), (point - 3600, point), (point, point + 3600)]
    for start, end in windows:
        result = cli(*files, *window_args(start, end), "--count", "--plain-csv", "--debug")
        assert result.code == 0
        assert result.out == expected_csv(everything, start, end), (start, end)
        assert result.out == cli(*files, *window_args(start, end), "--count", "--plain-csv", "--no-skip").out
        assert alerts_read(result.err) == sum(1 for a in everything if start is None or start <= a.epoch < end)
        assert "warning" not in result.err
    # The one-hour lookup reads one archive of six: the others are skipped, those before it on their
    # modification time, those after it on their first alert; --no-skip reads them all.
    one_hour = cli(flag, *sorted(paths), *window_args(*windows[0]), "--debug")  # as a shell glob gives them
    assert one_hour.out == cli(*files, *window_args(*windows[0])).out != ""
    reasons = skipped(one_hour.err)
    assert sorted(reasons) == sorted(path for path in paths if "ossec-alerts-28." not in path)
    for path, reason in reasons.items():
        before = int(re.search(r"-(\d\d)\.", path)[1]) < 28
        assert ("modification time" in reason, "first alert" in reason) == (before, not before), (path, reason)
    assert "skipped" not in cli(flag, *paths, *window_args(*windows[0]), "--debug", "--no-skip").err
    passed = dict(re.findall(r"debug: (.*): ([\d,]+) bytes hold no alert of the time window", one_hour.err))
    if kind == "log":  # of the archive read, the pieces outside the window cost only a search for their headers
        assert list(passed) == [next(path for path in paths if "ossec-alerts-28." in path)]
    else:
        assert passed == {}


def big_file(tmp_path, kind: str, alerts: list[make_examples.Example], name: str = "alerts") -> str:
    path = tmp_path / f"{name}.{kind}"
    path.write_bytes(entries(alerts, kind))
    return str(path)


def month() -> list[make_examples.Example]:
    return [a for offset in range(-29, 1) for a in day(offset)]  # Oct 29 to Nov 27


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 KiB, so that seeking (in files over four blocks) works on files a test can write."""
    monkeypatch.setattr(alerts2afterglow, "_BLOCK", 4096)


def run_window(cli, kind: str, path: str, start: int, end: int):
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
    return cli(f"{flag}={path}", *window_args(start, end), "--count", "--plain-csv", "--debug")


@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_window_in_a_plain_file_of_a_month(tmp_path, cli, parser, small_blocks, kind):
    alerts = month()
    path = big_file(tmp_path, kind, alerts)
    size = os.path.getsize(path)
    for start, end in [
        (D0 - 9 * DAY + 2 * 3600, D0 - 9 * DAY + 3 * 3600),
        (alerts[0].epoch, alerts[0].epoch + 60),  # the very first alert
        (alerts[-1].epoch, alerts[-1].epoch + 1),  # the very last
        (D0 - 9 * DAY + 15 * 3600, D0 - 9 * DAY + 16 * 3600),  # empty
    ]:
        result = run_window(cli, kind, path, start, end)
        assert result.out == expected_csv(alerts, start, end), (start, end)
    # Of alerts.log, the pieces whose headers show no time of the window are passed over: all but the
    # day (the window's epochs share their first digits with those of some 6 hours).
    hour = run_window(cli, kind, path, D0 - 9 * DAY + 2 * 3600, D0 - 9 * DAY + 3 * 3600)
    passed = re.findall(r"([\d,]+) bytes hold no alert of the time window", hour.err)
    if kind == "log":
        (part,) = passed
        assert size * 0.9 < int(part.replace(",", "")) < size, (part, size)
    else:
        assert passed == []


@pytest.mark.parametrize("kind", ["log", "json"])
def test_alerts_out_of_time_order_are_not_lost(tmp_path, cli, parser, small_blocks, kind):
    alerts = month()
    first = next(i for i, a in enumerate(alerts) if a.epoch >= D0 - 9 * DAY) + 10  # Nov 18, amid the brute force
    start, end = alerts[first].epoch, alerts[first + 20].epoch
    in_window = [i for i, a in enumerate(alerts) if start <= a.epoch < end]
    # Neighbours seconds apart swapped (Wazuh's threads) across the window's edges.
    swapped = list(alerts)
    for i in (first - 1, first + 19):
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    # An alert of the window written days later, at the end of the file (a clock set back).
    late = list(alerts)
    late.append(late.pop(in_window[3]))
    # An alert of the window written days before, and one stamped weeks before the alerts around it.
    early = list(alerts)
    early.insert(100, early.pop(in_window[4]))
    early.append(alerts[50])
    for name, order in (("swapped", swapped), ("late", late), ("early", early)):
        path = big_file(tmp_path, kind, order, name)
        result = run_window(cli, kind, path, start, end)
        assert result.out == expected_csv(order, start, end), name


def tallies(flag: str, paths: list[str], window: list[str]) -> dict[tuple[str, str, str], alerts2afterglow.Tally]:
    """The grouped triples with their tallies, as a run of the CLI's arguments computes them."""
    settings = alerts2afterglow.build_settings(
        alerts2afterglow.build_parser().parse_args([*(f"{flag}={p}" for p in paths), *window]), D0 + 60 * DAY
    )
    source = alerts2afterglow.Source(alerts2afterglow.read_alert_files(settings))
    rows = alerts2afterglow.tally_triples(source, settings.filters, settings.use_user, alerts2afterglow.Stats())
    return dict(rows)


def seen(alerts: list[make_examples.Example], start: int | None, end: int | None) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(count, first, last) per triple, computed from the examples."""
    found: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for a in alerts:
        if a.src_ip and (start is None or start <= a.epoch < end):
            found[a.src_ip, a.description, a.location].append(a.epoch)
    return {triple: (len(epochs), min(epochs), max(epochs)) for triple, epochs in found.items()}


@pytest.mark.parametrize("kind", ["log", "json"])
@pytest.mark.parametrize("block", [1 << 20, 4093])
def test_first_and_last_seen_of_every_triple(tmp_path, cli, parser, kind, block, monkeypatch):
    monkeypatch.setattr(alerts2afterglow, "_BLOCK", block)
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
    three_days = day(-1) + day(0) + day(1)
    shuffled = list(three_days)
    random.Random(3).shuffle(shuffled)  # out of order everywhere: the exact, slow path
    cases = {
        "in order": [big_file(tmp_path, kind, three_days, "ordered")],
        "shuffled": [big_file(tmp_path, kind, shuffled, "shuffled")],
        "three files": [big_file(tmp_path, kind, day(offset), f"day{offset}") for offset in (1, -1, 0)],
    }
    for name, paths in cases.items():
        for start, end in [(None, None), (D0 + 2 * 3600 + 700, D0 + DAY + 9 * 3600 + 1200)]:
            got = tallies(flag, paths, window_args(start, end))
            want = seen(three_days, start, end)
            assert {triple: (t.alerts, t.first, t.last) for triple, t in got.items()} == want, (name, start)
            assert any(first != last for _, first, last in want.values())


def stepped(alerts: list[make_examples.Example], at: int, seconds: int) -> list[make_examples.Example]:
    """The alerts as a manager writes them when its clock is stepped by ``seconds`` (back when
    negative: NTP, a VM restored) just before the alert at index ``at``: same order, later stamps moved."""
    return [*alerts[:at], *(make_examples.Example(**{**a.__dict__, "epoch": a.epoch + seconds}) for a in alerts[at:])]


@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_clock_set_back_inside_one_file_loses_nothing(tmp_path, cli, parser, small_blocks, kind):
    """A month in one plain file, the clock set back by minutes or hours at some moment: the alerts of
    a window lie in two places of the file, before the step and after it. Every window gives what the
    alerts themselves say, wherever a bisection of the file's bytes would have pointed (it lost some
    of these: a step of 12 hours, windows from 4.5 hours after the stamp the clock was set back to)."""
    alerts = month()
    moment = next(i for i, a in enumerate(alerts) if a.epoch >= D0 - 9 * DAY + 6 * 3600)  # Nov 18, 06:00
    for back in (10 * 60, 3 * 3600, 12 * 3600, 30 * 3600):
        order = stepped(alerts, moment, -back)
        path = big_file(tmp_path, kind, order, f"back{back}")
        step = alerts[moment].epoch - back  # the first stamp after the step
        windows = [(start, start + 3600) for start in range(step - 1800, alerts[moment].epoch + 3600, 3600)]
        for start, end in [*windows, (step, step + 600), (D0 - 9 * DAY, D0 - 8 * DAY)]:
            result = run_window(cli, kind, path, start, end)
            assert (result.code, result.out) == (0, expected_csv(order, start, end)), (back, start - step)
            assert "warning" not in result.err


def archive_file(folder, day_of_month: int, kind: str, alerts: list[make_examples.Example], written: int, gz: bool) -> str:
    """An OSSEC daily archive (2026/Nov/ossec-alerts-DD.log[.gz]) last written at ``written``, as its clock said."""
    path = folder / (f"ossec-alerts-{day_of_month:02d}.{kind}" + (".gz" if gz else ""))
    data = entries(alerts, kind)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    os.utime(path, (written, written))
    return str(path)


def restamped(alerts: list[make_examples.Example], first: int) -> list[make_examples.Example]:
    """The alerts stamped a minute apart from ``first`` on: written by a clock that said so."""
    return [make_examples.Example(**{**a.__dict__, "epoch": first + 60 * i}) for i, a in enumerate(alerts)]


def set_back_warnings(err: str) -> list[str]:
    return re.findall(r"warning: (.*): an alert of .* follows one of .*, so the clock was set back by more than an hour; .*--no-skip reads every file", err)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_clock_moved_across_daily_archives(tmp_path, cli, parser, kind, gz):
    """Daily archives written by a manager whose clock moved, as OSSEC and Wazuh write (they change
    files when an hour ends on another day, analysisd.c):

    * Nov 26: the clock ran 5 hours ahead until 10:00, was set back, three alerts were written at
      11:00 and the manager shut down: last written at 11:xx, it holds alerts of 14:xx;
    * Nov 27: the clock was a day behind and NTP stepped it from Nov 27 14:20 to Nov 28 14:50: the
      hour did not change, and alerts of Nov 28 went on into the Nov 27 archive (its name is wrong,
      its modification time right: it is read for Nov 28);
    * Nov 28: the clock was set a day back at 14:50 (a VM restored with a wrong clock), within the
      hour: alerts of Nov 27 14:52 on follow those of Nov 28's morning, and it was last written at
      Nov 27 15:xx;
    * Nov 30: an archive as it should be.

    Two of them break the premise of skipping (a clock set back by more than an hour). With --no-skip
    every window gives what the alerts say; without, a window whose alerts lie where the premise
    broke misses them, and a run that reads a file that breaks it and skips another says so, once.
    """
    folder = tmp_path / "2026" / "Nov"
    folder.mkdir(parents=True)
    nov26 = [make_examples.Example(**{**a.__dict__, "epoch": a.epoch + 5 * 3600}) for a in day(-1) if a.epoch < D0 - DAY + 10 * 3600]
    nov26 += [a for a in day(-1) if D0 - DAY + 11 * 3600 <= a.epoch < D0 - DAY + 12 * 3600]
    before, after = [a for a in day(0) if a.epoch < D0 + 14 * 3600 + 1200], [a for a in day(0) if a.epoch >= D0 + 14 * 3600 + 1200]
    nov27 = before + restamped(after, D0 + DAY + 14 * 3600 + 50 * 60)
    before, after = [a for a in day(1) if a.epoch < D0 + DAY + 14 * 3600 + 3000], [a for a in day(1) if a.epoch >= D0 + DAY + 14 * 3600 + 3000]
    nov28 = before + restamped(after, D0 + 14 * 3600 + 52 * 60)
    nov30 = day(3)
    archives = {26: nov26, 27: nov27, 28: nov28, 30: nov30}
    paths = {n: archive_file(folder, n, kind, alerts, alerts[-1].epoch + 5, gz) for n, alerts in archives.items()}
    everything = [a for alerts in archives.values() for a in alerts]
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
    files = [f"{flag}={path}" for path in paths.values()]

    def run(start, end, *more):
        result = cli(*files, *window_args(start, end), "--count", "--plain-csv", *more)
        assert result.code == 0, result.err
        return result

    nov26_14h, in_nov27, in_nov28 = (D0 - DAY + 14 * 3600, D0 - DAY + 15 * 3600), (D0 + DAY + 14 * 3600, D0 + DAY + 15 * 3600), (D0 + 14 * 3600, D0 + 15 * 3600)
    for start, end in [nov26_14h, in_nov27, in_nov28, (D0 + 2 * 3600, D0 + 3 * 3600), (D0 - DAY, D0 + 2 * DAY), (None, None)]:
        result = run(start, end, "--no-skip", "--debug")
        assert result.out == expected_csv(everything, start, end) != "", (start, end)
        assert "skipped:" not in result.err and set_back_warnings(result.err) == []
    # The Nov 27 archive holds Nov 28 14:xx: its modification time says so, and it is read.
    result = run(*in_nov27, "--debug")
    assert result.out == expected_csv(everything, *in_nov27)
    assert paths[27] not in skipped(result.err)
    # What the premise misses: Nov 26 14:xx, in an archive last written at 11:xx (skipped on that), and
    # Nov 27 14:xx after the first alert of the Nov 28 archive (skipped on it). No file read shows it.
    for window, where, bound in ((nov26_14h, 26, "modification time"), (in_nov28, 28, "first alert")):
        result = run(*window, "--debug")
        assert bound in skipped(result.err)[paths[where]]
        assert result.out != expected_csv(everything, *window)
        assert set_back_warnings(result.err) == []
    # A run that reads a file that breaks the premise, and skips files: one warning, naming the first
    # such file, without --debug too (a cron job's mail has it). Its results are those of the alerts.
    for (start, end), named in (
        ((D0 - DAY + 7 * 3600, D0 - DAY + 8 * 3600), 26),  # Nov 26 read, the others skipped on their first alert
        # Nov 28 read (last written at Nov 27 15:xx by its clock), Nov 26 skipped on its last write, Nov 30 on its first alert
        ((D0 + 12 * 3600, D0 + DAY + 3 * 3600), 28),
        ((D0 - DAY, D0 + 2 * DAY), 26),  # both read, Nov 30 skipped
    ):
        result = run(start, end)
        assert result.out == expected_csv(everything, start, end) != "", (start - D0, result.err)
        assert set_back_warnings(result.err) == [paths[named]], result.err
        assert len(result.err.splitlines()) == 1
    # Nothing skipped: nothing to warn of (the alerts of a file read are all found, in any order).
    assert set_back_warnings(run(None, None).err) == []


def test_a_window_over_a_long_alert_and_a_header_at_any_offset(tmp_path, cli, small_blocks):
    """A long alert (a 140 KB log line, as a multi-line Wazuh event or "Previous output" gives), then
    the next header, with the window starting at the long alert. A read of the file's bytes from
    its middle that ended at any byte of that header once took its epoch cut short (17957 for
    1795745422) for one before the window, and started reading after the long alert."""
    rule = "Rule: 5716 (level 5) -> 'SSHD authentication failed.'"

    def alert(epoch: int, source: str, log: str = "sshd: x") -> str:
        return f"** Alert {epoch}.0: - syslog,sshd,\n2026 Nov 27 02:10:21 {AUTH}\n{rule}\nSrc IP: {source}\n{log}\n\n"

    start = D0 + 2 * 3600
    long = alert(start, "192.0.2.1", "x" * 140_000)
    following = alert(start + 1, "192.0.2.2")
    for k in range(len(f"** Alert {start + 1}.0:") + 2):
        # The size that makes a read of 64 KiB from the byte before the middle end k bytes into the next header.
        size = 2 * (len(long) + k - 65535)
        filler = alert(start + 2, "192.0.2.3", "")
        filler = alert(start + 2, "192.0.2.3", "z" * (size - len(long) - len(following) - len(filler)))
        text = long + following + filler
        assert len(text) // 2 - 1 + 65536 == len(long) + k
        path = tmp_path / f"long{k}.log"
        path.write_text(text)
        result = cli(f"--alerts-log={path}", f"--start-time={start}", f"--end-time={start + 3600}", "--count")
        assert result.lines == [f"192.0.2.{i},SSHD authentication failed.,{AUTH},1" for i in (1, 2, 3)], k


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_alerts_json_whose_first_line_is_junk(tmp_path, cli, parser, gz):
    """The first alert gives a file's start, not its first line: a line cut by rotation, garbage, an
    empty line, JSON that is no alert but says a time (years ahead), or one that names none. Every
    window gives what the alerts say, and one days before the file skips it on its first alert."""
    alerts = day(-1) + day(0)
    data = entries(alerts, "json")
    window = (D0 + 2 * 3600, D0 + 3 * 3600)
    for name, first in {
        "cut": b'tication failed."},"location":"/var/log/secure"}\n',
        "garbage": b"\x00\xff garbage \x1b[2J\n",
        "empty": b"\n",
        "blank": b" \t\r\n",
        "future": b'{"id": "2999999999.0", "note": "not an alert"}\n',
        "timeless": b'{"rule": {"id": "1", "level": 3}}\n',
    }.items():
        path = tmp_path / f"{name}.json" if not gz else tmp_path / f"{name}.json.gz"
        path.write_bytes(gzip.compress(first + data, mtime=0) if gz else first + data)
        os.utime(path, (alerts[-1].epoch + 5,) * 2)
        for start, end in (window, (None, None)):
            result = cli(f"--alerts-json={path}", *window_args(start, end), "--count", "--plain-csv")
            assert (result.code, result.out) == (0, expected_csv(alerts, start, end)), (name, start)
            assert result.out != ""
        # For a window days before the file, it is skipped on its first alert, not on its first line.
        result = cli(f"--alerts-json={path}", *window_args(D0 - 5 * DAY, D0 - 4 * DAY), "--debug")
        first = alerts2afterglow.utc(alerts[0].epoch)
        assert skipped(result.err) == {str(path): f"its first alert, of {first}, comes more than an hour after the window ends"}, name


@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_block_that_ends_at_any_byte_of_a_header_or_line(tmp_path, cli, kind, monkeypatch):
    """Files are read a block at a time: wherever a block ends in an alert's header (or a JSON line),
    and whether the window starts at that alert or not, the alerts are those a full read gives."""
    alerts = day(0)
    data = entries(alerts, kind)
    path = big_file(tmp_path, kind, alerts)
    tenth = data.index(b"** Alert " if kind == "log" else b"{", data.index(str(alerts[10].epoch).encode()) - 20)
    line = data.index(b"\n", tenth) - tenth
    windows = [(alerts[10].epoch, alerts[10].epoch + 600), (alerts[11].epoch, alerts[30].epoch), (None, None)]
    for k in range(-1, line + 2):
        monkeypatch.setattr(alerts2afterglow, "_BLOCK", tenth + k)
        for start, end in windows:
            result = run_window(cli, kind, path, start, end) if start else cli(f"--alerts-{kind}={path}", "--all", "--count", "--plain-csv")
            assert (result.code, result.out) == (0, expected_csv(alerts, start, end)), (k, start)
            assert "warning" not in result.err, k


@pytest.mark.parametrize("kind", ["log", "json"])
def test_a_clock_set_back_by_less_than_the_slack_loses_nothing(tmp_path, cli, parser, kind):
    """Within the premise: the clock set back by 50 minutes near the end of the Nov 27 archive (its
    last write is then before its latest alert) and just after the first alert of the Nov 28 one
    (alerts after it stamped before it). Every window at and around those bounds' edges gives what
    the alerts say, and nothing is warned of."""
    folder = tmp_path / "2026" / "Nov"
    folder.mkdir(parents=True)
    back = 50 * 60
    archives = {26: day(-1), 27: stepped(day(0), len(EXAMPLE) - 3, -back), 28: stepped(day(1), 1, -back), 29: day(2)}
    paths = {n: archive_file(folder, n, kind, alerts, alerts[-1].epoch + 5, n % 2 == 0) for n, alerts in archives.items()}
    everything = [a for alerts in archives.values() for a in alerts]
    files = [f"--alerts-{kind}={path}" for path in paths.values()]
    slack = alerts2afterglow.TIME_ORDER_SLACK
    points = []
    for alerts in (archives[27], archives[28]):
        epochs = [a.epoch for a in alerts]
        points += [min(epochs), max(epochs), epochs[0], epochs[-1] + 5, epochs[-1] + 5 + slack, epochs[0] - slack]
    for point in points:
        for start, end in [(point - 1, point), (point, point + 1), (point - 3600, point), (point, point + 3600), (point - 1, point + 1)]:
            result = cli(*files, *window_args(start, end), "--count", "--plain-csv")
            assert (result.code, result.out, result.err) == (0, expected_csv(everything, start, end), ""), (point, start, end)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_a_probe_that_ends_at_any_byte_of_the_first_header(tmp_path, cli, gz):
    """A file's first alert is read from its first 64 KiB (decompressed): an archive that starts with
    the end of a long alert (a line cut by rotation), its first header at any offset of the probe's
    end. An epoch the probe cut short is never taken: the file is skipped for a window more than an
    hour before its first alert only when the probe holds that header's whole line."""
    alerts = day(1)
    log = entries(alerts, "log").decode()
    header = log[: log.index("\n")]  # its line: "** Alert 1795831821.0: - syslog,sshd,…"
    probe = alerts2afterglow._PROBE
    window = (D0, D0 + 3600)  # Nov 27, more than an hour before the first alert (Nov 28 02:10)
    for k in range(-2, len(header) + 3):
        lead = "x" * (probe - k - 1) + "\n"  # the first header starts k bytes before the probe's end
        data = (lead + log).encode()
        assert data[probe - k : probe - k + len(header)] == header.encode()
        path = tmp_path / (f"ossec-alerts-{k + 2:02d}.log" + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        os.utime(path, (alerts[-1].epoch + 5,) * 2)
        result = cli(f"--alerts-log={path}", *window_args(*window), "--debug")
        assert (result.code, result.out) == (0, "")
        whole = k > len(header)  # the probe holds the header's newline
        assert (str(path) in skipped(result.err)) == whole, k
        inside = (alerts[0].epoch, alerts[0].epoch + 600)
        assert cli(f"--alerts-log={path}", *window_args(*inside), "--count", "--plain-csv").out == expected_csv(alerts, *inside) != ""


def test_files_copied_later_are_read(tmp_path, cli, parser):
    """cp gives a copy the time of copying: later than its alerts, so that the bound on a file's last
    write only loosens (cp -p, rsync -a and tar keep the original time, as rotation left it)."""
    offsets = range(-1, 2)
    paths = write_archives(tmp_path, "log", offsets)
    copied = D0 + 40 * DAY
    for path in paths:
        os.utime(path, (copied, copied))
    everything = [a for offset in offsets for a in day(offset)]
    for start, end in [(D0 + 2 * 3600, D0 + 3 * 3600), (D0 + 3 * DAY, D0 + 4 * DAY), (D0 - 5 * DAY, D0 - 4 * DAY)]:
        result = cli(*(f"--alerts-log={p}" for p in paths), *window_args(start, end), "--count", "--plain-csv", "--debug")
        assert result.out == expected_csv(everything, start, end)
        assert "modification time" not in result.err
    # Skipped on their first alert alone, for a window before them.
    assert len(skipped(result.err)) == 3


def test_no_skip_is_for_alert_files(cli):
    result = cli("--no-skip")
    assert result.usage_error() == "alerts2afterglow: error: --no-skip works on --alerts-log and --alerts-json (a database is read by its index)"
