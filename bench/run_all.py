"""The benchmark suite in one go (`make bench`): peers side by side, then the whole pipeline.

    python -m bench.run_all                      # Jira 20,000 and 100,000; pipeline 160,000
    python -m bench.run_all --peer-sizes 2000 --pipeline 2000 1000 500 --out /tmp/b   # quick

Runs `bench.peers` at each Jira size (with Asana beside the first), then
`bench.bench_pipeline`, each as its own process, and writes the summary table
(results/README.md and summary.json): headline figures, the targets met or missed, the
machine's core count, load and the date. The detailed tables sit beside it; every round's raw
measurements go to results/raw/, which git ignores (tens of MB at scale).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.peers.report import RESULTS, machine, targets

ROOT = Path(__file__).resolve().parents[1]


def run(module: str, *args: str) -> None:
    print(f"== python -m {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, check=True)


def _headline(peers: dict[str, Any]) -> list[str]:
    rows = []
    for r in peers["results"]:
        size = peers.get("asana_size") if r["deployment"] == "asana" else peers["jira_size"]
        rows.append(
            f"| {size:,} | {r['deployment']} | {r['tool']} | {r['run']} | "
            + (f"{r['seconds']}" if r.get("ok") else "failed")
            + f" | {r.get('items_per_second') or '—'} | {r['requests']:,} | {r['peak_rss_mb']} |"
        )
    return rows


def memory_flat(reports: list[dict[str, Any]]) -> list[str]:
    """Our peak RSS at the smallest and largest size, per deployment: is it flat in items?"""
    if len(reports) < 2:
        return ["- memory flat in items: needs two sizes (run with two --peer-sizes)"]
    small, large = reports[0], reports[-1]
    lines = []
    for deployment in ("data_center", "cloud"):
        for tool in ("handoff", "handoff (remote links off)"):
            a = next((r for r in small["results"] if (r["deployment"], r["tool"], r["run"])
                      == (deployment, tool, "full")), None)  # fmt: skip
            b = next((r for r in large["results"] if (r["deployment"], r["tool"], r["run"])
                      == (deployment, tool, "full")), None)  # fmt: skip
            if not a or not b:
                continue
            growth = b["peak_rss_mb"] / max(a["peak_rss_mb"], 1)
            items = large["jira_size"] / small["jira_size"]
            verdict = "met" if growth < 1.25 else f"missed: {growth:.2f}x for {items:.0f}x items"
            lines.append(
                f"- {deployment}, {tool}: peak RSS {a['peak_rss_mb']} MB at "
                f"{small['jira_size']:,} issues, {b['peak_rss_mb']} MB at "
                f"{large['jira_size']:,} (target flat, within 25%: {verdict})"
            )
    return lines


def summary(out: Path, sizes: list[int], pipeline_items: int) -> str:
    peers = [
        json.loads((out / f"peers-{size}.json").read_text())
        for size in sizes
        if (out / f"peers-{size}.json").exists()
    ]
    pipeline_path = out / f"pipeline-{pipeline_items}.json"
    pipeline = json.loads(pipeline_path.read_text()) if pipeline_path.exists() else None
    m = machine()
    lines = [
        "# Benchmark results (latest)",
        "",
        f"Written {m['when']} by `python -m bench.run_all` (`make bench`) on {m['cores']} cores, "
        f"Python {m['python']}, load {m['load_1_5_15']} at the end. Other work shares this "
        "machine: see each table's load figure. Details: "
        + ", ".join(f"[peers-{p['jira_size']}](peers-{p['jira_size']}.md)" for p in peers)
        + (f", [pipeline-{pipeline_items}](pipeline-{pipeline_items}.md)" if pipeline else "")
        + ".",
        "",
        "## Handoff and its peers on the same sandbox (Jira; Asana beside the first size)",
        "",
        "| items | deployment | tool | sync | wall s | items/s | HTTP requests | peak RSS MB |",
        "|---:|---|---|---|---:|---:|---:|---:|",
    ]
    for report in peers:
        lines += _headline(report)
    lines += ["", "## Targets", ""]
    for report in peers:
        lines += [f"At {report['jira_size']:,} issues:", ""]
        lines += [*targets(report["results"]), ""]
    lines += [*memory_flat([p for p in peers if p["results"]]), ""]
    if pipeline:
        full, inc = pipeline["full"], pipeline["incremental"]
        verdict = "met" if full["seconds"] < 300 else f"missed by {full['seconds'] - 300:.0f} s"
        lines += [
            f"- whole pipeline at {pipeline_items:,} items: full {full['seconds']} s, "
            f"incremental {inc['seconds']} s (target < 300 s: {verdict}); per stage in "
            f"[pipeline-{pipeline_items}](pipeline-{pipeline_items}.md)",
            "",
        ]
    notes = out / "peers-notes.md"  # profile-based reasons for missed targets, kept by hand
    if notes.exists():
        lines += ["", notes.read_text().strip(), ""]
    text = "\n".join(lines)
    (out / "README.md").write_text(text)
    (out / "summary.json").write_text(
        json.dumps({"machine": m, "peer_sizes": sizes, "pipeline_items": pipeline_items}, indent=2)
        + "\n"
    )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--peer-sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--asana", type=int, default=5_000, help="Asana tasks beside the peers")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per peer size (medians)")
    parser.add_argument(
        "--pipeline", type=int, nargs=3, default=[100_000, 50_000, 10_000],
        metavar=("JIRA", "ASANA", "ROWS"),
    )  # fmt: skip
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    out = ["--out", str(args.out)]
    if not args.skip_peers:
        for number, size in enumerate(args.peer_sizes):
            asana = ["--asana-size", str(args.asana)] if number == 0 and args.asana else []
            run("bench.peers", "--jira-size", str(size), "--repeat", str(args.repeat), *asana, *out)
    jira, asana, rows = args.pipeline
    if not args.skip_pipeline:
        run("bench.bench_pipeline", "--jira", str(jira), "--asana", str(asana),
            "--sheet-rows", str(rows), *out)  # fmt: skip
    print(summary(args.out, args.peer_sizes, jira + asana + rows))


if __name__ == "__main__":
    main()
