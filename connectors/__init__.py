"""One module per tool; each turns a typed source config into pages of the tool's raw JSON."""
