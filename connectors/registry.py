"""Builds and checks the connector of a configured source, as its kind declares (`handoff.kinds`)."""

from __future__ import annotations

from typing import cast

from connectors.base import Connector
from handoff.config import SourceBase
from handoff.kinds import kind_named, resolve


def build_connector(source: SourceBase) -> Connector:
    """Instantiate the connector for `source` (a typed source config)."""
    factory = resolve(kind_named(source.kind).connector)
    return cast(Connector, factory(source))


def check_source(source: SourceBase) -> str:
    """The kind's doctor check for `source` (by default its connector's `check()`): one cheap
    request or file read; returns a short description, raises with the problem otherwise."""
    doctor = kind_named(source.kind).doctor
    if doctor is not None:
        return str(resolve(doctor)(source))
    return build_connector(source).check()
