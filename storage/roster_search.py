"""Finding a colleague by name without reading the roster: at 100,000 people a search in a
chat turn fetches the names that can fit, not every row.

The database compares `lower(name)` with the typed words for names in plain ASCII (most of
a roster; SQLite's lower() knows only ASCII); names with other letters ("José", "Öztürk")
come back as (id, name) and are judged in Python, as all were before. Python then decides on
what came back exactly as before, and loads whole rows only for the people found. No index
serves a search inside names on both backends: the database scans the name column.

- `search_roster`: the exact full name, else every typed word inside the name ("jan",
  "de vr", "bakker"), accent- and case-insensitively.
- `typo_candidates`: the names that can fit a typed name with typos
  (bot/understand/names.py ranks them): every typed word must match the start of a word
  of the name in its first three letters with at most one slip (a wrong, missing, extra
  or swapped letter), or, below four letters, be the start of a word. Two slips in the
  first letters ("mraeike") are no longer found, nor a typo in a later word after a "." or
  "(" ("J.Jansen": SQL starts name words only after a space or "-"); before, the whole
  roster was read for each miss.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from storage.models import Person

# Word separators in names besides a space ("Anne-Marie"): a space for word starts.
_SEPARATORS = "-"
MIN_FUZZY_LEN = 4
Condition = Any  # the SQL condition on lower(name) and its words


def fold_name(text: str) -> str:
    """A name as it is compared and sorted: case, accents and spacing left out."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().strip())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


class _octets(GenericFunction[int]):
    """A string's length in bytes: more than its length in characters when not ASCII."""

    name = "achterban_octets"
    type = Integer()
    inherit_cache = True


@compiles(_octets, "sqlite")
def _octets_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


@compiles(_octets)
def _octets_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


def _lower() -> ColumnElement[Any]:
    return func.lower(Person.name)


def _words() -> ColumnElement[Any]:
    """lower(name) with a space before it and for each separator: every word of the name
    starts after a space."""
    out: ColumnElement[Any] = _lower()
    for sep in _SEPARATORS:
        out = func.replace(out, literal_column(f"'{sep}'"), literal_column("' '"))
    return literal_column("' '", String) + out


async def _fetch(session: AsyncSession, conditions: Sequence[Condition]) -> list[tuple[int, str]]:
    """(id, name) of the living people whose plain-ASCII name meets every condition, and of
    all whose name is not plain ASCII (Python judges those), in (name, id) order."""
    plain = func.length(Person.name) == _octets(Person.name)
    stmt = (
        select(Person.id, Person.name)
        .where(Person.forgotten_at.is_(None), or_(and_(plain, *conditions), ~plain))
        .order_by(Person.name, Person.id)
    )
    return [(i, n) for i, n in await session.execute(stmt)]


async def people_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Person]:
    """The people of `ids`, in that order."""
    if not ids:
        return []
    stmt = select(Person).where(Person.id.in_(list(ids)))
    found = {p.id: p for p in (await session.execute(stmt)).scalars()}
    return [found[i] for i in ids if i in found]


async def search_roster(session: AsyncSession, query: str, limit: int = 10) -> list[Person]:
    """People whose name matches `query`, accent- and case-insensitively.

    An exact full name wins; otherwise every typed word must occur in the name ("jan",
    "de vr", "bakker"). At most `limit` + 1 are returned, so callers can say "too many".
    """
    ids = await roster_ids(session, query, limit)
    return await people_by_id(session, ids)


async def roster_ids(session: AsyncSession, query: str, limit: int = 10) -> list[int]:
    wanted = fold_name(query)
    if not wanted:
        return []
    words = wanted.split()
    inside = [_lower().contains(w, autoescape=True) for w in words]
    people = await _fetch(session, inside)
    exact = [i for i, n in people if fold_name(n) == wanted]
    if exact:
        return exact[: limit + 1]
    return [i for i, n in people if all(w in fold_name(n) for w in words)][: limit + 1]


async def typo_candidates(
    session: AsyncSession, typed_words: Sequence[str]
) -> list[tuple[int, str]]:
    """(id, name) of the people whose name may fit `typed_words` with typos: the folded
    words without name particles (bot/understand/names.typed_words), for
    names.fuzzy_names to rank."""
    if not typed_words:
        return []
    return await _fetch(session, [_slips(w) for w in typed_words])


def _word_start(*patterns: str) -> Condition:
    """A word of the name starts with one of `patterns` ("_" is any one letter)."""
    words = _words()
    return or_(*(words.like(f"% {p}%") for p in patterns))


def _slips(word: str) -> Any:
    """A name word starting like `word`: its first three letters with at most one slip (a
    wrong, missing, extra or swapped letter) and the rest left to names.fuzzy_names."""
    if len(word) < MIN_FUZZY_LEN:
        return _word_start(word)  # exact, or the start of a word: no typos
    a, b, c, d = word[0], word[1], word[2], word[3]
    return _word_start(
        a + b + c,  # the first three right
        "_" + b + c,  # a wrong letter
        a + "_" + c,
        a + b + "_" + d,
        "_" + a + b + c,  # a letter left out
        a + "_" + b + c,
        a + b + "_" + c,
        b + c + d,  # a letter too many
        a + c + d,
        a + b + d,
        b + a + c,  # two letters swapped
        a + c + b,
        a + b + d + c,
    )
