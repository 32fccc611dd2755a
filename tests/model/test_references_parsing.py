"""Reference parsing, property-based, through the build's own SQL (model.references)."""

from __future__ import annotations

import re

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.references import extract_tokens, find_references

CON = duckdb.connect()  # one scratch database for every example: the parser creates temp tables
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=15)

# Words that are neither references nor direction phrases.
WORDS = ["the", "launch", "plan", "see", "budget", "store", "ready", "team", "is", "after", "x1"]
UPSTREAM = ["blocked by", "is blocked by", "depends on", "dependent on", "waiting on", "requires"]
DOWNSTREAM = ["blocks", "blocking", "needed by", "required by", "prerequisite for", "enables"]

projects = st.from_regex(r"[A-Z][A-Z0-9]{1,5}", fullmatch=True)
numbers = st.integers(min_value=1, max_value=99999)
jira_keys = st.builds(lambda p, n: f"{p}-{n}", projects, numbers)
hosts = st.from_regex(r"[a-z][a-z0-9]{2,8}\.(atlassian\.net|example\.com)", fullmatch=True)
gids = st.integers(min_value=1, max_value=10**16).map(str)
jira_urls = st.builds(
    lambda h, k, q: f"https://{h}/browse/{k}{q}",
    hosts,
    jira_keys,
    st.sampled_from(["", "?focusedCommentId=10", "#comment"]),
)
asana_old = st.builds(lambda p, t: f"https://app.asana.com/0/{p}/{t}", gids, gids)
asana_new_project = st.builds(
    lambda w, p, t: f"https://app.asana.com/1/{w}/project/{p}/task/{t}", gids, gids, gids
)
asana_new_task = st.builds(lambda w, t: f"https://app.asana.com/1/{w}/task/{t}", gids, gids)
urls = st.one_of(jira_urls, asana_old, asana_new_project, asana_new_task)
references = st.one_of(jira_keys.map(lambda k: (k, "jira_key")), urls.map(lambda u: (u, "url")))
filler = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)
separators = st.sampled_from([" ", ", ", " and ", " ; ", " (", ") ", "\t"])


def tokens(text: str, origin: str = "text_reference") -> set[tuple[str, str]]:
    return {(token, kind) for token, kind, _ in extract_tokens(CON, text, origin=origin)}


@SETTINGS
@given(st.lists(st.tuples(filler, references, separators), min_size=1, max_size=6), filler)
def test_every_written_reference_is_found(
    parts: list[tuple[str, tuple[str, str], str]], tail: str
) -> None:
    text = "".join(f"{words} {ref}{sep}" for words, (ref, _), sep in parts) + tail
    found = tokens(text)
    for _, (ref, kind) in ((p[0], p[1]) for p in parts):
        assert (ref, kind) in found, (text, found)
    # keys inside URLs are the URL's, not extra references
    assert {k for k, kind in found if kind == "jira_key"} == {
        ref for _, (ref, kind), _ in parts if kind == "jira_key"
    }


@SETTINGS
@given(urls, st.sampled_from([".", "!", "?", ":", ""]))
def test_sentence_punctuation_is_not_part_of_a_url(url: str, end: str) -> None:
    assert tokens(f"see {url}{end} thanks") == {(url, "url")}


@SETTINGS
@given(
    st.text(
        alphabet=st.characters(
            exclude_categories=["Cs"], exclude_characters="ABCDEFGHIJKLMNOPQRSTUVWXYZ:"
        ),
        max_size=300,
    )
)
def test_text_without_references_yields_none(text: str) -> None:
    # no upper-case ASCII means no Jira key; no colon means no URL
    assert extract_tokens(CON, text) == []


@SETTINGS
@given(st.text(max_size=500), st.sampled_from(["text_reference", "sheet_column", "custom_field"]))
def test_parsing_never_raises_on_arbitrary_text(text: str, origin: str) -> None:
    find_references(CON, text, origin=origin, jira_projects=["OPS"])


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,
        "OPS-1 " * 50_000,
        "https://" + "a" * 200_000,
        "'; DROP TABLE stg_items; --",
        "\\'\\\\\"\x00\x01\x02 OPS-7 \u202e\U0001f600 ÄÖÜ-12 \\1 $1",
        "blocked by" * 10_000,
    ],
)
def test_parsing_survives_hostile_text(text: str) -> None:
    extract_tokens(CON, text)
    found = find_references(CON, text, origin="sheet_column", jira_projects=["OPS"])
    if "OPS-7" in text:
        assert ("OPS-7", "jira_key", "upstream") in found


