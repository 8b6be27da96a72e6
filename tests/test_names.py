"""Names as typed (bot/understand/names.py): typos and first names find the colleague, several
fits are all returned (the dialog asks which), nothing close finds no one."""

from __future__ import annotations

import pytest

from bot.understand.names import fuzzy_names

ROSTER = [
    (1, "Marieke van Dijk"),
    (2, "Olaf Jansen"),
    (3, "Jeroen Bakker"),
    (4, "Jeroen Smit"),
    (5, "Anouk de Vries"),
    (6, "Jan de Vries"),
]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("mariek van dijck", [1]),
        ("marike", [1]),
        ("mariek dijck", [1]),  # the particle may be left out
        ("dijck", [1]),
        ("jerun", [3, 4]),  # two Jeroens: both, the dialog asks which one
        ("jerun bakke", [3]),
        ("anok", [5]),
        ("zwaluw", []),
        ("olf", []),  # three letters: exact or the start of a name only
        ("van", []),  # a particle alone names no one
    ],
)
def test_names_as_typed(typed: str, found: list[int]) -> None:
    assert sorted(f.person_id for f in fuzzy_names(typed, ROSTER)) == found
