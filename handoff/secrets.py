"""Which config values are secrets, what a usable token looks like, and registering them all.

A token read with `$(cat token)` keeps its trailing newline; the HTTP library then quotes the
whole header (token included) in its error. Refusing such values when the config loads, with a
message that names the key and the variable but never the value, stops that at the door.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from pydantic import SecretStr

from handoff import redact

SECRET_KEYS = {"token", "credentials_json", "password"}
SECRET_PATHS = {"webhook.url"}
SINGLE_LINE = {"token", "url"}  # secrets that travel in a header or URL: one word, no controls


def is_secret_path(path: str) -> bool:
    return path in SECRET_PATHS or path.rsplit(".", 1)[-1] in SECRET_KEYS


def _problem(value: str) -> str | None:
    for index, char in enumerate(value):
        if char in "\n\r":
            where = "ends with" if not value[index:].strip() else "contains"
            return f"{where} a line break (e.g. from `$(cat file)`; strip it)"
        if char.isspace():
            return "contains whitespace"
        if unicodedata.category(char) in {"Cc", "Cf"}:
            return f"contains the control character U+{ord(char):04X}"
    return None


def check_secret(path: str, value: str, variables: list[str]) -> str | None:
    """A message naming `path` and the variables when `value` cannot be a usable secret."""
    if path.rsplit(".", 1)[-1] not in SINGLE_LINE:
        return None
    problem = _problem(value)
    if problem is None:
        return None
    source = (
        f"the value of environment variable {', '.join(variables)}"
        if variables
        else "the value written in the file"
    )
    return f"{path}: {source} {problem}; the value is not shown"


def register_config_secrets(config: Any) -> None:
    """Register every secret of a loaded config with the process-wide redactor."""
    if config.webhook is not None:
        redact.register(config.webhook.url.get_secret_value())
    for source in config.sources:
        token = getattr(source, "token", None)
        if isinstance(token, SecretStr):
            redact.register(token.get_secret_value(), user=getattr(source, "email", None))
        blob = getattr(source, "credentials_json", None)
        if isinstance(blob, SecretStr):
            _register_json(blob.get_secret_value())


def _register_json(text: str) -> None:
    redact.register(text)
    try:
        info = json.loads(text)
    except ValueError:
        return
    if isinstance(info, dict):
        for key in ("private_key", "private_key_id", "client_secret"):
            if isinstance(info.get(key), str):
                redact.register(info[key])
