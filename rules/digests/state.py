"""What each person was last sent: a hash of their action list, in a small file under the data
directory, so an unchanged list is not sent again."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_FILE = "digests.json"


def load_sent(data_dir: Path) -> dict[str, str]:
    path = data_dir / STATE_FILE
    if not path.exists():
        return {}
    try:
        sent = json.loads(path.read_text()).get("sent", {})
    except (ValueError, AttributeError):
        return {}  # an unreadable state only means everyone gets their digest again
    return {str(k): str(v) for k, v in sent.items()} if isinstance(sent, dict) else {}


def save_sent(data_dir: Path, sent: dict[str, str]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": 1, "sent": dict(sorted(sent.items()))}, indent=1))
    os.replace(temporary, path)
