"""`handoff.yaml`: typed configuration with `${VAR}` secrets and errors that name the key path."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from handoff import kinds
from handoff.errors import ConfigError
from handoff.flow_config import Digests, Intraday, WriteBack
from handoff.secrets import check_secret, is_secret_path, register_config_secrets

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
StatusCategory = Literal["todo", "in_progress", "done"]


class Strict(BaseModel):
    # Validators are built when a model is first used, not at import: a sync worker validates
    # one source's model and should not pay for every model of the file.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# -- organisation ----------------------------------------------------------------------------
class Kpi(Strict):
    name: str
    description: str = ""


class Department(Strict):
    name: str
    description: str = ""
    kpis: list[Kpi] = []
    # who answers for the department's findings in the report (e-mail or name)
    steward: str | None = None
    # Other spellings tools use for this department ("Store Operations" for "Store Ops");
    # case and spacing never matter.
    aliases: list[str] = []


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
    notice_days: int = Field(0, ge=0, le=3650)
    description: str = ""
    filters: ContractFilter = Field(default_factory=ContractFilter)


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
    """What every source has; each kind's model (see `handoff.kinds`) narrows `kind`."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    kind: str
    department: str | None = None
    enabled: bool = True
    # blocking check: a source may not lose more items than this share
    max_drop_share: float = Field(0.5, ge=0, le=1)
    # per request: retries and waits (Retry-After included) before the call fails
    max_retry_wait_seconds: float = Field(300, ge=0, le=86_400)
    # the quota the vendor grants this account; default: the vendor's documented one
    rate_limit_per_minute: float | None = Field(None, gt=0)
    rate_limit_share: float = Field(0.9, gt=0, le=1)  # share of the quota the sync may use
    # a long fetch commits a resumable checkpoint every N connector pages or N seconds
    checkpoint_pages: int = Field(20, ge=1, le=100_000)
    checkpoint_seconds: float = Field(60, gt=0, le=86_400)


class ColumnMap(Strict):
    """Header names (first match wins, case-insensitive) for each model column."""

    id: list[str] = ["id", "key", "task id", "row id"]
    title: list[str] = ["title", "task", "name", "summary"]
    status: list[str] = ["status", "state"]
    owner: list[str] = ["owner", "assignee", "responsible"]
    due: list[str] = ["due", "due date", "deadline", "end"]
    start: list[str] = ["start", "start date"]
    depends_on: list[str] = ["depends on", "dependencies", "blocked by", "predecessors"]
    # items that wait on this row (the edge runs from this row to each of them)
    successors: list[str] = ["successors", "blocks", "blocking"]
    department: list[str] = ["department", "team"]
    item_type: list[str] = ["type", "item type"]
    milestone: list[str] = ["milestone", "is milestone"]
    url: list[str] = ["url", "link"]
    rag: list[str] = ["rag", "health", "status report"]  # what the row's team reports

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
    columns: ColumnMap = Field(default_factory=ColumnMap)
    status_map: dict[str, StatusCategory] = {}
    date_order: Literal["iso", "dmy", "mdy"] = "iso"
    url: str | None = None  # base link for rows; `{sheet}` and `{row}` are filled in
    allow_empty: bool = False  # a file or sheet with no data rows is a failure unless set
    header_rows: Annotated[int, Field(ge=1, le=5)] | None = None  # None: detected (1 or 2)
    # the team's words in the RAG column -> green, amber, red, on_hold or complete
    rag_map: dict[str, Literal["green", "amber", "red", "on_hold", "complete"]] = {}

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
    include_hidden: bool = False  # read hidden tabs and rows hidden by the user or a filter


class JiraSource(SourceBase):
    kind: Literal["jira"]
    url: str  # the API base (a scoped token: https://api.atlassian.com/ex/jira/{cloudId})
    site_url: str | None = None  # where people browse issues, for links; default `url`
    deployment: Literal["cloud", "data_center"] = "cloud"
    email: str | None = None
    token: SecretStr
    projects: list[str] = []
    jql: str | None = None
    custom_fields: dict[str, str] = {}  # model name -> field id or name
    milestones: Literal["epics", "versions", "both", "none"] = "epics"
    remote_links: bool = True
    # remote links are read for issues whose changelog shows a RemoteIssueLink change; every
    # this many days all issues' links are read too (links written without history); 0 = never
    remote_link_sweep_days: float = Field(7, ge=0)
    # an incremental sync skips the key census while Jira's count of the issues in scope
    # agrees with the keys it knows; every this many days it is taken anyway; 0 = every sync
    census_days: float = Field(1, ge=0)
    overlap_minutes: int = Field(10, ge=0, le=1440)
    # issues per search page; default 100 on Cloud, 1000 on Data Center
    page_size: int | None = Field(None, ge=1, le=5000)
    ca_bundle: Path | None = None
    writeback: WriteBack = Field(default_factory=lambda: WriteBack.model_validate({}))


