"""Content and place tags with no cloud: an ImageNet classifier run with onnxruntime, an everyday vocabulary with
a hierarchy over its classes, and an offline reverse geocoder. Data in `data/` (see data/README.md)."""

from tagging.labels.classifier import ContentTagger, ModelIntegrityError
from tagging.labels.places import PlaceTagger

__all__ = ["ContentTagger", "ModelIntegrityError", "PlaceTagger"]
