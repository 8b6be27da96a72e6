"""'nieuwe raadpleging' in the chat: an OR member picks a template, a closing time and an
audience, checks the preview and opens it through the same use case as the CLI."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.usecases import surveys as survey_cases
from tests.support.org import Org
from tests.support.usecases import run


async def test_or_member_opens_a_template_survey_in_chat(engine: Engine, org: Org) -> None:
    await org.say("emp0", "nieuwe raadpleging")
    assert "Werkdruk-pulse" not in (await org.last("emp0")).text  # OR members only
    await org.say("olga", "nieuwe raadpleging")
    ask = await org.last("olga")
    assert "Welke raadpleging" in ask.text and "Werkdruk-pulse" in [c.label for c in ask.choices]
    await org.say("olga", "werkdruk-pulse")
    assert "Wanneer sluit" in (await org.last("olga")).text
    await org.say("olga", "gisteren")  # not a moment to close at: asked again
    assert "Wanneer sluit" in (await org.last("olga")).text
    closes = (engine.clock() + timedelta(days=10)).strftime("%Y-%m-%d 12:00")
    await org.say("olga", closes)
    assert "Voor wie" in (await org.last("olga")).text
    await org.say("olga", "productie")
    preview = await org.last("olga")
    assert "Controleer de raadpleging" in preview.text and "Afdeling Productie" in preview.text
    assert "1. Hoe ervaar je je werkdruk de afgelopen maand?" in preview.text
    await org.say("olga", "Openen")
    opened = (await org.last("olga")).text
    assert "is geopend en naar 4 collega's gestuurd" in opened
    invitation = await org.last("emp0")
    assert "Werkdruk-pulse" in invitation.text and "4 vragen" in invitation.text
    result = await run(engine, lambda s: survey_cases.results(s, 1))
    assert result["survey"]["audience"] == {"department": "Productie"}
    assert result["survey"]["closes_at"].startswith(closes[:10])
    assert result["turnout"]["target"] == 40
