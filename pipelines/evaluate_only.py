"""`handoff check`: evaluate the rules on a copy of the published model, then publish it."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handoff.config import load_config
from handoff.errors import HandoffError
from handoff.lock import sync_lock
from model.build import remove_stale_builds, staging_path
from model.publish import discard, publish
from rules.engine import evaluate


def evaluate_published(config_file: Path) -> Any:
    config = load_config(config_file, require_env=False)
    if not config.database_path.exists():
        raise HandoffError(
            f"{config.database_path}: no published database yet; run `handoff sync` first"
        )
    run_id = f"check-{uuid.uuid4().hex[:12]}"
    with sync_lock(
        config.path(config.data_dir),
        wait_seconds=config.sync.lock_wait_seconds,
        doing=f"re-evaluating the rules and publishing ({run_id}, handoff check)",
    ):
        remove_stale_builds(config)
        built = staging_path(config, run_id)
        shutil.copyfile(config.database_path, built)
        try:
            result = evaluate(
                built, config, now=datetime.now(UTC).replace(tzinfo=None), run_id=run_id
            )
            publish(built, config.database_path)
        finally:
            discard(built)
    return result
