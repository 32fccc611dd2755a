"""Owner digests: one message per person per run with their action list, by e-mail or chat."""