class AsanaSource(SourceBase):
    kind: Literal["asana"]
    url: str = "https://app.asana.com/api/1.0"
    token: SecretStr
    workspace: str | None = None
    projects: list[str] = []  # gids or names; all projects of the workspace when empty
    section_status: dict[str, StatusCategory] = {}
    custom_fields: dict[str, str] = {}  # model name ("department", "jira_key") -> field name
    ca_bundle: Path | None = None
    # the modified-since watermark is the listing's start (server clock) minus this margin
    overlap_minutes: int = Field(10, ge=0)
    plan: Literal["free", "paid"] = "paid"  # the documented quota: 150 or 1,500 requests/min
    writeback: WriteBack = Field(default_factory=lambda: WriteBack.model_validate({}))


@functools.cache
def _source_union(version: int) -> TypeAdapter[SourceBase]:
    """The discriminated union of the registered kinds' models; `version` (the registry's) keys
    the cache, so a kind registered later is accepted."""
    models = tuple(kind.config for kind in kinds.registered_kinds())
    union: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(union)


def _validate_source(value: Any) -> SourceBase:
    return _source_union(kinds.registry_version()).validate_python(value)


Source = Annotated[SourceBase, PlainValidator(_validate_source)]
"""A source entry of any registered kind, validated as the discriminated union of their models."""


# -- everything else -------------------------------------------------------------------------
class Schedule(Strict):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter  # a sync never reads the schedule: imported on use

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
    # Per rule: its statement is interrupted after timeout_seconds; more rows than max_rows
    # and it is not evaluated (reported, its open findings carry over).
    timeout_seconds: float = Field(default=60, gt=0, le=86400)
    max_rows: int = Field(default=1_000_000, gt=0)


