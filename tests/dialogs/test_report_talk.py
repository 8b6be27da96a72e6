"""Reporting as colleagues type (issue 13): the caption sent with a photo is the description,
typed answers to the buttons, and 'weet ik niet' at the consent question asked back."""

from __future__ import annotations

from pathlib import Path

from bot.engine import Engine
from tests.dialogs.test_unsafe_report import engine, photo_file, reports, send, store  # noqa: F401
from tests.support.org import Org
from tests.test_photos import two_faces_jpeg


async def test_caption_is_the_description_and_consent_doubt_is_asked_back(
    engine: Engine,  # noqa: F811
    org: Org,
    tmp_path: Path,
) -> None:
    caption = "kijk, er ligt olie bij machine 4"
    await send(org, "emp0", photo_file(tmp_path, "olie.jpg", two_faces_jpeg()), text=caption)
    said = [m.text for m in await org.outbox("emp0")]
    assert any("als beschrijving" in t for t in said)
    assert not any(caption in t for t in said)  # not echoed unsealed
    await org.say("emp0", "klaar")
    assert "Waar is het?" in (await org.last("emp0")).text  # "Wat is er onveilig?" skipped
    await org.say("emp0", "Hal 2")
    await org.say("emp0", "ja hoor")  # recognisable: typed, not the button
    assert "toestemming" in (await org.last("emp0")).text
    await org.say("emp0", "weet ik niet")
    reask = (await org.last("emp0")).text  # the reason, then the same question
    assert "kies dan 'Nee'" in reask and "toestemming gegeven" in reask
    await org.say("emp0", "help")  # explains and asks again; never an answer
    assert "Weet je het niet zeker" in (await org.last("emp0")).text
    await org.say("emp0", "nee")
    await org.say("emp0", "Met naam")
    await org.say("emp0", "Versturen")
    [report] = await reports(engine)
    assert (report.description, report.location, report.consent) == (caption, "Hal 2", "none")


async def test_back_from_where_reaches_the_caption_to_change_it(
    engine: Engine,  # noqa: F811
    org: Org,
    tmp_path: Path,
) -> None:
    await send(
        org, "emp2", photo_file(tmp_path, "a.jpg", two_faces_jpeg()), text="olie op de vloer"
    )
    await org.say("emp2", "klaar")
    await org.say("emp2", "terug")
    assert "Wat is er onveilig?" in (await org.last("emp2")).text
    await org.say("emp2", "olie en water op de vloer")
    assert "Waar is het?" in (await org.last("emp2")).text


async def test_two_fitting_buttons_are_asked_not_guessed(engine: Engine, org: Org) -> None:  # noqa: F811
    for line in ["melding", "Geen foto", "Lekkage", "Hal 1"]:
        await org.say("emp2", line)
    await org.say("emp2", "anoniem")  # hidden name, or fully anonymous?
    reask = (await org.last("emp2")).text
    assert "Bedoel je" in reask and "Volledig anoniem" in reask and "Wil je anoniem" in reask
    await org.say("emp2", "met naam")
    assert "Controleer je melding" in (await org.last("emp2")).text
