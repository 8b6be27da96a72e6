"""The photo pipeline: untrusted bytes in, a clean JPEG out.

Steps, each for a reason:
1. a byte cap before anything is parsed (a 20 MB limit costs nothing to check);
2. Pillow opens only the formats we expect (`formats=[…]`), with a lowered pixel limit and
   DecompressionBombWarning raised as an error — a tiny PNG can declare gigapixels;
3. HEIC (iPhones) is recognised by its `ftyp` brand and refused with a clear message, since
   no HEIF decoder is installed;
4. the cost is bounded by pixels, not bytes: from the header alone (Pillow opens lazily) a
   file is refused if decoding it would cost too much, a JPEG is decoded at a reduced scale
   (`draft`), and a large picture is shrunk (long side 2,048 px) straight after decoding;
   `inspect` runs these checks without decoding, so an upload can be refused before it is kept;
5. the EXIF orientation is applied, then the picture is rebuilt from raw pixels: that drops
   EXIF (GPS above all), XMP, ICC profiles and comments;
6. faces are found with OpenCV's Haar cascades (frontal, and profile both ways) and, where
   consent is missing, blurred beyond recognition with a margin around each face.

Everything here is synchronous and CPU-bound: callers in async code use asyncio.to_thread.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFile, ImageFilter, ImageFont

from bot.errors import UserError

if TYPE_CHECKING:  # imported where used: OpenCV and numpy add ~0.2 s to every CLI start
    import cv2
    import numpy as np

MAX_BYTES = 20 * 1024 * 1024
MAX_SIDE = 2048
# The size a file may declare: 40 megapixels, more than any phone's default mode (Pillow's own
# default is ~89 MP). A JPEG this large still decodes cheaply, at a reduced scale (`draft`).
MAX_PIXELS = 40_000_000
# The pixels that may actually be decoded: a JPEG after `draft`, a PNG or WebP in full (they
# cannot decode at a smaller scale). 9.5 MP holds a 4K screenshot (8.3 MP), a phone's (~4 MP)
# and any JPEG up to MAX_PIXELS once drafted (at most 3,071² px), and costs at most ~0.3 s and
# ~120 MB; a 40 MP PNG of 5 KB cost 1.5 s and 0.5 GB before it was refused.
MAX_DECODE_PIXELS = 9_500_000
# Images decoded at the same time, per process: with MAX_DECODE_PIXELS this bounds the memory
# that decoding can take, however many photos arrive at once.
DECODE_SLOTS = 2
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")  # JPEG includes multi-picture (MPO) files
JPEG_FORMATS = ("JPEG", "MPO")
CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
CONTENT_TYPES["WEBP"] = "image/webp"
ORIENTATION = 0x0112
JPEG_QUALITY = 85
DETECT_SIDE = 1024  # faces are searched on a copy this size: fast, and enough for the cascades
FACE_MARGIN = 0.25  # of the face size, on every side (hair, ears, chin)

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Register every plugin now: `formats=[…]` names WEBP, which Pillow loads lazily.
Image.init()

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1"}
_HEIF_BRANDS |= {b"msf1"}
# EXIF orientation → the transposition that makes the picture upright (as ImageOps does).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_decoding = threading.BoundedSemaphore(DECODE_SLOTS)


class PhotoRefused(UserError):
    """A file the pipeline will not take; `key` is the catalogue text that says why."""


@dataclass(frozen=True, slots=True)
class Face:
    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True, slots=True)
class Header:
    """What a file's header says: its format, the content type that goes with it, its size."""

    format: str
    content_type: str
    width: int
    height: int


@dataclass(slots=True)
class Prepared:
    """A decoded photo: upright, at most MAX_SIDE, no metadata, with the faces found in it."""

    image: Image.Image
    faces: list[Face]


@dataclass(frozen=True, slots=True)
class Scrubbed:
    jpeg: bytes
    width: int
    height: int
    faces: int
    blurred: int


def is_heif(data: bytes) -> bool:
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


