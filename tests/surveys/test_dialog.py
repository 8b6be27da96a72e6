"""Answering a survey in the chat (dialogs/survey.py): one question at a time, typed words and
numbers, skipping, 'terug', the "waarom?", pausing and resuming on another channel, the
summary, and the OR's 'uitslag raadpleging'."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import Engine
from bot.usecases import surveys as survey_cases
from storage.models import Conversation
from storage.survey_models import SurveyAnswer, SurveyParticipation
from tests.support.broadcasts import Clock
from tests.support.org import Org
from tests.support.usecases import run
from tests.surveys.support import make_survey


async def test_a_survey_answered_typed_with_back_skip_pause_and_summary(
    engine: Engine, org: Org
) -> None:
    survey_id = await make_survey(engine, anonymous=False)
    invitation = await org.last("emp0")
    assert "Raadpleging" in invitation.text and "5 vragen" in invitation.text
    await org.say("emp0", "Beginnen")  # the invitation's button, typed
    first = await org.last("emp0")
    assert first.text.startswith("Vraag 1 van 5") and "Steun je het voorstel?" in first.text
    assert [c.label for c in first.choices][:3] == ["Ja", "Nee", "Weet niet"]
    await org.say("emp0", "nee hoor")
    why = await org.last("emp0")
    assert "Waarom?" in why.text
    await org.say("emp0", "Te duur voor wat het oplevert")
    second = await org.last("emp0")
    assert second.text.startswith("Vraag 2 van 5") and second.multiple
    await org.say("emp0", "1 3")
    assert (await org.last("emp0")).text.startswith("Vraag 3 van 5")
    await org.say("emp0", "6")  # not "Overslaan", the sixth button
    again = await org.last("emp0")
    assert "1 tot en met 5" in again.text and again.text.count("Vraag 3 van 5") == 1
    await org.say("emp0", "4")
    await org.say("emp0", "terug")
    back = await org.last("emp0")
    assert back.text.startswith("Vraag 3 van 5") and "Je antwoord nu: 4" in back.text
    await org.say("emp0", "2")
    await org.say("emp0", "pauze")
    assert "Gepauzeerd" in (await org.last("emp0")).text
    # On another channel, the same person goes on where they were.
    await org.say("emp0", f"raadpleging {survey_id}", channel="web", account="person-emp0")
    resumed = await org.last("emp0")
    assert resumed.text.startswith("Vraag 4 van 5")
    await org.say("emp0", "9", channel="web", account="person-emp0")
    await org.say("emp0", "overslaan", channel="web", account="person-emp0")
    confirm = await org.last("emp0")
    assert "Versturen" in [c.label for c in confirm.choices]
    await org.say("emp0", "versturen", channel="web", account="person-emp0")
    done = await org.last("emp0")
    assert "Je antwoorden op raadpleging" in done.text
    assert "1. Steun je het voorstel?: Nee, “Te duur voor wat het oplevert”" in done.text
    assert "2. Wat is belangrijk?: Salaris, Reistijd" in done.text
    assert "3. Hoe druk is het?: 2" in done.text
    assert "5. Wat moet de OR weten?: overgeslagen" in done.text
    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    assert [c["count"] for c in result["questions"][0]["counts"]] == [0, 1, 0]
    assert result["questions"][3]["enps"] == 100.0
    assert result["turnout"]["by_channel"]["hidden"] is True  # 1 person: under 5
    # A second go is refused: one response per person.
    await org.say("emp0", f"raadpleging {survey_id}")
    assert "al ingevuld" in (await org.last("emp0")).text


async def test_anonymous_state_and_summary_keep_no_answer(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine)
    await org.say("emp2", f"raadpleging {survey_id}")
    for text in ("Weet niet", "Geheim-waarom-tekst", "2", "5", "0"):
        await org.say("emp2", text)
    async with engine.db.transaction(read_only=True) as session:
        state = (await session.execute(select(Conversation.state))).scalars().all()
        register = (await session.execute(select(SurveyParticipation))).scalar_one()
    assert "Geheim-waarom" not in str(state) and "Weet niet" not in str(state)
    assert register.progress and "Geheim" not in register.progress
    await org.say("emp2", "Geheim-open-antwoord")
    await org.say("emp2", "Versturen")
    summary = await org.last("emp2")  # opened as the worker opens it
    assert "Geheim-open-antwoord" in summary.text and "alleen nu" in summary.text
    async with engine.db.transaction(read_only=True) as session:
        answers = (await session.execute(select(SurveyAnswer.text))).scalars().all()
        register = (await session.execute(select(SurveyParticipation))).scalar_one()
    assert sorted(a for a in answers if a) == ["Geheim-open-antwoord", "Geheim-waarom-tekst"]
    assert register.finished and register.progress is None


async def test_or_member_sees_results_in_chat(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine)
    await org.say("emp0", f"uitslag raadpleging {survey_id}")  # OR members only
    assert "Tussenstand" not in (await org.last("emp0")).text
    await org.say("olga", f"uitslag raadpleging {survey_id}")
    text = (await org.last("olga")).text
    assert f"Tussenstand raadpleging {survey_id}: Werkdruk" in text
    assert "Deelname: 0 van de 10 (0.0%)" in text


async def test_raadpleging_without_a_number(engine: Engine, org: Org) -> None:
    await org.say("emp0", "raadpleging")
    assert "geen raadpleging" in (await org.last("emp0")).text
    first = await make_survey(engine)
    second = await make_survey(engine)
    await org.say("emp0", "raadpleging")
    listing = (await org.last("emp0")).text
    assert f"{first} (Werkdruk), {second} (Werkdruk)" in listing
    await org.say("emp0", "stop")
    for text in (f"raadpleging {first}", "1", "overslaan", "1", "1", "1", "x", "versturen"):
        await org.say("emp0", text)
    await org.say("emp0", "raadpleging")  # only the second is left: it starts
    assert (await org.last("emp0")).text.startswith("Vraag 1 van 5")
    await org.say("emp1", "survey")  # English
    assert "Open consultations" in (await org.last("emp1")).text


async def test_skipping_sends_as_many_messages_as_answering(engine: Engine, org: Org) -> None:
    """The outbox keeps who was sent how many messages (not the texts): skipping a question
    with a "waarom?" must not send one message fewer than answering it."""
    survey_id = await make_survey(engine)
    walks = {
        "emp0": ["1", "omdat", "1", "3", "8", "tekst", "versturen"],
        "emp2": ["overslaan", "toch een opmerking", "1", "3", "8", "tekst", "versturen"],
        "emp4": ["overslaan", "overslaan", "1", "3", "8", "tekst", "versturen"],
    }
    counts = {}
    for key, steps in walks.items():
        before = len(await org.outbox(key))
        await org.say(key, f"raadpleging {survey_id}")
        for text in steps:
            await org.say(key, text)
        counts[key] = len(await org.outbox(key)) - before
    assert len(set(counts.values())) == 1, counts
    assert "Je sloeg deze vraag over" in "".join(m.text for m in await org.outbox("emp2"))
    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    q1 = result["questions"][0]
    assert q1["answered"] == 1 and [c["count"] for c in q1["counts"]] == [1, 0, 0]
    assert sorted(w["text"] for w in q1["why"]) == ["omdat", "toch een opmerking"]


async def test_a_survey_is_not_timed_out_like_a_draft(engine: Engine, org: Org) -> None:
    clock = Clock()
    engine.clock = clock
    await make_survey(engine, anonymous=False)
    await org.say("emp0", "Beginnen")
    clock.advance(hours=3)  # far past the dialog timeout; the survey is still open
    await org.say("emp0", "2")
    after = await org.last("emp0")
    assert "gestopt" not in after.text and "Waarom?" in after.text
