"""The photos benchmarks (and tests) use: the real camera photos beside the clone when they are there, and
photo-like synthetic ones made on the spot otherwise."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw

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
