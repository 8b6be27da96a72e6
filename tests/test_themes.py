"""Themes in open answers (bot/themes): a small fixed set of answers, as an OR might get them."""

from __future__ import annotations

import re
import time

import pytest
from rapidfuzz import fuzz

from bot.themes import MIN_SIZE, Sentiment, Theme, find_themes
from bot.themes.answers import themes_of
from bot.themes.sentiment import score
from bot.themes.text import content_words, lemma
from bot.themes.topics import topics_of

PAY = [
    "Het salaris moet omhoog, alles wordt duurder.",
    "Onze lonen blijven achter bij de inflatie, slecht geregeld.",
    "Mijn salris is al jaren niet gestegen.",
    "We verdienen te weinig voor dit werk.",
    "De loonsverhoging van dit jaar was een fooi.",
    "Salary is too low compared to other companies.",
    "Het loon is te laag, ik zoek ander werk.",
    "Betere beloning graag, de cao loopt achter.",
]
CANTEEN = [
    "Het eten in de kantine is lekker, complimenten aan de kok.",
    "De lunch in het bedrijfsrestaurant is prima.",
    "Fijne kantine, goede koffie.",
    "Heerlijke soep in de kantien.",
    "The canteen food is great.",
    "Lekker en gezond eten bij de lunch, top.",
    "De koffie is goed en de broodjes zijn vers.",
    "Goede maaltijden in de kantine, blij mee.",
]
ROSTERS = [
    "Het rooster komt veel te laat.",
    "Diensten worden op het laatste moment gewijzigd.",
    "Ik wil mijn rooster eerder weten.",
    "Te veel weekenddiensten achter elkaar.",
    "De planning van de diensten is chaotisch.",
    "Roostr klopt vaak niet met de afspraken.",
    "Nachtdienst en dan een vroege dienst, dat kan niet.",
]
# Two answers on a topic nobody else raised: too few to be a theme of their own.
ODD = ["De fietsenstalling is te klein.", "Parkeren bij het parkeerterrein is lastig."]


def corpus() -> list[tuple[int, str]]:
    texts = PAY + CANTEEN + ROSTERS + ODD
    return [(100 + i, text) for i, text in enumerate(texts)]


def ids_of(group: list[str]) -> set[int]:
    return {answer_id for answer_id, text in corpus() if text in group}


def best_fit(themes: list[Theme], group: list[str]) -> Theme:
    """The theme that holds most of a planted group."""
    ids = ids_of(group)
    return max(themes, key=lambda t: len(ids & set(t.answer_ids)))


@pytest.fixture(scope="module")
def themes() -> list[Theme]:
    """Found once for the module: the tests read the same result. Loading simplemma's
    dictionaries happens once per process and is not counted."""
    find_themes([(0, "opwarmen")])
    started = time.perf_counter()
    found = find_themes(corpus())
    assert time.perf_counter() - started < 5
    return found


def test_finds_the_themes_and_puts_small_groups_in_overig(themes: list[Theme]) -> None:
    named = [t for t in themes if not t.other]
    other = [t for t in themes if t.other]
    assert len(named) == 3, [t.label for t in themes]
    for group in (PAY, CANTEEN, ROSTERS):
        best = best_fit(named, group)
        assert len(ids_of(group) & set(best.answer_ids)) >= len(group) - 1, best.label
    # The two odd answers stand in no theme of their own: they are in "overig", last.
    assert other and themes[-1].other
    assert ids_of(ODD) <= set(other[0].answer_ids)
    assert all(t.count >= MIN_SIZE for t in named)
    # Every answer is in exactly one theme.
    seen = [a for t in themes for a in t.answer_ids]
    assert sorted(seen) == sorted(a for a, _ in corpus())


