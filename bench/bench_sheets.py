"""Benchmark: one N-row plan read as Google Sheets (sandbox), .xlsx and .csv.

`python -m bench.bench_sheets --rows 10000` generates the plan, serves it from the Sheets
sandbox and writes the same rows to .xlsx and .csv, then syncs each source in a child process
(fetch + raw landing + normalisation), so the child's peak memory is the connector's own.
Reports wall time, rows/s, requests (and retries) and peak RSS; results go to
bench/results/sheets-<rows>.{md,json}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGING = ROOT / "model" / "staging.sql"


def child(entry: dict[str, Any], raw: Path) -> dict[str, Any]:
    """Sync one source: fetch, land, normalise. Runs in its own process."""
    import duckdb
    from pydantic import TypeAdapter

    from connectors.registry import build_connector
    from handoff.config import Source
    from model.landing import land
    from model.normalise import normaliser_for

    source = TypeAdapter(Source).validate_python(entry)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    for _ in build_connector(source).fetch(None):  # the connector alone: batches are dropped
        pass
    fetch_only = time.perf_counter() - started
    fetch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    connector = build_connector(source)
    result = land(raw, connector.fetch(None), full=True, stats=connector.stats)
    fetched = time.perf_counter()
    con = duckdb.connect()
    con.execute(STAGING.read_text())
    con.execute(f"ATTACH '{raw}' AS raw_src (READ_ONLY)")
    normaliser_for(source.kind)(con, source, "raw_src", datetime.now())
    items = con.execute("SELECT count(*) FROM stg_items").fetchone()[0]  # type: ignore[index]
    done = time.perf_counter()
    stats = connector.stats
    return {
        "kind": source.kind,
        "rows_seen": stats.rows_seen,  # type: ignore[attr-defined]
        "loaded": stats.loaded,  # type: ignore[attr-defined]
        "rejected": stats.rejected,  # type: ignore[attr-defined]
        "empty": stats.empty,  # type: ignore[attr-defined]
        "landed": result.records,
        "staged_items": items,
        "fetch_s": round(fetch_only, 3),
        "fetch_rss_mb": round(fetch_rss / 1024, 1),
        "fetch_land_s": round(fetched - started, 3),
        "normalise_s": round(done - fetched, 3),
        "total_s": round(done - started, 3),
        "rows_per_s": round(stats.rows_seen / (fetched - started)),  # type: ignore[attr-defined]
        "requests": stats.requests,
        "retries": stats.retries,
        "waited_s": round(stats.waited_seconds, 2),
        "baseline_rss_mb": round(baseline / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def write_files(rows: list[list[Any]], folder: Path) -> tuple[Path, Path]:
    import openpyxl

    xlsx = folder / "plan.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Plan")
    for row in rows:
        sheet.append(row)
    workbook.save(xlsx)
    csv_path = folder / "plan.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=";").writerows([[cell(v) for v in r] for r in rows])
    return xlsx, csv_path


def run_child(entry: dict[str, Any], raw: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_sheets",
            "--child",
            json.dumps(entry),
            "--raw",
            str(raw),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--faults",
        default="rate_limit_every=3,retry_after_seconds=1",
        help="fault spec for the extra Sheets run under quota pressure",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child), Path(args.raw))))
        return

    from sandbox.gsheets import SheetsSandbox, generate_book
    from sandbox.server import Faults

    book = generate_book(args.rows, args.seed)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sheets-") as tmp:
        folder = Path(tmp)
        xlsx, csv_path = write_files(book.worksheet("Plan").rows, folder)
        for label, faults in (("gsheets", None), ("gsheets+429", Faults.parse(args.faults))):
            with SheetsSandbox({"plan": book}, faults=faults) as sandbox:
                credentials = sandbox.write_credentials(folder / "sa.json")
                entry, _ = sandbox.source_entry("plan-sheets", "plan", credentials)
                result = run_child(entry, folder / f"{label}.duckdb")
                result["sandbox_requests"] = sandbox.server.total_requests
                results.append({"scenario": label, **result})
        for label, entry in (
            ("xlsx", {"name": "plan-xlsx", "kind": "xlsx", "path": str(xlsx)}),
            ("csv", {"name": "plan-csv", "kind": "csv", "path": str(csv_path)}),
        ):
            results.append({"scenario": label, **run_child(entry, folder / f"{label}.duckdb")})

    cores = len(os.sched_getaffinity(0))
    machine = f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"
    columns = [
        "scenario",
        "rows_seen",
        "loaded",
        "rejected",
        "fetch_s",
        "fetch_land_s",
        "normalise_s",
        "rows_per_s",
        "requests",
        "retries",
        "waited_s",
        "baseline_rss_mb",
        "fetch_rss_mb",
        "peak_rss_mb",
    ]
    notes = (
        "fetch_s: connector alone; fetch_land_s: fetch + raw landing (requests counted here); "
        "rows_per_s over fetch_land_s; RSS is the child's peak (baseline = after imports; "
        "fetch_rss = after the connector-only pass; peak = after landing and normalising)."
    )
    lines = [
        f"# Spreadsheet sources: {args.rows} rows (seed {args.seed})",
        "",
        f"Machine: {machine}",
        "",
        notes,
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in results]
    report = "\n".join(lines) + "\n"
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sheets-{args.rows}.md").write_text(report)
    (out / f"sheets-{args.rows}.json").write_text(
        json.dumps(
            {"rows": args.rows, "seed": args.seed, "machine": machine, "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
