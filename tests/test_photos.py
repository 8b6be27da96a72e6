"""The photo pipeline and the media store, on images made here and on scikit-image's
astronaut (a NASA portrait in the public domain, shipped inside the scikit-image wheel)."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile
from skimage import data as skdata

from bot import photos
from storage.media import ORIGINAL, PROCESSED, MediaError, MediaStore

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def scene(width: int = 320, height: int = 240, seed: int = 1) -> Image.Image:
    """A picture with no face: shapes on a gradient, so blurring would show."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)
    base = np.stack([np.tile(x, (height, 1))] * 3, axis=-1)
    base[..., 1] = base[..., 1][::-1]
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.rectangle((x0, y0, x0 + 20, y0 + 12), fill=color)
    return image


def with_gps(image: Image.Image, orientation: int = 1) -> bytes:
    """A JPEG carrying GPS coordinates, an orientation, a comment and an ICC profile."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "SecretCam"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 5.0, 30.0)
    gps[3], gps[4] = "E", (4.0, 53.0, 10.0)
    icc = b"\x00" * 128  # the bytes do not matter: a scrubbed file must not carry them
    return encode(image, exif=exif, comment=b"secret comment", icc_profile=icc)


def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


def astronaut_jpeg() -> bytes:
    return encode(astronaut(), quality=95)


def two_faces_jpeg() -> bytes:
    """Two copies of the astronaut side by side: two faces, numbered left to right."""
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(astronaut(), (0, 0))
    canvas.paste(astronaut(), (512, 0))
    return encode(canvas, quality=95)


def arr(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def detail(region: np.ndarray) -> float:
    """High-frequency energy: variance of the Laplacian of the grey image."""
    gray = cv2.cvtColor(region.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def test_gps_exif_comment_and_icc_are_gone() -> None:
    raw = with_gps(scene())
    assert b"SecretCam" in raw and b"secret comment" in raw  # the input really has them
    out = photos.scrub(raw, blur=False)
    image = Image.open(io.BytesIO(out.jpeg))
    assert image.format == "JPEG" and len(image.getexif()) == 0
    assert not {"exif", "icc_profile", "comment", "xmp", "dpi"} & set(image.info)
    for needle in (b"Exif", b"SecretCam", b"secret comment", b"ICC_PROFILE", b"http://ns.adobe"):
        assert needle not in out.jpeg


def test_orientation_is_applied_before_metadata_is_dropped() -> None:
    # Left half red, right half blue; orientation 6 means "rotate 90° clockwise to view".
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    image.paste((0, 0, 255), (100, 0, 200, 100))
    out = photos.scrub(with_gps(image, orientation=6), blur=False)
    upright = Image.open(io.BytesIO(out.jpeg)).convert("RGB")
    assert upright.size == (100, 200)
    top, bottom = upright.getpixel((50, 20)), upright.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60  # red is on top once rotated clockwise
    assert bottom[2] > 200 and bottom[0] < 60


def test_long_side_is_limited_and_transparency_flattened() -> None:
    wide = photos.scrub(encode(scene(3000, 1000)), blur=False)
    assert (wide.width, wide.height) == (2048, 683)
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    flat = photos.scrub(encode(rgba, "PNG"), blur=False)
    assert Image.open(io.BytesIO(flat.jpeg)).convert("RGB").getpixel((5, 5)) == (255, 255, 255)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that declares a huge size: what a decompression bomb looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (png_header_only(50_000, 50_000), "photo.too_many_pixels"),  # above Pillow's error line
        (png_header_only(8_000, 6_000), "photo.too_many_pixels"),  # 48 MP: our lower limit
        (b"%PDF-1.7\n" + b"x" * 100, "photo.not_an_image"),
        (b"GIF89a" + b"\0" * 100, "photo.not_an_image"),  # a real format, not one we accept
        (encode(scene())[:400], "photo.not_an_image"),  # truncated
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64, "photo.heic"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data: bytes, key: str) -> None:
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.scrub(data)
    assert refused.value.key == key


def test_byte_cap_is_checked_before_parsing() -> None:
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.scrub(b"\xff\xd8\xff" + b"\0" * 2048, max_bytes=1024)
    assert refused.value.key == "photo.too_large" and refused.value.params == {"max_mb": 0}


def test_a_real_face_is_found_and_blurred_beyond_recognition() -> None:
    raw = astronaut_jpeg()
    prepared = photos.prepare(raw)
    assert len(prepared.faces) == 1
    face = prepared.faces[0]
    assert 150 < face.x < 210 and 40 < face.y < 100 and 70 < face.w < 130  # her face
    out = photos.finish(prepared)
    assert (out.faces, out.blurred) == (1, 1)
    before, after = arr(prepared.image), arr(Image.open(io.BytesIO(out.jpeg)))
    x0, y0, x1, y1 = photos.face_box(face, prepared.image.size)
    inner = (slice(face.y, face.y + face.h), slice(face.x, face.x + face.w))
    assert detail(after[inner]) < 0.05 * detail(before[inner])  # the detail is gone
    assert np.abs(after[inner] - before[inner]).mean() > 12
    outside = np.ones(before.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert np.abs(after[outside] - before[outside]).mean() < 3  # the rest: JPEG noise only
    assert photos.detect_faces(Image.open(io.BytesIO(out.jpeg)).convert("RGB")) == []


def test_an_image_without_faces_is_left_nearly_unchanged() -> None:
    coffee = Image.fromarray(skdata.coffee())
    out = photos.scrub(encode(coffee, quality=95))
    assert (out.faces, out.blurred) == (0, 0)
    error = arr(Image.open(io.BytesIO(out.jpeg))) - arr(coffee)
    psnr = 10 * np.log10(255**2 / float(np.mean(error**2)))
    assert psnr > 32 and np.abs(error).mean() < 5  # JPEG re-encoding only, nothing blurred


def test_consent_keeps_chosen_faces_and_preview_numbers_them() -> None:
    prepared = photos.prepare(two_faces_jpeg())
    assert len(prepared.faces) == 2 and prepared.faces[0].x < prepared.faces[1].x
    kept, blurred = photos.blur_faces(prepared.image, prepared.faces, keep={1})
    assert blurred == 1
    left, right = prepared.faces
    a, b = arr(prepared.image), arr(kept)
    box = lambda f: (slice(f.y, f.y + f.h), slice(f.x, f.x + f.w))  # noqa: E731
    assert detail(b[box(left)]) < 0.05 * detail(a[box(left)])
    assert np.array_equal(a[box(right)], b[box(right)])
    preview = arr(photos.numbered_preview(prepared.image, prepared.faces))
    changed = np.abs(preview - a).sum(axis=-1) > 0
    x0, y0, x1, y1 = photos.face_box(left, prepared.image.size)
    assert (
        changed[:, x0 : x0 + 5].any() and changed[y0 + 20 : y1 - 20, x0 + 20 : x1 - 20].sum() == 0
    )
    assert not changed[:, 300:500].any()  # nothing drawn between the two faces


def test_media_store_names_files_by_content_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    now = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    first = store.put(b"photo bytes", ORIGINAL, now=now)
    assert first == store.put(b"photo bytes", ORIGINAL, now=now)
    assert first.startswith("o-") and len(first) == 66
    processed = store.put(b"photo bytes", PROCESSED, now=now)
    assert processed[2:] == first[2:] and store.path(processed) != store.path(first)
    assert store.read(first) == b"photo bytes"
    assert store.path(first).stat().st_mtime == datetime(2026, 11, 25, tzinfo=UTC).timestamp()
    for bad in ("../../etc/passwd", "o-" + "0" * 63, "x-" + "0" * 64, "o-" + "G" * 64):
        with pytest.raises(MediaError):
            store.path(bad)
    kept = store.put(b"kept", ORIGINAL, now=now)
    later = now + timedelta(days=3)
    assert store.purge(ORIGINAL, timedelta(days=1), later, keep={kept}) == 1
    assert not store.exists(first) and store.exists(kept) and store.exists(processed)
    assert store.purge(ORIGINAL, timedelta(days=5), later, keep=()) == 0


def bomb_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG of `width` × `height` black pixels: a few KB of bytes (its
    rows compress to nothing) that cost width × height pixels to decode."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    idat = zlib.compress(row * height, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to decode pixels fails the test."""

    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"decoded a {self.format} of {self.size}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_a_tiny_png_of_40_megapixels_is_refused_before_decoding(no_decoding: None) -> None:
    data = bomb_png(6320, 6320)
    assert len(data) < 8_000  # the finding: a 5 KB file that cost 1.5 s and 0.5 GB to decode
    for check in (photos.scrub, photos.decode, photos.inspect):
        started = time.process_time()
        with pytest.raises(photos.PhotoRefused) as refused:
            check(data)
        assert refused.value.key == "photo.too_many_pixels"
        assert time.process_time() - started < 0.2


