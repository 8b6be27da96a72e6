"""What the corpus does not show: echo in words, DST moments, and the shape of the results."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.i18n import t
from bot.understand.answers import Ambiguous, Matched, NotUnderstood, understand_answer
from bot.understand.intents import AmbiguousIntent, Intent, understand_intent
from bot.understand.times import AMSTERDAM, AmbiguousTime, NoTime, Past, parse_time, say_when
from bot.understand.vocabulary import numbers, section


@dataclass(frozen=True)
class C:
    label: str
    payload: str


def test_time_is_echoed_in_words_in_both_languages() -> None:
    moment = datetime(2026, 12, 4, 17, 0, tzinfo=AMSTERDAM)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=AMSTERDAM)
    assert say_when(moment, "nl", now=now) == "vrijdag 4 december om 17:00"
    assert say_when(moment, "en", now=now) == "Friday 4 December at 17:00"
    later = datetime(2027, 1, 5, 9, 0, tzinfo=AMSTERDAM)
    assert say_when(later, "nl", now=now) == "dinsdag 5 januari 2027 om 09:00"
    # A UTC moment is told in Amsterdam time.
    assert say_when(datetime(2026, 12, 4, 16, 0, tzinfo=UTC), "en", now=now).endswith("17:00")


def test_a_time_that_falls_twice_offers_both_moments() -> None:
    got = parse_time("morgen 02:30", now=datetime(2026, 10, 24, 12, 0, tzinfo=AMSTERDAM))
    assert isinstance(got, AmbiguousTime) and got.reason == "dst_repeat"
    first, second = got.options
    # Same wall clock, one real hour apart (aware datetimes of one zone subtract by wall
    # clock, so compare in UTC).
    assert (second.astimezone(UTC) - first.astimezone(UTC)).total_seconds() == 3600
    assert first.astimezone(UTC).hour == 0 and second.astimezone(UTC).hour == 1


def test_a_time_in_the_spring_gap_is_refused() -> None:
    got = parse_time("morgen 02:30", now=datetime(2026, 3, 28, 12, 0, tzinfo=AMSTERDAM))
    assert got == NoTime("dst_gap")


def test_past_suggests_the_next_occurrence() -> None:
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=AMSTERDAM)
    got = parse_time("vrijdag 9:00", now=friday)
    assert isinstance(got, Past)
    assert got.suggestion == datetime(2026, 12, 11, 9, 0, tzinfo=AMSTERDAM)
    got = parse_time("9:30", now=friday)
    assert isinstance(got, Past)
    assert got.suggestion == datetime(2026, 12, 5, 9, 30, tzinfo=AMSTERDAM)


def test_bare_numbers_and_foreign_digits_are_no_time() -> None:
    now = datetime(2026, 12, 4, 8, 30, tzinfo=AMSTERDAM)
    assert parse_time("6", now=now) == NoTime("bare_number")
    assert parse_time("morgen ²", now=now) == NoTime("foreign_digits")


def test_answer_results_carry_payloads_and_reasons() -> None:
    choices = [C("Ja", "poll:1:y"), C("Nee", "poll:1:n")]
    assert understand_answer("nee, te duur", choices) == Matched(("poll:1:n",), "te duur")
    assert understand_answer("ja nee", choices) == Ambiguous(("poll:1:y", "poll:1:n"))
    assert understand_answer("3", choices) == NotUnderstood("out_of_range")
    assert understand_answer("²", choices) == NotUnderstood("foreign_digits")
    assert understand_answer("", choices) == NotUnderstood("empty")


def test_several_answers_to_a_one_answer_question_are_asked_back() -> None:
    choices = [C("Maandag", "ma"), C("Dinsdag", "di"), C("Woensdag", "wo")]
    assert understand_answer("ma, wo", choices, multiple=True) == Matched(("ma", "wo"))
    assert understand_answer("ma, wo", choices) == Ambiguous(("ma", "wo"))
    assert understand_answer("allemaal", choices, multiple=True) == Matched(("ma", "di", "wo"))
    assert understand_answer("allemaal", choices) == NotUnderstood("one_only")


def test_intents_tie_is_ambiguous_and_stop_is_nothing() -> None:
    assert understand_intent("ik wil een melding maken over de uitslag") == AmbiguousIntent(
        ("report", "results")
    )
    assert understand_intent("stop") is None
    assert understand_intent("Antwoord 2: Betere koffie!") == Intent("answer", "Betere koffie!", 2)


def test_the_word_lists_are_data_shipped_with_the_package() -> None:
    """words.toml holds the vocabulary, Dutch and English side by side, and is package data
    (an installed bot without it could not read a single reply)."""
    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
        package_data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["bot"]
    assert "understand/*.toml" in package_data
    for path in ("answers.leading", "answers.polarity.yes", "times.fillers", "intents.negations"):
        table = section(path)
        assert table["nl"] and table["en"], path
    assert numbers("times.months")["mrt"] == 3 and numbers("times.weekdays")["fri"] == 4


def test_the_word_between_date_and_time_comes_from_the_catalogue() -> None:
    moment = datetime(2026, 12, 4, 17, 0, tzinfo=AMSTERDAM)
    for lang in ("nl", "en"):
        assert f" {t(lang, 'time.at')} 17:00" in say_when(moment, lang)
