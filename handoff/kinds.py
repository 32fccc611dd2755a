"""The registry of source kinds: each kind says, in one place, everything Handoff needs to use it.

Config parsing (the `Source` union and its error wording), the connector factory, normalisation,
`handoff doctor` and `handoff sandbox serve` all read this registry, so a new tool is one
`SourceKind` declaration. Connector, normaliser, doctor check and sandbox are named by import path
("package.module:attribute") and imported only when first used: parsing a config never imports a
vendor SDK. The built-in kinds are declared in `handoff.builtin_kinds`.
"""

from __future__ import annotations

import importlib
import threading
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handoff.errors import ConfigError

if TYPE_CHECKING:
    from handoff.config import SourceBase

Ref = str | Callable[..., Any]
"""An import path "package.module:attribute", or the object itself (for kinds defined in code)."""


def resolve(ref: Ref) -> Any:
    """Import what `ref` names (or return it as is when it is already an object)."""
    if not isinstance(ref, str):
        return ref
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class SourceKind:
    """One kind of source (a tool or file format) and the parts that serve it.

    - `config`: the pydantic model of its `sources:` entries; its `kind` field is `Literal[name]`.
    - `connector`: a class or factory taking the typed config and returning a
      `connectors.base.Connector`.
    - `normaliser`: a `model.normalise.Normaliser` filling the staging tables from its raw store.
    - `doctor`: a callable taking the typed config and returning a short description, raising on
      a problem; when absent, `handoff doctor` runs the connector's `check()`.
    - `sandbox`: a `sandbox.generated.SandboxStarter` for `handoff sandbox serve`, if it has one.
    """

    name: str
    config: type[SourceBase]
    connector: Ref
    normaliser: Ref
    doctor: Ref | None = None
    sandbox: Ref | None = None

    def __post_init__(self) -> None:
        field = self.config.model_fields.get("kind")
        if field is None or typing.get_args(field.annotation) != (self.name,):
            raise TypeError(
                f"source kind {self.name!r}: {self.config.__name__}.kind must be "
                f'Literal["{self.name}"]'
            )


_lock = threading.RLock()
_kinds: dict[str, SourceKind] = {}
_version = 0
_builtins_loaded = False


def _ensure_builtins() -> None:
    global _builtins_loaded
    with _lock:
        if not _builtins_loaded:
            _builtins_loaded = True  # set first: the module below registers through this API
            importlib.import_module("handoff.builtin_kinds")


def register_kind(kind: SourceKind) -> SourceKind:
    """Add `kind`; config parsing accepts it from now on. A name may be registered once."""
    global _version
    _ensure_builtins()
    with _lock:
        if kind.name in _kinds:
            raise ValueError(f"source kind {kind.name!r} is already registered")
        _kinds[kind.name] = kind
        _version += 1
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind (for tests and plugins that are unloaded)."""
    global _version
    with _lock:
        del _kinds[name]
        _version += 1


@contextmanager
def kind_registered(kind: SourceKind) -> Iterator[SourceKind]:
    """Register `kind` for the duration of a `with` block."""
    register_kind(kind)
    try:
        yield kind
    finally:
        unregister_kind(kind.name)


def registered_kinds() -> tuple[SourceKind, ...]:
    """Every kind, in registration order (the built-ins first)."""
    _ensure_builtins()
    with _lock:
        return tuple(_kinds.values())


def kind_names() -> tuple[str, ...]:
    return tuple(kind.name for kind in registered_kinds())


def registry_version() -> int:
    """Changes whenever a kind is added or removed: caches built from the registry key on it."""
    _ensure_builtins()
    return _version


def kind_named(name: str) -> SourceKind:
    """The kind called `name`; a ConfigError listing the known kinds otherwise."""
    _ensure_builtins()
    with _lock:
        kind = _kinds.get(name)
    if kind is None:
        raise ConfigError(
            f"unknown source kind {name!r}; expected one of {', '.join(kind_names())}"
        )
    return kind
