"""An anonymous response's department and location are sealed until the survey closes; the
token must not give the group away by its length (AES-GCM does not pad)."""

from __future__ import annotations

from bot.privacy import keyed_hash
from bot.surveys.progress import open_groups, seal_groups


def pseudonym(text: str) -> str:
    return keyed_hash("test-secret-key-that-is-long-enough-for-production", text)


def test_every_group_seals_to_a_token_of_the_same_length() -> None:
    groups = [
        ("HR", "Zwolle"),
        ("Productie", "Zwolle"),
        ("Logistiek en distributie", "Deventer-Noord"),
        (None, None),
        ("Ω" * 120, "é" * 120),
    ]
    tokens = [seal_groups(pseudonym, d, loc) for d, loc in groups]
    assert len({len(t) for t in tokens}) == 1
    assert [open_groups(pseudonym, t) for t in tokens] == groups
