"""`.env`: the file `handoff demo` writes is read back by the CLI and by a POSIX shell alike,
and never overrides a variable the user exported."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from handoff.dotenv import dotenv_text, load_dotenv, parse_dotenv, write_private

VALUES = {"TOKEN": "sbx-a_b-c", "HOME_DIR": "/tmp/a dir/x", "QUOTE": "it's"}


def test_the_cli_and_a_shell_read_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_private(path, dotenv_text(VALUES, "demo tokens"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    environ: dict[str, str] = {}
    load_dotenv(path, environ)
    assert environ == VALUES
    shell = subprocess.run(
        ["sh", "-c", 'set -a; . "$1"; printf "%s\\n" "$TOKEN" "$HOME_DIR" "$QUOTE"', "sh", path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.splitlines() == list(VALUES.values())


def test_an_exported_variable_wins_and_a_missing_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# comment\nexport TOKEN=from-file\nOTHER='quoted value'\nnot a line\n")
    environ = {"TOKEN": "exported"}
    load_dotenv(path, environ)
    assert environ == {"TOKEN": "exported", "OTHER": "quoted value"}
    load_dotenv(tmp_path / "missing.env", environ)
    assert parse_dotenv('A="x y"') == {"A": "x y"}