def test_refusing_a_bomb_takes_no_memory_worth_the_name() -> None:
    """Measured in a fresh process: Pillow allocates pixels outside Python's allocator, so
    only the process's peak resident size shows what decoding would have cost (~0.3 GB)."""
    script = (
        "import resource, sys\n"
        "from bot import photos\n"
        "data = sys.stdin.buffer.read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    photos.decode(data)\n"
        "except photos.PhotoRefused as exc:\n"
        "    print(exc.key, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=bomb_png(6320, 6320),
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    key, grown_kb = done.stdout.decode().split()
    assert key == "photo.too_many_pixels" and int(grown_kb) < 20 * 1024


def test_a_large_jpeg_decodes_at_a_reduced_scale() -> None:
    """35 MP is more than may be decoded in full, but a JPEG decodes at 1/4 scale directly."""
    big = encode(scene(7000, 5000), quality=80)
    header = photos.inspect(big)
    assert (header.format, header.content_type, header.width, header.height) == (
        "JPEG",
        "image/jpeg",
        7000,
        5000,
    )
    image = photos.decode(big)
    assert max(image.size) <= photos.MAX_SIDE and image.size == (1750, 1250)


def test_a_png_above_the_decode_budget_is_refused_below_it_shrunk(no_decoding: None) -> None:
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.inspect(bomb_png(3100, 3100))  # 9.6 MP: no PNG decodes at a smaller scale
    assert refused.value.key == "photo.too_many_pixels"
    header = photos.inspect(bomb_png(3000, 3000))
    assert (header.format, header.content_type) == ("PNG", "image/png")


def test_a_large_bilevel_png_is_shrunk_smoothly() -> None:
    image = photos.decode(bomb_png(3000, 1500))
    assert image.mode == "RGB" and image.size == (2048, 1024)
    assert image.getpixel((10, 10)) == (0, 0, 0)


def test_at_most_decode_slots_images_decode_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    busy, most, lock = 0, 0, threading.Lock()
    real_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        nonlocal busy, most
        with lock:
            busy += 1
            most = max(most, busy)
        time.sleep(0.05)
        with lock:
            busy -= 1
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    data = encode(scene(64, 48))
    with ThreadPoolExecutor(6) as pool:
        assert len(list(pool.map(lambda _: photos.decode(data), range(6)))) == 6
    assert most == photos.DECODE_SLOTS
