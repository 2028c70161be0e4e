"""Hostile output: what the tool writes (CSV for AfterGlow and spreadsheets, DOT, SVG, the terminal,
files on disk) when the values are an attacker's, and what it leaves behind when stopped.

Every case runs the CLI as a process, as cron and users do, and checks its exit status, its stderr
(empty, or one line and no traceback) and what it wrote; where it writes files or runs Graphviz,
that no temporary file and no Graphviz process is left.
"""

from __future__ import annotations

import csv
import fcntl
import gzip
import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import ROOT_DIR, SCRIPT

import alerts2afterglow

PERL = ROOT_DIR / "tests" / "perl"
SVG = "{http://www.w3.org/2000/svg}"
MARKER = "A2AG_TEST_MARKER"  # set in the CLI's environment, inherited by Graphviz: finds them in /proc
OTHER_UID, OTHER_GID = 4321, 8765  # an owner that is neither root nor the test

LONG = "A" * 20_000  # Graphviz refuses a quoted string of 16,384 bytes or more
USERS = [
    "=cmd|' /C calc'!A0",
    "+SUM(1)",
    "-2+3",
    "@SUM(1)",
    "'quoted",
    "&nbsp;",
    "&foo;",
    "&#1;",
    "&amp;",
    "a\tb",
    "a\x00b",
    "a b",
    "a\\u0009b",  # a literal backslash, u, 0009: must not read as the escaped tab
    "invoice\u202efdp.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as invoiceexe.pdf
    "zero\u200bwidth",
    "\x1b]0;pwned\x07\x1b[31mred",  # a terminal's title set, then red text
    "\ufeffbom",
    "nbsp\u00a0space",
    "C:\\logs\\",
    '"quoted" name',
    LONG,
    LONG + "B",  # same beginning, another value: must stay another node and line
]
DESCRIPTIONS = [
    "\t=1+1 after a tab",
    "\r=1+1 after a carriage return",
    "SQL &nbsp; &foo; &#1; &amp; seen",
    "multi\nline\u2028description",
    "D" * 17_000,
]
LOCATIONS = [
    "(web1) 10.0.0.2->/var/log/&nbsp;.log",
    "ossec->&#1; &amp; \u202eexe.txt",
    "(web2) 10.0.0.3->" + "L" * 17_000,
]


def hostile_triples() -> set[tuple[str, str, str]]:
    """Every user with the first description and location; every description and location with 'root'."""
    triples = {(user, DESCRIPTIONS[0], LOCATIONS[0]) for user in USERS}
    return triples | {("root", what, where) for what in DESCRIPTIONS for where in LOCATIONS}


