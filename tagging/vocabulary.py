"""The tag vocabulary: names, thresholds and the rules that turn measurements into tags. No Pillow here."""

from __future__ import annotations

import colorsys
import re

from tagging.model import PhotoMetadata, Tag

SOURCE = "analysis"

PANORAMA_ASPECT = 2.0
# Megapixel bounds of resolution:low / medium / high; very-high above the last.
RESOLUTION_BOUNDS = ((1_000_000, "low"), (4_000_000, "medium"), (16_000_000, "high"))
DARK_LUMINANCE = 0.25
BRIGHT_LUMINANCE = 0.75
MONOCHROME_SATURATION = 0.10
# Share of pixels a colour needs to be named, and how many colours at most.
COLOR_MIN_SHARE = 0.12
MAX_COLORS = 3

# Sharpness from the central 256 px of the 512 px working image: `energy` is the variance of a 3x3 Laplacian,
# `ratio` that energy over the same at half scale (blur removes the finest detail first, whatever the content).
# Calibrated on the 13 photos of ../shared/photos and copies blurred by a Gaussian of 2, 4, 8 and 16 px per
# 2560 px (`make bench` prints the table): originals measure ratio 0.25-1.54 (12 of 13 above 0.40) and energy
# 62-1359; every copy blurred by 4 px measures ratio <= 0.19, and by 8 px or more energy <= 26. Copies blurred
# by 2 px fall in between and are tagged either way or not at all, which is fair: at screen size they look sharp.
BLURRY_RATIO = 0.20
SHARP_RATIO = 0.24
MIN_EDGE_ENERGY = 30.0
# Below this grey standard deviation there is nothing to be sharp or blurry about (a flat colour, a blank page).
MIN_CONTRAST = 3.0

_BRANDS = {
    "olympus": "olympus",
    "konica minolta": "konica-minolta",
    "minolta": "minolta",
    "nikon": "nikon",
    "canon": "canon",
    "sony": "sony",
    "fujifilm": "fujifilm",
    "fuji": "fujifilm",
    "eastman kodak": "kodak",
    "kodak": "kodak",
    "pentax": "pentax",
    "ricoh": "ricoh",
    "leica": "leica",
    "panasonic": "panasonic",
    "samsung": "samsung",
    "apple": "apple",
    "google": "google",
    "huawei": "huawei",
    "xiaomi": "xiaomi",
    "oneplus": "oneplus",
    "nokia": "nokia",
    "hasselblad": "hasselblad",
    "sigma": "sigma",
    "gopro": "gopro",
    "dji": "dji",
}
_CORPORATE = re.compile(
    r"\b(imaging|corporation|corp|company|co|ltd|inc|camera|ag|gmbh|optical|electronics|digital|mobile)\b\.?", re.I
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def brand(make: str) -> str:
    """`OLYMPUS IMAGING CORP.` -> `olympus`, `KONICA MINOLTA` -> `konica-minolta`, unknown makes slugged."""
    lowered = " ".join(make.lower().replace(",", " ").split())
    for prefix, name in _BRANDS.items():
        if lowered == prefix or lowered.startswith(prefix + " "):
            return name
    return slug(_CORPORATE.sub(" ", lowered)) or slug(lowered)


def camera_tag(make: str | None, model: str | None) -> Tag | None:
    make = (make or "").strip()
    model = (model or "").strip()
    if not make and not model:
        return None
    name = brand(make) if make else ""
    model_slug = slug(model)
    # `Canon` + `Canon EOS 70D` is camera:canon-eos-70d, not canon-canon-eos-70d.
    for prefix in {name, slug(make)} - {""}:
        if model_slug == prefix or model_slug.startswith(prefix + "-"):
            model_slug = model_slug[len(prefix) :].strip("-")
    value = "-".join(part for part in (name, model_slug) if part)
    return Tag(f"camera:{value}", 1.0, SOURCE) if value else None


def orientation(width: int, height: int) -> str:
    # Within 1% counts as square: a 1000x1004 scan is square to anyone looking at it.
    if abs(width - height) <= 0.01 * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def resolution(pixels: int) -> str:
    for bound, name in RESOLUTION_BOUNDS:
        if pixels < bound:
            return name
    return "very-high"


def color_name(red: int, green: int, blue: int) -> str:
    """The palette name of one sRGB colour: red, orange, yellow, green, teal, blue, purple, pink, brown,
    black, gray or white."""
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    degrees = hue * 360
    if value < 0.18:
        return "black"
    if saturation < 0.15 or (saturation < 0.25 and value < 0.35):
        if value > 0.85:
            return "white"
        return "black" if value < 0.25 else "gray"
    if 10 <= degrees < 50 and value < 0.6:
        return "brown"
    if degrees < 12 or degrees >= 345:
        return "pink" if saturation < 0.45 and value > 0.7 else "red"
    for upper, name in ((40, "orange"), (70, "yellow"), (160, "green"), (195, "teal"), (255, "blue"), (290, "purple")):
        if degrees < upper:
            return name
    return "pink"


def dominant_colors(shares: dict[str, float]) -> list[Tag]:
    ranked = sorted(shares.items(), key=lambda item: -item[1])
    named = [(name, share) for name, share in ranked if share >= COLOR_MIN_SHARE][:MAX_COLORS]
    if not named and ranked:
        named = ranked[:1]
    return [Tag(f"color:{name}", round(share, 3), SOURCE) for name, share in named]


def beyond(value: float, threshold: float, span: float) -> float:
    """Confidence for a threshold rule: 0.5 at the threshold, 1.0 once `span` past it."""
    return round(min(1.0, 0.5 + 0.5 * abs(value - threshold) / span), 3)


def light_tags(*, luminance: float, saturation: float, grey_mode: bool) -> list[Tag]:
    """`monochrome` for grey or near-grey images; `dark` / `bright` from mean luminance (0..1)."""
    tags = []
    if grey_mode:
        tags.append(Tag("monochrome", 1.0, SOURCE))
    elif saturation < MONOCHROME_SATURATION:
        tags.append(Tag("monochrome", beyond(saturation, MONOCHROME_SATURATION, 0.1), SOURCE))
    if luminance < DARK_LUMINANCE:
        tags.append(Tag("dark", beyond(luminance, DARK_LUMINANCE, 0.15), SOURCE))
    elif luminance > BRIGHT_LUMINANCE:
        tags.append(Tag("bright", beyond(luminance, BRIGHT_LUMINANCE, 0.15), SOURCE))
    return tags


def sharpness_tag(ratio: float, energy: float, *, contrast: float) -> Tag | None:
    if contrast < MIN_CONTRAST:
        return None
    if energy < MIN_EDGE_ENERGY:
        return Tag("blurry", beyond(energy, MIN_EDGE_ENERGY, MIN_EDGE_ENERGY), SOURCE)
    if ratio < BLURRY_RATIO:
        return Tag("blurry", beyond(ratio, BLURRY_RATIO, 0.1), SOURCE)
    if ratio >= SHARP_RATIO:
        return Tag("sharp", beyond(ratio, SHARP_RATIO, 0.3), SOURCE)
    return None


def metadata_tags(meta: PhotoMetadata) -> list[Tag]:
    tags = []
    camera = camera_tag(meta.camera_make, meta.camera_model)
    if camera is not None:
        tags.append(camera)
    if meta.taken_at:
        tags.append(Tag(f"taken:{meta.taken_at[:4]}", 1.0, SOURCE))
    if meta.latitude is not None and meta.longitude is not None:
        tags.append(Tag("geotagged", 1.0, SOURCE))
    return tags
