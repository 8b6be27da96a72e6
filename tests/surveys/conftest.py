"""The privacy scan's scene (every channel driven as its platform drives it) for the survey
tests that answer on Slack, Teams, WhatsApp and the web chat, and the Teams rig's fake OpenID
keys and Bot Connector (tests/adapters/test_teams.py)."""

from tests.adapters.test_teams import connector, openid
from tests.test_privacy_scan import scene

__all__ = ["connector", "openid", "scene"]
