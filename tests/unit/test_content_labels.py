"""Content tags: the vocabulary's data and rules, the classifier tagger, and their precision on real photos."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tagging import analysis
from tagging.labels import classifier
from tagging.labels.classifier import DATA, LITE0, ContentTagger, ModelFile, ModelIntegrityError
from tagging.labels.vocabulary import CLASSES, Vocabulary
from tagging.model import Tag
from tagging.taggers import TaggerInput, run_taggers
from tests.images import PHOTOS, image_bytes, noisy_jpeg, save, scene

LABELS = json.loads((Path(__file__).parents[1] / "data" / "labels" / "shared_photos.json").read_text())
VOCABULARY = Vocabulary.load(DATA)
IMAGENET = (DATA / "imagenet_classes.txt").read_text().splitlines()


def tagger_input(data: bytes) -> TaggerInput:
    decoded = analysis.decode(data, 10**8)
    return TaggerInput("0" * 32, data, "image/jpeg", analysis.describe(decoded), None, decoded.image)


def one_hot(*weights: tuple[str, float]) -> np.ndarray:
    probabilities = np.zeros(CLASSES, dtype=np.float32)
    for name, weight in weights:
        probabilities[IMAGENET.index(name)] = weight
    return probabilities


def test_the_vocabulary_is_everyday_words_with_parents() -> None:
    assert 100 <= len(VOCABULARY.names) <= 200
    parents = {
        VOCABULARY.names[i]: [VOCABULARY.names[a] for a in chain] for i, chain in enumerate(VOCABULARY.ancestors)
    }
    assert parents["dog"] == ["animal"]
    assert parents["ladybird"] == ["beetle", "insect", "animal"]
    assert parents["daisy"] == ["flower", "plant"]
    assert parents["bus"] == ["vehicle"]
    assert parents["cup"] == ["tableware"]
    # ImageNet's fine classes never become tags: no breed, species or model, only the everyday word.
    assert not {"beagle", "tabby", "brambling", "ladybug", "sports car", "coffee mug"} & set(VOCABULARY.names)
    assert all(name == name.lower() and " " not in name for name in VOCABULARY.names)


def test_every_class_row_names_a_known_tag_or_none() -> None:
    rows = [line.split("\t") for line in (DATA / "classes.tsv").read_text().splitlines()[1:]]
    assert [int(index) for index, _, _ in rows] == list(range(CLASSES))
    assert [name for _, name, _ in rows] == IMAGENET
    assert {tag for _, _, tag in rows if tag} <= set(VOCABULARY.names)


def test_probabilities_are_summed_per_tag_before_the_threshold() -> None:
    # No breed reaches the threshold; the breeds together do.
    tags = dict(VOCABULARY.tags(one_hot(("beagle", 0.2), ("basset", 0.2), ("tabby", 0.1))))
    assert tags == {"dog": pytest.approx(0.4), "animal": pytest.approx(0.4)}


def test_parents_come_with_the_same_confidence_and_are_not_scored_from_crumbs() -> None:
    assert dict(VOCABULARY.tags(one_hot(("ladybug", 0.6)))) == pytest.approx(
        {"ladybird": 0.6, "beetle": 0.6, "insect": 0.6, "animal": 0.6}
    )
    # 0.1 on each of ten animals of different kinds: 1.0 of animal in all, but no kind is sure, so nothing.
    crumbs = one_hot(
        *(
            (name, 0.1)
            for name in ("tabby", "beagle", "robin", "ladybug", "tench", "zebra", "koala", "ox", "llama", "goose")
        )
    )
    assert VOCABULARY.tags(crumbs) == []


def test_a_parent_reached_from_two_children_keeps_the_higher_confidence() -> None:
    tags = dict(VOCABULARY.tags(one_hot(("beagle", 0.4), ("tabby", 0.5))))
    assert tags == pytest.approx({"cat": 0.5, "dog": 0.4, "animal": 0.5})


def test_a_vocabulary_whose_parents_go_round_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tags.tsv").write_text("tag\tparent\na\tb\nb\ta\n")
    (tmp_path / "classes.tsv").write_text("index\tclass\ttag\n0\tx\ta\n")
    with pytest.raises(ValueError, match="circle"):
        Vocabulary.load(tmp_path)


def test_the_tagger_gives_vocabulary_tags_and_names_itself_as_the_source() -> None:
    # A generated scene of coloured boxes on a dark gradient, which the model takes for a screen: a tag to check.
    tags = ContentTagger().tag(tagger_input(save(scene((1200, 900), seed=25), "JPEG")))
    assert tags
    assert all(tag.source == "efficientnet-lite0" and 0 < tag.confidence <= 1 for tag in tags)
    assert {tag.name for tag in tags} <= set(VOCABULARY.names)


def test_a_model_file_with_another_sha256_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    altered = tmp_path / "model.onnx"
    shutil.copyfile(LITE0.path, altered)
    with altered.open("r+b") as handle:
        handle.seek(-1, 2)
        handle.write(b"\x00")
    with pytest.raises(ModelIntegrityError, match="SHA-256 .* not " + LITE0.sha256):
        classifier.open_session(ModelFile(altered, LITE0.sha256, LITE0.input_size, LITE0.source))


def test_a_missing_or_broken_model_costs_no_image_only_its_tags(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = ContentTagger(ModelFile(tmp_path / "gone.onnx", LITE0.sha256, 224, LITE0.source))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    import hashlib

    broken = ContentTagger(ModelFile(garbage, hashlib.sha256(b"not a model").hexdigest(), 224, LITE0.source))

    class Fixed:
        name = "fixed"

        def tag(self, image: TaggerInput) -> list[Tag]:
            return [Tag("kept", 1.0, self.name)]

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            tags = run_taggers([missing, broken, Fixed()], tagger_input(image_bytes("PNG", (64, 48))))
            assert [tag.name for tag in tags] == ["kept"]
    assert "cannot be read" in caplog.text
    assert caplog.text.count("Tagger efficientnet-lite0 failed") == 4


def test_the_session_is_created_once_and_shared_by_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    real = classifier.open_session

    def counted(model: ModelFile) -> object:
        opened.append(model)
        return real(model)

    monkeypatch.setattr(classifier, "open_session", counted)
    tagger = ContentTagger()
    image = tagger_input(noisy_jpeg((320, 240)))
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(tagger.probabilities(image))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 1
    assert len(results) == 8
    assert all(np.allclose(result, results[0], atol=1e-6) for result in results)


def test_an_image_with_no_picture_gets_no_content_tags() -> None:
    data = image_bytes("PNG", (64, 48))
    assert ContentTagger().tag(TaggerInput("0" * 32, data, "image/png", analysis.analyse(data, 10**8))) == []


@pytest.mark.skipif(not PHOTOS.is_dir(), reason="the shared photos are not on this machine")
def test_on_the_shared_photos_every_content_tag_is_right_and_the_subjects_are_found() -> None:
    tagger = ContentTagger()
    found = {}
    for name, label in LABELS["photos"].items():
        tags = {tag.name for tag in tagger.tag(tagger_input((PHOTOS / name).read_bytes()))}
        assert tags <= set(label["present"]), f"{name}: {sorted(tags - set(label['present']))} is wrong"
        found[name] = tags
    assert "dog" in found["friends_by_Aitzol_Berasategi.jpg"]
    assert "bird" in found["Kleiber_by_Lukas_Baubkus.jpg"]
    assert {"ladybird", "insect", "animal"} <= found["LadyBird.jpg"]
    assert "cup" in found["ColorfulCups_2560x1600.jpg"]
    assert "drum" in found["Wine_by_Jakkub_Mede.jpg"]
