"""The part of JQL a sync sends, really evaluated: fields, comparisons, AND/OR/NOT, ORDER BY.

Supported clauses: `project = X`, `project in (A, B)`, `key|issuekey = / in (...)`,
`updated|created <op> "yyyy-MM-dd HH:mm"` or `"yyyy-MM-dd"` (in the user's time zone),
`status = X`, `statusCategory = X`, `issuetype = X`, `id > n` (and the other comparisons of a
numeric issue id); ORDER BY updated|created|key|id ASC|DESC.
Anything else raises `JqlError`, which the server answers with 400 like Jira does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sandbox.jira.org import Issue, JiraOrg

TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|=|>|<|\(|\)|,)"
    r"|(?P<word>[A-Za-z0-9_.\-/:]+))"
)
Predicate = Callable[[Issue], bool]


class JqlError(ValueError):
    """A query the sandbox (or Jira) refuses; `messages` lists every finding, as Jira does."""

    def __init__(self, message: str, messages: list[str] | None = None):
        super().__init__(message)
        self.messages = messages or [message]


@dataclass
class Query:
    where: Predicate | None
    order: list[tuple[str, bool]]  # (field, descending)


def _tokens(jql: str) -> list[str]:
    out, pos = [], 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        match = TOKEN.match(jql, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


def _unquote(token: str) -> str:
    if token[:1] in "\"'" and token[-1:] == token[:1]:
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _parse_time(text: str, tz: tzinfo) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(UTC)
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{text}' for field is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'."
    )


def key_sort(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


class _Parser:
    def __init__(
        self,
        tokens: list[str],
        org: JiraOrg,
        tz: tzinfo,
        visible: Callable[[str], bool],
        validate: bool,
    ):
        self.tokens, self.pos, self.org, self.tz = tokens, 0, org, tz
        self.visible, self.validate = visible, validate
        self.errors: list[str] = []

    def check_values(self, field: str, values: list[str]) -> None:
        """Jira's strict validation: every named project or issue must exist for the user."""
        if not self.validate:
            return
        if field == "project":
            for value in values:
                project = self.org.projects.get(value.upper())
                if project is None or not self.visible(project.key):
                    self.errors.append(
                        f"The value '{value}' does not exist for the field 'project'."
                    )
        elif field in ("key", "issuekey", "issue"):
            for value in values:
                issue = self.org.issues.get(value.upper())
                if issue is None or not self.visible(issue.project):
                    self.errors.append(
                        f"An issue with key '{value}' does not exist for field '{field}'."
                    )

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise JqlError("Error in the JQL Query: the query ended unexpectedly.")
        self.pos += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.lower() in words

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.at_word("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.at_word("and"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def parse_not(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            inner = self.parse_not()
            return lambda i: not inner(i)
        if self.peek() == "(":
            self.take()
            inner = self.parse_or()
            if self.take() != ")":
                raise JqlError("Error in the JQL Query: expecting ')'.")
            return inner
        return self.parse_clause()

    def values(self) -> list[str]:
        if self.peek() != "(":
            return [_unquote(self.take())]
        self.take()
        out = []
        while True:
            out.append(_unquote(self.take()))
            token = self.take()
            if token == ")":
                return out
            if token != ",":
                raise JqlError("Error in the JQL Query: expecting ',' or ')'.")

    def parse_clause(self) -> Predicate:
        field = self.take().lower()
        op = self.take().lower()
        if op == "not" and self.at_word("in"):
            self.take()
            op = "not in"
        if op == "is":
            negate = self.at_word("not")
            if negate:
                self.take()
            if self.take().lower() not in ("empty", "null"):
                raise JqlError("Error in the JQL Query: expecting EMPTY.")
            getter = self.getter(field)
            return (lambda i: getter(i) is not None) if negate else (lambda i: getter(i) is None)
        if op not in ("=", "!=", "in", "not in", ">", ">=", "<", "<="):
            raise JqlError(f"Error in the JQL Query: the operator '{op}' is not supported.")
        values = self.values()
        if field in ("updated", "created"):
            if len(values) != 1 or op not in (">", ">=", "<", "<=", "=", "!="):
                raise JqlError(f"Operator '{op}' cannot be used with the '{field}' field.")
            bound = _parse_time(values[0], self.tz)
            cmp = _compare(op)
            if field == "updated":
                return lambda i: cmp(i.updated, bound)
            return lambda i: cmp(i.created, bound)
        if op in (">", ">=", "<", "<=") and field == "id":
            if len(values) != 1 or not values[0].isdigit():
                raise JqlError(f"The value '{values[0]}' is not a valid issue id.")
            number, cmp_id = int(values[0]), _compare(op)
            return lambda i: cmp_id(int(i.id), number)  # type: ignore[arg-type]
        if op in (">", ">=", "<", "<="):
            raise JqlError(f"Operator '{op}' cannot be used with the '{field}' field.")
        self.check_values(field, values)
        getter = self.getter(field)
        wanted = {v.lower() for v in values}
        negate = op in ("!=", "not in")
        return lambda i: (str(getter(i)).lower() in wanted) != negate

    def getter(self, field: str) -> Callable[[Issue], object]:
        org = self.org
        if field == "project":
            return lambda i: i.project
        if field in ("key", "issuekey", "issue", "id"):
            return (lambda i: i.key) if field != "id" else (lambda i: i.id)
        if field == "status":
            return lambda i: org.statuses[i.status].name
        if field == "statuscategory":
            names = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}
            return lambda i: names[org.statuses[i.status].category]
        if field in ("issuetype", "type"):
            return lambda i: i.issuetype
        if field == "assignee":
            return lambda i: i.assignee
        if field == "duedate":
            return lambda i: i.duedate
        raise JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")


