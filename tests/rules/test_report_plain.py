"""Evidence in plain words: what a leader reads under each finding."""

from __future__ import annotations

from rules.report.plain import evidence_sentences


def test_evidence_keys_become_sentences_and_internal_keys_stay_out() -> None:
    said = evidence_sentences(
        {
            "days_idle": 12,
            "needed_by": "2025-03-10",
            "notice_days": 10,
            "notice_given_days": 3,
            "reported_status": "on_track",
            "reported_by": "Ana",
            "origin": "text_reference",
            "slip_days": 0,
            "cycle_length": 3,
            "upstream_stalled": True,
            "chain": ["a", "b"],
            "blocked_team": "Finance",
        }
    )
    assert said[0] == "No status change for 12 days."
    assert said[1].startswith("Needed by ") and "10" in said[1]
    assert "The contract needs 10 days of notice, 3 given." in said
    assert "Last reported \u201con_track\u201d." in said
    assert "3 items in the loop." in said
    assert "The work it waits on is stalled." in said
    assert "Blocked team: Finance." in said
    # said with another key, internal, on time, or structured: no sentence of their own
    assert not any("Ana" in s or "text reference" in s or "late" in s for s in said)
    assert len(said) == 7


def test_evidence_that_is_not_an_object_is_shown_as_is() -> None:
    assert evidence_sentences(None) == []
    assert evidence_sentences("raw text") == ["raw text"]
    assert evidence_sentences({"slip_days": 4}) == ["4 days late on the forecast."]
