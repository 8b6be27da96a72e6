"""The corpus of real replies (tests/corpus/*.toml): how many the bot understands, and no misread.

Every case says what the colleague meant. A reply read as something else is a misread and
fails the suite; asking back or refusing is allowed but counts against the share understood,
which is printed (and, as a CorpusScore warning, shown in the summary under pytest-xdist too).
Add a case whenever a colleague is misunderstood.
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from bot.understand.answers import Ambiguous, Matched, understand_answer
from bot.understand.intents import AmbiguousIntent, understand_intent
from bot.understand.times import AMSTERDAM, AmbiguousTime, At, Past, parse_time

CORPUS = Path(__file__).parent / "corpus"
MINIMUM_CASES = 300


class CorpusScore(UserWarning):
    """The share of the corpus understood (a report, not a problem)."""


@dataclass
class Tally:
    """Outcomes of one corpus."""

    understood: int = 0
    asked_back: int = 0
    misreads: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.understood + self.asked_back + len(self.misreads)


@dataclass(frozen=True)
class _Choice:
    label: str
    payload: str


def _load(name: str) -> dict:
    with (CORPUS / name).open("rb") as f:
        return tomllib.load(f)


def run_answers() -> Tally:
    tally = Tally()
    for qset in _load("answers.toml")["set"]:
        choices = [_Choice(label, label) for label in qset["choices"]]
        multiple = bool(qset.get("multiple", False))
        for case in qset["cases"]:
            text, expected = case[0], case[1]
            remark = case[2] if len(case) > 2 else ""
            got = understand_answer(text, choices, multiple=multiple)
            where = f"[{qset['name']}] {text!r}: expected {expected!r}, got {got}"
            if isinstance(got, Matched):
                chosen = " + ".join(got.payloads)
                if expected in {"?", "-"} or chosen != expected or got.remark != remark:
                    tally.misreads.append(where)
                else:
                    tally.understood += 1
            elif (expected == "?" and isinstance(got, Ambiguous)) or expected == "-":
                tally.understood += 1
            else:
                tally.asked_back += 1
                tally.missed.append(where)
    return tally


def _local(text: str) -> datetime:
    """A corpus moment, "2026-12-04 17:00" in Amsterdam time, as an aware datetime."""
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=AMSTERDAM)


def run_times() -> Tally:
    tally = Tally()
    for tset in _load("times.toml")["set"]:
        now = _local(tset["now"])
        for text, expected in tset["cases"]:
            got = parse_time(text, now=now, tz=AMSTERDAM)
            where = f"[{tset['name']}] {text!r}: expected {expected!r}, got {got}"
            if isinstance(got, At):
                refusal = expected in {"-", "past"} or expected.startswith("?")
                if refusal or got.when != _local(expected):
                    tally.misreads.append(where)
                else:
                    tally.understood += 1
            elif expected.startswith("?") and isinstance(got, AmbiguousTime):
                options = [o.strip() for o in expected[1:].split("|") if o.strip()]
                if options and list(got.options) != [_local(o) for o in options]:
                    tally.misreads.append(where)
                else:
                    tally.understood += 1
            elif isinstance(got, Past) == (expected == "past") and expected in {"past", "-"}:
                tally.understood += 1
            else:
                tally.asked_back += 1
                tally.missed.append(where)
    return tally


def run_intents() -> Tally:
    tally = Tally()
    for text, expected in _load("intents.toml")["cases"]:
        got = understand_intent(text)
        where = f"{text!r}: expected {expected!r}, got {got}"
        if got is None or isinstance(got, AmbiguousIntent):
            if expected == "-":
                tally.understood += 1
            else:
                tally.asked_back += 1
                tally.missed.append(where)
            continue
        said = " ".join(
            str(part) for part in (got.name, got.number, got.arg) if part not in (None, "")
        )
        if said == expected:
            tally.understood += 1
        else:
            tally.misreads.append(where)
    return tally


def test_corpus_has_no_misread(capsys: pytest.CaptureFixture[str]) -> None:
    """All three corpora in one test (one worker under xdist), so the score is one line."""
    tallies = {"answers": run_answers(), "times": run_times(), "intents": run_intents()}
    total = sum(t.total for t in tallies.values())
    understood = sum(t.understood for t in tallies.values())
    misreads = [m for t in tallies.values() for m in t.misreads]
    parts = ", ".join(f"{name} {t.understood}/{t.total}" for name, t in tallies.items())
    line = (
        f"corpus: {understood}/{total} understood ({100 * understood / total:.1f} %), "
        f"{total - understood - len(misreads)} asked back or refused, {len(misreads)} misread "
        f"({parts})"
    )
    with capsys.disabled():
        print(f"\n{line}")
        for t in tallies.values():
            for missed in t.missed:
                print(f"  not understood: {missed}")
    warnings.warn(CorpusScore(line), stacklevel=1)
    assert total >= MINIMUM_CASES
    assert not misreads, "misread:\n" + "\n".join(misreads)
