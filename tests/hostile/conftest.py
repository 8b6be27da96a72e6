"""The Slack and Teams end-to-end fixtures (tests/adapters), for the hostile-input tests."""

from __future__ import annotations

from tests.adapters.conftest import twilio, wa_settings  # noqa: F401
from tests.adapters.test_slack import slack, slack_api  # noqa: F401
from tests.adapters.test_teams import bot, connector, openid, teams_settings  # noqa: F401
