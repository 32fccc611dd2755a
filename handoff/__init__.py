"""Handoff's shared kernel: configuration and errors used by every package."""