class ReportConfig(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    html: Path = Path("reports/handoff.html")
    markdown: Path = Path("reports/handoff.md")
    json_path: Path = Field(Path("reports/handoff.json"), alias="json")
    # report files are for a web server or share to serve: readable by all unless set (octal)
    file_mode: int = Field(0o644, ge=0, le=0o777)

    @field_validator("file_mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        """`file_mode: "0640"` reads as octal, as `chmod` users write it."""
        if isinstance(value, str):
            try:
                return int(value, 8)
            except ValueError:
                raise ValueError(f"{value!r} is not an octal file mode such as 0644") from None
        return value


class Webhook(Strict):
    url: SecretStr
    format: Literal["slack", "teams"] = "slack"


class SyncConfig(Strict):
    """How the nightly job fetches: Dagster retries of a failed source and fetch parallelism."""

    retries: int = Field(2, ge=0, le=10)
    retry_delay_seconds: float = Field(30, ge=0, le=3600)
    parallel_sources: int = Field(4, ge=1, le=64)
    stale_after_hours: float = Field(36, gt=0, le=24 * 365)
    # How long a run waits for another run's lock on the data directory before it fails.
    lock_wait_seconds: float = Field(600, ge=0, le=86_400)
    # a source fails when no page landed and no request was answered for this long (0: never)
    no_progress_minutes: float = Field(15, ge=0, le=24 * 60)
    # Dagster executor of `handoff sync` and scheduled runs (run config may override it):
    # in_process runs every step in one process; multiprocess runs the sources in parallel steps.
    executor: Literal["in_process", "multiprocess"] = "in_process"
    # Build files a killed run left in data/build are removed once older than this.
    keep_run_state_days: float = Field(1, gt=0, le=3650)


MEMORY_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


class ModelSettings(Strict):
    """How the model build may use the machine: DuckDB spills to `temp_directory` beyond
    `memory_limit` instead of growing with the data (the machine runs other work too)."""

    memory_limit: str = "2GB"
    temp_directory: Path | None = None  # default: <data_dir>/tmp

    @field_validator("memory_limit")
    @classmethod
    def _valid_size(cls, value: str) -> str:
        if not MEMORY_SIZE.match(value.strip()):
            raise ValueError(f'not a memory size like "2GB" or "512MiB": {value!r}')
        return value.strip()


class HandoffConfig(Strict):
    version: Literal[1] = 1
    organisation: str = "Handoff"
    database: Path = Path("data/handoff.duckdb")
    data_dir: Path = Path("data")
    report: ReportConfig = Field(default_factory=lambda: ReportConfig.model_validate({}))
    schedule: Schedule = Field(default_factory=Schedule)
    sync: SyncConfig = Field(default_factory=lambda: SyncConfig.model_validate({}))
    departments: list[Department] = []
    department_rules: list[DepartmentRule] = []
    kpi_tensions: list[KpiTension] = []
    contracts: list[Contract] = []
    people: list[PersonAlias] = []
    # milestone item_id -> e-mail of its steward, when it is not the milestone's owner
    milestone_stewards: dict[str, str] = {}
    # days an item usually stays in one status: idle this long, it counts as stalled and its
    # forecast restarts from today (see the `forecasts` table)
    typical_cycle_days: int = Field(default=10, ge=1, le=365)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    model: ModelSettings = Field(default_factory=ModelSettings)
    webhook: Webhook | None = None
    digests: Digests | None = None
    intraday: Intraday = Field(default_factory=lambda: Intraday.model_validate({}))
    sources: list[Source] = []

    base_dir: Path = Path(".")  # directory of the config file; relative paths resolve from it

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else (self.base_dir / relative)

    @property
    def database_path(self) -> Path:
        return self.path(self.database)

    @property
    def model_temp_dir(self) -> Path:
        return self.path(self.model.temp_directory or self.data_dir / "tmp")

    @property
    def raw_dir(self) -> Path:
        return self.path(self.data_dir) / "raw"

    def source(self, name: str) -> SourceBase:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"sources: no source named {name!r}")

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceBase]) -> list[SourceBase]:
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
        used: list[str] = []

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            used.append(name)
            if name not in env:
                missing.append(f"{path}: environment variable {name} is not set")
                return ""
            return env[name]

        value = ENV_REF.sub(lookup, node)
        if is_secret_path(path) and (problem := check_secret(path, value, used)):
            raise ConfigError(problem)
        return value
    return node


def _format_loc(loc: tuple[Any, ...], data: Any, kind_names: tuple[str, ...]) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            name = (
                node[part].get("name")
                if isinstance(node, list) and part < len(node) and isinstance(node[part], dict)
                else None
            )
            out += f"[{part}]" + (f"({name})" if name else "")
        elif part in kind_names and isinstance(node, dict):
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
    from handoff.yaml_lines import line_of  # YAML is for config files: imported on use
    from handoff.yaml_safe import load_yaml

    data = load_yaml(text, origin)
    if data is None:
        raise ConfigError(
            f"{origin}: the file is empty (or only comments); it needs at least `sources:`"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys")
    missing: list[str] = []
    try:
        data = _substitute(data, "", dict(os.environ if env is None else env), missing)
    except ConfigError as err:
        raise ConfigError(f"{origin}: {err}") from None
    if missing and require_env:
        raise ConfigError("\n".join(f"{origin}: {m}" for m in missing))
    try:
        config = HandoffConfig.model_validate({**data, "base_dir": base_dir})
        config = config.model_copy(
            update={"sources": [_anchor_paths(s, base_dir) for s in config.sources]}
        )
    except ValidationError as err:
        lines = []
        names = kinds.kind_names()
        for problem in err.errors():
            loc = tuple(p for p in problem["loc"] if p not in names)
            where = _format_loc(problem["loc"], data, names) or "(top level)"
            if problem["type"] in {"union_tag_invalid", "union_tag_not_found"}:
                loc, where = (*loc, "kind"), f"{where}.kind"
            line = line_of(text, loc)
            at = f" (line {line})" if line else ""
            msg = problem["msg"]
            if problem["type"] == "union_tag_invalid":
                msg = (
                    f"unknown source kind {problem['input'].get('kind')!r}; "
                    f"expected one of {', '.join(names)}"
                    if isinstance(problem.get("input"), dict)
                    else msg
                )
            lines.append(f"{origin}: {where}{at}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    if not config.sources:
        raise ConfigError(
            f"{origin}: sources: no sources are configured; a sync without sources would "
            "publish an empty model (see `handoff init` for examples)"
        )
    register_config_secrets(config)
    _check_paths(config, text, origin)
    return config


def _check_paths(config: HandoffConfig, text: str, origin: str) -> None:
    """Paths whose kind is wrong fail at load time, not as a traceback deep in a sync."""
    from handoff.yaml_lines import line_of

    def at(*loc: Any) -> str:
        line = line_of(text, loc)
        return f" (line {line})" if line else ""

    for index, folder in enumerate(config.rules.paths):
        resolved = config.path(folder)
        if not resolved.is_dir():
            what = "is not a folder" if resolved.exists() else "does not exist"
            raise ConfigError(
                f"{origin}: rules.paths[{index}]{at('rules', 'paths', index)}: "
                f"{resolved} {what}; create it or remove it from the list"
            )
    if config.database_path.is_dir():
        raise ConfigError(
            f"{origin}: database{at('database')}: {config.database_path} is a folder; "
            "give a file path such as data/handoff.duckdb"
        )
    data_dir = config.path(config.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"{origin}: data_dir{at('data_dir')}: {data_dir} is a file; give a folder"
        )


def _anchor_paths(source: SourceBase, base_dir: Path) -> SourceBase:
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
    from handoff.yaml_safe import MAX_BYTES, decode_config_bytes

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found (create one with `handoff init`)")
    if not path.is_file():
        raise ConfigError(f"{path}: is not a file; give the path of handoff.yaml")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None
    text = decode_config_bytes(raw, str(path))
    return parse_config(
        text, origin=str(path), base_dir=path.parent.resolve(), require_env=require_env
    )
