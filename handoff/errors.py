"""Errors a user can act on; the CLI prints their message without a traceback."""


class HandoffError(Exception):
    """Base class: the message names the place (config key, rule file, source) and the fix."""


class ConfigError(HandoffError):
    """The configuration is invalid."""


class RuleError(HandoffError):
    """A rule file is invalid."""


class SyncLockedError(HandoffError):
    """Another sync holds the lock."""
