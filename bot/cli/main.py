"""The `achterban` command. Platform SDKs are imported only by the commands that use them."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import typer

from bot.cli.common import (
    database,
    err,
    fail,
    fast_event_loop,
    prepare_database,
    print_json,
    run,
    settings,
    settle_garbage_collector,
)
from bot.cli.lazy import LazyGroup
from bot.errors import ConfigError

app = typer.Typer(
    help="achterban: the works council's chat bot (Teams, Slack, WhatsApp, web, terminal).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,  # the sub-apps (bot/cli/lazy.py) are imported when run
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to ACHTERBAN_DATABASE_URL."""
    from storage.migrate import upgrade

    cfg = settings()
    upgrade(cfg.db_url)
    err.print("Database schema is up to date.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Only serve HTTP; run `achterban worker` processes to deliver."
    ),
    reuse_port: bool = typer.Option(
        False,
        "--reuse-port",
        help="Share the port with other `serve` processes (SO_REUSEPORT, Linux): one per CPU.",
    ),
) -> None:
    """Run the HTTP server (webhooks, health, metrics) with the delivery worker and scheduler."""
    from aiohttp import web

    from bot.app import build_runtime
    from bot.logs import setup_logging
    from bot.server import create_web_app

    cfg = settings()
    try:
        cfg.check()
        _ = cfg.secret
    except Exception as exc:
        raise fail(str(exc), 2) from exc
    prepare_database(cfg)
    setup_logging(secret=cfg.secret)
    try:
        runtime = build_runtime(cfg)
    except ConfigError as exc:
        raise fail(str(exc), 2) from exc
    base = f"http://{host}:{port}"
    err.print(f"achterban serving on {base}  (database: {cfg.db_url.split('://')[0]})")
    for channel, note in runtime.channel_notes.items():
        err.print(f"  {channel:<9} {note}")
    err.print(f"  health    {base}/healthz   metrics {base}/metrics")
    err.print(f"  worker    {'off (--no-worker)' if no_worker else 'on'}")
    err.print(f"  web chat  {base}/chat   (invite: achterban web invite EMAIL)")
    err.print(f"  admin     {base}/admin  (link: achterban admin login-link EMAIL)")
    err.print("  terminal  achterban chat --as EMAIL")
    web_app = create_web_app(runtime, background=not no_worker)
    settle_garbage_collector()
    web.run_app(
        web_app,
        host=host,
        port=port,
        print=None,
        access_log=None,
        reuse_port=reuse_port or None,
        loop=fast_event_loop(),
        # SIGTERM: stop listening, let requests in progress finish for this long, then the
        # worker finishes or gives back what it holds (Runtime.close): out within 10 s.
        shutdown_timeout=2.0,
    )


@app.command()
def worker() -> None:
    """Deliver outbox messages and run the scheduler (no HTTP)."""
    from bot.app import build_runtime
    from bot.logs import setup_logging

    cfg = settings()
    try:
        cfg.check()
    except Exception as exc:
        raise fail(str(exc), 2) from exc
    prepare_database(cfg)
    setup_logging(secret=cfg.secret)

    async def go() -> None:
        try:
            runtime = build_runtime(cfg)
        except ConfigError as exc:
            raise fail(str(exc), 2) from exc
        for channel, note in runtime.channel_notes.items():
            err.print(f"  {channel:<9} {note}")
        settle_garbage_collector()
        # SIGTERM and SIGINT stop it the graceful way: no more claims, sends in flight
        # finish, what has not left goes back to the outbox (bot/delivery.py).
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runtime.stop.set)
        runtime.start_background()
        try:
            await runtime.stop.wait()
        finally:
            await runtime.close()

    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=fast_event_loop) as r:
        r.run(go())


@app.command()
def demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when people exist."),
    fmt: str | None = typer.Option(None, "--format", help="json: print what was created"),
) -> None:
    """Seed a demo organisation: 40 people, 4 departments, OR members, one open poll."""
    from bot.app import new_engine
    from bot.demo import roster_is_empty, seed_demo

    cfg = settings()
    prepare_database(cfg)

    async def go() -> dict[str, object] | None:
        async with database(cfg) as db, db.transaction() as session:
            services = new_engine(db, cfg).services(session)
            if not await roster_is_empty(services):
                if if_empty:
                    return None
                raise fail("The roster is not empty; the demo only seeds an empty database.")
            return await seed_demo(services)

    result = run(go())
    if result is None:
        err.print("Demo data already present.")
        return
    if fmt == "json":
        print_json(result)
    err.print(
        f"Demo organisation created: {result['people']} people, poll {result['poll_id']} open.\n"
        f"  OR member: achterban chat --as {result['or_member']}\n"
        f"  employee:  achterban chat --as {result['employee']}"
    )


@app.command("chat")
def chat_command(
    as_: str = typer.Option(..., "--as", metavar="EMAIL", help="Chat as this person."),
) -> None:
    """Talk to the bot in this terminal as EMAIL (the terminal channel)."""
    from bot.cli.chat import chat

    cfg = settings()
    prepare_database(cfg)
    with contextlib.suppress(KeyboardInterrupt):
        run(chat(cfg, as_))


if __name__ == "__main__":
    app()
