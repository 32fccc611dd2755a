"""The peer comparison as a Markdown table and a JSON file, with the targets checked."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "results"
RAW = "raw"  # git-ignored sub-folder of the results for raw measurements


def _revision() -> str:
    """The commit measured, with `+dirty` when the work tree differs (code changes under way)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
    except OSError:
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """Where and when: core count, load (other work shares this machine), Python, date."""
    return {
        "revision": _revision(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": len(os.sched_getaffinity(0)),
        "load_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


SPEED_TARGET = 5.0  # full sync: at least this multiple of the fastest peer's issues/s


def targets(results: list[dict[str, Any]]) -> list[str]:
    """The targets a peer comparison can check, per deployment: full-sync speed against the
    fastest peer, and an incremental no slower than the peer's (wall time, process start-up
    included on both sides). Requests are judged against the API minimum in `bench.bench_jira`,
    and the incremental's share of the full sync at 100,000 issues there too."""
    lines = []
    for deployment in sorted({r["deployment"] for r in results}):
        rows = {(r["tool"], r["run"]): r for r in results if r["deployment"] == deployment}
        peers = [
            r
            for (tool, run), r in rows.items()
            if run == "full" and not tool.startswith("handoff") and r.get("ok")
        ]
        if not peers:
            continue
        fastest = max(peers, key=lambda r: r["items_per_second"] or 0)
        peer_inc = rows.get((fastest["tool"], "incremental"))
        for label in ("handoff", "handoff (remote links off)"):
            mine = rows.get((label, "full"))
            if mine and mine.get("ok") and fastest["items_per_second"]:
                ratio = (mine["items_per_second"] or 0) / fastest["items_per_second"]
                verdict = (
                    "met"
                    if ratio >= SPEED_TARGET
                    else f"missed ({ratio:.2f}x of the {SPEED_TARGET:g}x target)"
                )
                lines.append(
                    f"- {deployment}, {label}: {ratio:.2f}x the issues/s of {fastest['tool']} "
                    f"(target {SPEED_TARGET:g}x: {verdict}); requests {mine['requests']:,} "
                    f"({fastest['tool']}: {fastest['requests']:,})"
                )
            inc = rows.get((label, "incremental"))
            if inc and inc.get("ok") and peer_inc and peer_inc.get("ok"):
                verdict = (
                    "met"
                    if inc["seconds"] <= peer_inc["seconds"]
                    else f"missed by {inc['seconds'] - peer_inc['seconds']:.1f} s"
                )
                lines.append(
                    f"- {deployment}, {label}: incremental {inc['seconds']} s against "
                    f"{fastest['tool']}'s {peer_inc['seconds']} s (target no slower: {verdict})"
                )
    return lines


COLUMNS = [
    ("tool", "tool"),
    ("run", "sync"),
    ("seconds", "wall s"),
    ("sync_seconds", "in-process s"),
    ("items_per_second", "items/s"),
    ("requests", "HTTP requests"),
    ("peak_rss_mb", "peak RSS MB"),
    ("client_cpu_s", "tool CPU s"),
    ("sandbox_cpu_s", "sandbox CPU s"),
    ("issues_held", "items held"),
    ("issue_links", "issue-link ends"),
    ("status_histories", "status histories"),
    ("remote_links", "remote links"),
    ("deletions_seen", "deletions seen"),
]


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Handoff vs peers — Jira {report['jira_size']:,} issues"
        + (f", Asana {report['asana_size']:,} tasks" if report.get("asana_size") else ""),
        "",
        f"{m['when']}, revision {m.get('revision', '?')}, {m['cores']} cores, "
        f"Python {m['python']}, load at start "
        f"{m['load_1_5_15']} (other work shares this machine). Medians of {report['repeat']} "
        "round(s); every tool runs as its own process against the same sandbox, which runs in "
        "another process and counts the requests.",
        "",
        "Peers: " + ", ".join(f"{p} {v}" for p, v in report["peers"].items()),
        "",
    ]
    for rerun in report.get("reruns", []):
        rm = rerun["machine"]
        lines.append(
            f"- re-run at {rm['when']} (revision {rm.get('revision', '?')}, load "
            f"{rm['load_1_5_15']}), our sync from {rerun.get('code', 'checkout')}: "
            f"{', '.join(rerun['tools'])}"
        )
    for peer, error in report.get("install_errors", {}).items():
        lines.append(f"- **{peer} not measured**: {error}")
    for key, sandbox in report["sandboxes"].items():
        lines.append(
            f"- sandbox {key}: {sandbox.get('items', 0):,} items"
            + (
                f", {sandbox['links']:,} issue links, {sandbox['status_histories']:,} status "
                f"histories, {sandbox['remote_links']:,} remote links"
                if "links" in sandbox
                else ""
            )
            + f"; mutation before the incremental run: {sandbox.get('mutation')}"
        )
    lines.append("")
    for deployment in sorted({r["deployment"] for r in report["results"]}):
        lines += [f"## {deployment}", ""]
        lines.append("| " + " | ".join(title for _, title in COLUMNS) + " |")
        lines.append("|---|---|" + "---:|" * (len(COLUMNS) - 2))
        for r in report["results"]:
            if r["deployment"] != deployment:
                continue
            cells = [_cell(r.get(key)) for key, _ in COLUMNS]
            if not r.get("ok"):
                cells[2] = f"failed: {str(r.get('error', '')).strip().splitlines()[-1:]}"
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Targets", "", *targets(report["results"]), ""]
    lines += ["## Notes", "", *NOTES, *report.get("asana_notes", []), ""]
    return "\n".join(lines)


NOTES = [
    "- items/s: issues (or tasks) this run fetched per wall second of the whole tool process "
    "(interpreter start-up and imports included, for every tool alike); `in-process s` is our "
    "sync alone as the worker timed it. Requests are the sandbox's count for that run only.",
    "- tool CPU s / sandbox CPU s: user + system CPU of the tool's process and of the sandbox's "
    "during that run. On a shared two-core machine the wall time follows the load; the two "
    "CPU figures do not: on a quiet machine the wall time lies between the larger of the two and their sum.",
    "- handoff: connector + raw landing into DuckDB (the job's sync step), full status history "
    "(Cloud: truncated search changelogs completed via changelog/bulkfetch), remote links for "
    "the issues whose changelog shows a remote-link change (one request each; the `remote links "
    "off` row is the like-for-like run), and a key census that turns deleted issues into "
    "tombstones (an incremental skips it when Jira's count says nothing was deleted; this "
    "benchmark deletes issues, so it runs).",
    "- tap-jira (singer-io) on Data Center: basic auth only (the sandbox accepts it as Jira "
    "DC does); it forces https, so the sandbox serves TLS from a test CA. tap-jira ignores "
    "REQUESTS_CA_BUNDLE (it sends prepared requests with Session.send, which skips requests' "
    "environment settings), so the CA is also appended to its venv's certifi bundle. Streams "
    "issues + changelogs selected; output is the Singer stream written to a file (no target). "
    "It pages with the server's default 50 issues, has a fixed 10 ms gap between requests, "
    "no remote links and no delete detection. Its incremental JQL has minute precision.",
    "- dlt rest_api on Cloud: search/jql with nextPageToken (cursor paginator), fields=*all, "
    "expand=changelog, 100 per page, merge on id into DuckDB, incremental on fields.updated "
    "put into the JQL. Cloud truncates expanded changelogs to the latest 100 entries and dlt "
    "does not fetch the rest; no remote links; deleted issues stay in its tables.",
    "- 'issue-link ends': a link between two issues appears on both (the sandbox's link count "
    "is half of it when both issues are held).",
]


def raw_path(folder: Path, jira_size: int) -> Path:
    """Every round's rows with per-route request counts: tens of MB at scale, kept out of git."""
    return folder / RAW / f"peers-{jira_size}.json"


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its bulk: no per-round rows, no per-route request counts."""
    small = {key: value for key, value in report.items() if key != "rows"}
    small["results"] = [
        {key: value for key, value in row.items() if key != "routes"} for row in report["results"]
    ]
    small["raw"] = f"{RAW}/peers-{report['jira_size']}.json (not in git)"
    return small


def write_peers_json(report: dict[str, Any], folder: Path) -> None:
    """The small summary beside the Markdown table; the full report in the ignored `raw/`."""
    raw = raw_path(folder, report["jira_size"])
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(report, indent=2, default=str) + "\n")
    summary = folder / f"peers-{report['jira_size']}.json"
    summary.write_text(json.dumps(summary_of(report), indent=2, default=str) + "\n")


def write_peers(report: dict[str, Any], out: Path | None = None) -> str:
    folder = out or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    write_peers_json(report, folder)
    text = markdown(report)
    (folder / f"peers-{report['jira_size']}.md").write_text(text)
    return text
