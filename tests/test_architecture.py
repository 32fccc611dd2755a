"""docs/architecture.md shows the package dependencies the code really has, and the layering holds."""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import BEGIN, PAGE, page_with_graph, render, scan


def test_architecture_page_shows_the_dependencies_of_the_code() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert BEGIN in page
    assert page == page_with_graph(page, scan()), "run `python -m tests.import_graph`"


def test_scan_finds_imports_module_names_and_files_read_by_path(tmp_path: Path) -> None:
    for package, source in {
        "low": "",
        "mid": "from low.base import thing\n",
        "top": (
            "import importlib\nfrom pathlib import Path\nimport mid as m\n"
            "def load():\n    return importlib.import_module('low.base')\n"
            "SCHEMA = Path(__file__).parents[1] / 'low' / 'schema.sql'\n"
            "NOT_A_FILE = Path('x') / 'low' / 'missing.sql'\n"
            "CONFIG = 'low.yaml'\n"
        ),
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / "base.py").write_text(source)
    (tmp_path / "low" / "schema.sql").write_text("")

    graph = scan(tmp_path, ("low", "mid", "top"))

    assert {name: sorted(deps.imports) for name, deps in graph.items()} == {
        "low": [],
        "mid": ["low"],
        "top": ["low", "mid"],
    }
    assert graph["top"].reads == {"low/schema.sql"}
    assert "| `top` | `low`, `mid` | `low/schema.sql` |" in render(graph)


def test_only_pipelines_imports_dagster_and_connectors_stay_off_duckdb() -> None:
    graph = scan()
    product = {name: deps for name, deps in graph.items() if name != "bench"}
    uses_dagster = [
        name
        for name, deps in product.items()
        if any(t.startswith("dagster") for t in deps.third_party)
    ]
    assert uses_dagster == ["pipelines"]
    assert not {"duckdb", "dagster"} & graph["connectors"].third_party
