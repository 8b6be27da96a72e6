"""Serving a stored photo to a logged-in browser (the caller checked who may see it)."""

from __future__ import annotations

from aiohttp import web

from bot.engine import Engine
from bot.web.render import secure
from storage.media import MediaError, MediaStore


def media_store(engine: Engine) -> MediaStore:
    """The engine's media store: the one the photo pipeline writes to."""
    return engine.media_store


def media_response(store: MediaStore, media_id: str) -> web.Response:
    try:
        body = store.read(media_id)
    except MediaError:
        raise web.HTTPNotFound() from None
    response = web.Response(body=body, content_type=store.content_type(media_id))
    secure(response)
    # A photo never changes (its name is its hash); only this browser may keep it.
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
