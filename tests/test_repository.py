"""What the repository holds: no bulky files in git, and every docs/ page a file points at exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 1_000_000
DOCS_REFERENCE = re.compile(r"(?<![\w./-])docs/[\w./-]+\.(?:md|json|ya?ml)")


def _vendor_spec(path: str) -> bool:
    """Vendor OpenAPI documents are copied whole, whatever their size."""
    return "specs" in Path(path).parts[:-1]


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.split("\0") if name]


def test_no_tracked_file_is_over_one_megabyte() -> None:
    bulky = {
        name: size
        for name in tracked_files()
        if (ROOT / name).is_file()
        and (size := (ROOT / name).stat().st_size) > LIMIT_BYTES
        and not _vendor_spec(name)
    }
    assert bulky == {}, "raw measurements belong in a git-ignored folder (bench/results/raw/)"


def test_every_docs_page_a_tracked_file_names_exists() -> None:
    missing = set()
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > LIMIT_BYTES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        missing |= {
            f"{name}: {ref}" for ref in DOCS_REFERENCE.findall(text) if not (ROOT / ref).exists()
        }
    assert missing == set()
