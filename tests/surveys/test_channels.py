"""A 5-question anonymous survey answered from Slack (signed webhooks, button presses on the
messages the worker posted), Teams (Bot Connector activities with JWTs on /api/messages, card
buttons pressed on the cards the worker sent to the fake Bot Connector), WhatsApp
(Twilio-signed forms) and the web chat, on both backends, with the exact results; one
respondent pauses on WhatsApp and finishes on the web.

The channels are driven as the privacy scan drives them (tests/test_privacy_scan.py, Scene;
Teams through the real adapter as tests/adapters/test_teams.py does, tests/support/teams_chat.py).
"""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.i18n import t
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import SurveyDraft
from storage.db import Database
from tests.adapters.test_teams import card_of
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import block_elements
from tests.support.usecases import run
from tests.surveys.support import QUESTIONS
from tests.test_privacy_scan import Colleague, Scene

# Per colleague key: the steps, each typed text or ("button", payload).
Step = str | tuple[str, str]


async def anonymous_survey(engine: Engine) -> int:
    async def go(services):  # type: ignore[no-untyped-def]
        draft = SurveyDraft(
            title="Werkdruk-pulse",
            questions=QUESTIONS,
            closes_at=services.now + timedelta(days=3),
            anonymous=True,
            turnout_target=50,
        )
        return (await survey_cases.create_survey(services, draft, actor_id=None)).survey.id

    return await run(engine, go)


async def press_slack(scene: Scene, who: Colleague, payload: str) -> None:
    """Press the button, or pick the option of a select menu (more than 5 choices), that
    carries `payload` on the newest message of the user's DM that has it."""
    dm = "D" + who.account[1:]
    for ref, message in reversed(scene.slack.api.messages.items()):
        if not ref.startswith(dm + ":") or not message.get("blocks"):
            continue
        for element in block_elements(message):
            if element.get("value") == payload:
                assert await scene.slack.press(who.account, ref, element) == 200
                return
            for option in element.get("options", ()):
                if option["value"] == payload:
                    action = {
                        "type": "static_select",
                        "action_id": element["action_id"],
                        "selected_option": option,
                    }
                    assert await scene.slack.press(who.account, ref, action) == 200
                    return
    raise AssertionError(f"no button or option {payload} was posted to {who.account}")


async def walk(scene: Scene, who: Colleague, steps: list[Step]) -> None:
    for step in steps:
        if isinstance(step, tuple) and who.channel == "slack":
            await press_slack(scene, who, step[1])
        elif isinstance(step, tuple):
            await scene.say(who, choice=step[1])
        else:
            await scene.say(who, step)
        await scene.deliver()  # Slack's and Teams' next buttons are on what the worker sends


def by_key(scene: Scene, key: str) -> Colleague:
    return next(c for c in scene.colleagues if c.key == key)


async def test_anonymous_survey_on_slack_teams_whatsapp_and_web(
    scene: Scene, db: Database, connector: FakeBotConnector
) -> None:
    engine = scene.engine
    for who in scene.colleagues:
        await scene.say(who, "hallo")  # Teams: stores the chat's reference, roster by e-mail
    await scene.deliver()
    survey_id = await anonymous_survey(engine)
    await scene.deliver()
    slack, teams, wa, web = (by_key(scene, k) for k in ("slack0", "teams", "wa", "web"))
    await walk(scene, slack, [
        ("button", f"svy:{survey_id}:start"),
        ("button", "svq:a:1:1"), "Goed voor de planning",  # Ja + waarom
        "1 3",  # Salaris, Reistijd
        ("button", "svq:a:3:4"),
        ("button", "svq:a:4:9"),
        "Meer overleg graag",
        ("button", "svq:send"),
    ])  # fmt: skip
    await walk(scene, teams, [
        ("button", f"svy:{survey_id}:start"),  # on the invitation's card
        ("button", "svq:a:1:2"), ("button", "svq:skip:1"),  # Nee, no waarom
        ("button", "svq:a:2:2"),  # Rooster
        ("button", "svq:a:3:5"),
        ("button", "svq:a:1:3"),  # an older message's button: changes question 1 to Weet niet
        ("button", "svq:skip:1"),  # and its waarom
        ("button", "svq:a:4:10"),
        "Minder vergaderen",
        ("button", "svq:send"),
    ])  # fmt: skip
    await walk(scene, wa, [
        f"raadpleging {survey_id}",
        "ja", "Eindelijk duidelijkheid",
        "salaris",
        "pauze",
    ])  # fmt: skip
    await walk(scene, web, [
        f"raadpleging {survey_id}",
        "weet niet", "overslaan",
        "2",
        "7",  # past the scale: asked again
        "twee",
        "0",
        "Te veel werk",
        "versturen",
    ])  # fmt: skip
    # Teams went the platform's way: one member lookup (then cached) matched the roster, and
    # every question came as a card through the delivery worker to the Bot Connector.
    assert connector.member_lookups == ["29:teams"]
    headers = [card_of(a)["body"][0]["text"] for a in connector.sent(scene.teams.conversation)]
    for position in range(1, 6):
        assert t("nl", "survey.question_header", position=position, count=5) in headers
    # The WhatsApp colleague goes on in the web chat: one respondent, one response.
    wa_on_web = Colleague("wa-web", "web", f"person-{wa.person.id}", wa.person)
    await walk(scene, wa_on_web, [f"raadpleging {survey_id}", "3", "6", "overslaan", "Versturen"])

    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    q1, q2, q3, q4, q5 = result["questions"]
    assert result["responses"] == 4
    assert [c["count"] for c in q1["counts"]] == [2, 0, 2]  # Ja, Nee (changed by Teams), Weet niet
    assert sorted(w["text"] for w in q1["why"]) == [
        "Eindelijk duidelijkheid",
        "Goed voor de planning",
    ]
    assert [c["count"] for c in q2["counts"]] == [2, 2, 1]  # Salaris, Rooster, Reistijd
    assert [c["count"] for c in q3["counts"]] == [0, 1, 1, 1, 1]
    assert q3["mean"] == 3.5
    assert (q4["promoters"], q4["passives"], q4["detractors"], q4["enps"]) == (2, 0, 2, 0.0)
    assert sorted(a["text"] for a in q5["answers"]) == [
        "Meer overleg graag",
        "Minder vergaderen",
        "Te veel werk",
    ]
    assert (q5["answered"], q5["answered_percent"]) == (3, 75.0)
    turnout = result["turnout"]
    assert (turnout["audience"], turnout["started"], turnout["finished"]) == (6, 4, 4)
    assert turnout["percent"] == 66.7 and turnout["target_reached"] is True
    # Four channels with one respondent each: every group is under 5, so all are hidden.
    assert turnout["by_channel"]["groups"] == [] and turnout["by_channel"]["hidden"] is True
    assert turnout["by_department"]["groups"] == [
        {"group": "Productie", "reach": 6, "responses": 4, "response_rate": 0.6667}
    ]
