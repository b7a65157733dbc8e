"""Pluggable taggers: anything that turns an image into more tags, beside the built-in analysis.

A tagger's failure never costs an image: it is logged and the image keeps the built-in tags.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tagging.model import Analysis, Tag

if TYPE_CHECKING:
    from azure.ai.vision.imageanalysis import ImageAnalysisClient
    from PIL.Image import Image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaggerInput:
    image_id: str
    data: bytes
    content_type: str
    analysis: Analysis
    # A small upright WebP of the image, for services that cannot read the original's format or size.
    preview: bytes | None = None
    # The picture the analysis decoded (upright RGB or RGBA, 512-1024 px on its long side): a tagger working on
    # pixels starts from it rather than decoding the image a second time.
    picture: Image | None = None


class Tagger(Protocol):
    name: str

    def tag(self, image: TaggerInput) -> Sequence[Tag]: ...


def run_taggers(taggers: Sequence[Tagger], image: TaggerInput) -> list[Tag]:
    """Every tagger's tags; a tagger that fails adds nothing and is logged."""
    tags: list[Tag] = []
    for tagger in taggers:
        try:
            tags.extend(tagger.tag(image))
        except Exception as exc:  # any failure of an optional service: keep the image, say why
            logger.warning("Tagger %s failed on image %s (%s); other tags kept", tagger.name, image.image_id, exc)
    return tags


def merge(builtin: Sequence[Tag], extra: Sequence[Tag], *, limit: int) -> tuple[Tag, ...]:
    """One tag per name, the more confident kept, the built-in ones first; past `limit` tags, the least
    confident of the taggers' are left out (a service may return dozens of labels)."""
    best: dict[str, Tag] = {}
    for tag in [*builtin, *extra]:
        if tag.name not in best or tag.confidence > best[tag.name].confidence:
            best[tag.name] = tag
    own = {tag.name for tag in builtin}
    added = sorted((tag for tag in best.values() if tag.name not in own), key=lambda tag: -tag.confidence)
    kept = {tag.name for tag in added[: max(0, limit - len(own))]} | own
    return tuple(tag for tag in best.values() if tag.name in kept)


class AzureVisionTagger:
    """Labels from Azure AI Vision Image Analysis 4.0 (`TAGS`), with their confidence."""

    name = "azure-vision"
    # What Image Analysis 4.0 accepts: formats, at most 20 MB, 50..16000 px a side.
    _FORMATS = frozenset({"image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp", "image/tiff"})
    _MAX_BYTES = 20 * 1024 * 1024
    _MIN_CONFIDENCE = 0.5

    def __init__(self, client: ImageAnalysisClient) -> None:
        self._client = client

    @classmethod
    def connect(
        cls, endpoint: str, key: str | None = None, client_id: str | None = None, *, read_timeout: float = 20
    ) -> AzureVisionTagger:
        from azure.ai.vision.imageanalysis import ImageAnalysisClient
        from azure.core.credentials import AzureKeyCredential

        # An image waits for this service: a slow or unreachable one must cost seconds, not the SDK's default
        # of minutes of retries, before the image is tagged without it.
        patience = {"connection_timeout": 5, "read_timeout": read_timeout, "retry_total": 1}
        if key:
            return cls(ImageAnalysisClient(endpoint, AzureKeyCredential(key), **patience))
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=client_id)
        return cls(ImageAnalysisClient(endpoint, credential, **patience))

    def tag(self, image: TaggerInput) -> Sequence[Tag]:
        from azure.ai.vision.imageanalysis.models import VisualFeatures

        analysis = image.analysis
        fits = image.content_type in self._FORMATS and len(image.data) <= self._MAX_BYTES
        sides = (analysis.width, analysis.height)
        fits = fits and min(sides) >= 50 and max(sides) <= 16000
        data = image.data if fits else image.preview
        if data is None:
            return []
        result = self._client.analyze(image_data=data, visual_features=[VisualFeatures.TAGS], language="en")
        if result.tags is None:
            return []
        return [
            # A tag name travels in URL paths: a `/` could never be removed again (tagging.tags.normalise_tag).
            Tag(tag.name.lower().replace("/", "-"), round(float(tag.confidence), 3), self.name)
            for tag in result.tags.list
            if tag.confidence >= self._MIN_CONFIDENCE
        ]
