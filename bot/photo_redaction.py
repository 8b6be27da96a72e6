"""Manual redaction on the dashboard: a moderator's rectangles blurred on the original, and
which faces of an original the processed photo has blurred already (bot/photos.py does the
pipeline itself)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageFilter

from bot.photos import (
    MAX_BYTES,
    Face,
    Scrubbed,
    blur_box,
    decode,
    detect_faces,
    encode_jpeg,
    face_box,
)

# Manual redaction (the dashboard): a moderator's rectangles, in pixels of the processed photo,
# which has the size `decode` gives the original. A small margin, as for faces, so that the
# edge of a hand-drawn rectangle never leaves a recognisable sliver.
REGION_MARGIN = 0.05
REGION_MARGIN_MIN = 2
# A region whose detail fell below this share of the original's counts as blurred.
BLURRED_DETAIL = 0.35


def region_box(region: Face, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A rectangle with its small margin, clipped to the image: (left, top, right, bottom)."""
    mx = max(REGION_MARGIN_MIN, round(region.w * REGION_MARGIN))
    my = max(REGION_MARGIN_MIN, round(region.h * REGION_MARGIN))
    return (
        max(0, region.x - mx),
        max(0, region.y - my),
        min(size[0], region.x + region.w + mx),
        min(size[1], region.y + region.h + my),
    )


def blur_regions(image: Image.Image, regions: Sequence[Face]) -> tuple[Image.Image, int]:
    """A copy with every rectangle blurred as hard as a face; and how many were blurred."""
    out = image.copy()
    blurred = sum(blur_box(out, region_box(region, out.size)) for region in regions)
    return out, blurred


def redact(data: bytes, regions: Sequence[Face], *, max_bytes: int = MAX_BYTES) -> Scrubbed:
    """The original again through the pipeline (metadata dropped, long side limited), with
    exactly `regions` blurred: removing a rectangle brings the unblurred pixels back, which
    only the original still has."""
    image = decode(data, max_bytes=max_bytes)
    out, blurred = blur_regions(image, regions)
    return Scrubbed(encode_jpeg(out), out.width, out.height, 0, blurred)


def _detail(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Mean fine detail in a box: how far pixels stand from a lightly blurred copy."""
    from PIL import ImageChops, ImageStat

    region = image.crop(box).convert("L")
    smooth = region.filter(ImageFilter.GaussianBlur(2))
    return float(ImageStat.Stat(ImageChops.difference(region, smooth)).mean[0])


def blurred_face_regions(
    original: bytes, processed: bytes, *, max_bytes: int = MAX_BYTES
) -> list[Face]:
    """The faces of the original that the processed photo has blurred, as rectangles (with
    their margin) in the processed photo's pixels. Reports do not store which faces had
    consent, so this reads it back from the pixels; on any doubt a face counts as blurred."""
    image = decode(original, max_bytes=max_bytes)
    with Image.open(io.BytesIO(processed), formats=["JPEG"]) as im:
        done = im.convert("RGB")
    found = []
    for face in detect_faces(image):
        left, top, right, bottom = face_box(face, image.size)
        kept = (
            done.size == image.size
            and (before := _detail(image, (left, top, right, bottom))) > 1.0
            and _detail(done, (left, top, right, bottom)) >= BLURRED_DETAIL * before
        )
        if not kept:
            found.append(Face(left, top, right - left, bottom - top))
    return found
