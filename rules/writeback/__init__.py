"""Findings written back into the tools where people work: plan, state, and the run."""
