"""`handoff.yaml`: typed configuration with `${VAR}` secrets and errors that name the key path."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from handoff.errors import ConfigError
from handoff.yaml_lines import line_of

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
StatusCategory = Literal["todo", "in_progress", "done"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- organisation ----------------------------------------------------------------------------
class Kpi(Strict):
    name: str
    description: str = ""


class Department(Strict):
    name: str
    description: str = ""
    kpis: list[Kpi] = []


class KpiTension(Strict):
    """Two departments whose KPIs pull against each other on shared deliverables."""

    between: tuple[str, str]  # "Department.kpi" on each side
    note: str = ""


class ContractFilter(Strict):
    labels: list[str] = []
    item_types: list[str] = []
    projects: list[str] = []


class Contract(Strict):
    """A declared handoff agreement: the provider delivers to the consumer with notice."""

    id: str
    provider: str
    consumer: str
    notice_days: int = 0
    description: str = ""
    filters: ContractFilter = ContractFilter()


class PersonAlias(Strict):
    """Ties accounts without a visible e-mail (Jira privacy, sheet names) to one person."""

    email: str
    names: list[str] = []
    account_ids: list[str] = []


class DepartmentRule(Strict):
    """Ordered rule: the first that matches an item decides its department."""

    department: str
    source: str | None = None
    project: str | None = None
    component: str | None = None
    label: str | None = None
    custom_field: str | None = None
    value: str | None = None


# -- sources ---------------------------------------------------------------------------------
class SourceBase(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    department: str | None = None
    enabled: bool = True
    max_drop_share: float = 0.5  # blocking check: a source may not lose more items than this
    max_retry_wait_seconds: float = 300  # total backoff a fetch may spend on 429/5xx before failing


class ColumnMap(Strict):
    """Header names (first match wins, case-insensitive) for each model column."""

    id: list[str] = ["id", "key", "task id", "row id"]
    title: list[str] = ["title", "task", "name", "summary"]
    status: list[str] = ["status", "state"]
    owner: list[str] = ["owner", "assignee", "responsible"]
    due: list[str] = ["due", "due date", "deadline", "end"]
    start: list[str] = ["start", "start date"]
    depends_on: list[str] = ["depends on", "dependencies", "blocked by", "predecessors"]
    department: list[str] = ["department", "team"]
    item_type: list[str] = ["type", "item type"]
    milestone: list[str] = ["milestone", "is milestone"]
    url: list[str] = ["url", "link"]

    @field_validator("*", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


DEFAULT_STATUS_MAP: dict[str, StatusCategory] = {
    "todo": "todo",
    "to do": "todo",
    "open": "todo",
    "not started": "todo",
    "planned": "todo",
    "backlog": "todo",
    "in progress": "in_progress",
    "doing": "in_progress",
    "started": "in_progress",
    "blocked": "in_progress",
    "in review": "in_progress",
    "waiting": "in_progress",
    "done": "done",
    "complete": "done",
    "completed": "done",
    "closed": "done",
    "approved": "done",
    "cancelled": "done",
}


class SheetSourceBase(SourceBase):
    columns: ColumnMap = ColumnMap()
    status_map: dict[str, StatusCategory] = {}
    date_order: Literal["iso", "dmy", "mdy"] = "iso"
    url: str | None = None  # base link for rows; `{sheet}` and `{row}` are filled in

    def status_category(self, status: str) -> StatusCategory | None:
        key = status.strip().lower()
        merged = {**DEFAULT_STATUS_MAP, **{k.lower(): v for k, v in self.status_map.items()}}
        return merged.get(key)


class CsvSource(SheetSourceBase):
    kind: Literal["csv"]
    path: Path
    encoding: str | None = None  # detected when not given
    delimiter: str | None = None  # detected when not given


class ExcelSource(SheetSourceBase):
    kind: Literal["xlsx"]
    path: Path
    sheets: list[str] = []  # all worksheets when empty


class GoogleSheetsSource(SheetSourceBase):
    kind: Literal["gsheets"]
    spreadsheet_id: str
    sheets: list[str] = []
    credentials_file: Path | None = None
    credentials_json: SecretStr | None = None
    api_url: str = "https://sheets.googleapis.com"
    token_uri: str | None = None
    ca_bundle: Path | None = None


class JiraSource(SourceBase):
    kind: Literal["jira"]
    url: str
    deployment: Literal["cloud", "data_center"] = "cloud"
    email: str | None = None
    token: SecretStr
    projects: list[str] = []
    jql: str | None = None
    custom_fields: dict[str, str] = {}  # model name -> field id or name
    milestones: Literal["epics", "versions", "both", "none"] = "epics"
    remote_links: bool = True
    overlap_minutes: int = 10
    # issues per search page; default 100 on Cloud, 1000 on Data Center
    page_size: int | None = None
    ca_bundle: Path | None = None


class AsanaSource(SourceBase):
    kind: Literal["asana"]
    url: str = "https://app.asana.com/api/1.0"
    token: SecretStr
    workspace: str | None = None
    projects: list[str] = []  # gids or names; all projects of the workspace when empty
    section_status: dict[str, StatusCategory] = {}
    custom_fields: dict[str, str] = {}  # model name ("department", "jira_key") -> field name
    ca_bundle: Path | None = None


Source = Annotated[
    CsvSource | ExcelSource | GoogleSheetsSource | JiraSource | AsanaSource,
    Field(discriminator="kind"),
]


# -- everything else -------------------------------------------------------------------------
class Schedule(Strict):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class RulesConfig(Strict):
    paths: list[Path] = []  # user rule folders, evaluated beside the built-in pack
    builtin: bool = True
    params: dict[str, dict[str, Any]] = {}
    disabled: list[str] = []
    waivers: Path = Path("waivers.yaml")


class ReportConfig(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    html: Path = Path("reports/handoff.html")
    markdown: Path = Path("reports/handoff.md")
    json_path: Path = Field(Path("reports/handoff.json"), alias="json")


class Webhook(Strict):
    url: SecretStr
    format: Literal["slack", "teams"] = "slack"


class SyncConfig(Strict):
    """How the nightly job fetches: Dagster retries of a failed source and fetch parallelism."""

    retries: int = 2
    retry_delay_seconds: float = 30
    parallel_sources: int = 4
    stale_after_hours: float = 36
    # How long a run waits for another run's lock on the data directory before it fails.
    lock_wait_seconds: Annotated[float, Field(ge=0, le=86400)] = 600


class HandoffConfig(Strict):
    version: Literal[1] = 1
    organisation: str = "Handoff"
    database: Path = Path("data/handoff.duckdb")
    data_dir: Path = Path("data")
    report: ReportConfig = ReportConfig.model_validate({})
    schedule: Schedule = Schedule()
    sync: SyncConfig = SyncConfig()
    departments: list[Department] = []
    department_rules: list[DepartmentRule] = []
    kpi_tensions: list[KpiTension] = []
    contracts: list[Contract] = []
    people: list[PersonAlias] = []
    # milestone item_id -> e-mail of its steward, when it is not the milestone's owner
    milestone_stewards: dict[str, str] = {}
    rules: RulesConfig = RulesConfig()
    webhook: Webhook | None = None
    sources: list[Source] = []

    base_dir: Path = Path(".")  # directory of the config file; relative paths resolve from it

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else (self.base_dir / relative)

    @property
    def database_path(self) -> Path:
        return self.path(self.database)

    @property
    def raw_dir(self) -> Path:
        return self.path(self.data_dir) / "raw"

    def source(self, name: str) -> Any:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"sources: no source named {name!r}")

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return sources


# -- loading ---------------------------------------------------------------------------------
def _substitute(node: Any, path: str, env: dict[str, str], missing: list[str]) -> Any:
    """Replace `${VAR}` in every string; collect the key paths of variables that are unset."""
    if isinstance(node, dict):
        return {
            k: _substitute(v, f"{path}.{k}" if path else str(k), env, missing)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_substitute(v, f"{path}[{i}]", env, missing) for i, v in enumerate(node)]
    if isinstance(node, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                missing.append(f"{path}: environment variable {name} is not set")
                return ""
            return env[name]

        return ENV_REF.sub(lookup, node)
    return node


def _format_loc(loc: tuple[Any, ...], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            name = (
                node[part].get("name")
                if isinstance(node, list) and isinstance(node[part], dict)
                else None
            )
            out += f"[{part}]" + (f"({name})" if name else "")
        elif part in {"csv", "xlsx", "gsheets", "jira", "asana"} and isinstance(node, dict):
            continue  # the discriminator tag pydantic adds to the location
        else:
            out += f".{part}" if out else str(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def parse_config(
    text: str,
    *,
    origin: str,
    base_dir: Path,
    env: dict[str, str] | None = None,
    require_env: bool = True,
) -> HandoffConfig:
    """Validate config text; raise ConfigError naming file, key path and line."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{origin}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys")
    missing: list[str] = []
    data = _substitute(data, "", dict(os.environ if env is None else env), missing)
    if missing and require_env:
        raise ConfigError("\n".join(f"{origin}: {m}" for m in missing))
    try:
        config = HandoffConfig.model_validate({**data, "base_dir": base_dir})
        return config.model_copy(
            update={"sources": [_anchor_paths(s, base_dir) for s in config.sources]}
        )
    except ValidationError as err:
        lines = []
        for problem in err.errors():
            loc = tuple(
                p for p in problem["loc"] if p not in {"csv", "xlsx", "gsheets", "jira", "asana"}
            )
            where = _format_loc(problem["loc"], data) or "(top level)"
            if problem["type"] in {"union_tag_invalid", "union_tag_not_found"}:
                loc, where = (*loc, "kind"), f"{where}.kind"
            line = line_of(text, loc)
            at = f" (line {line})" if line else ""
            msg = problem["msg"]
            if problem["type"] == "union_tag_invalid":
                msg = (
                    f"unknown source kind {problem['input'].get('kind')!r}; expected one of csv, xlsx, gsheets, jira, asana"
                    if isinstance(problem.get("input"), dict)
                    else msg
                )
            lines.append(f"{origin}: {where}{at}: {msg}")
        raise ConfigError("\n".join(lines)) from None


def _anchor_paths(source: Any, base_dir: Path) -> Any:
    """Relative file paths in a source are relative to the config file, wherever we run from."""
    update = {}
    for name in ("path", "credentials_file", "ca_bundle"):
        value = getattr(source, name, None)
        if isinstance(value, Path) and not value.is_absolute():
            update[name] = base_dir / value
    return source.model_copy(update=update) if update else source


def load_config(path: Path | str, *, require_env: bool = True) -> HandoffConfig:
    """Load and validate the config. With `require_env=False`, unset `${VAR}`s become empty:
    for commands that read the published model and never contact a source."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found (create one with `handoff init`)")
    return parse_config(
        path.read_text(), origin=str(path), base_dir=path.parent.resolve(), require_env=require_env
    )
