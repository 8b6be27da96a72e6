"""Which adapters the delivery worker uses: those that can look a message up on the platform
after a crash (bot.delivery.Reconcilable).

The delivery worker marks an outbox row `sending` before its request leaves. When the worker
dies, or the connection breaks after the request was written, the row is in doubt: the
platform may or may not have the message. Slack and WhatsApp can tell; each adapter has one
send path that takes the outbox key, and its `Reconciling…` subclass adds the lookup:
ReconcilingSlackAdapter (adapters/slack_outbound.py) and ReconcilingWhatsAppAdapter
(adapters/whatsapp_outbound.py). Teams has no such handle; its adapter stays as it is and the
worker sends again (the one window left, docs/delivery.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import Adapter
from adapters.slack_outbound import ReconcilingSlackAdapter
from adapters.whatsapp_outbound import ReconcilingWhatsAppAdapter
from bot.config import Settings

__all__ = ["ReconcilingSlackAdapter", "ReconcilingWhatsAppAdapter", "reconciling"]


def reconciling(adapters: Mapping[str, Adapter], settings: Settings) -> dict[str, Adapter]:
    """The delivery worker's adapters, with Slack and WhatsApp able to look messages up.

    For a worker process (`achterban worker`); the adapters that serve webhooks stay as they
    are. Close the returned ones that are new (they have their own connection pools).
    """
    out = dict(adapters)
    if "slack" in out:
        out["slack"] = ReconcilingSlackAdapter(settings)
    if "whatsapp" in out:
        out["whatsapp"] = ReconcilingWhatsAppAdapter(settings)
    return out
