"""Open questions: creation by the OR, answering in free text, privacy, closing, hiding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.usecases import questions
from storage.models import AuditEntry, OpenAnswer, OpenQuestion, Person, QuestionParticipation
from storage.people import Audience
from tests.support.org import Org

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def all_rows(engine: Engine, model: type) -> list:  # type: ignore[type-arg]
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())  # type: ignore[attr-defined]


async def make_question(
    engine: Engine, *, anonymous: bool = False, audience: Audience | None = None
) -> int:
    async with engine.db.transaction() as session:
        opened = await questions.create(
            engine.services(session),
            text="Wat kan er beter in de kantine?",
            anonymous=anonymous,
            audience=audience or Audience(),
            closes_at=None,
            created_by=None,
        )
        return opened.question.id


async def test_or_member_creates_a_question_in_dutch_with_back(engine: Engine, org: Org) -> None:
    engine.clock = lambda: START
    for line in [
        "nieuwe vraag",
        "Wat kan er beter aan de roosters?",
        "Anoniem (geen naam, alleen de datum)",
        "terug",  # back to named/anonymous
        "1",  # named
        "morgen 17:00",
        "Afdeling Productie",
    ]:
        await org.say("olga", line)
    preview = (await org.last("olga")).text
    assert "Controleer je vraag" in preview and "Met naam" in preview and "Productie" in preview
    await org.say("olga", "Nu versturen")
    [question] = await all_rows(engine, OpenQuestion)
    assert (question.anonymous, question.audience) == (False, {"department": "Productie"})
    assert question.closes_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert question.audience_size == 4 and question.created_by == org.people["olga"].id
    assert f"Vraag {question.id} is verstuurd naar 4 collega's." == (await org.last("olga")).text
    sent = await org.last("emp0")
    assert "Wat kan er beter aan de roosters?" in sent.text
    assert [c.payload for c in sent.choices] == [f"oq:{question.id}:answer"]
    assert await org.outbox("emp1") == []  # Logistiek: not in the audience


async def test_chat_refuses_an_audience_that_emptied_before_sending(
    engine: Engine, org: Org
) -> None:
    """The chat used to send a question to nobody; now, like the CLI, it refuses (the use
    case's rule) and asks for the audience again."""
    for line in [
        "nieuwe vraag",
        "Wie mist er iets?",
        "1",
        "Geen sluitingstijd",
        "Afdeling Kantoor",
    ]:
        await org.say("olga", line)
    assert "Controleer je vraag" in (await org.last("olga")).text
    async with engine.db.transaction() as session:
        await session.execute(
            update(Person).where(Person.department == "Kantoor").values(department="Elders")
        )
    await org.say("olga", "Nu versturen")
    *_, refusal, again = await org.outbox("olga")
    assert refusal.text.startswith("Niemand op de personeelslijst hoort bij deze doelgroep")
    assert again.text == "Voor wie is de vraag?"
    assert await all_rows(engine, OpenQuestion) == []
    await org.say("olga", "terug")  # the trail is as it was at the audience step
    assert "Wanneer sluit de vraag?" in (await org.last("olga")).text


async def test_answer_replace_length_and_closed_question(engine: Engine, org: Org) -> None:
    question_id = await make_question(engine)
    await org.say("emp0", "1")  # the typed number presses the question's button
    assert "Typ je antwoord op vraag" in (await org.last("emp0")).text
    await org.say("emp0", "x" * 2001)
    assert "2001 tekens" in (await org.last("emp0")).text
    await org.say("emp0", "Meer vegetarisch")
    assert "Dank je! Je antwoord op vraag" in (await org.last("emp0")).text
    await org.say("emp0", f"antwoord {question_id}")
    assert 'Je huidige antwoord: "Meer vegetarisch"' in (await org.last("emp0")).text
    await org.say("emp0", "Meer vegetarisch en minder plastic")
    assert "vervangen" in (await org.last("emp0")).text
    [answer] = await all_rows(engine, OpenAnswer)
    assert (answer.person_id, answer.text) == (
        org.people["emp0"].id,
        "Meer vegetarisch en minder plastic",
    )

    await org.say("olga", f"antwoorden {question_id}")
    listing = (await org.last("olga")).text
    assert "Emp0 (Productie)" in listing and "minder plastic" in listing
    await org.say("emp0", f"antwoorden {question_id}")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp0")).text

    await org.say("emp2", choice=f"oq:{question_id}:answer")
    await org.say("olga", f"sluit vraag {question_id}")
    assert f"Vraag {question_id} is gesloten." == (await org.last("olga")).text
    await org.say("emp2", "Te laat?")  # typed into the answer dialog after closing
    assert "is gesloten" in (await org.last("emp2")).text
    await org.say("emp3", choice=f"oq:{question_id}:answer")
    assert "is gesloten" in (await org.last("emp3")).text
    assert len(await all_rows(engine, OpenAnswer)) == 1


async def test_anonymous_answers_keep_no_person_and_only_the_date(engine: Engine, org: Org) -> None:
    engine.clock = lambda: START + timedelta(hours=5, minutes=17)
    question_id = await make_question(engine, anonymous=True)
    await org.say("emp1", choice=f"oq:{question_id}:answer")  # English
    assert "Type your answer to question" in (await org.last("emp1")).text
    await org.say("emp1", "back")
    assert "did not answer" in (await org.last("emp1")).text
    await org.say("emp1", f"answer {question_id}")
    await org.say("emp1", "Longer lunch breaks")
    assert "anonymous answer" in (await org.last("emp1")).text
    await org.say("emp1", f"answer {question_id}")
    assert "already answered" in (await org.last("emp1")).text
    [answer] = await all_rows(engine, OpenAnswer)
    assert answer.person_id is None and answer.updated_at is None
    assert answer.answered_on == date(2026, 11, 25)
    async with engine.db.transaction(read_only=True) as session:
        [participation] = (await session.execute(select(QuestionParticipation))).scalars().all()
    assert participation.person_id == org.people["emp1"].id
    await org.say("olga", f"antwoorden {question_id}")
    assert (
        "anoniem" in (await org.last("olga")).text and "Emp1" not in (await org.last("olga")).text
    )


async def test_moderator_hides_an_abusive_answer(engine: Engine, org: Org) -> None:
    question_id = await make_question(engine)
    await org.say("emp0", choice=f"oq:{question_id}:answer")
    await org.say("emp0", "Iets kwetsends")
    [answer] = await all_rows(engine, OpenAnswer)
    await org.say("emp2", f"verberg {answer.id}")
    assert "Alleen moderatoren" in (await org.last("emp2")).text
    await org.say("mo", f"verberg {answer.id}")
    assert "verborgen" in (await org.last("mo")).text
    await org.say("mo", f"verberg {answer.id}")
    assert "al verborgen" in (await org.last("mo")).text
    await org.say("olga", f"antwoorden {question_id}")
    assert "kwetsends" not in (await org.last("olga")).text
    [hidden] = await all_rows(engine, OpenAnswer)
    assert hidden.hidden_by == org.people["mo"].id and hidden.text == "Iets kwetsends"
    audit = [a for a in await all_rows(engine, AuditEntry) if a.action == "answer.hidden"]
    assert len(audit) == 1 and audit[0].subject == f"answer:{answer.id}"


async def test_scheduler_closes_at_the_closing_time(engine: Engine, org: Org) -> None:
    clock = {"now": START}
    engine.clock = lambda: clock["now"]
    await org.say("olga", "nieuwe vraag")
    for line in ["Hoe gaat het?", "Met naam (antwoord wijzigen kan)", "morgen 12:00", "Iedereen"]:
        await org.say("olga", line)
    await org.say("olga", "Nu versturen")
    await org.say("emp4", "vragen")
    assert "Hoe gaat het?" in (await org.last("emp4")).text
    scheduler = Scheduler(engine)
    assert (await scheduler.tick()).jobs["questions_close"] == 0
    clock["now"] = START + timedelta(days=1, hours=3)
    assert (await scheduler.tick()).jobs["questions_close"] == 1
    assert "gesloten met 0 antwoorden" in (await org.last("olga")).text
    assert (await scheduler.tick()).jobs["questions_close"] == 0
    await org.say("emp4", "vragen")
    assert "geen open vragen" in (await org.last("emp4")).text
