"""`achterban whatsapp quick-replies`: create the quick-reply templates in Twilio's Content API.

With them (and ACHTERBAN_WHATSAPP_QUICK_REPLIES=1), polls of up to three short choices arrive
on WhatsApp as buttons instead of a numbered list.
"""

from __future__ import annotations

import json

import typer

from bot.cli.common import Format, err, fail, print_json, run, settings

whatsapp_app = typer.Typer(help="WhatsApp: quick-reply templates.", no_args_is_help=True)


@whatsapp_app.callback()
def whatsapp_group() -> None:
    """WhatsApp through Twilio (a group, so the command reads the same on its own and under
    `achterban`)."""


@whatsapp_app.command("quick-replies")
def quick_replies(
    language: str = typer.Option("nl", "--language", help="the templates' language code"),
    fmt: Format | None = typer.Option(None, "--format", help="json: the Content SIDs"),
) -> None:
    """Create quick-reply contents for 1, 2 and 3 buttons and print the settings to use."""
    from twilio.base.exceptions import TwilioException

    from adapters.whatsapp import RateLimited, WhatsAppAdapter, describe
    from adapters.whatsapp_content import create_quick_reply_contents
    from bot.errors import ConfigError

    cfg = settings()
    try:
        adapter = WhatsAppAdapter(cfg)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc

    async def go() -> dict[int, str]:
        try:
            return await create_quick_reply_contents(adapter, language)
        finally:
            await adapter.close()

    try:
        sids = run(go())
    except RateLimited as exc:
        raise fail("Twilio is rate limiting; try again later.") from exc
    except TwilioException as exc:
        raise fail(f"Twilio refused the content: {describe(exc)[0]}") from exc
    by_buttons = {str(n): sid for n, sid in sids.items()}
    if fmt is Format.json:
        print_json(by_buttons)
    else:
        typer.echo("ACHTERBAN_WHATSAPP_QUICK_REPLIES=1")
        typer.echo(f"ACHTERBAN_WHATSAPP_QUICK_REPLY_SIDS='{json.dumps(by_buttons)}'")
    err.print(f"Created {len(sids)} quick-reply contents; set the settings above and restart.")
