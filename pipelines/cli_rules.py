"""`handoff rules list|show|test`: the rule pack as users see it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from handoff.config import HandoffConfig, load_config
from handoff.errors import HandoffError
from pipelines.cli_output import make_console

app = typer.Typer(help="Inspect and test the rules.", no_args_is_help=True, rich_markup_mode=None)
console = make_console()
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="HANDOFF_CONFIG", metavar="PATH")
]


def _config(path: Path) -> HandoffConfig:
    """The config when there is one; the built-in pack alone otherwise."""
    return (
        load_config(path, require_env=False)
        if path.exists()
        else HandoffConfig(base_dir=Path.cwd())
    )


@app.command("list")
def list_rules(config: ConfigOption = Path("handoff.yaml")) -> None:
    """List the rules that will run, and the rule files that were rejected."""
    from rules.loading import load_rules

    rule_set, problems = load_rules(_config(config))
    table = Table("id", "severity", "title", "source")
    for rule in rule_set:
        table.add_row(
            rule.id,
            rule.spec.severity,
            rule.spec.title,
            "built-in" if rule.builtin else str(rule.path),
        )
    console.print(table)
    for problem in problems:
        console.print(f"[red]rejected:[/] {problem}", highlight=False)


@app.command()
def show(
    rule_id: Annotated[str, typer.Argument(metavar="RULE_ID")],
    config: ConfigOption = Path("handoff.yaml"),
) -> None:
    """Show a rule: what it means, what to do, its parameters and its query."""
    from rules.loading import load_rules

    rules, _ = load_rules(_config(config))
    rule = next((r for r in rules if r.id == rule_id), None)
    if rule is None:
        raise HandoffError(f"no rule {rule_id!r}; see `handoff rules list`")
    # Rule text is data, not markup: SQL such as `[u.item_id, w.item_id]` must print intact.
    console.print(f"[bold]{escape(rule.id)}[/] — {escape(rule.spec.title)} ({rule.spec.severity})")
    for text in (
        rule.spec.description.strip(),
        *(f"  param {name} = {value!r}" for name, value in rule.params.items()),
        rule.query,
    ):
        console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("test")
def test_rules(config: ConfigOption = Path("handoff.yaml")) -> None:
    """Run every rule's inline test cases."""
    from rules.harness import run_rule_tests
    from rules.loading import load_rules

    rule_set, problems = load_rules(_config(config))
    outcomes = run_rule_tests(rule_set)
    for outcome in outcomes:
        console.print(str(outcome), highlight=False)
    failed = [o for o in outcomes if not o.passed]
    console.print(
        f"{len(outcomes) - len(failed)} passed, {len(failed)} failed, {len(problems)} rule files rejected"
    )
    for problem in problems:
        console.print(f"[red]rejected:[/] {problem}", highlight=False)
    if failed or problems:
        raise typer.Exit(1)