def test_plain_csv_on_a_terminal_shows_hidden_characters_escaped_as_ls_does(hostile):
    """On a terminal no escape sequence, bell or direction override gets through; piped, every byte does."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(command(f"--alerts-json={hostile}", "--all", "--use-user", "--plain-csv"), stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        shown = b""
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            shown += data
        assert (proc.wait(timeout=60), proc.stderr.read()) == (0, b"")
    finally:
        os.close(master)
    text = shown.decode("utf-8")
    assert not re.search("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f\u202e\u200b]", text)
    assert "\\u001b]0;pwned\\u0007\\u001b[31mred," in text
    assert "invoice\\u202efdp.exe," in text
    piped = quiet(run(f"--alerts-json={hostile}", "--all", "--use-user", "--plain-csv")).stdout
    assert b"\x1b]0;pwned\x07\x1b[31mred," in piped


def alerts_json(path: Path, triples: set[tuple[str, str, str]]) -> Path:
    """An alerts.json with one alert per triple, the source as the alert's user (--use-user)."""
    descriptions = {}  # one rule per description, as OSSEC has it
    lines = []
    for index, (user, what, where) in enumerate(sorted(triples)):
        rule = descriptions.setdefault(what, 100_000 + len(descriptions))
        alert = {"rule": {"sidid": rule, "comment": what, "level": 7}, "id": f"1764237600.{index}"}
        lines.append(json.dumps({**alert, "dstuser": user, "location": where}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return alerts_json(tmp_path / "hostile.json", hostile_triples())


def big_alerts_log(path: Path, sources: int = 200) -> Path:
    """An alerts.log whose graph Graphviz draws for seconds as a PNG with --layout=circo and --max-nodes=0
    (auto would pick sfdp, and a picture draws 80 nodes by default)."""
    lines = []
    for i in range(sources):
        date = time.strftime("%Y %b %d %H:%M:%S", time.gmtime(1764237600 + i))
        lines.append(
            f"** Alert {1764237600 + i}.{i}: - syslog,\n{date} (web{i % 20}) 10.0.0.{i % 20}->/var/log/auth{i % 5}.log\n"
            f"Rule: {5700 + i % 30} (level 5) -> 'Description number {i % 30}'\n"
            f"Src IP: 198.51.{i // 250}.{i % 250 + 1}\nx\n\n"
        )
    path.write_text("".join(lines))
    return path


def command(*argv: str) -> list[str]:
    return [sys.executable, str(SCRIPT), *argv]


def environment(marker: str = "") -> dict[str, str]:
    return {**os.environ, "SOURCE_DATE_EPOCH": "1795824000", MARKER: marker or uuid.uuid4().hex}


def run(*argv: str, umask: int = 0o022, prefix: tuple[str, ...] = (), marker: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, *command(*argv)],
        capture_output=True,
        env=environment(marker),
        timeout=120,
        preexec_fn=lambda: os.umask(umask),
    )


def quiet(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """A success: exit 0, nothing on stderr."""
    assert (result.returncode, result.stderr) == (0, b""), result.stderr.decode()
    return result


def one_error(result: subprocess.CompletedProcess) -> str:
    """A failure: exit 1, and one line on stderr that says why, never a traceback."""
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("alerts2afterglow: error: "), err
    assert "Traceback" not in err
    return err.strip()


def live_processes(marker: str) -> dict[int, str]:
    """{pid: command name} of the running processes that carry ``marker`` in their environment."""
    found = {}
    needle = f"{MARKER}={marker}".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes()  # empty for a zombie: it is gone
            name = Path(entry.path, "comm").read_text().strip()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found[int(entry.name)] = name
    return found


def wait_for(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_for_graphviz(marker: str, cli: subprocess.Popen) -> int:
    """The pid of the Graphviz process the CLI started, once it runs."""
    found: list[int] = []

    def running() -> bool:
        assert cli.poll() is None, cli.communicate()
        found[:] = [pid for pid, name in live_processes(marker).items() if name in alerts2afterglow.LAYOUTS]
        return bool(found)

    wait_for(running, "Graphviz to start")
    return found[0]


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# ---------------------------------------------------------------------------
# CSV for spreadsheets and for AfterGlow
# ---------------------------------------------------------------------------


def afterglow_parse(text: str) -> list[list]:
    proc = subprocess.run(
        ["perl", str(PERL / "afterglow_csv.pl")], input=text, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def afterglow_dot(records: list[list[str]]) -> str:
    """The DOT afterglow.pl 1.6.6 writes for these CSV fields (three nodes, xlabels on): every value
    copied between double quotes as it is, as a node name and as its label."""
    lines = ["digraph structs {", 'graph [label="AfterGlow 1.6.6", fontsize=8]', "node [shape=ellipse, style=filled];"]
    for source, event, target, *_ in records:
        for name in (source, event, target):
            lines.append(f'"{name}" [fillcolor=red, xlabel="{name}"]')
        lines.append(f'"{source}" -> "{event}";')
        lines.append(f'"{event}" -> "{target}";')
    return "\n".join([*lines, "}"]) + "\n"


def svg_of(dot: str) -> ElementTree.Element:
    """Graphviz's SVG of a DOT graph, parsed as XML: a ParseError is a picture browsers refuse."""
    proc = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return ElementTree.fromstring(proc.stdout)


def test_default_csv_is_one_to_one_spreadsheet_safe_and_survives_afterglow_and_graphviz(hostile):
    result = quiet(run(f"--alerts-json={hostile}", "--all", "--use-user", "--count"))
    text = result.stdout.decode("ascii")  # AfterGlow-safe: ASCII only
    triples = hostile_triples()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # One line per distinct triple: no two values merged (a<TAB>b, a<NUL>b and 'a b' stay three).
    assert len(rows) == len(triples) and {row[3] for row in rows} == {"1"}
    for column in range(3):
        assert len({row[column] for row in rows}) == len({triple[column] for triple in triples})
    # Nothing a spreadsheet runs as a formula; nothing AfterGlow or Graphviz would interpret.
    for row in rows:
        for cell in row[:3]:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert cell.isprintable() and '"' not in cell and "&" not in cell, cell
            assert len(cell) < 5000, "long values are cut for AfterGlow's Graphviz"
    cells = {row[0] for row in rows}
    assert {"'=cmd|' /C calc'!A0", "'+SUM(1)", "'-2+3", "'@SUM(1)", "''quoted"} <= cells
    assert {"a\\u0009b", "a\\u0000b", "a b", "a\\\\u0009b", "\\u0026nbsp;", "\\u0026amp;"} <= cells
    assert {"invoice\\u202efdp.exe", "\\u0022quoted\\u0022 name", "C:\\\\logs\\\\"} <= cells
    cut = sorted(cell for cell in cells if cell.startswith("AAAA"))
    assert len(cut) == 2 and all("...[cut: 2000" in cell and "characters in all; sha256 " in cell for cell in cut)
    # AfterGlow's own parser reads every line, and the DOT it would make is valid for Graphviz, its SVG valid XML.
    records = afterglow_parse(text)
    assert all(record[0] == 1 for record in records) and len(records) == len(rows)
    fields = [record[1:] for record in records]
    assert fields == rows
    svg = svg_of(afterglow_dot(fields))
    titles = {g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g") if g.get("class") == "node"}
    assert "\\u0026nbsp;" in titles and "''quoted" in titles


def test_plain_csv_keeps_every_value_and_only_neutralises_formulas(hostile):
    result = quiet(run(f"--alerts-json={hostile}", "--all", "--use-user", "--plain-csv"))
    rows = list(csv.reader(io.StringIO(result.stdout.decode("utf-8"), newline="")))

    def value(cell: str) -> str:
        return cell[1:] if cell.startswith("'") else cell  # the documented way back

    assert {tuple(map(value, row)) for row in rows} == hostile_triples()  # long values in full
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row
    assert {"'=cmd|' /C calc'!A0", "''quoted"} <= {row[0] for row in rows}
    assert "'\t=1+1 after a tab" in {row[1] for row in rows}


def test_lone_surrogate_from_json_is_written_everywhere(tmp_path):
    """JSON can carry half a UTF-16 pair, which UTF-8 cannot: no crash, and each output says so its way."""
    data = alerts_json(tmp_path / "a.json", {("lone\ud800", "d", "ossec->x"), ("lone\ufffd", "d", "ossec->x")})
    default = quiet(run(f"--alerts-json={data}", "--all", "--use-user")).stdout.decode()
    assert default.splitlines() == ["lone\\ud800,d,ossec->x", "lone\\ufffd,d,ossec->x"]
    plain = quiet(run(f"--alerts-json={data}", "--all", "--use-user", "--plain-csv")).stdout.decode()
    assert plain.splitlines() == ["lone\ufffd,d,ossec->x"] * 2
    dot = quiet(run(f"--alerts-json={data}", "--all", "--use-user", "--format=dot")).stdout.decode()
    assert '"source:lone\\\\ud800"' in dot and '"source:lone\ufffd"' in dot


# ---------------------------------------------------------------------------
# DOT and pictures
# ---------------------------------------------------------------------------


def svg_texts(svg: ElementTree.Element) -> dict[str, str]:
    """{node title: its label text, lines joined by spaces} of Graphviz's SVG."""
    nodes = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") == "node":
            nodes[group.find(f"{SVG}title").text] = " ".join(t.text or "" for t in group.iter(f"{SVG}text"))
    return nodes


def check_picture(svg: ElementTree.Element) -> None:
    """The hostile values drawn literally: one node each, entities as text, hidden characters escaped."""
    nodes = svg_texts(svg)
    sources = {title: text for title, text in nodes.items() if title.startswith("source:")}
    assert len(sources) == len(USERS) + 1  # every user, and root: nothing merged
    labels = set(sources.values())
    assert {"&nbsp;", "&foo;", "&#1;", "&amp;", "'quoted", "=cmd|' /C calc'!A0"} <= labels
    assert {"a\\u0009b", "a\\u0000b", "a b", "a\\\\u0009b", "invoice\\u202efdp.exe", "zero\\u200bwidth"} <= labels
    assert {"\\ufeffbom", "nbsp\\u00a0space", "C:\\logs\\", '"quoted" name'} <= labels
    cut = [label for label in labels if label.startswith("AAAA")]
    assert len(cut) == 2 and all("...[cut: 2000" in label and len(label) < 1200 for label in cut)
    assert len(set(cut)) == 2
    everything = " ".join(nodes.values()) + " ".join(svg.itertext())
    # Graphviz writes a run of spaces (the legend's) as no-break spaces; the value "nbsp\u00a0space" shows escaped above.
    assert not any(alerts2afterglow.hidden(char) for char in everything if char not in " \n\u00a0")
    events = [text for title, text in nodes.items() if title.startswith("event:")]
    assert "SQL &nbsp; &foo; &#1; &amp; seen" in events
    assert "multi\\u000aline\\u2028description" in events
    targets = [text for title, text in nodes.items() if title.startswith("target:")]
    assert "ossec ->&#1; &amp; \\u202eexe.txt" in targets  # two lines: agent, then log


def test_dot_is_accepted_by_graphviz_and_its_svg_is_valid_xml_showing_values_literally(hostile):
    dot = quiet(run(f"--alerts-json={hostile}", "--all", "--use-user", "--format=dot")).stdout.decode("utf-8")
    assert "&nbsp;" not in dot.replace("&amp;nbsp;", "")  # every '&' reaches Graphviz as '&amp;'
    assert max(len(line.encode()) for line in dot.splitlines()) < 16_384
    check_picture(svg_of(dot))


def test_render_svg_is_valid_xml_showing_values_literally(hostile, tmp_path):
    picture = tmp_path / "out" / "alerts.svg"
    picture.parent.mkdir()
    quiet(run(f"--alerts-json={hostile}", "--all", "--use-user", f"--render={picture}", "--layout=dot"))
    check_picture(ElementTree.parse(picture).getroot())
    assert files_in(picture.parent) == ["alerts.svg"]


def test_warnings_quoting_attacker_text_reach_the_terminal_escaped(tmp_path):
    # A file name is whatever whoever wrote the archive chose: here an escape sequence and an RTL override.
    evil = tmp_path / "alerts\x1b]0;owned\x07\u202egol.log"
    evil.write_text("not an alert\n")
    result = run(f"--alerts-log={evil}", "--all")
    assert result.returncode == 0 and result.stdout == b""
    err = result.stderr.decode()
    assert err == (
        f"alerts2afterglow: warning: {tmp_path}/alerts\\u001b]0;owned\\u0007\\u202egol.log: "
        "no '** Alert' line anywhere: is it an OSSEC alerts.log?\n"
    )


# ---------------------------------------------------------------------------
# Files on disk: what --output and --render replace, and how
# ---------------------------------------------------------------------------

FLAGS = {"--output": [], "--render": ["--layout=dot"]}
# Every file the tool writes: --logfile appends (--debug gives it lines to write; stdout gets the CSV).
EVERY_FILE = {**FLAGS, "--logfile": ["--debug"]}


def write_to(flag: str, path: Path, log: Path, **options) -> subprocess.CompletedProcess:
    return run(f"--alerts-log={log}", "--all", f"{flag}={path}", *EVERY_FILE[flag], **options)


def written(flag: str, path: Path | str) -> bool:
    return looks_written(flag, Path(path).read_bytes())


def looks_written(flag: str, data: bytes) -> bool:
    if flag == "--logfile":
        return b" alerts2afterglow[" in data and b" DEBUG: time window: all alerts" in data
    return data.startswith(b"\x89PNG") if flag == "--render" else b",SSHD authentication failed.," in data


@pytest.fixture
def log() -> Path:
    return ROOT_DIR / "examples" / "alerts.log"


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_new_file_gets_the_mode_any_program_gives(tmp_path, log, flag, umask):
    target = tmp_path / "alerts.png"
    quiet(write_to(flag, target, log, umask=umask))
    assert written(flag, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert files_in(tmp_path) == ["alerts.png"]


def others_file(directory: Path) -> Path:
    """An existing alerts.png, mode 0640, of another user and group."""
    target = directory / "alerts.png"
    target.write_text("old\n")
    os.chown(target, OTHER_UID, OTHER_GID)
    target.chmod(0o640)
    return target


@pytest.mark.parametrize("flag", FLAGS)
def test_replaced_file_keeps_mode_owner_and_group(tmp_path, log, flag):
    target = others_file(tmp_path)
    before = target.stat()
    quiet(write_to(flag, target, log, umask=0o077))
    after = target.stat()
    assert written(flag, target)
    assert after.st_ino != before.st_ino, "replaced by rename, never rewritten in place"
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (0o640, OTHER_UID, OTHER_GID)
    assert files_in(tmp_path) == ["alerts.png"]


@pytest.mark.parametrize("flag", FLAGS)
def test_file_whose_owner_cannot_be_kept_is_not_replaced(tmp_path, log, flag):
    """Without the power to chown (root without CAP_CHOWN), replacing another user's file would steal it."""
    target = others_file(tmp_path)
    result = write_to(flag, target, log, prefix=("setpriv", "--bounding-set=-chown"))
    assert f"cannot write {flag} {target}: it belongs to user {OTHER_UID} and group {OTHER_GID}" in one_error(result)
    assert target.read_text() == "old\n" and target.stat().st_uid == OTHER_UID
    assert files_in(tmp_path) == ["alerts.png"]


@pytest.mark.parametrize("flag", FLAGS)
def test_symlink_is_followed_and_kept(tmp_path, log, flag):
    real = tmp_path / "data" / "alerts.png"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o604)
    (tmp_path / "web").mkdir()
    link = tmp_path / "web" / "alerts.png"
    hop = tmp_path / "web" / "hop.png"
    hop.symlink_to("../data/alerts.png")  # a chain of relative links
    link.symlink_to("hop.png")
    quiet(write_to(flag, link, log))
    assert link.is_symlink() and os.readlink(link) == "hop.png" and os.readlink(hop) == "../data/alerts.png"
    assert written(flag, real) and stat.S_IMODE(real.stat().st_mode) == 0o604
    assert files_in(real.parent) == ["alerts.png"] and files_in(link.parent) == ["alerts.png", "hop.png"]


def test_dangling_symlink_creates_its_target(tmp_path, log):
    link = tmp_path / "alerts.csv"
    link.symlink_to("real.csv")
    quiet(write_to("--output", link, log))
    assert link.is_symlink() and written("--output", tmp_path / "real.csv")


@pytest.mark.parametrize("flag", FLAGS)
def test_character_device_is_written_in_place_never_replaced(tmp_path, log, flag):
    null = tmp_path / "null.png"
    os.mknod(null, 0o620 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null
    os.chown(null, OTHER_UID, OTHER_GID)
    null.chmod(0o620)
    quiet(write_to(flag, null, log))
    after = null.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == os.makedev(1, 3)
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == (0o620, OTHER_UID, OTHER_GID)
    assert files_in(tmp_path) == ["null.png"]


class FifoReader:
    """A reader of a FIFO, there before the CLI starts (opened without waiting for a writer), with
    room for all the CLI writes (a picture of the example day is some 140 KB): the test reads what
    came once the CLI has ended."""

    def __init__(self, fifo: Path) -> None:
        self.fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, 1 << 20)

    def received(self) -> bytes:
        """What was written (b"" when no writer came), the reader closed."""
        chunks = []
        try:
            while chunk := os.read(self.fd, 1 << 20):
                chunks.append(chunk)
        except BlockingIOError:  # a writer still holds it open: what it wrote is all there is
            pass
        finally:
            os.close(self.fd)
        return b"".join(chunks)


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_fifo_is_written_in_place(tmp_path, log, flag):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    result = write_to(flag, fifo, log)
    assert result.returncode == 0, result.stderr.decode()
    assert looks_written(flag, reader.received())
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert files_in(tmp_path) == ["pipe.png"]


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_fifo_that_no_one_reads_is_an_error_never_a_hang(tmp_path, log, flag):
    """A cron job must end: opening a FIFO to write waits for a reader, which may never come."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = write_to(flag, fifo, log)
    assert one_error(result) == (
        f"alerts2afterglow: error: cannot write {flag} {fifo}: no process reads this FIFO "
        "(it is written only while its reader runs)"
    )
    assert time.monotonic() - started < 60
    assert files_in(tmp_path) == ["pipe.png"]


def test_dev_stdout_and_dev_stderr_in_a_pipeline_are_written_in_place(log):
    """/dev/stdout is a link to /proc/self/fd/1, whose target is a pipe: no path to follow, the pipe is written."""
    result = run(f"--alerts-log={log}", "--all", "--output=/dev/stdout", "--logfile=/dev/stderr", "--debug")
    assert result.returncode == 0
    assert looks_written("--output", result.stdout)
    err = result.stderr.decode()
    assert "alerts2afterglow: debug: time window: all alerts" in err  # the terminal's line
    assert looks_written("--logfile", result.stderr)  # and the log file's


@pytest.mark.parametrize("flag", FLAGS)
def test_directory_socket_and_link_loop_are_refused(tmp_path, log, flag):
    directory = tmp_path / "dir.png"
    directory.mkdir()
    assert f"cannot write {flag} {directory}: it is a directory" in one_error(write_to(flag, directory, log))
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock.png"))
        result = write_to(flag, tmp_path / "sock.png", log)
        assert "it is neither a regular file, a character device nor a FIFO" in one_error(result)
        assert stat.S_ISSOCK((tmp_path / "sock.png").lstat().st_mode)
    loop = tmp_path / "loop.png"
    loop.symlink_to("loop.png")
    assert f"cannot write {flag} {loop}: Too many levels of symbolic links" in one_error(write_to(flag, loop, log))
    assert files_in(tmp_path) == ["dir.png", "loop.png", "sock.png"] and files_in(directory) == []


def test_unwritable_directory_is_named(tmp_path, log):
    """The file is replaced through a new file beside it: its directory must be writable."""
    target = tmp_path / "ro" / "alerts.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o666)
    target.parent.chmod(0o555)
    result = write_to("--output", target, log, prefix=("setpriv", "--bounding-set=-dac_override"))
    assert one_error(result) == (
        f"alerts2afterglow: error: cannot write --output {target}: Permission denied "
        f"(it is written as a new file in {target.parent})"
    )
    assert target.read_text() == "old\n"


# ---------------------------------------------------------------------------
# Shared sticky directories (/tmp): what another user left there for root's cron job
# ---------------------------------------------------------------------------
# This machine runs with fs.protected_symlinks, protected_fifos and protected_regular at 0: the kernel
# guards nothing, the tool must (the tests run as root, as the cron job does).


def directory_of_mode(path: Path, mode: int) -> Path:
    path.mkdir()
    path.chmod(mode)  # not the umask's
    return path


@pytest.fixture
def public(tmp_path: Path) -> Path:
    """A directory like /tmp: root's, sticky, anyone may write."""
    return directory_of_mode(tmp_path / "tmp", 0o1777)


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """Root's own directory (0700), out of other users' reach."""
    return directory_of_mode(tmp_path / "private", 0o700)


def planted_link(public: Path, target: Path, name: str = "alerts.png") -> Path:
    link = public / name
    link.symlink_to(target)
    os.lchown(link, OTHER_UID, OTHER_GID)
    return link


def not_followed(flag: str, path: Path, link: Path) -> str:
    return (
        f"alerts2afterglow: error: cannot write {flag} {path}: {link} is a symbolic link that another user owns "
        "in a sticky directory others may write, which is not followed (as fs.protected_symlinks does)"
    )


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_others_link_to_a_file_is_not_followed(public, private, log, flag):
    """Root's cron job writing /tmp/alerts.png must not replace, nor append to, what a user pointed it at."""
    victim = private / "shadow"
    victim.write_text("secret\n")
    link = planted_link(public, victim)
    assert one_error(write_to(flag, link, log)) == not_followed(flag, link, link)
    assert victim.read_text() == "secret\n" and link.is_symlink()
    assert files_in(public) == ["alerts.png"] and files_in(private) == ["shadow"]
    os.lchown(link, 0, 0)  # the same link, root's own: followed
    assert write_to(flag, link, log).returncode == 0
    assert written(flag, victim) and link.is_symlink()


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_others_link_to_a_fifo_or_a_device_is_not_followed(public, private, log, flag):
    """A FIFO or a device is written in place: followed, the link would hand root's data to whoever
    reads that FIFO, or write it into a device (as root: /dev/mem, /dev/port)."""
    fifo = private / "fifo"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)  # root's own reader: it must receive nothing
    link = planted_link(public, fifo)
    assert one_error(write_to(flag, link, log)) == not_followed(flag, link, link)
    assert reader.received() == b""
    # A copy of /dev/full: written, it would fail with "No space left on device".
    full = private / "full"
    os.mknod(full, 0o600 | stat.S_IFCHR, os.makedev(1, 7))
    link.unlink()
    link = planted_link(public, full)
    assert one_error(write_to(flag, link, log)) == not_followed(flag, link, link)
    assert files_in(public) == ["alerts.png"] and files_in(private) == ["fifo", "full"]


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_others_link_among_the_directories_of_the_path_is_not_followed(public, private, log, flag):
    """/tmp/reports/alerts.png, /tmp/reports a user's link to root's private directory."""
    (private / "alerts.png").write_text("root's\n")
    link = planted_link(public, private, "reports")
    path = link / "alerts.png"
    assert one_error(write_to(flag, path, log)) == not_followed(flag, path, link)
    assert (private / "alerts.png").read_text() == "root's\n" and files_in(private) == ["alerts.png"]


def test_link_among_the_directories_of_the_path_is_followed(tmp_path, log):
    """Links anywhere in the path are followed as open() follows them (here a relative one to a directory)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "current").symlink_to("../data")
    quiet(write_to("--output", tmp_path / "web" / "current" / "alerts.csv", log))
    assert written("--output", tmp_path / "data" / "alerts.csv") and files_in(tmp_path / "data") == ["alerts.csv"]


def others_entry(directory: Path, kind: str) -> tuple[Path, FifoReader | None]:
    """What another user left as alerts.png: a file everyone may write, a FIFO (root reads it here:
    it must get nothing), or a copy of /dev/null."""
    path = directory / "alerts.png"
    reader = None
    if kind == "file":
        path.write_text("theirs\n")
    elif kind == "fifo":
        os.mkfifo(path)
        reader = FifoReader(path)
    else:
        os.mknod(path, stat.S_IFCHR, os.makedev(1, 3))
    os.chown(path, OTHER_UID, OTHER_GID)
    path.chmod(0o666)
    return path, reader


@pytest.mark.parametrize("flag", EVERY_FILE)
@pytest.mark.parametrize("kind", ["file", "fifo", "device"])
@pytest.mark.parametrize("mode", [0o1777, 0o1770], ids=["1777", "1770"])  # world-, or group-writable
def test_others_file_in_a_sticky_directory_is_neither_written_nor_replaced(public, log, flag, kind, mode):
    """As fs.protected_regular and protected_fifos do at 2: a user's file in /tmp under the output's
    name is not written into (the data would be theirs), and not replaced by a file handed back to
    them (they could rewrite it afterwards)."""
    public.chmod(mode)
    path, reader = others_entry(public, kind)
    before = path.lstat()
    assert one_error(write_to(flag, path, log)) == (
        f"alerts2afterglow: error: cannot write {flag} {path}: it belongs to another user (uid {OTHER_UID}) in a "
        "sticky directory others may write, where it is neither written nor replaced "
        "(as fs.protected_regular and protected_fifos do)"
    )
    after = path.lstat()
    assert (after.st_ino, after.st_uid, after.st_mode) == (before.st_ino, OTHER_UID, before.st_mode)
    assert kind != "file" or path.read_text() == "theirs\n"
    assert reader is None or reader.received() == b""
    assert files_in(public) == ["alerts.png"]


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_file_of_the_sticky_directorys_owner_is_written(tmp_path, log, flag):
    """The kernel's rule, kept: a file that belongs to the directory's owner is theirs to leave there."""
    shared = directory_of_mode(tmp_path / "shared", 0o1777)
    os.chown(shared, OTHER_UID, OTHER_GID)
    path, _ = others_entry(shared, "file")
    path.chmod(0o644)
    assert write_to(flag, path, log).returncode == 0
    assert written(flag, path)
    after = path.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (OTHER_UID, OTHER_GID, 0o644)
    assert files_in(shared) == ["alerts.png"]


# ---------------------------------------------------------------------------
# Graphviz and signals: nothing left behind
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_alerts_log(tmp_path_factory.mktemp("big") / "alerts.log")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_render_removes_temporary_files_and_ends_graphviz(tmp_path, big_log, signum):
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    out.mkdir()
    (out / "alerts.csv").write_text("yesterday's\n")
    argv = command(f"--alerts-log={big_log}", "--all", f"--render={out}/alerts.png", "--layout=circo", "--max-nodes=0", f"--output={out}/alerts.csv")
    with subprocess.Popen(argv, env=environment(marker), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        graphviz = wait_for_graphviz(marker, cli)
        assert sorted(name.split(".")[1] for name in files_in(out) if name.startswith(".")) == ["alerts"] * 2
        cli.send_signal(signum)  # to the CLI alone: Graphviz is ended by the CLI, not by the signal
        stdout, stderr = cli.communicate(timeout=30)
    assert cli.returncode == 128 + signum
    assert stderr.decode() == f"alerts2afterglow: error: interrupted by {signum.name}\n"
    assert stdout == b""
    assert files_in(out) == ["alerts.csv"] and (out / "alerts.csv").read_text() == "yesterday's\n"
    assert live_processes(marker) == {}, "the CLI waited for the Graphviz it killed"
    assert not Path(f"/proc/{graphviz}").exists()


def test_sigkill_takes_graphviz_with_it(tmp_path, big_log):
    marker = uuid.uuid4().hex
    argv = command(f"--alerts-log={big_log}", "--all", f"--render={tmp_path}/alerts.png", "--layout=circo", "--max-nodes=0")
    with subprocess.Popen(argv, env=environment(marker), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        wait_for_graphviz(marker, cli)
        cli.kill()
        cli.communicate(timeout=30)
    assert cli.returncode == -signal.SIGKILL
    wait_for(lambda: live_processes(marker) == {}, "Graphviz to die with its parent (PR_SET_PDEATHSIG)", seconds=5)
    # The picture never appears half-drawn; the temporary file is the one trace SIGKILL can leave.
    assert "alerts.png" not in files_in(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_while_reading_removes_the_output_temporary_file(tmp_path, signum):
    target = tmp_path / "alerts.csv"
    argv = command("--alerts-log=-", "--all", f"--output={target}")
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        wait_for(lambda: files_in(tmp_path) != [], "the temporary file")
        assert files_in(tmp_path)[0].startswith(".alerts.csv.")
        cli.send_signal(signum)
        _, stderr = cli.communicate(timeout=30)
    assert (cli.returncode, stderr.decode()) == (128 + signum, f"alerts2afterglow: error: interrupted by {signum.name}\n")
    assert files_in(tmp_path) == []


def test_sighup_ignored_by_nohup_stays_ignored(tmp_path, log):
    target = tmp_path / "alerts.csv"
    argv = command("--alerts-log=-", "--all", f"--output={target}")
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    ) as cli:
        wait_for(lambda: files_in(tmp_path) != [], "the temporary file")
        cli.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert cli.poll() is None, "nohup's SIGHUP must not stop the run"
        _, stderr = cli.communicate(log.read_bytes(), timeout=60)
    assert (cli.returncode, stderr) == (0, b"")
    assert written("--output", target) and files_in(tmp_path) == ["alerts.csv"]


def test_render_timeout_leaves_no_temporary_file_and_no_graphviz(tmp_path, big_log):
    marker = uuid.uuid4().hex
    result = run(f"--alerts-log={big_log}", "--all", f"--render={tmp_path}/alerts.png", "--layout=circo", "--max-nodes=0", "--render-timeout=0.2", marker=marker)
    assert "Graphviz 'circo' did not finish within 0.2 s" in one_error(result)
    assert files_in(tmp_path) == []
    assert live_processes(marker) == {}


def test_render_timeout_beyond_what_the_system_can_wait_still_draws(tmp_path, log):
    """A year, the longest --render-timeout: more than poll() can wait (some 24.8 days)."""
    quiet(run(f"--alerts-log={log}", "--all", f"--render={tmp_path}/alerts.svg", "--render-timeout=31536000"))
    assert files_in(tmp_path) == ["alerts.svg"]


def test_graphviz_failure_leaves_no_temporary_file(tmp_path, log):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\necho 'Error: out of memory' >&2\nexit 1\n")
    (fake / "dot").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        command(f"--alerts-log={log}", "--all", f"--render={out}/alerts.png", "--layout=dot"),
        capture_output=True,
        env={**environment(), "PATH": str(fake)},
        timeout=60,
    )
    assert one_error(result) == "alerts2afterglow: error: Graphviz 'dot' failed: Error: out of memory"
    assert files_in(out) == []


# ---------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------


def test_logfile_on_a_full_disk_is_one_error_line(tmp_path, log):
    target = tmp_path / "alerts.csv"
    for extra in ([], ["--debug"]):
        result = run(f"--alerts-log={log}", "--all", "--logfile=/dev/full", f"--output={target}", *extra)
        err = result.stderr.decode()
        assert result.returncode == 1 and "Traceback" not in err and "Logging error" not in err
        assert err.splitlines()[-1] == "alerts2afterglow: error: cannot write --logfile /dev/full: No space left on device"
        assert len(err.splitlines()) == 1 or extra, err
        assert written("--output", target), "the output itself is complete"


def test_traceback_in_the_log_file_is_escaped_and_cannot_pass_for_a_record(tmp_path):
    """--debug writes the error's traceback into --logfile: what an attacker wrote in it (a file
    name, line breaks included) is shown as on every other line, and indented."""
    forged = "2026-12-02 02:00:00,000 alerts2afterglow[1] ERROR: forged"
    evil = tmp_path / f"\x1b[31mX\u202e\n{forged}"
    logfile = tmp_path / "a2ag.log"
    result = run(f"--alerts-log={evil}", "--all", "--debug", f"--logfile={logfile}")
    shown = f"{tmp_path}/\\u001b[31mX\\u202e\\u000a{forged}"
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == f"alerts2afterglow: error: cannot read {shown}: No such file or directory"
    text = logfile.read_text()
    assert all(char.isprintable() for char in text.replace("\n", "")), "no ESC, no U+202E"
    lines = text.splitlines()
    records = [line for line in lines if not line.startswith("  ")]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} alerts2afterglow\[\d+\] [A-Z]+: ", line) for line in records)
    assert len({re.search(r"\[\d+\]", line).group() for line in records}) == 1, "no forged record"
    assert records[-1].endswith(f" ERROR: cannot read {shown}: No such file or directory")
    traceback = lines[lines.index(records[-1]) + 1 :]
    assert traceback[0] == "  Traceback (most recent call last):"
    assert f"  {forged}: No such file or directory" in traceback, "the message's line break: indented, part of the traceback"


def test_out_of_memory_is_one_error_line_that_says_what_to_change(tmp_path):
    """A run holds the distinct triples of its window at once: here 150 alerts, each with its own
    2 MB description (a 1.3 MB .gz), under a 150 MB address-space limit (a run of the example day
    needs less than 60 MB)."""
    data = tmp_path / "alerts.log.gz"
    with gzip.open(data, "wb", compresslevel=1) as archive:
        for i in range(150):
            archive.write(
                f"** Alert 1764237600.{i}: - syslog,\n2025 Nov 27 10:00:00 (web1) 10.0.0.2->/var/log/auth.log\n"
                f"Rule: 5716 (level 5) -> '{i:06d}{'x' * 2_000_000}'\nSrc IP: 192.0.2.1\nline\n\n".encode()
            )
    out = tmp_path / "out"
    out.mkdir()
    (out / "alerts.csv").write_text("yesterday's\n")
    result = run(f"--alerts-log={data}", "--all", f"--output={out}/alerts.csv", prefix=("prlimit", f"--as={150 << 20}"))
    assert one_error(result) == f"alerts2afterglow: error: {alerts2afterglow.OUT_OF_MEMORY}"
    assert "--time-interval" in alerts2afterglow.OUT_OF_MEMORY and "--top" in alerts2afterglow.OUT_OF_MEMORY
    assert files_in(out) == ["alerts.csv"] and (out / "alerts.csv").read_text() == "yesterday's\n"


def usage_error(result: subprocess.CompletedProcess) -> str:
    """A usage error: exit 2, one line on stderr, nothing on stdout."""
    err = result.stderr.decode()
    assert (result.returncode, len(err.splitlines()), result.stdout) == (2, 1, b""), err
    return err.strip()


@pytest.mark.parametrize("flag", EVERY_FILE)
def test_empty_file_name_is_a_usage_error(log, flag):
    """Was silently ignored: the CSV went to stdout, no picture was drawn, nothing was logged."""
    result = run(f"--alerts-log={log}", "--all", f"{flag}=")
    assert usage_error(result) == f"alerts2afterglow: error: {flag} needs a file name (an empty one was given)"


def test_two_outputs_naming_one_file_is_a_usage_error(tmp_path, log):
    """--render k.html --output k.html wrote the page, then replaced it with the CSV; the same through
    another spelling of the path, a link or a hard link. --logfile too: its lines would go into the
    file that the output replaces."""
    page = tmp_path / "k.html"
    page.write_text("yesterday's page\n")
    (tmp_path / "link.html").symlink_to("k.html")
    os.link(page, tmp_path / "hard.html")
    (tmp_path / "sub").mkdir()
    cases = [
        (f"--render={page}", f"--output={page}"),
        (f"--render={page}", f"--output={tmp_path}/sub/../k.html"),
        (f"--render={tmp_path}/link.html", f"--output={tmp_path}//k.html"),
        (f"--render={tmp_path}/hard.html", f"--output={page}"),
        (f"--output={tmp_path}/new.csv", f"--logfile={tmp_path}/sub/../new.csv"),  # not there yet: the same name
        (f"--render={page}", f"--logfile={tmp_path}/link.html"),
    ]
    for one, other in cases:
        first, second = sorted((one, other), key=lambda option: list(EVERY_FILE).index(option.split("=")[0]))
        result = run(f"--alerts-log={log}", "--all", one, other)
        assert usage_error(result) == (
            f"alerts2afterglow: error: {first.replace('=', ' ', 1)} and {second.replace('=', ' ', 1)} "
            "name the same file: one would overwrite the other"
        )
    assert files_in(tmp_path) == ["hard.html", "k.html", "link.html", "sub"]
    assert page.read_text() == "yesterday's page\n" and files_in(tmp_path / "sub") == []


def test_one_stream_named_twice_gets_both(tmp_path, log):
    """A device or FIFO is written in place, never replaced: --output and --logfile on one FIFO
    (or on one terminal, through /dev/stdout and /dev/stderr) share it as 2>&1 does."""
    fifo = tmp_path / "both"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to("both")
    reader = FifoReader(fifo)
    result = run(f"--alerts-log={log}", "--all", f"--output={fifo}", f"--logfile={tmp_path}/link", "--debug")
    assert result.returncode == 0, result.stderr.decode()
    received = reader.received()
    assert looks_written("--output", received) and looks_written("--logfile", received)
