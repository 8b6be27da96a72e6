"""Slack: Events API, the /or command and interactivity on POST /slack/events, via slack-bolt;
replies through the Web API.

The channel's modules, one job each:
- adapters/slack_inbound.py: request verification and bolt's wiring (SlackEvents);
- adapters/slack_parse.py: payloads → Incoming (pure);
- adapters/slack_render.py: Outgoing → Block Kit (pure);
- adapters/slack_outbound.py: sending, users.info and its caches, the App Home tab, files
  (SlackAdapter, and the delivery worker's ReconcilingSlackAdapter);
- adapters/slack_api.py: the Web API client, its retry policy and its errors as DeliveryError.
This module is what the composition root loads: `mount`.
"""

from __future__ import annotations

from aiohttp import web

from adapters.base import EngineApi, Mount
from adapters.slack_api import web_client
from adapters.slack_inbound import SlackEvents
from adapters.slack_outbound import ReconcilingSlackAdapter, SlackAdapter, SlackUser
from bot.config import Settings
from bot.errors import ConfigError

__all__ = [
    "EVENTS_PATH",
    "ReconcilingSlackAdapter",
    "SlackAdapter",
    "SlackEvents",
    "SlackUser",
    "mount",
    "web_client",
]

EVENTS_PATH = "/slack/events"


def mount(settings: Settings, engine: EngineApi) -> Mount:
    """The composition root's entry point: the adapter and POST /slack/events."""
    if settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")
    adapter = SlackAdapter(settings)
    events = SlackEvents(adapter, engine, settings.slack_signing_secret.get_secret_value())
    return Mount(adapter=adapter, routes=[web.post(EVENTS_PATH, events.handle_request)])