@contextmanager
def _refusals() -> Iterator[None]:
    """Pillow's complaints as PhotoRefused, its bomb warning raised as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except PhotoRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRefused("photo.too_many_pixels") from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            # UnidentifiedImageError is an OSError; truncated or corrupt files raise the others.
            raise PhotoRefused("photo.not_an_image") from exc


def _open(data: bytes, max_bytes: int) -> ImageFile.ImageFile:
    """The file opened lazily: Pillow has read the header (format, size), not the pixels."""
    if len(data) > max_bytes:
        raise PhotoRefused("photo.too_large", max_mb=max_bytes // (1024 * 1024))
    if is_heif(data):
        raise PhotoRefused("photo.heic")
    im = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise PhotoRefused("photo.too_many_pixels")
    return im


def _plan(im: ImageFile.ImageFile, max_side: int) -> None:
    """Decide how the pixels will be decoded, and refuse before a pixel is decoded if that
    costs too much. A JPEG decodes at 1/2, 1/4 or 1/8 scale directly (several times faster and
    smaller for phone photos); asking for 3/4 of the limit lets a 4032 px photo decode at half
    scale (2016 px) instead of in full. PNG and WebP can only decode in full, so their declared
    size is what they cost."""
    if im.format in JPEG_FORMATS and max(im.size) > max_side:
        ratio = 0.75 * max_side / max(im.size)
        im.draft("RGB", (math.ceil(im.width * ratio), math.ceil(im.height * ratio)))
    if im.width * im.height > MAX_DECODE_PIXELS:
        raise PhotoRefused("photo.too_many_pixels")


def inspect(data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> Header:
    """Every limit `decode` applies that the header alone can tell, without decoding a pixel:
    cheap enough to refuse an upload before anything of it is kept."""
    with _refusals(), _open(data, max_bytes) as im:
        fmt, (width, height) = str(im.format), im.size
        _plan(im, max_side)
    return Header(fmt, CONTENT_TYPES[fmt], width, height)


def decode(data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> Image.Image:
    """Untrusted bytes → an upright RGB image without any metadata, long side ≤ max_side.

    The cost is bounded by pixels, not bytes: the header is checked before decoding
    (`_plan`), at most DECODE_SLOTS images are decoded at once, and a large image is shrunk
    right after decoding, before any conversion copies it.
    """
    with _refusals(), _open(data, max_bytes) as im:
        _plan(im, max_side)
        with _decoding:
            im.load()
            orientation = im.getexif().get(ORIENTATION, 1)
            work = _resamplable(im)
            if max(work.size) > max_side:
                work.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
            method = _TRANSPOSE.get(orientation)
            upright = work.transpose(method) if method is not None else work
            rgb = _to_rgb(upright)
    # Rebuild from raw pixels: nothing of the file's metadata can survive this.
    return Image.frombytes("RGB", rgb.size, rgb.tobytes())


def _resamplable(im: Image.Image) -> Image.Image:
    """A mode Pillow resizes smoothly (a palette or 1-bit image only by nearest neighbour)."""
    if im.mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if im.mode == "1":
        return im.convert("L")
    if im.mode == "PA" or (im.mode == "P" and "transparency" in im.info):
        return im.convert("RGBA")
    return im.convert("RGB")


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


_local = threading.local()


def _cascades() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
    """One pair per thread: a CascadeClassifier is not safe to share between threads."""
    import cv2

    pair = getattr(_local, "cascades", None)
    if pair is None:
        base = cv2.data.haarcascades  # type: ignore[attr-defined]
        frontal = cv2.CascadeClassifier(base + "haarcascade_frontalface_default.xml")
        profile = cv2.CascadeClassifier(base + "haarcascade_profileface.xml")
        if frontal.empty() or profile.empty():
            raise RuntimeError("OpenCV Haar cascades missing (opencv-python-headless 4.x needed)")
        pair = (frontal, profile)
        _local.cascades = pair
    return pair


def detect_faces(image: Image.Image) -> list[Face]:
    """Faces in an RGB image: frontal, and profile looking either way, merged, sorted
    left to right (so numbers in a preview read naturally)."""
    import cv2
    import numpy as np

    scale = min(1.0, DETECT_SIDE / max(image.size))
    small = (
        image
        if scale == 1.0
        else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.BILINEAR,
        )
    )
    gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY))
    min_side = max(20, round(min(gray.shape) * 0.04))
    frontal, profile = _cascades()
    size = (min_side, min_side)

    def detect(cascade: cv2.CascadeClassifier, image: np.ndarray) -> list[tuple[int, ...]]:
        hits = cascade.detectMultiScale(image, scaleFactor=1.1, minNeighbors=5, minSize=size)
        return [tuple(int(v) for v in hit) for hit in hits]

    found = detect(frontal, gray) + detect(profile, gray)
    width = gray.shape[1]
    found += [(width - x - w, y, w, h) for x, y, w, h in detect(profile, cv2.flip(gray, 1))]
    merged = _merge([(x, y, w, h) for x, y, w, h in found])
    faces = [
        Face(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
        for x, y, w, h in merged
    ]
    return sorted(faces, key=lambda f: (f.x, f.y))


def _merge(rects: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """One rectangle per face: frontal and profile hits on the same face overlap."""
    out: list[tuple[int, int, int, int]] = []
    for rect in sorted(rects, key=lambda r: -r[2] * r[3]):
        if all(_overlap(rect, kept) < 0.3 for kept in out):
            out.append(rect)
    return out


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller area."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3]) or 1
    return ix * iy / smaller


def face_box(face: Face, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The face with its margin, clipped to the image: (left, top, right, bottom)."""
    mx, my = round(face.w * FACE_MARGIN), round(face.h * FACE_MARGIN)
    return (
        max(0, face.x - mx),
        max(0, face.y - my),
        min(size[0], face.x + face.w + mx),
        min(size[1], face.y + face.h + my),
    )


