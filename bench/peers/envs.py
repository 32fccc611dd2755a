"""Peer tools live in their own virtual environments under a cache dir, installed from PyPI.

Each peer gets `~/.cache/handoff-bench/<peer>` (or `$HANDOFF_BENCH_CACHE/<peer>`), made with
`python3.11 -m venv` and filled by pip from the package index: never vendored, never in the repo.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# What each peer installs: the distributions users get from the package index.
PEER_PACKAGES: dict[str, list[str]] = {
    "tap-jira": ["tap-jira"],
    "tap-asana": ["tap-asana"],
    "dlt": ["dlt[duckdb]"],
}


def cache_dir() -> Path:
    """Where peer environments live; outside the repository so nothing is ever committed."""
    default = Path.home() / ".cache" / "handoff-bench"
    return Path(os.environ.get("HANDOFF_BENCH_CACHE", default))


def peer_python(peer: str) -> Path:
    return cache_dir() / peer / "bin" / "python"


def ensure_peer(peer: str, *, timeout: float = 900) -> Path:
    """Create the peer's venv and install it once; returns its python. Raises on failure."""
    python = peer_python(peer)
    marker = python.parent.parent / ".installed"
    if marker.exists() and python.exists():
        return python
    venv = python.parent.parent
    base = shutil.which("python3.11") or shutil.which("python3") or "python3"
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True, timeout=timeout)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, *PEER_PACKAGES[peer]], check=True, timeout=timeout, capture_output=True, text=True
    )
    marker.write_text(" ".join(PEER_PACKAGES[peer]) + "\n")
    return python


def installed_versions(peer: str) -> dict[str, str]:
    """Versions of the peer's packages as pip reports them (for the results table)."""
    done = subprocess.run(
        [
            str(peer_python(peer)),
            "-m",
            "pip",
            "list",
            "--format=json",
            "--disable-pip-version-check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {}
    import json

    wanted = {p.split("[")[0].lower() for p in PEER_PACKAGES[peer]}
    return {p["name"]: p["version"] for p in json.loads(done.stdout) if p["name"].lower() in wanted}


def trust_ca(peer: str, bundle: str) -> Path:
    """Make the peer's certifi bundle trust the sandbox's test CA; returns the bundle path.

    Needed where a tool ignores REQUESTS_CA_BUNDLE (Singer's tap-jira sends prepared requests
    with `Session.send`, which skips requests' environment settings). The original bundle is
    kept beside it and every call starts from it, so test CAs never pile up.
    """
    site = next((peer_python(peer).parent.parent / "lib").glob("python3*/site-packages"))
    pem = site / "certifi" / "cacert.pem"
    original = pem.with_suffix(".pem.orig")
    if not original.exists():
        shutil.copyfile(pem, original)
    pem.write_text(original.read_text() + "\n" + Path(bundle).read_text())
    return pem
