"""The photos benchmarks (and tests) use: the real camera photos beside the clone when they are there, and
photo-like synthetic ones made on the spot otherwise."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance

# Real camera photos are not part of the repository: benchmarks and tests use them when they are there, from
# ../shared/photos beside the clone or the folder TAGGING_PHOTOS names, and do without them otherwise.
PHOTOS = Path(os.environ.get("TAGGING_PHOTOS") or Path(__file__).resolve().parents[2] / "shared" / "photos")
NO_PHOTOS = f"real photos not found at {PHOTOS} (set TAGGING_PHOTOS to a folder of JPEG photos)"


def save(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def scene(size: tuple[int, int] = (1024, 768), seed: int = 7) -> Image.Image:
    """A photo-like picture: a lit background, shapes with crisp edges, fine texture and some text-like lines."""
    rng = random.Random(seed)
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 20, width // 4), rng.randrange(height // 20, height // 4)
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=color, outline=(0, 0, 0), width=2)
    for row in range(0, height, max(4, height // 40)):
        draw.line((0, row, width // 3, row), fill=(20, 20, 20), width=1)
    texture = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(image, texture, 0.15)


def variants(image: Image.Image) -> dict[str, bytes]:
    """What really happens to a photo, each as the file it becomes: resized, recompressed, re-encoded, cropped by a
    few percent, brightened or darkened, stored turned with the EXIF tag that turns it back."""
    width, height = image.size
    half = image.resize((width // 2, height // 2), Image.Resampling.LANCZOS)
    turned = Image.Exif()
    turned[0x0112] = 6  # stored turned a quarter, shown upright
    crop = (int(width * 0.02), int(height * 0.02), int(width * 0.98), int(height * 0.98))
    return {
        "half": save(half, "JPEG", quality=90),
        "quarter": save(image.resize((width // 4, height // 4), Image.Resampling.LANCZOS), "JPEG", quality=90),
        "jpeg-60": save(half, "JPEG", quality=60),
        "jpeg-95": save(half, "JPEG", quality=95),
        "png": save(half, "PNG"),
        "webp": save(half, "WEBP"),
        "crop-2%-a-side": save(image.crop(crop), "JPEG", quality=90),
        "crop-3%-one-side": save(image.crop((0, 0, int(width * 0.97), height)), "JPEG", quality=90),
        "brighter-10%": save(ImageEnhance.Brightness(half).enhance(1.1), "JPEG", quality=90),
        "darker-10%": save(ImageEnhance.Brightness(half).enhance(0.9), "JPEG", quality=90),
        "exif-rotated": save(half.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=turned.tobytes()),
    }
