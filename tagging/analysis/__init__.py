"""Safe decoding, measurements and thumbnails: the only package that imports Pillow.

Uploads come from strangers, so every open is restricted to the accepted formats and the pixel count is checked
from the header before any pixel is decoded (`opening`). Decoding dominates the cost of an image, so it happens
once, at the smallest scale the measures need (`decoding`); the measures and the thumbnail then work on that image
(`measures`), and EXIF is read on the way (`exif`).
"""

from tagging.analysis.decoding import Decoded, decode, decode_cost, draft_size
from tagging.analysis.measures import THUMBNAIL_CONTENT_TYPE, THUMBNAIL_SIZE, describe, edge_measures, phash, thumbnail
from tagging.analysis.model_input import classifier_input
from tagging.analysis.opening import ImageHeader, accepted_formats, probe
from tagging.model import Analysis


def analyse(data: bytes, max_pixels: int) -> Analysis:
    """Decode and describe: the whole analysis of one upload's bytes."""
    return describe(decode(data, max_pixels))


__all__ = [
    "THUMBNAIL_CONTENT_TYPE",
    "THUMBNAIL_SIZE",
    "Decoded",
    "ImageHeader",
    "accepted_formats",
    "analyse",
    "classifier_input",
    "decode",
    "decode_cost",
    "describe",
    "draft_size",
    "edge_measures",
    "phash",
    "probe",
    "thumbnail",
]
