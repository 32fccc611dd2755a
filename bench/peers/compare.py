"""Side by side: our Jira sync against Singer's tap-jira and dlt's rest_api, same sandbox.

    python -m bench.peers --jira-size 20000 --repeat 3

Data Center over TLS (tap-jira forces https) runs handoff and tap-jira; Cloud runs handoff and
dlt (search/jql with nextPageToken). Each round is a full sync of every tool, then 1% of the
issues change (and 0.01% are deleted), then an incremental sync of every tool. Figures are the
medians of the rounds; results go to bench/results/peers-<size>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.peers import asana_tools, jira_tools
from bench.peers.envs import PEER_PACKAGES, ensure_peer, installed_versions
from bench.peers.measure import Host
from bench.peers.report import RESULTS, machine, raw_path, write_peers

Tool = Callable[..., dict[str, Any]]
JIRA_SETUPS: dict[str, dict[str, Any]] = {
    "data_center": {
        "tls": True,
        "tools": {
            "handoff": lambda h, w, full: jira_tools.handoff(h, w, full=full),
            "handoff (remote links off)": lambda h, w, full: jira_tools.handoff(
                h, w, full=full, remote_links=False
            ),
            "tap-jira": jira_tools.tap_jira,
        },
        "peers": ["tap-jira"],
    },
    "cloud": {
        "tls": False,
        "tools": {
            "handoff": lambda h, w, full: jira_tools.handoff(h, w, full=full),
            "handoff (remote links off)": lambda h, w, full: jira_tools.handoff(
                h, w, full=full, remote_links=False
            ),
            "dlt rest_api": jira_tools.dlt_jira,
        },
        "peers": ["dlt"],
    },
}


def install_peers(peers: list[str]) -> dict[str, str]:
    """Install each peer once (time-boxed by pip's own timeout); returns errors by peer."""
    errors: dict[str, str] = {}
    for peer in peers:
        try:
            ensure_peer(peer)
        except Exception as err:  # a peer that cannot install is a result
            detail = getattr(err, "stderr", "") or str(err)
            errors[peer] = f"install failed: {str(detail).strip()[-300:]}"
    return errors


def rounds(
    system: str,
    size: int,
    deployment: str,
    tools: dict[str, Tool],
    repeat: int,
    *,
    tls: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run `repeat` rounds (full, mutate, incremental) of every tool on one sandbox."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"bench-peers-{system}-") as tmp:
        folder = Path(tmp)
        hosted = deployment if system == "jira" else "cloud"
        with Host(system, size, deployment=hosted, tls=folder if tls else None) as host:
            sandbox = {k: v for k, v in host.info.items() if k not in ("token", "env", "entry")}
            for number in range(repeat):
                works = {name: folder / f"r{number}-{i}" for i, name in enumerate(tools)}
                for name, tool in tools.items():
                    works[name].mkdir()
                    host.reset()
                    rows.append(
                        {"round": number, "deployment": deployment, **tool(host, works[name], True)}
                    )
                    print(_brief(rows[-1]), flush=True)
                sandbox["mutation"] = host.ask("mutate")
                for name, tool in tools.items():
                    host.reset()
                    rows.append(
                        {
                            "round": number,
                            "deployment": deployment,
                            **tool(host, works[name], False),
                        }
                    )
                    print(_brief(rows[-1]), flush=True)
    return sandbox, rows


def _brief(row: dict[str, Any]) -> str:
    keys = ("deployment", "tool", "run", "ok", "seconds", "requests", "peak_rss_mb")
    keys += ("client_cpu_s", "sandbox_cpu_s")
    return json.dumps({k: row.get(k) for k in keys})


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (deployment, tool, run): medians of the timed figures, last round's content."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["deployment"], row["tool"], row["run"]), []).append(row)
    out = []
    for (deployment, tool, run), group in groups.items():
        last = dict(group[-1])
        ok = [r for r in group if r.get("ok")]
        for key in ("seconds", "peak_rss_mb", "requests"):
            values = [r[key] for r in ok] or [r[key] for r in group]
            last[key] = round(statistics.median(values), 2)
        for key in ("client_cpu_s", "sandbox_cpu_s"):  # absent from rows of older runs
            values = [r[key] for r in ok if key in r]
            last[key] = round(statistics.median(values), 2) if values else None
        last["rounds"] = len(group)
        last["ok"] = bool(ok)
        fetched = last.get("issues_fetched") or last.get("tasks_fetched") or 0
        last["items_per_second"] = round(fetched / last["seconds"], 1) if last["seconds"] else None
        out.append({"deployment": deployment, "tool": tool, "run": run, **last})
    return out


def merged(report: dict[str, Any], out: Path | None) -> dict[str, Any]:
    """Fold re-run tools into the earlier results of the same size (their rows replace the old)."""
    earlier_path = raw_path(out or RESULTS, report["jira_size"])
    if not earlier_path.exists():
        return report
    earlier = json.loads(earlier_path.read_text())
    redone = {(r["deployment"], r["tool"]) for r in report["rows"]}
    kept = [r for r in earlier["rows"] if (r["deployment"], r["tool"]) not in redone]
    earlier["rows"] = kept + report["rows"]
    earlier["sandboxes"].update(report["sandboxes"])
    code = os.environ.get(jira_tools.CODE_ENV)
    earlier.setdefault("reruns", []).append(
        {
            "machine": report["machine"],
            "tools": sorted({t for _, t in redone}),
            "code": os.environ.get("HANDOFF_BENCH_REVISION", code) if code else "checkout",
        }
    )
    return earlier  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jira-size", type=int, default=20000)
    parser.add_argument("--asana-size", type=int, default=0, help="0 skips the Asana comparison")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--deployments", nargs="+", default=list(JIRA_SETUPS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--only",
        nargs="+",
        help="re-run only these tools (exact names) and merge them into the existing results",
    )
    args = parser.parse_args()
    folder = args.out or RESULTS
    if (
        args.only
        and (folder / f"peers-{args.jira_size}.json").exists()
        and not raw_path(folder, args.jira_size).exists()
    ):
        parser.error(
            f"--only merges into the earlier rounds in {raw_path(folder, args.jira_size)}, which "
            "this checkout lacks (raw results stay out of git); run the whole comparison"
        )
    wanted = [p for d in args.deployments for p in JIRA_SETUPS[d]["peers"]]
    if args.asana_size:
        wanted.append("tap-asana")
    install_errors = install_peers(wanted)
    report: dict[str, Any] = {
        "machine": machine(),
        "jira_size": args.jira_size,
        "asana_size": args.asana_size,
        "repeat": args.repeat,
        "peers": {p: installed_versions(p) or PEER_PACKAGES[p] for p in wanted},
        "install_errors": install_errors,
        "sandboxes": {},
        "rows": [],
    }
    for deployment in args.deployments:
        setup = JIRA_SETUPS[deployment]
        tools = {
            name: tool
            for name, tool in setup["tools"].items()
            if not any(peer in install_errors and peer in name for peer in setup["peers"])
            and (not args.only or name in args.only)
        }
        if not tools:
            continue
        sandbox, rows = rounds(
            "jira", args.jira_size, deployment, tools, args.repeat, tls=setup["tls"]
        )
        report["sandboxes"][f"jira-{deployment}"] = sandbox
        report["rows"] += rows
    if args.asana_size:
        sandbox, rows = rounds(
            "asana",
            args.asana_size,
            "asana",
            asana_tools.tools(install_errors),
            args.repeat,
            tls=False,
        )
        report["sandboxes"]["asana"] = sandbox
        report["rows"] += rows
        report["asana_notes"] = asana_tools.NOTES
    if args.only:
        report = merged(report, args.out)
    report["results"] = medians(report["rows"])
    print(write_peers(report, args.out))


if __name__ == "__main__":
    main()
