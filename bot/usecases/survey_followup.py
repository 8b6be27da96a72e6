""" "Wat doet de OR ermee?" for a survey: the survey as a follow-up's subject
(bot/usecases/followups.py), so the OR's conclusion goes to everyone in the survey's
audience as a broadcast with the results above it, and is the conclusion of the employer's
report (bot/web/survey_report.py).

The results the audience reads are the chat's results text (bot/surveys/render.py): turnout
and per question counts, mean and eNPS; for an open question only how many answered, never
an answer's text (an anonymous answer quoted to everyone could be recognised).
"""

from __future__ import annotations

from bot.conversation import Services
from bot.surveys.render import results_text
from bot.usecases import Refused, broadcasts, followups
from bot.usecases import surveys as survey_cases
from bot.usecases.followups import Sent, Subject
from storage.people import Audience
from storage.surveys import CLOSED, Surveys


async def survey_subject(services: Services, survey_id: int) -> Subject:
    survey = await Surveys(services.session).get(survey_id)
    if survey is None:
        raise Refused(followups.NOT_FOUND, kind="survey", id=survey_id)
    result = await survey_cases.results(services, survey_id)
    return Subject(
        kind="survey",
        id=survey.id,
        audience=Audience.from_dict(survey.audience),
        closed=survey.status == CLOSED,
        results=lambda lang: results_text(result, lang),
    )


async def follow_up_survey(
    services: Services, survey_id: int, text: str, actor: broadcasts.Actor
) -> Sent:
    """Read the survey and send, in one transaction (the tests' way; the dashboard reads in a
    read-only transaction first, as bot/web/followup_views.py does)."""
    return await followups.send(services, await survey_subject(services, survey_id), text, actor)
