"""Dagster definitions, one module per concern, built from the Handoff config."""
