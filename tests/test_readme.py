"""The README runs as written: every block it marks as an example, on the shipped example day.

A block marked ``<!-- example -->`` runs as it stands in a shell, from the repository's top,
with the installed ``alerts2afterglow`` first on PATH and a HOME whose ``~/.my.cnf`` names a
scratch OSSEC database holding the example day twice: as it was (2026-11-27) and moved so that
its last alert is a minute old, so that the examples with ``--time-interval`` find alerts too.
``example: cron`` blocks run the crontab line's command (the directory it publishes to is made
first, as an administrator would, and removed afterwards if the test made it). AfterGlow is not
packaged for Debian or PyPI, so ``example: afterglow`` blocks run up to ``afterglow.pl`` and
give what they would feed it to Perl's Text::CSV, as afterglow.pl parses it. Each command must
exit 0, print nothing on stderr, and write something; none may write inside the repository.
The quick start (``<!-- quickstart -->``) is run in a fresh clone by .ci/run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ossecdb
import pytest
from conftest import ROOT_DIR
from ossecdb import Row
from test_files import make_examples

README = ROOT_DIR / "README.md"
PERL = ROOT_DIR / "tests" / "perl"
_MARKED = re.compile(r"<!-- (example[^>]*|quickstart) -->\n```(\w*)\n(.*?)```", re.DOTALL)
_WRITES = re.compile(r"(?:--render=|--output=|-o )(/\S+)")


def marked_blocks() -> list[tuple[set[str], str]]:
    """(the marks, the text) of every marked block of the README."""
    return [(set(mark.replace(":", " ").split()), text) for mark, _, text in _MARKED.findall(README.read_text())]


def commands(text: str, cron: bool) -> list[str]:
    """The commands of a block: continued lines joined, comments dropped; a crontab line's schedule too."""
    joined = re.sub(r"\\\n\s*", "", text)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [line.split(None, 5)[5] if cron else line for line in lines]


EXAMPLES = [
    (marks, command)
    for marks, text in marked_blocks()
    if "example" in marks
    for command in commands(text, cron="cron" in marks)
]


def test_the_readme_marks_its_examples_and_its_quick_start():
    marks = [marks for marks, _ in marked_blocks()]
    assert sum("quickstart" in found for found in marks) == 1
    assert len(EXAMPLES) >= 8
    assert {"afterglow", "cron"} <= set().union(*marks)


def example_day(shift: int = 0) -> list[Row]:
    return [
        Row(a.rule_id, a.epoch + shift, a.location, a.src_ip, user=a.user or "", level=a.level)
        for a in make_examples.build_day()
    ]


@pytest.fixture(scope="module")
def home(mariadb: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A HOME whose ~/.my.cnf names a scratch database holding the example day, as it was and moved to now."""
    home = tmp_path_factory.mktemp("readme-home")
    day = example_day()
    now_shift = int(time.time()) - 60 - max(row.timestamp for row in day)
    with ossecdb.scratch_database("a2ag_readme") as name:
        conn = ossecdb.root_connection(name)
        try:
            ossecdb.create_schema(conn, "2.9")
            ossecdb.insert_alerts(conn, "2.9", day + example_day(now_shift))
        finally:
            conn.close()
        (home / ".my.cnf").write_text(f"[client]\nhost={ossecdb.HOST}\nuser=root\npassword=\ndatabase={name}\n")
        (home / ".my.cnf").chmod(0o600)
        yield home


def shell(command: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    bin_dir = Path(sys.executable).parent  # the venv the tests run in, where pip installed the command
    assert (bin_dir / "alerts2afterglow").exists(), "install the tool first: pip install -e '.[test]'"
    env = {**os.environ, "HOME": str(home), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MYSQL_PWD", None)
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT_DIR, env=env, capture_output=True, timeout=120)


def repository_state() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT_DIR, capture_output=True, text=True, check=True
    ).stdout


def parsed_as_afterglow(csv: bytes) -> list[list]:
    done = subprocess.run(["perl", str(PERL / "afterglow_csv.pl")], input=csv, capture_output=True, check=True)
    return json.loads(done.stdout)


def missing_ancestor(directory: Path) -> Path:
    """The outermost directory that does not exist yet on the way to ``directory``."""
    while not directory.parent.exists():
        directory = directory.parent
    return directory


def up_to_afterglow(command: str) -> str:
    """The part of a command that runs before afterglow.pl takes over."""
    return re.split(r"\s*(?:\||&&)\s*afterglow\.pl", command)[0]


@pytest.mark.parametrize(("marks", "command"), EXAMPLES, ids=[command[:60] for _, command in EXAMPLES])
def test_readme_example_runs_as_written(marks, command, home):
    before = repository_state()
    if "afterglow" in marks:
        command = up_to_afterglow(command)
    targets = [Path(path) for path in _WRITES.findall(command)]
    made = {missing_ancestor(target.parent) for target in targets if not target.parent.exists()}
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        for target in targets:
            target.unlink(missing_ok=True)
        result = shell(command, home)
        assert (result.returncode, result.stderr) == (0, b""), result
        written = [target.read_bytes() for target in targets]
        assert result.stdout or (written and all(written)), f"{command!r} wrote nothing"
        if "afterglow" in marks:
            lines = parsed_as_afterglow(result.stdout or written[0])
            assert lines and all(line[0] == 1 and len(line) == 4 for line in lines), lines
    finally:
        for directory in made:
            shutil.rmtree(directory)
    assert repository_state() == before, f"{command!r} wrote inside the repository"
