"""12-megapixel photos per second through the photo pipeline, and its peak memory.

The photo is a 4032×3024 JPEG (a phone's 12 MP) with EXIF (GPS, orientation) and, when
scikit-image is installed, three astronaut portraits in it (so the face search and blurring
really run); otherwise a synthetic scene. For comparison the same process measures the bare
cost of what any image service does with such a file — decode, shrink to 2,048 px, encode —
and prints the ratio: what face detection and scrubbing cost on top, largely whatever the
machine's speed. Every face put in must be found and blurred: that decides the exit status
(1 when one is missed); timing never does.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageDraw

from bot import photos

WIDTH, HEIGHT = 4032, 3024


def make_photo() -> tuple[bytes, list[tuple[int, int]]]:
    """A 12 MP JPEG with GPS EXIF; and the centre of each face in it (full-size pixels).

    With scikit-image: its coffee photo as the background and three astronaut portraits on
    it (public-domain images shipped in the package). Without: shapes on a gradient, no faces.
    """
    faces: list[tuple[int, int]] = []
    try:
        from skimage import data
    except ImportError:
        canvas = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
        draw = ImageDraw.Draw(canvas)
        for i in range(0, WIDTH, 300):
            draw.rectangle((i, 2400, i + 150, 2900), fill=(200, 120 + i % 100, 40))
    else:
        canvas = Image.fromarray(data.coffee()).resize((WIDTH, HEIGHT))
        portrait = Image.fromarray(data.astronaut()).resize((900, 900))
        for x in (200, 1500, 2800):
            canvas.paste(portrait, (x, 400))
            # Her face is at (177, 66, 95, 95) in the 512 px original.
            faces.append((x + round(224 * 900 / 512), 400 + round(113 * 900 / 512)))
    exif = Image.Exif()
    exif[0x0112] = 1
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 5.0, 30.0)
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue(), faces


def bare(data: bytes) -> int:
    """Decode, shrink to the same size, encode: the floor any image service pays."""
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((photos.MAX_SIDE, photos.MAX_SIDE))
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG", quality=photos.JPEG_QUALITY)
    return len(out.getvalue())


def rate(fn, data: bytes, count: int, threads: int) -> tuple[float, list[object]]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    if threads == 1:
        results = [fn(data) for _ in range(count)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(fn, [data] * count))
    return count / (time.perf_counter() - started), results


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12, help="photos per measurement")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()

    data, faces = make_photo()
    photos.scrub(data)  # warm-up: loads the cascades, so they do not count as per-photo memory
    before = peak_rss_mb()
    pipeline_1, results = rate(photos.scrub, data, args.photos, 1)
    peak_1 = peak_rss_mb() - before
    pipeline_n, more = rate(photos.scrub, data, args.photos, args.threads)
    peak_n = peak_rss_mb() - before
    bare_1, _ = rate(bare, data, args.photos, 1)
    # Every face put in must be found (and so blurred); an extra blur is the safe side.
    found = photos.prepare(data)
    scale = found.image.width / WIDTH
    missed = [
        (cx, cy)
        for cx, cy in faces
        if not any(
            f.x <= cx * scale <= f.x + f.w and f.y <= cy * scale <= f.y + f.h for f in found.faces
        )
    ]
    ok = not missed and all(r.blurred == len(found.faces) for r in results + more)  # type: ignore[attr-defined]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "photo": {"pixels": WIDTH * HEIGHT, "bytes": len(data), "faces": len(faces)},
        "faces_detected": len(found.faces),
        "pipeline_photos_per_s": round(pipeline_1, 2),
        f"pipeline_photos_per_s_{args.threads}_threads": round(pipeline_n, 2),
        "bare_photos_per_s": round(bare_1, 2),
        "ratio_pipeline_to_bare": round(pipeline_1 / bare_1, 3),
        "peak_rss_mb_above_start": round(peak_1, 1),
        f"peak_rss_mb_above_start_{args.threads}_threads": round(peak_n, 1),
        "faces_missed": len(missed),
        "ok": ok,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:<40} {value}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
