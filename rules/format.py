"""The rule file format (version 1): one YAML file per rule; errors name the file and field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from handoff.yaml_lines import line_of

Severity = Literal["info", "warn", "fail"]
ParamType = Literal["int", "float", "str", "bool", "date"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warn": 1, "fail": 2}
RULE_ID = r"^[a-z][a-z0-9_]*$"
PARAM_NAME = r"^[a-z][a-z0-9_]*$"
ENGINE_PARAMS = frozenset({"now", "today"})
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def coerce_param(kind: ParamType, value: Any) -> Any:
    """Check a parameter value against its declared type; ISO strings are accepted for dates."""
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
    raise ValueError(f"expected {kind}, got {value!r}")


class ParamSpec(_Strict):
    """A typed rule parameter; config `rules.params.<rule_id>.<name>` overrides the default."""

    type: ParamType
    default: Any
    description: str = ""

    @model_validator(mode="after")
    def _default_has_type(self) -> ParamSpec:
        coerce_param(self.type, self.default)
        return self


class Tiers(_Strict):
    """Severity from a numeric result column: fail at `fail_at`, warn at `warn_at`.

    A threshold is a number or `$param` naming one of the rule's numeric parameters.
    """

    column: str
    warn_at: float | str | None = None
    fail_at: float | str | None = None


class Expectation(_Strict):
    subject_ids: list[str]
    severity: Severity | None = None


class RuleCase(_Strict):
    """A test case: rows given to an empty model and the findings expected (none: must not fire)."""

    name: str
    now: datetime | None = None
    params: dict[str, Any] = {}
    given: dict[str, list[dict[str, Any]]] = {}
    expect: list[Expectation] = []


class RuleSpec(_Strict):
    format: Literal[1]
    id: str = Field(pattern=RULE_ID)
    title: str
    description: str
    severity: Severity
    tiers: Tiers | None = None
    params: dict[str, ParamSpec] = {}
    query: str
    owner: str | None = None
    tests: list[RuleCase] = []

    @model_validator(mode="after")
    def _names_and_tiers(self) -> RuleSpec:
        for name in self.params:
            if not re.match(PARAM_NAME, name) or name in ENGINE_PARAMS:
                raise ValueError(f"params: {name!r} is not a usable parameter name")
        if self.tiers:
            for label in ("warn_at", "fail_at"):
                value = getattr(self.tiers, label)
                if isinstance(value, str):
                    spec = self.params.get(value.removeprefix("$"))
                    if (
                        not value.startswith("$")
                        or spec is None
                        or spec.type not in {"int", "float"}
                    ):
                        raise ValueError(f"tiers.{label}: {value!r} names no int/float parameter")
        return self


@dataclass(frozen=True)
class RuleProblem:
    """Why a rule file (or the rules config) was rejected: the file, the field and what is wrong."""

    path: Path
    field: str
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """A validated rule with its parameter values (defaults merged with config overrides)."""

    spec: RuleSpec
    path: Path
    params: dict[str, Any]
    columns: tuple[str, ...] = ()
    builtin: bool = False
    query: str = field(default="", repr=False)  # the single statement, without a trailing ';'

    @property
    def id(self) -> str:
        return self.spec.id


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_rule_file(path: Path) -> RuleSpec | list[RuleProblem]:
    """Read and validate one rule file; problems name the field (and line) at fault."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        return [RuleProblem(path, "(file)", f"cannot read the rule: {err}")]
    if not isinstance(data, dict):
        return [RuleProblem(path, "(top level)", "a rule file must be a mapping of fields")]
    rule_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as err:
        problems = []
        for item in err.errors():
            loc = tuple(item["loc"])
            line = line_of(text, loc)
            msg = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                msg = "unknown field"
            where = _field_name(loc) + (f" (line {line})" if line else "")
            problems.append(RuleProblem(path, where, msg, rule_id))
        return problems
    if spec.id != path.stem:
        return [
            RuleProblem(path, "id", f"{spec.id!r} must equal the file name {path.stem!r}", rule_id)
        ]
    return spec
