"""Names for the codes the store keeps, in the reader's language.

The audit log stores actions ("report.submitted"), subjects ("poll:3"), channels ("console")
and details ("via=cli") as codes, so they stay stable when wording changes. An OR member on
the dashboard reads words: "Melding ingediend", "Peiling 3", "testconsole". Every action and
channel the code writes has a name in the catalogues (tests/test_labels.py checks it); one
written by older code and since renamed is shown as its code rather than hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.i18n import catalogue, normalise_language, t


def _named(lang: str, key: str, code: str) -> str:
    """The catalogue text for `key`, or the code itself when there is none."""
    return t(lang, key) if key in catalogue(normalise_language(lang)) else code


def channel_name(lang: str, channel: str | None) -> str:
    """'whatsapp' → 'WhatsApp', 'console' → 'testconsole'."""
    if not channel:
        return ""
    return _named(lang, f"label.channel.{channel}", channel)


def action_name(lang: str, action: str) -> str:
    """'report.submitted' → 'Melding ingediend'."""
    return _named(lang, f"label.audit.{action}", action)


def subject_name(lang: str, subject: str | None) -> str:
    """'poll:3' → 'Peiling 3'; a subject without a known kind is shown as stored."""
    if not subject:
        return ""
    kind, sep, ident = subject.partition(":")
    key = f"label.subject.{kind}"
    if not sep or key not in catalogue(normalise_language(lang)):
        return subject
    return t(lang, key, id=ident)


def _value(lang: str, key: str, value: Any) -> str:
    if key in ("channel", "via") and isinstance(value, str):
        return channel_name(lang, value)
    if key in ("added", "removed") and isinstance(value, str):
        return _named(lang, f"web.role.{value}", value)  # roles.changed lists roles
    if isinstance(value, bool):
        return t(lang, "label.yes") if value else t(lang, "label.no")
    if isinstance(value, list | tuple):
        return ", ".join(_value(lang, key, v) for v in value) or "—"
    return str(value)


def detail_items(lang: str, details: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """An entry's details as (name, value) pairs in `lang`: via=cli → ('via', 'opdrachtregel')."""
    return [
        (_named(lang, f"label.detail.{key}", key), _value(lang, key, value))
        for key, value in (details or {}).items()
    ]


def channel_list(lang: str, channels: Iterable[str]) -> str:
    """Several channels as one phrase: 'Slack, WhatsApp' (sorted by code, as stored)."""
    return ", ".join(channel_name(lang, c) for c in sorted(channels))


def unreachable_name(lang: str, reason: str) -> str:
    """Why a broadcast did not reach someone: 'no_channel' → 'geen kanaal bekend'."""
    return _named(lang, f"label.unreachable.{reason}", reason)
