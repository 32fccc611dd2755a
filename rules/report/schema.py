"""Writes docs/report.schema.json, the JSON Schema of the JSON report, from its dataclasses.

Run `python -m rules.report.schema` after changing rules/report/types.py; a test fails while
the committed file differs, so automation reading the JSON has a contract that never drifts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from rules.report.types import ReportData

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def report_schema() -> dict[str, Any]:
    schema = TypeAdapter(ReportData).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Handoff JSON report"
    schema["properties"] = {
        "format_version": {"const": 1, "description": "Raised by every breaking change."},
        **schema["properties"],
    }
    schema["required"] = ["format_version", *schema.get("required", [])]
    return schema


def render() -> str:
    return json.dumps(report_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMA.write_text(render(), encoding="utf-8")
    print(SCHEMA)
    return 0


if __name__ == "__main__":
    sys.exit(main())
