"""`achterban photo scrub IN OUT`: the report pipeline on a file, for OR members who want to
post a photo elsewhere — metadata (GPS!) gone, orientation applied, faces blurred."""

from __future__ import annotations

from pathlib import Path

import typer

from bot import photos
from bot.cli.common import Format, err, fail, print_json, settings
from bot.i18n import t

photo_app = typer.Typer(help="Photos: scrub metadata and blur faces.", no_args_is_help=True)


@photo_app.command("scrub")
def photo_scrub(
    source: Path = typer.Argument(..., metavar="IN", exists=True, dir_okay=False, readable=True),
    target: Path = typer.Argument(..., metavar="OUT", dir_okay=False),
    no_blur: bool = typer.Option(False, "--no-blur", help="Keep faces (everyone agreed)."),
    fmt: Format | None = typer.Option(None, "--format", help="json: what was done"),
) -> None:
    """Write OUT: a JPEG with no metadata, upright, long side ≤ 2048 px, faces blurred."""
    cfg = settings()
    size = source.stat().st_size
    if size > cfg.media_max_bytes:
        raise fail(t(cfg.locale, "photo.too_large", max_mb=cfg.media_max_bytes // 2**20), 1)
    try:
        done = photos.scrub(source.read_bytes(), blur=not no_blur, max_bytes=cfg.media_max_bytes)
    except photos.PhotoRefused as exc:
        raise fail(f"{source}: {t(cfg.locale, exc.key, **exc.params)}", 1) from exc
    target.write_bytes(done.jpeg)
    result = {
        "out": str(target),
        "width": done.width,
        "height": done.height,
        "faces": done.faces,
        "blurred": done.blurred,
        "bytes": len(done.jpeg),
    }
    if fmt is Format.json:
        print_json(result)
    what = f"{done.blurred} of {done.faces} faces blurred" if not no_blur else "faces kept"
    err.print(f"{target}: {done.width}×{done.height}, metadata removed, {what}.")
