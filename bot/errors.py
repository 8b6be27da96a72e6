"""Named errors: the ones users can cause carry a catalogue key for a translated message."""

from __future__ import annotations


class AchterbanError(Exception):
    """Base of the project's own errors."""


class StoreUnavailable(AchterbanError):
    """The database cannot be reached; inbound webhooks answer 503 so the platform retries."""


class Unstorable(AchterbanError):
    """The database refused a value (too long for its column, a number out of range, text it
    cannot encode); nothing was written. Such values come from outside: answered 400."""


class UserError(AchterbanError):
    """Something the person did that we refuse; `key` names the catalogue text."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class ConfigError(AchterbanError):
    """Settings that are missing or unsafe for the chosen environment."""
