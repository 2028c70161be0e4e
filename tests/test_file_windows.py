"""Time windows over alert files skip what they do not need (seeking, whole files), and the results
equal a full read: daily archives shuffled, .gz and plain mixed, alerts out of order, windows on alert
times, empty windows; first and last seen per triple against values computed from the examples."""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import sys
from collections import defaultdict

import pytest
from test_files import make_examples

import alerts2afterglow

DAY = 86400
D0 = make_examples.DAY  # 2026-11-27 00:00 UTC, the example day
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


@pytest.mark.parametrize("kind", ["log", "json"])
def test_daily_archives_shuffled_give_what_a_full_read_gives(tmp_path, cli, parser, kind):
    offsets = range(-2, 4)  # Nov 25 to Nov 30
    paths = write_archives(tmp_path, kind, offsets)
    random.Random(7).shuffle(paths)
    flag = "--alerts-log" if kind == "log" else "--alerts-json"
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
    for start, end in windows:
        result = cli(*(f"{flag}={path}" for path in paths), *window_args(start, end), "--count", "--plain-csv", "--debug")
        assert result.code == 0
        assert result.out == expected_csv(everything, start, end), (start, end)
        assert "warning" not in result.err
    # The one-hour lookup reads one archive of six (the others by their time, name or first alert).
    one_hour = cli(flag, *sorted(paths), *window_args(*windows[0]), "--debug")  # as a shell glob gives them
    assert one_hour.out == cli(*(f"{flag}={path}" for path in paths), *window_args(*windows[0])).out != ""
    skipped = [line for line in one_hour.err.splitlines() if ": skipped: " in line]
    assert len(skipped) == 5, one_hour.err
    assert not any("ossec-alerts-28." in line for line in skipped)


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
def test_seeking_the_window_start_in_a_plain_file(tmp_path, cli, parser, small_blocks, kind):
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
    seeked = run_window(cli, kind, path, D0 - 9 * DAY + 2 * 3600, D0 - 9 * DAY + 3 * 3600)
    (line,) = [line for line in seeked.err.splitlines() if "the window starts after byte" in line]
    skipped = int(line.split("after byte ")[1].split()[0])
    assert size * 0.6 < skipped < size * 0.7, (skipped, size)  # day 21 of 30 begins at 2/3 of the file


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
    # An alert of the window written days before, its disorder seen after the window: the start skipped is read too.
    early = list(alerts)
    early.insert(100, early.pop(in_window[4]))
    early.append(alerts[50])  # stamped weeks before the alerts around it
    for name, order in (("swapped", swapped), ("late", late), ("early", early)):
        path = big_file(tmp_path, kind, order, name)
        result = run_window(cli, kind, path, start, end)
        assert result.out == expected_csv(order, start, end), name
        assert "the window starts after byte" in result.err, name
        assert ("not in time order" in result.err) == (name != "swapped"), name  # disorder within the slack is no disorder


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
