"""Who sent this? Channel account → roster person, created or refused per membership policy."""

from __future__ import annotations

from bot.conversation import Services
from bot.i18n import normalise_language
from bot.messages import Incoming
from storage.first_contact import link_first_contact
from storage.models import ChannelAccount, Person


async def resolve_sender(
    services: Services,
    incoming: Incoming,
    known: tuple[ChannelAccount, Person, set[str]] | None,
) -> tuple[Person, ChannelAccount, set[str]] | None:
    """The sender's person, account and roles, linking a new account by e-mail or phone.

    `known` is what the event's first statement found for the account (storage/inbound.py).
    One person may have accounts on several channels; they all resolve to the same person, so
    a vote counts once whatever channel it came from. Under membership `roster` an unknown
    sender gets None (the engine answers politely and stores nothing about them).
    """
    if known is not None and known[1].forgotten_at is None:
        account, found, roles = known
        return found, _remember_reference(account, incoming), roles
    profile = incoming.profile
    linked = await link_first_contact(
        services.store,
        incoming.channel,
        incoming.account,
        email=profile.email if profile else None,
        phone=profile.phone if profile else None,
        now=services.now,
    )
    if linked is not None and linked.account is not None and linked.person is not None:
        account = _remember_reference(linked.account, incoming)
        return linked.person, account, set(linked.roles)
    person = await _on_roster(services, incoming) if linked is None else None
    if person is None:
        if services.settings.membership != "open":
            return None
        person = Person(
            name=(profile.name if profile and profile.name else incoming.account)[:200],
            email=profile.email.lower() if profile and profile.email else None,
            phone=profile.phone if profile else None,
            language=normalise_language(incoming.locale),
        )
        services.session.add(person)
        await services.session.flush()
        await services.audit("person.joined", actor_id=person.id, channel=incoming.channel)
    account = await services.accounts.link(person.id, incoming.channel, incoming.account)
    return person, _remember_reference(account, incoming), await services.people.roles(person.id)


async def _on_roster(services: Services, incoming: Incoming) -> Person | None:
    """The roster person with the sender's e-mail, else phone; None if forgotten."""
    profile = incoming.profile
    person: Person | None = None
    if profile and profile.email:
        person = await services.people.by_email(profile.email)
    if person is None and profile and profile.phone:
        person = await services.people.by_phone(profile.phone)
    return None if person is not None and person.forgotten_at is not None else person


def _remember_reference(account: ChannelAccount, incoming: Incoming) -> ChannelAccount:
    if (
        incoming.conversation_ref is not None
        and account.conversation_ref != incoming.conversation_ref
    ):
        account.conversation_ref = incoming.conversation_ref
    return account
