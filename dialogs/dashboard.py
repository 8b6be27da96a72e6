"""The `dashboard` chat command and the clean-up of web links.

`dashboard` in any channel gives an OR member, moderator or admin a link that opens the admin
dashboard once, within ten minutes, in their own chat; nobody can ask for someone else's. The
rules of links and invitations live in bot/usecases/access.py, shared with the dashboard and
the CLI.
"""

from __future__ import annotations

from datetime import timedelta

from bot.conversation import Services, Turn
from bot.registry import Registry
from bot.usecases.access import LOGIN_LINK_TTL, issue_login_link, may_use_dashboard
from storage.web import purge


async def dashboard_link(turn: Turn, _rest: str) -> None:
    if not may_use_dashboard(turn.roles):
        turn.reply(turn.t("web.dashboard.refused"))
        return
    services = turn.services
    url = await issue_login_link(
        services.session, turn.person.id, now=services.now, base_url=services.settings.public_url
    )
    await services.audit("web.login_link_created", actor_id=turn.person.id, via="chat")
    minutes = int(LOGIN_LINK_TTL.total_seconds() // 60)
    turn.reply(turn.t("web.dashboard.link", url=url, minutes=minutes))


async def purge_web(services: Services) -> int:
    """Drop used and expired links, ended sessions and stale web chat messages."""
    # Web chat messages of someone who never came back are not kept for ever.
    max_age = timedelta(days=services.settings.retention.web_mailbox_days)
    return await purge(services.session, now=services.now, mailbox_max_age=max_age)


def register(registry: Registry) -> None:
    registry.command("commands.dashboard", dashboard_link)
    registry.periodic("web_purge", purge_web)