def blur_faces(
    image: Image.Image, faces: Sequence[Face], keep: Collection[int] = ()
) -> tuple[Image.Image, int]:
    """A copy with every face blurred except the 0-based indexes in `keep`; and how many.

    Beyond recognition: the region is reduced to a few blocks, enlarged again and blurred
    hard, so no feature survives (a plain light blur can be partly undone).
    """
    out = image.copy()
    blurred = 0
    for index, face in enumerate(faces):
        if index in keep:
            continue
        blurred += blur_box(out, face_box(face, out.size))
    return out, blurred


def blur_box(out: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """Blur (left, top, right, bottom) of `out` in place, beyond recognition; False if tiny."""
    width, height = box[2] - box[0], box[3] - box[1]
    if width < 2 or height < 2:
        return False
    region = out.crop(box)
    tiny = region.resize((max(1, width // 24), max(1, height // 24)), Image.Resampling.BOX)
    coarse = tiny.resize((width, height), Image.Resampling.BILINEAR)
    out.paste(coarse.filter(ImageFilter.GaussianBlur(max(2, min(width, height) // 8))), box)
    return True


def numbered_preview(image: Image.Image, faces: Sequence[Face], first: int = 1) -> Image.Image:
    """The photo with a numbered frame around each face, so the reporter can say who agreed."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    line = max(3, max(out.size) // 300)
    size = max(18, max(out.size) // 25)
    font = ImageFont.load_default(size)
    for number, face in enumerate(faces, start=first):
        left, top, right, bottom = face_box(face, out.size)
        draw.rectangle((left, top, right, bottom), outline=(255, 214, 0), width=line)
        label = str(number)
        text_box = draw.textbbox((0, 0), label, font=font)
        tw, th = text_box[2] - text_box[0], text_box[3] - text_box[1]
        y = max(0, top - th - 3 * line)
        draw.rectangle((left, y, left + tw + 4 * line, y + th + 3 * line), fill=(255, 214, 0))
        draw.text((left + 2 * line, y + line), label, fill=(0, 0, 0), font=font)
    return out


def encode_jpeg(image: Image.Image) -> bytes:
    """JPEG with no EXIF, ICC profile or comment: only the pixels."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def prepare(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE, find_faces: bool = True
) -> Prepared:
    image = decode(data, max_bytes=max_bytes, max_side=max_side)
    return Prepared(image, detect_faces(image) if find_faces else [])


def finish(prepared: Prepared, keep: Collection[int] = ()) -> Scrubbed:
    """Blur every face not in `keep` (0-based) and encode."""
    image, blurred = blur_faces(prepared.image, prepared.faces, keep)
    return Scrubbed(encode_jpeg(image), image.width, image.height, len(prepared.faces), blurred)


def scrub(
    data: bytes, *, blur: bool = True, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE
) -> Scrubbed:
    """The whole pipeline on one file: what `achterban photo scrub` runs."""
    prepared = prepare(data, max_bytes=max_bytes, max_side=max_side, find_faces=blur)
    return finish(prepared)
