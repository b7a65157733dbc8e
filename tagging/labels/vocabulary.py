"""The everyday vocabulary over ImageNet's 1000 classes: which tag each class adds to, and each tag's parent.

The tables are data (data/classes.tsv, data/tags.tsv), drafted by tools/labels/draft_vocabulary.py and then
corrected by hand. A tag's score is the probability of its classes summed: ImageNet splits what people call a
dog into 120 breeds, so no single breed is sure while the sum is. A tag is given when its score reaches the
threshold, and its parents with it, at the same confidence. A parent is never scored by summing its descendants:
`animal` would collect the crumbs of 400 classes and be given to every texture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Tuned for precision over recall on the shared photos (bench/labels.py prints the table): a wrong tag is worse
# than a missing one.
THRESHOLD = 0.35
CLASSES = 1000


@dataclass(frozen=True)
class Vocabulary:
    names: tuple[str, ...]
    # `members[c, t]` is 1 when class c counts towards tag t.
    members: np.ndarray
    # The tag's ancestors, nearest first, as indexes into `names`.
    ancestors: tuple[tuple[int, ...], ...]
    threshold: float = THRESHOLD

    @classmethod
    def load(cls, folder: Path, threshold: float = THRESHOLD) -> Vocabulary:
        parents = {row[0]: row[1] for row in _rows(folder / "tags.tsv", 2)}
        names = tuple(sorted(parents))
        column = {name: number for number, name in enumerate(names)}
        members = np.zeros((CLASSES, len(names)), dtype=np.float32)
        for index, _, tag in _rows(folder / "classes.tsv", 3):
            if tag:
                members[int(index), column[tag]] = 1.0
        ancestors = []
        for name in names:
            chain: list[int] = []
            parent = parents[name]
            while parent:
                if column[parent] in chain or len(chain) > len(names):
                    raise ValueError(f"tags.tsv: the parents of {name!r} go round in a circle")
                chain.append(column[parent])
                parent = parents[parent]
            ancestors.append(tuple(chain))
        return cls(names, members, tuple(ancestors), threshold)

    def tags(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        """(tag, confidence) for every tag whose classes' summed probability reaches the threshold, and for its
        parents, most confident first; a parent reached twice keeps the higher confidence."""
        scores = probabilities.astype(np.float32) @ self.members
        given: dict[int, float] = {}
        for index in np.flatnonzero(scores >= self.threshold):
            for tag in (int(index), *self.ancestors[index]):
                given[tag] = max(given.get(tag, 0.0), float(scores[index]))
        return sorted(((self.names[i], score) for i, score in given.items()), key=lambda pair: -pair[1])


def _rows(path: Path, width: int) -> list[tuple[str, ...]]:
    rows = [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
    bad = [row for row in rows if len(row) != width]
    if bad:
        raise ValueError(f"{path.name}: rows of {width} tab-separated fields expected, got {bad[0]!r}")
    return rows
