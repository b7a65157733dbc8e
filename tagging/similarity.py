"""Near duplicates: the perceptual hash's distance, and the bands that make a Hamming search a Table query.

Hamming search cannot be a Table query, so each image's 64-bit hash is cut into BANDS bands and the image gets one
index row per band value. Two hashes within MAX_DISTANCE bits of each other differ in at most MAX_DISTANCE bands,
so with MAX_DISTANCE + 1 bands at least one band is equal in both (the pigeonhole principle): the images sharing a
band value with a query are all the candidates there can be, and the exact distance is checked on them alone.
No I/O here.
"""

from __future__ import annotations

# Distances measured on the shared photos (`make bench` prints the table): the same photo resized, recompressed,
# re-encoded, brightened, rotated by its EXIF tag or cropped by up to 2% a side is within 8 bits of itself; two
# different photos, or two framings of one scene, are 20 or more apart. 10 catches crops of 3% too.
MAX_DISTANCE = 10
DEFAULT_DISTANCE = MAX_DISTANCE
BANDS = MAX_DISTANCE + 1
HASH_BITS = 64
# 64 bits in 11 bands: nine of 6 bits and two of 5.
_WIDTHS = tuple(HASH_BITS // BANDS + (1 if band < HASH_BITS % BANDS else 0) for band in range(BANDS))


def bands(phash: str) -> list[str]:
    """The hash's band values, each as `<band>-<value in hex>`: what an index row key carries."""
    bits = int(phash, 16)
    values = []
    shift = HASH_BITS
    for band, width in enumerate(_WIDTHS):
        shift -= width
        values.append(f"{band:02d}-{(bits >> shift) & ((1 << width) - 1):02x}")
    return values


def distance(a: str, b: str) -> int:
    """Bits that differ between two hashes written as 16 hex digits."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
