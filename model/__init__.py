"""The governance model: raw landing, normalisation, resolution, history and publishing."""
