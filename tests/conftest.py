"""Shared fixtures: a real MariaDB server, scratch OSSEC databases, the CLI in-process."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ossecdb

import alerts2afterglow

ROOT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = ROOT_DIR / "alerts2afterglow.py"

START_HINT = (
    f"no MariaDB/MySQL server answers at {ossecdb.HOST}:{ossecdb.PORT} as root with an empty password. "
    "Start one, e.g.: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd "
    "(Debian package mariadb-server)."
)


@pytest.fixture(scope="session")
def mariadb() -> None:
    """Fail loudly, with the fix, when the database server is missing: never skip."""
    try:
        ossecdb.root_connection(connect_timeout=5).close()
    except pymysql.MySQLError as err:
        pytest.fail(f"{START_HINT} ({err})", pytrace=False)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer's ~/.my.cnf or MYSQL_PWD leaks into a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MYSQL_PWD", raising=False)
    return home


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def usage_error(self) -> str:
        """The one error line of a usage error: exit 2, nothing on stdout."""
        assert (self.code, self.out) == (2, ""), self
        return one_error_line(self.err)


def one_error_line(err: str) -> str:
    """What the user sees of an error: one line that says so, never a traceback."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("alerts2afterglow: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run main() in-process with its own stdout buffer; stderr through capsys."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        buffer = io.StringIO()
        code = alerts2afterglow.main(list(argv), stdout=buffer)
        captured = capsys.readouterr()
        assert captured.out == "", "nothing may reach the real stdout"
        return Result(code, buffer.getvalue(), captured.err)

    return run


@dataclass
class OssecDatabase:
    name: str
    layout: str
    conn: pymysql.connections.Connection
    rules_dir: Path

    def insert(self, rows: list[ossecdb.Row], signatures: dict[int, tuple[int, str]] | None = None) -> None:
        ossecdb.insert_alerts(self.conn, self.layout, rows, signatures)

    @property
    def args(self) -> list[str]:
        return [
            f"--dbhost={ossecdb.HOST}",
            f"--dbport={ossecdb.PORT}",
            "--dbuser=root",
            "--dbpass=",
            f"--dbname={self.name}",
            f"--rules-dir={self.rules_dir}",  # none of this machine's /var/ossec rules
        ]


@pytest.fixture(params=ossecdb.LAYOUTS, ids=lambda layout: f"ossec{layout}")
def ossec(request: pytest.FixtureRequest, mariadb: None, tmp_path: Path) -> Iterator[OssecDatabase]:
    """An empty OSSEC database in each schema generation (and an empty rules directory)."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    with ossecdb.scratch_database() as name:
        conn = ossecdb.root_connection(name)
        ossecdb.create_schema(conn, request.param)
        try:
            yield OssecDatabase(name, request.param, conn, rules_dir)
        finally:
            conn.close()


@pytest.fixture
def scratch_db(mariadb: None) -> Iterator[str]:
    with ossecdb.scratch_database() as name:
        yield name


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one for the session (tests/browser.py): the page's tests."""
    from browser import launch
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
