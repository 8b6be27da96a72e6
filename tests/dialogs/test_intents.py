"""Free text with no dialog running, acted on as the job it asks for (issue 13): 'stop' alone
never unsubscribes, opting out of news asks first, clear wishes start their job, stats are for
OR members, "english please" switches the language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.engine import Engine
from storage.broadcast_models import BroadcastReply
from storage.models import Ballot, OpenAnswer, Person
from tests.dialogs.test_open_question import make_question
from tests.support.broadcasts import create, status
from tests.support.org import Org
from tests.support.polls import create_poll


async def language_of(engine: Engine, person_id: int) -> str | None:
    async with engine.db.transaction(read_only=True) as session:
        return (await session.get(Person, person_id)).language  # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["stop", "STOP", "stop!"])
async def test_stop_alone_unsubscribes_nobody(engine: Engine, org: Org, word: str) -> None:
    await org.say("emp0", word)
    offer = await org.last("emp0")
    assert "Er loopt geen gesprek om te stoppen" in offer.text
    assert [c.payload for c in offer.choices] == ["news:out"]
    broadcast_id = await create(engine, "Nieuws!")
    assert "Nieuws!" in (await org.last("emp0")).text
    assert (await status(engine, broadcast_id)).opted_out == 0


@pytest.mark.parametrize("text", ["afmelden", "ik wil geen nieuwsberichten meer"])
async def test_opting_out_asks_first(engine: Engine, org: Org, text: str) -> None:
    await org.say("emp0", text)
    assert "Wil je je afmelden" in (await org.last("emp0")).text
    await org.say("emp0", "nee")  # typed: "Nee, nieuws blijven krijgen"
    assert "blijft de nieuwsberichten krijgen" in (await org.last("emp0")).text
    await org.say("emp0", text)
    await org.say("emp0", "ja")  # typed: "Ja, afmelden voor nieuws"
    assert "Je bent afgemeld" in (await org.last("emp0")).text
    broadcast_id = await create(engine, "Nieuws!")
    assert (await status(engine, broadcast_id)).opted_out == 1


async def test_language_by_free_text(engine: Engine, org: Org) -> None:
    await org.say("emp0", "english please")
    assert "English" in (await org.last("emp0")).text
    assert await language_of(engine, org.people["emp0"].id) == "en"
    await org.say("emp0", "nederlands")
    assert await language_of(engine, org.people["emp0"].id) == "nl"


async def test_stats_for_or_members_only(engine: Engine, org: Org) -> None:
    await create_poll(engine, ["Ja", "Nee"], question="Koffie?")
    await org.say("emp0", "statistieken")
    assert "alleen voor leden van de ondernemingsraad" in (await org.last("emp0")).text
    await org.say("olga", "statistieken")
    figures = (await org.last("olga")).text
    assert "Bereik en deelname" in figures and "Peiling" in figures and "Koffie?" in figures


async def test_clear_wishes_start_their_job(engine: Engine, org: Org) -> None:
    await org.say("emp0", "ik wil iets onveiligs melden")
    assert "Melding onveilige situatie" in (await org.last("emp0")).text
    await org.say("emp0", "stop")
    await org.say("olga", "nieuwe peilign")
    assert "Wat is de vraag?" in (await org.last("olga")).text
    await org.say("olga", "stop")
    await org.say("emp2", "anonieme peiling")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp2")).text
    await create_poll(engine, ["Ja", "Nee"])
    await org.say("emp2", "ik wil mijn stem wijzigen")
    said = [m.text for m in (await org.outbox("emp2"))[-2:]]
    assert "kies gewoon opnieuw" in said[0] and "Wat vind je ervan?" in said[1]


async def test_answer_an_open_question_in_one_line(engine: Engine, org: Org) -> None:
    question_id = await make_question(engine)
    await org.say("emp0", f"antwoord {question_id} meer personeel in het magazijn")
    assert f"antwoord op vraag {question_id} is opgeslagen" in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        [answer] = (await session.execute(select(OpenAnswer))).scalars().all()
    assert answer.text == "meer personeel in het magazijn"
    await org.say("emp0", f"antwoord {question_id}")  # the number alone opens the prompt
    assert "Wat kan er beter in de kantine?" in (await org.last("emp0")).text


async def test_a_reply_to_news_is_kept_and_the_job_only_offered(engine: Engine, org: Org) -> None:
    await create(engine, "Nieuw rooster per januari")
    await org.say("emp0", "ik wil mijn stem wijzigen, het rooster valt tegen")
    offer = await org.last("emp0")
    assert "bewaard als reactie" in offer.text
    assert [c.payload for c in offer.choices] == ["intent:change_vote"]
    async with engine.db.transaction(read_only=True) as session:
        assert len((await session.execute(select(BroadcastReply))).scalars().all()) == 1


@pytest.mark.parametrize("text", ["ik wil iets melden over het rooster", "ik wil emp2 nomineren"])
async def test_a_report_or_nomination_is_never_kept_as_a_named_reply(
    engine: Engine, org: Org, text: str
) -> None:
    """A reply stands on the dashboard with the writer's name; a report may become anonymous
    and a nomination round may be: their text is not kept as a reply to the news."""
    await create(engine, "Nieuw rooster per januari")
    await org.say("emp0", text)
    assert "bewaard als reactie" not in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        assert (await session.execute(select(BroadcastReply))).scalars().all() == []


async def test_help_text_tells_of_free_text(engine: Engine, org: Org) -> None:
    await org.say("emp0", "help")
    text = (await org.last("emp0")).text
    assert "'stop' – een gesprek afbreken" in text and "ik wil iets onveiligs melden" in text


async def test_help_at_an_open_answer_is_never_the_answer(engine: Engine, org: Org) -> None:
    question_id = await make_question(engine)
    await org.say("emp0", f"antwoord {question_id}")
    await org.say("emp0", "help")
    assert "Typ je antwoord in één bericht" in (await org.last("emp0")).text
    await org.say("emp0", "menu")
    await org.say("emp0", "Betere koffie")
    async with engine.db.transaction(read_only=True) as session:
        [answer] = (await session.execute(select(OpenAnswer))).scalars().all()
    assert answer.text == "Betere koffie"


async def test_stop_is_never_a_vote(engine: Engine, org: Org) -> None:
    await create_poll(engine, ["Stop de reorganisatie", "Doorgaan"])
    await org.say("emp0", "stop")
    assert "Er loopt geen gesprek om te stoppen" in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        assert (await session.execute(select(Ballot))).scalars().all() == []