def _compare(op: str) -> Callable[[datetime, datetime], bool]:
    return {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }[op]


def parse(
    jql: str,
    org: JiraOrg,
    tz: tzinfo = UTC,
    *,
    require_bounded: bool = False,
    visible: Callable[[str], bool] | None = None,
    validate: bool = True,
) -> Query:
    """Parse `jql`; with `require_bounded` a query without a restriction is refused (Cloud).

    Date literals are read in `tz`, the calling user's time zone. With `validate` (Jira's
    default), projects and issue keys the user cannot see are errors, not empty results.
    """
    tokens = _tokens(jql)
    lowered = [t.lower() for t in tokens]
    order: list[tuple[str, bool]] = []
    where_tokens = tokens
    for i in range(len(lowered) - 1):
        if lowered[i] == "order" and lowered[i + 1] == "by":
            where_tokens, order_tokens = tokens[:i], tokens[i + 2 :]
            order = _order(order_tokens)
            break
    if not where_tokens:
        if require_bounded:
            raise JqlError(
                "Unbounded JQL queries are not allowed here. Please add a search restriction "
                "to your query."
            )
        return Query(None, order)
    parser = _Parser(where_tokens, org, tz, visible or (lambda _: True), validate)
    where = parser.parse_or()
    if parser.peek() is not None:
        raise JqlError(f"Error in the JQL Query: unexpected '{parser.peek()}'.")
    if parser.errors:
        raise JqlError(parser.errors[0], parser.errors)
    return Query(where, order)


def _order(tokens: list[str]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    groups: list[list[str]] = [[]]
    for token in tokens:
        if token == ",":
            groups.append([])
        else:
            groups[-1].append(token.lower())
    for group in groups:
        if not group or group[0] not in ("updated", "created", "key", "issuekey", "id"):
            raise JqlError(f"Not able to sort using field '{group[0] if group else ''}'.")
        descending = len(group) > 1 and group[1] == "desc"
        out.append(("key" if group[0] == "issuekey" else group[0], descending))
    return out


def evaluate(
    query: Query, org: JiraOrg, visible: Callable[[str], bool] | None = None
) -> list[Issue]:
    """The matching issues the user may browse, in the query's order (default: key DESC)."""
    issues = [
        i
        for i in org.issues.values()
        if (visible is None or visible(i.project)) and (query.where is None or query.where(i))
    ]
    order = query.order or [("key", True)]
    for field, descending in reversed(order):
        if field == "key":
            issues.sort(key=lambda i: key_sort(i.key), reverse=descending)
        elif field == "id":
            issues.sort(key=lambda i: int(i.id), reverse=descending)
        else:
            issues.sort(key=lambda i, f=field: getattr(i, f), reverse=descending)  # type: ignore[misc]
    return issues
