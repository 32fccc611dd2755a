"""Find, validate and parameterise the rule files: the built-in pack plus the user's folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handoff.config import HandoffConfig
from rules.compile import check_query
from rules.format import Rule, RuleProblem, RuleSpec, coerce_param, parse_rule_file

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def rule_files(folder: Path) -> list[Path]:
    """The rule files of one folder (or a single file), in a stable order."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in {".yaml", ".yml"})


def resolve_params(
    spec: RuleSpec, path: Path, overrides: dict[str, Any], origin: str
) -> dict[str, Any] | list[RuleProblem]:
    """Defaults merged with overrides, each checked against the declared type."""
    values = {name: coerce_param(p.type, p.default) for name, p in spec.params.items()}
    problems = []
    for name, value in overrides.items():
        where = f"{origin}.{name}"
        if name not in spec.params:
            known = ", ".join(sorted(spec.params)) or "none"
            problems.append(
                RuleProblem(path, where, f"unknown parameter (known: {known})", spec.id)
            )
            continue
        try:
            values[name] = coerce_param(spec.params[name].type, value)
        except ValueError as err:
            problems.append(RuleProblem(path, where, str(err), spec.id))
    return problems or values


def compile_rule(
    spec: RuleSpec,
    path: Path,
    overrides: dict[str, Any],
    *,
    builtin: bool,
    origin: str,
    seconds: float,
) -> Rule | list[RuleProblem]:
    """Bind the parameters and check the SQL once on an empty model, locked like the run."""
    params = resolve_params(spec, path, overrides, origin)
    if isinstance(params, list):
        return params
    checked = check_query(spec, path, params, seconds=seconds)
    if isinstance(checked, RuleProblem):
        return [checked]
    query, columns = checked
    return Rule(spec, path, params, columns, builtin, query)


def load_rules(config: HandoffConfig) -> tuple[list[Rule], list[RuleProblem]]:
    """Every enabled rule that validates, and the problems of those that do not.

    Invalid rules are skipped so that the others still run.
    """
    folders: list[tuple[Path, bool]] = [(BUILTIN_DIR, True)] if config.rules.builtin else []
    folders += [(config.path(p), False) for p in config.rules.paths]
    enabled: list[Rule] = []
    problems: list[RuleProblem] = []
    seen: dict[str, Path] = {}
    for folder, builtin in folders:
        if not folder.exists():
            problems.append(RuleProblem(folder, "rules.paths", "rule folder not found"))
            continue
        for path in rule_files(folder):
            parsed = parse_rule_file(path)
            if isinstance(parsed, list):
                problems.extend(parsed)
                continue
            if parsed.id in seen:
                problems.append(
                    RuleProblem(
                        path,
                        "id",
                        f"{parsed.id!r} is already defined in {seen[parsed.id]}",
                        parsed.id,
                    )
                )
                continue
            seen[parsed.id] = path
            if parsed.id in config.rules.disabled:
                continue
            overrides = config.rules.params.get(parsed.id, {})
            origin = f"config rules.params.{parsed.id}"
            compiled = compile_rule(
                parsed,
                path,
                overrides,
                builtin=builtin,
                origin=origin,
                seconds=config.rules.timeout_seconds,
            )
            if isinstance(compiled, list):
                problems.extend(compiled)
            else:
                enabled.append(compiled)
    unknown = set(config.rules.params) - set(seen)
    for rule_id in sorted(unknown):
        problems.append(
            RuleProblem(Path("handoff.yaml"), f"rules.params.{rule_id}", "no rule has this id")
        )
    return enabled, problems
