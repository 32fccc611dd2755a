"""A `.env` file of KEY=VALUE lines: where `handoff demo` leaves its tokens for the next commands.

The environment always wins over the file, so an exported variable is never overridden; the
file only fills in what is unset. Lines are `KEY=VALUE` or `export KEY=VALUE`, with `#`
comments and optional single or double quotes around the value (so a shell can source it too).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

DOTENV = Path(".env")
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_SHELL_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+=,-]*$")


def parse_dotenv(text: str) -> dict[str, str]:
    """The variables of a .env text; lines that are not KEY=VALUE are ignored."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        match = _LINE.match(raw.strip())
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("'\\''", "'")  # as `repr_single` wrote it
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key] = value
    return values


def load_dotenv(path: Path = DOTENV, environ: MutableMapping[str, str] | None = None) -> None:
    """Fill unset variables of `environ` (the process environment) from `path`, if it exists.

    `HANDOFF_NO_DOTENV=1` switches it off for the process: the test suite sets it, so a demo's
    `.env` in the working directory never leaks its tokens and Dagster home into the tests."""
    if environ is None and os.environ.get("HANDOFF_NO_DOTENV"):
        return
    target = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return
    for key, value in parse_dotenv(text).items():
        target.setdefault(key, value)


def dotenv_text(values: Mapping[str, str], header: str) -> str:
    """A .env text that both `load_dotenv` and a POSIX shell (`set -a; . ./.env`) read."""
    lines = [f"# {line}" for line in header.splitlines()]
    for key, value in values.items():
        lines.append(f"{key}={value if _SHELL_SAFE.match(value) else repr_single(value)}")
    return "\n".join(lines) + "\n"


def repr_single(value: str) -> str:
    """`value` in single quotes for a shell (a quote inside is written as '\\'')."""
    return "'" + value.replace("'", "'\\''") + "'"


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by its owner only (the file holds tokens), replacing any old file."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
