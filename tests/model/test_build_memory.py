"""The model build's DuckDB memory is bounded by handoff.yaml and spills under the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.bounded import connect_bounded
from handoff.config import parse_config
from handoff.errors import ConfigError

SOURCES = "sources:\n  - {name: plan, kind: csv, path: plan.csv}\n"


def test_memory_limit_and_temp_directory_come_from_the_config(tmp_path: Path) -> None:
    config = parse_config(
        SOURCES + 'data_dir: store\nmodel: {memory_limit: "300MB"}\n',
        origin="handoff.yaml",
        base_dir=tmp_path,
        env={},
    )
    con = connect_bounded(str(tmp_path / "m.duckdb"), config)
    limit, temp = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()  # type: ignore[misc]
    assert limit in ("286.1 MiB", "300.0 MB")
    assert Path(temp) == tmp_path / "store" / "tmp" and Path(temp).is_dir()
    # a sort far above the limit spills to that directory instead of failing or growing
    rows = con.execute(
        "SELECT count(*) FROM (SELECT md5(i::VARCHAR) AS h FROM range(6000000) t(i) ORDER BY h)"
    ).fetchone()
    assert rows == (6000000,)
    con.close()


def test_a_memory_limit_that_is_not_a_size_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.memory_limit"):
        parse_config(
            SOURCES + "model: {memory_limit: lots}\n", origin="handoff.yaml", base_dir=tmp_path,
            env={},
        )  # fmt: skip