def test_labels_terms_and_examples_are_readable(themes: list[Theme]) -> None:
    labels = " / ".join(t.label for t in themes if not t.other).lower()
    assert re.search(r"salaris|loon|lonen", labels) and re.search(r"kantine|eten|lunch", labels)
    assert re.search(r"rooster|dienst", labels), labels
    for theme in themes:
        if theme.other:
            assert theme.label == "" and theme.examples == ()
            continue
        assert theme.label[0].isupper() and re.fullmatch(r"[\w\- ,]+", theme.label)
        assert 1 <= len(theme.label.split(", ")) <= 3 and theme.terms
        assert 2 <= len(theme.examples) <= 3
        assert set(theme.examples) <= set(theme.answer_ids)


def test_sentiment_is_plausible(themes: list[Theme]) -> None:

    def theme_of(group: list[str]) -> Sentiment:
        return best_fit(themes, group).sentiment

    assert theme_of(CANTEEN) is Sentiment.POSITIVE
    assert theme_of(PAY) is Sentiment.NEGATIVE
    assert theme_of(ROSTERS) is Sentiment.NEGATIVE
    assert score("Het eten is niet lekker.") < 0  # a negation flips
    assert score("Het eten is nie slecht.") > 0  # in dialect too
    assert score("De koffie is veel te duur.") < 0
    assert score("Tevreeden over de cursus.") > 0  # a typo of 'tevreden'
    assert score("Ik wil een cursus volgen.") == 0
    # A wish is no praise: "goede" and "duidelijke" are what is asked for.
    assert score("Een goede en duidelijke thuiswerkregeling graag.") == 0
    assert score("De koffie zou beter moeten, nu is hij slap.") < 0


def test_words_lemmas_typos_and_compounds() -> None:
    assert content_words("De salarissen van de collega's") == ["salaris", "collega"]
    assert "pay" in topics_of("salris")  # a typo
    assert "homeworking" in topics_of("thuiswerkvergoeding")  # inside a compound
    assert "leadership" not in topics_of("opleiding")  # 'leiding' only as a whole word
    assert not topics_of("werken")  # no typo of 'inwerken'


def test_few_answers() -> None:
    assert find_themes([]) == []
    few = find_themes([(1, "Het rooster is te laat."), (2, "Meer salaris.")])
    assert len(few) == 1 and few[0].other and set(few[0].answer_ids) == {1, 2}
    # Answers with no words worth counting go to overig, never into a theme.
    mixed = find_themes([(i, t) for i, t in enumerate(PAY)] + [(99, "?? ja")])
    assert 99 in next(t for t in mixed if t.other).answer_ids
    assert any(not t.other and t.count == len(PAY) for t in mixed)


def test_a_word_of_one_answer_never_names_a_theme() -> None:
    """Labels are shown to the OR and sent to the audience: a word that only one colleague
    used could point to them, so a group whose answers share no word is "overig"."""
    apart = [
        "Mijn rolstoel past niet door de deur.",
        "Parkeerplaatsen ontbreken.",
        "De printer is stuk.",
        "Koffie smaakt raar.",
        "Vakantiedagen zijn onduidelijk.",
        "Het pensioen baart zorgen.",
    ]
    [theme] = find_themes(list(enumerate(apart)))
    assert theme.other and theme.count == len(apart)
    for found in find_themes(corpus()):
        for term in found.terms:
            # Shown as most answers wrote it ('jaren'), counted by its lemma ('jaar') with
            # its typos ('salris' for 'salaris').
            base = lemma(term)
            uses = [
                t
                for _, t in corpus()
                if any(w == base or (w[0] == base[0] and fuzz.ratio(w, base) >= 85)
                       for w in content_words(t))
            ]  # fmt: skip
            assert len(uses) >= 2, term


async def test_the_same_answers_are_counted_once() -> None:
    """The dashboard asks again at every page view: the same answers reuse the result, a
    changed set is counted anew."""
    answers = corpus()
    first = await themes_of(answers)
    assert await themes_of(list(answers)) is first
    changed = await themes_of([*answers[:-1], (answers[-1][0], "Iets heel anders.")])
    assert changed is not first
