"""The content classifier's input, made from the image the analysis decoded already: never a second decode.

EfficientNet-Lite was evaluated on a centre crop of S / (S + 32) of the short side, resized bicubically to S x S,
with RGB scaled as (x - 127) / 128 (tensorflow/tpu, models/official/efficientnet: `CROP_PADDING`, and the Lite
models' `MEAN_RGB` 127 and `STDDEV_RGB` 128). tools/labels/export_model.py computes the same from the full-size
image in torch, and tests/unit/test_model_input.py holds this one to the original model's logits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import numpy as np

CROP_PADDING = 32
MEAN = 127.0
SCALE = 128.0
# What shows through transparent pixels: the page's background, white.
_BACKGROUND = (255, 255, 255)


def classifier_input(picture: Image.Image, size: int) -> np.ndarray:
    """A (1, 3, size, size) float32 array from an upright RGB or RGBA picture of any size, even 1 px."""
    if picture.mode != "RGB":
        flat = Image.new("RGB", picture.size, _BACKGROUND)
        flat.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
        picture = flat
    width, height = picture.size
    crop = max(1.0, size / (size + CROP_PADDING) * min(width, height))
    left, top = (width - crop) / 2, (height - crop) / 2
    # One resampling from the crop box straight to the input size; Pillow's bicubic widens its support when it
    # shrinks, as the reference's antialiased bicubic does.
    resized = picture.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + crop, top + crop))
    import numpy as np  # here, not at import: indexing the app needs none of it

    pixels = (np.asarray(resized, dtype=np.float32) - MEAN) / SCALE
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])
