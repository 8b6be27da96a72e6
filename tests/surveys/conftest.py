"""The privacy scan's scene (every channel driven as its platform drives it) for the survey
tests that answer on Slack, Teams, WhatsApp and the web chat."""

from tests.test_privacy_scan import scene

__all__ = ["scene"]
