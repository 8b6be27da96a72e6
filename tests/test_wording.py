"""Natural wording (issue 13, texts): plural forms, agreement, one punctuation mark, first
names in greetings. Each case is a text a colleague actually read wrongly."""

from __future__ import annotations

import pytest

from bot.i18n import t
from bot.text import first_name


@pytest.mark.parametrize(
    ("lang", "key", "params", "expected"),
    [
        ("nl", "report.photos_so_far", {"count": 1, "max": 5}, "1 foto ontvangen."),
        ("nl", "report.photos_so_far", {"count": 2, "max": 5}, "2 foto's ontvangen."),
        ("en", "report.photos_so_far", {"count": 1, "max": 5}, "1 photo received."),
        ("nl", "report.faces_found", {"count": 1}, "Ik zie 1 gezicht op"),
        ("nl", "report.faces_found", {"count": 3}, "Ik zie 3 gezichten op"),
        ("en", "report.faces_found", {"count": 1}, "I see 1 face in"),
        ("nl", "campaign.invite", {"count": 1, "title": "OR"}, "heeft 1 collega jou voorgedragen"),
        ("nl", "campaign.invite", {"count": 2, "title": "OR"}, "hebben 2 collega's jou"),
        ("en", "campaign.invite", {"count": 1, "title": "OR"}, "1 colleague put you forward"),
        ("nl", "campaign.results_line", {"count": 1, "place": 1, "name": "A"}, "A: 1 nominatie"),
        ("nl", "poll.nonvoters", {"count": 1, "id": 3}, "1 collega heeft peiling 3"),
        ("nl", "create.opened", {"count": 1, "id": 3}, "naar 1 collega verstuurd"),
        ("en", "create.opened", {"count": 1, "id": 3}, "sent to 1 colleague."),
        ("nl", "web.question.answer_count", {"count": 1}, "1 antwoord"),
        ("nl", "web.people.roster_invalid", {"count": 1}, "1 regel bevat fouten"),
        ("nl", "web.poll.chart_row", {"count": 1, "label": "Ja", "pct": 50}, "Ja: 1 stem (50%)"),
    ],
)
def test_counted_texts_use_the_right_form(
    lang: str, key: str, params: dict[str, object], expected: str
) -> None:
    text = t(lang, key, **params)
    assert expected in text
    assert "(s)" not in text and "('s)" not in text and "(en)" not in text


def test_one_of_forty_colleagues_took_part_agrees() -> None:
    """'1 van de 40 collega's deden mee' was read in a session; the subject is one."""
    assert t("nl", "poll.participation", count=1, audience=40) == "1 van de 40 collega's deed mee."
    assert t("nl", "poll.participation", count=2, audience=40).endswith("deden mee.")
    assert t("en", "poll.participation", count=1, audience=40) == "1 of 40 colleagues took part."


@pytest.mark.parametrize("label", ["hoe werkt dit?", "Nooit!", "Weet niet.", "Misschien…"])
def test_one_punctuation_mark_after_a_typed_option(label: str) -> None:
    """'Optie 2: hoe werkt dit?.' had two marks: the catalogue's period is dropped."""
    text = t("nl", "create.option_added", n=2, label=label)
    assert text.startswith(f"Optie 2: {label} Volgende")
    assert t("en", "create.option_added", n=2, label=label).startswith(f"Option 2: {label} Next")


def test_a_label_without_a_mark_keeps_the_period() -> None:
    assert t("nl", "create.option_added", n=1, label="Ja").startswith("Optie 1: Ja. Volgende")


@pytest.mark.parametrize(
    ("full", "greeted"),
    [
        ("Anouk de Vries", "Anouk"),
        ("José Müller", "José"),
        ("Emp0", "Emp0"),
        ("J. de Vries", "J. de Vries"),
        ("van Dijk", "van Dijk"),
        ("  Marieke  van Dijck ", "Marieke"),
        ("", ""),
    ],
)
def test_greeted_by_first_name(full: str, greeted: str) -> None:
    assert first_name(full) == greeted


def test_greeting_says_the_first_name_only() -> None:
    assert t("nl", "menu.greeting", name=first_name("Anouk de Vries")).startswith("Hallo Anouk!")


def test_roster_problems_in_both_languages() -> None:
    """Staff-list errors keep their keys: English for the CLI, the reader's language on the
    dashboard, and 'role' or 'roles' by the number."""
    from bot.roster import check_roster, problem_text

    header = "name,email,phone,department,location,language,roles\n"
    found = check_roster(header + "A,bad,,,,nl,boss\nB,b@x.nl,,,,nl,boss;chief\n").errors
    (_, one), (_, two) = found
    assert one.startswith("invalid email 'bad'; unknown role boss;")
    assert problem_text("nl", one).startswith("ongeldig e-mailadres 'bad'; onbekende rol boss;")
    assert problem_text("nl", two).startswith("2 onbekende rollen: boss, chief;")
    assert problem_text("nl", "plain text") == "plain text"


def test_reminder_after_one_hour() -> None:
    assert "after 1 hour to" in t("en", "bcreate.summary_ack", count=1)
    assert "after 24 hours to" in t("en", "bcreate.summary_ack", count=24)
