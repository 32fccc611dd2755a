"""Hosts one sandbox in its own process for the peer benchmark and answers commands on stdin.

    python -m bench.peers.host jira --size 20000 --deployment data_center --tls DIR

Prints one JSON line (url, token, CA bundle, source entry), then answers one JSON line per
command: `requests` (total and per route, as the sandbox counted them), `reset`, `mutate`
(1% of the items change, `org.mutate_share(0.01, 7)`), `quit`. Running the sandbox apart from
the measured tool keeps the tool's wall time and memory its own.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

from sandbox.jira import JiraSandbox, generate_org
from sandbox.server import Request, test_ca_context

PEER_USER = "sync-bot"  # Data Center basic-auth user name the Singer tap logs in with


class PeerJiraSandbox(JiraSandbox):
    """The Jira sandbox as Singer's tap-jira meets a Data Center site.

    Data Center also takes basic auth (user name and token as password), which is the only
    login tap-jira offers. The tap reads `fields.comment` and `transitions` off every issue
    unconditionally; the sandbox serves neither, so empty ones are added to its search pages.
    """

    def _authorised(self, request: Request) -> bool:
        if not self.cloud:
            basic = base64.b64encode(f"{PEER_USER}:{self.token}".encode()).decode()
            if request.headers.get("authorization", "") == f"Basic {basic}":
                return True
        return super()._authorised(request)

    def search_legacy(self, request: Request) -> dict[str, Any]:
        page = super().search_legacy(request)
        expand = ",".join(request.args("expand"))
        for issue in page["issues"]:
            issue.setdefault("fields", {}).setdefault("comment", {"comments": [], "total": 0})
            if "transitions" in expand:
                issue.setdefault("transitions", [])
        return page


def _jira(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    org = generate_org(args.size, 42)
    tls, bundle = test_ca_context(args.tls) if args.tls else (None, None)
    sandbox = PeerJiraSandbox(org, deployment=args.deployment, tls=tls, ca_bundle=bundle)
    sandbox.start()
    entry, env = sandbox.source_entry("bench-jira", "BENCH_JIRA_TOKEN")
    info = {
        "url": sandbox.url,
        "token": sandbox.token,
        "email": sandbox.email,
        "user": PEER_USER,
        "ca_bundle": bundle,
        "entry": entry,
        "env": env,
        "items": len(org.issues),
        "projects": sorted(org.projects),
        "links": len(org.links),
        "remote_links": sum(len(v) for v in org.remote_links.values()),
        "histories": sum(len(i.histories) for i in org.issues.values()),
        "status_histories": sum(
            any(item[0] == "status" for item in h.items)
            for i in org.issues.values()
            for h in i.histories
        ),
    }
    return sandbox, org, info


def _asana(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    from sandbox.asana import AsanaSandbox
    from sandbox.asana import generate_org as generate_asana

    org = generate_asana(args.size, 42)
    tls, bundle = test_ca_context(args.tls) if args.tls else (None, None)
    sandbox = AsanaSandbox(org, tls=tls).start()
    entry, env = sandbox.source_entry("bench-asana", "BENCH_ASANA_TOKEN")
    info = {
        "url": sandbox.url,
        "token": sandbox.token,
        "ca_bundle": bundle,
        "entry": entry,
        "env": env,
        "items": len(org.tasks),
        "workspace": org.workspace_gid,
    }
    return sandbox, org, info


def _mutate(system: str, org: Any) -> dict[str, int]:
    """1% of the items change; Jira also loses 0.01% of its issues (Asana's mutation deletes)."""
    changed = org.mutate_share(0.01, 7)
    if system == "asana":
        return {k: len(v) for k, v in changed.items()}
    touched = set(changed)
    untouched = [key for key in sorted(org.issues) if key not in touched]
    deleted = untouched[:: max(1, len(untouched) // max(1, len(org.issues) // 10000))]
    deleted = deleted[: max(1, len(org.issues) // 10000)]
    org.delete(deleted)
    return {"changed": len(changed), "deleted": len(deleted)}


def serve(args: argparse.Namespace) -> None:
    sandbox, org, info = (_jira if args.system == "jira" else _asana)(args)
    print(json.dumps(info), flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "requests":
                counts = dict(sandbox.server.requests)
                answer: Any = {"total": sum(counts.values()), "routes": counts}
            elif command == "reset":
                sandbox.server.reset_counts()
                answer = True
            elif command == "mutate":
                answer = _mutate(args.system, org)
                sandbox.server.reset_counts()
            else:
                break
            print(json.dumps(answer), flush=True)
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("system", choices=["jira", "asana"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--deployment", choices=["cloud", "data_center"], default="cloud")
    parser.add_argument("--tls", metavar="DIR", help="serve https with a test CA written here")
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