@FEW
@given(filler, st.sampled_from(["ISO-9001", "COVID-19", "ISO-27001", "SHA-256", "UTF-8"]))
def test_standard_names_are_no_references_unless_the_project_is_synced(
    words: str, name: str
) -> None:
    text = f"{words} complies with {name} before OPS-42"
    kept = {t for t, _, _ in find_references(CON, text, jira_projects=["OPS"])}
    assert kept == {"OPS-42"}
    project = name.split("-")[0]
    assert name in {t for t, _, _ in find_references(CON, text, jira_projects=[project])}


def test_unknown_keys_in_explicit_fields_are_kept() -> None:
    # a sheet's depends-on cell or a "Jira key" field states a dependency on purpose
    for origin in ("sheet_column", "custom_field"):
        assert find_references(CON, "ISO-9001", origin=origin) == [
            ("ISO-9001", "jira_key", "upstream")
        ]


def test_plain_links_in_free_text_are_no_dependencies() -> None:
    text = "notes at https://wiki.example.com/page and https://app.asana.com/0/123/list"
    assert find_references(CON, text) == []
    # but a depends-on cell that holds a link is an (unmapped) dependency
    assert find_references(CON, "https://wiki.example.com/page", origin="sheet_column") == [
        ("https://wiki.example.com/page", "url", "upstream")
    ]


def _case_variants(phrase: str) -> st.SearchStrategy[str]:
    return st.sampled_from([phrase, phrase.upper(), phrase.capitalize(), phrase.title()])


@SETTINGS
@given(
    st.one_of(st.sampled_from(UPSTREAM).flatmap(_case_variants)),
    st.lists(references, min_size=1, max_size=3, unique_by=lambda r: r[0]),
    st.sampled_from([" ", ": ", ":\t"]),
)
def test_upstream_phrases(phrase: str, refs: list[tuple[str, str]], gap: str) -> None:
    text = f"This {phrase}{gap}" + " and ".join(r for r, _ in refs)
    directions = {t: d for t, _, d in extract_tokens(CON, text)}
    assert all(directions[r] == "upstream" for r, _ in refs), (text, directions)


@SETTINGS
@given(
    st.sampled_from(DOWNSTREAM).flatmap(_case_variants),
    st.lists(references, min_size=1, max_size=3, unique_by=lambda r: r[0]),
    st.sampled_from([" ", ": ", " the "]),
)
def test_downstream_phrases(phrase: str, refs: list[tuple[str, str]], gap: str) -> None:
    text = f"This {phrase}{gap}" + ", ".join(r for r, _ in refs)
    directions = {t: d for t, _, d in extract_tokens(CON, text)}
    assert all(directions[r] == "downstream" for r, _ in refs), (text, directions)


@SETTINGS
@given(
    st.sampled_from(DOWNSTREAM),
    st.sampled_from(UPSTREAM),
    jira_keys,
    jira_keys,
    jira_keys,
    st.sampled_from([". ", "\n", "! "]),
)
def test_a_direction_lasts_until_the_next_phrase_or_sentence(
    down: str, up: str, a: str, b: str, c: str, end: str
) -> None:
    if len({a, b, c}) < 3:
        return
    text = f"{down} {a} but {up} {b}{end}See {c}"
    assert extract_tokens(CON, text) == sorted(
        [(a, "jira_key", "downstream"), (b, "jira_key", "upstream"), (c, "jira_key", "upstream")]
    )


def test_phrases_inside_urls_do_not_turn_direction() -> None:
    url = "https://wiki.example.com/blocks/needed-by/OPS-1"
    assert extract_tokens(CON, f"depends on {url} blocks") == [(url, "url", "upstream")]


row_ids = st.from_regex(r"[a-z0-9][a-z0-9 ]{0,8}[a-z0-9]|[0-9]{1,5}", fullmatch=True).filter(
    lambda r: r.strip().lower() not in {"na", "no", "x", "and"} and " and " not in f" {r} "
)


@SETTINGS
@given(
    st.lists(st.one_of(row_ids, jira_keys, urls), min_size=1, max_size=5, unique=True),
    st.sampled_from([", ", ";", " ; ", ",\n", " and ", " & "]),
)
def test_depends_on_cells_list_row_ids_keys_and_links(entries: list[str], sep: str) -> None:
    found = tokens(sep.join(entries), origin="sheet_column")
    for entry in entries:
        if entry.startswith("https://"):
            kind = "url"
        elif re.fullmatch(r"[A-Z][A-Z0-9]+-[0-9]+", entry):
            kind = "jira_key"
        else:
            kind = "row_id"
        assert (entry.strip(), kind) in found, (entries, found)
    assert len(found) == len(entries)


def test_placeholders_in_cells_are_no_references() -> None:
    assert tokens("n/a", origin="sheet_column") == set()
    assert tokens(" - ; TBD ", origin="sheet_column") == set()
