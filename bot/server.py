"""The HTTP server: health, readiness, metrics, and the channels' webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.app import Runtime
from bot.errors import StoreUnavailable, Unstorable
from bot.media_links import link_valid
from bot.metrics import OUTBOX_DEPTH
from bot.web.routes import web_routes
from storage.media import MediaError
from storage.outbox import Outbox

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)
MAX_BODY = 1024 * 1024  # webhooks never need more; bigger bodies get 413

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def store_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A database outage answers 503, so the platform retries later; a value the store
    refused (too long, out of range) answers 400. Either way nothing was written."""
    try:
        return await handler(request)
    except StoreUnavailable as exc:
        log.warning("store unavailable", extra={"route": _route(request), "error": str(exc)[:200]})
        return web.json_response({"error": "service unavailable"}, status=503)
    except Unstorable as exc:
        log.info("input refused by the store", extra={"route": _route(request), "error": str(exc)})
        return web.json_response({"error": "unusable input"}, status=400)


@web.middleware
async def unreadable_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A body aiohttp cannot parse (a form or multipart body that is not UTF-8, a charset
    that does not exist, a multipart body cut short) is the client's fault: 400, not 500.
    Only errors raised inside aiohttp's own body parsing count; the views' errors do not.
    Likewise a static file name the file system refuses is a 404."""
    try:
        return await handler(request)
    except (ValueError, LookupError, AssertionError) as exc:
        if not _raised_parsing_the_body(exc):
            raise
        log.info("unreadable request body", extra={"route": _route(request)})
        return web.json_response({"error": "unreadable request body"}, status=400)
    except OSError:
        # aiohttp's static files: a name too long for the file system ("File name too
        # long") is no file of ours.
        if not isinstance(request.match_info.route.resource, web.StaticResource):
            raise
        raise web.HTTPNotFound() from None


# Where aiohttp parses bodies: Request.post()/json()/text() and the multipart reader.
_BODY_PARSERS = {("web_request.py", "post"), ("web_request.py", "json"), ("web_request.py", "text")}


def _raised_parsing_the_body(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        path = code.co_filename.replace("\\", "/")
        if "/aiohttp/" in path:
            name = path.rsplit("/", 1)[-1]
            if name == "multipart.py" or (name, code.co_name) in _BODY_PARSERS:
                return True
        tb = tb.tb_next
    return False


def _route(request: web.Request) -> str:
    """The route, not the path: a path can hold a login or invitation token."""
    return str(getattr(request.match_info.route.resource, "canonical", "?"))


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[RUNTIME].db.ping()
    except StoreUnavailable:
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        async with runtime.db.transaction(read_only=True) as session:
            depth = await Outbox(session).depth()
        OUTBOX_DEPTH.clear()
        for channel, n in depth.items():
            OUTBOX_DEPTH.labels(channel).set(n)
    except StoreUnavailable:
        pass  # still serve the process metrics
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def media(request: web.Request) -> web.Response:
    """A media file by signed, expiring link (see bot/media_links.py); 403 otherwise."""
    runtime = request.app[RUNTIME]
    media_id = request.match_info["media_id"]
    if not media_id.isascii():
        raise web.HTTPNotFound(text="no such media")  # our ids are ASCII; never a 500
    try:
        valid = link_valid(
            runtime.settings, media_id, request.query.get("exp", ""), request.query.get("sig", "")
        )
        if not valid:
            raise web.HTTPForbidden(text="invalid or expired link")
        store = runtime.engine.media_store
        body = await asyncio.to_thread(store.read, media_id)
    except MediaError as exc:
        raise web.HTTPNotFound(text="no such media") from exc
    return web.Response(
        body=body,
        content_type=store.content_type(media_id),
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


def create_web_app(runtime: Runtime, *, background: bool = True) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY, middlewares=[unreadable_body, store_unavailable]
    )
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/media/{media_id}", media)
    for mount in runtime.mounts.values():
        app.router.add_routes(mount.routes)
    app.router.add_routes(web_routes(runtime))

    async def on_startup(_app: web.Application) -> None:
        if background:
            runtime.start_background()

    async def on_shutdown(_app: web.Application) -> None:
        # SIGTERM: the worker stops claiming now, while requests in progress finish.
        runtime.stop.set()

    async def on_cleanup(_app: web.Application) -> None:
        await runtime.close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
