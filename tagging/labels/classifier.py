"""Content tags from an ImageNet classifier (EfficientNet-Lite0 exported to ONNX), run with onnxruntime.

The model is loaded once per process, on the first image, and its session is shared by every thread: a session's
`run` is thread-safe. The worker analyses several images at once, so each run uses one thread; parallelism comes
from the jobs. A missing, altered or broken model fails every call with the same error, which the worker logs
and the image keeps its other tags (tagging.taggers.run_taggers).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tagging.analysis import classifier_input
from tagging.errors import TaggingError
from tagging.labels.vocabulary import Vocabulary
from tagging.model import Tag
from tagging.taggers import TaggerInput

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

DATA = Path(__file__).parent / "data"


class ModelIntegrityError(TaggingError):
    """The model file is not the one the vocabulary and the tests were made for."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    input_size: int
    source: str


# tools/labels/export_model.py wrote it; data/README.md says where the weights come from and their licence.
LITE0 = ModelFile(
    DATA / "efficientnet-lite0.onnx",
    "6341e39a83045b46d6cd6f7a9ae15441fc82155d6a8eed3ac94c3c3a40ed25e1",
    224,
    "efficientnet-lite0",
)


def open_session(model: ModelFile) -> InferenceSession:
    """The model's session, after checking the file is the one expected; ModelIntegrityError when it is not."""
    try:
        data = model.path.read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(f"The classifier model {model.path.name} cannot be read ({exc}).") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise ModelIntegrityError(
            f"The classifier model {model.path.name} has SHA-256 {digest}, not {model.sha256}: "
            "restore it from the repository or export it again with `make export-model`."
        )
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class ContentTagger:
    """What is in the picture, in the everyday vocabulary, with the summed probability as confidence."""

    def __init__(self, model: ModelFile = LITE0, vocabulary: Vocabulary | None = None) -> None:
        self.name = model.source
        self._model = model
        self._vocabulary = vocabulary
        self._lock = threading.Lock()
        self._session: InferenceSession | None = None
        self._failure: Exception | None = None

    def load(self) -> None:
        """Load the model and the vocabulary now rather than on the first image; raises what loading raised."""
        with self._lock:
            if self._failure is not None:
                # A fresh error each time: re-raising one object would grow its traceback with every image.
                raise ModelIntegrityError(str(self._failure))
            if self._session is None:
                try:
                    self._vocabulary = self._vocabulary or Vocabulary.load(DATA)
                    self._session = open_session(self._model)
                except Exception as exc:
                    # Remembered: a broken model is not read and hashed again for every image.
                    self._failure = exc
                    raise

    def probabilities(self, image: TaggerInput) -> np.ndarray:
        """The 1000 ImageNet class probabilities for the picture the analysis decoded."""
        self.load()
        assert self._session is not None
        assert image.picture is not None
        logits = self._session.run(None, {"input": classifier_input(image.picture, self._model.input_size)})[0][0]
        exp = np.exp(logits - logits.max())
        return np.asarray(exp / exp.sum())

    def tag(self, image: TaggerInput) -> Sequence[Tag]:
        if image.picture is None:
            return []
        probabilities = self.probabilities(image)
        assert self._vocabulary is not None
        return [Tag(name, round(score, 3), self.name) for name, score in self._vocabulary.tags(probabilities)]
