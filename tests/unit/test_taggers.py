from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import pytest
from azure.core.pipeline.policies import RetryPolicy

from tagging.analysis import analyse
from tagging.model import Tag
from tagging.services import upload, worker
from tagging.taggers import AzureVisionTagger, TaggerInput, merge, run_taggers
from tagging.tags import MAX_TAG_CHARS, addressable
from tests.fakes import FakeCatalog, fake_ports
from tests.images import image_bytes
from tests.unit.vision_stub import VisionStub


class Broken:
    name = "broken"

    def tag(self, image: TaggerInput) -> Sequence[Tag]:
        raise ConnectionError("service down")


class Fixed:
    name = "fixed"

    def tag(self, image: TaggerInput) -> Sequence[Tag]:
        return [Tag("dog", 0.9, self.name), Tag("color:red", 0.2, self.name)]


def a_tagger_input(data: bytes | None = None, content_type: str = "image/png") -> TaggerInput:
    data = data or image_bytes("PNG", (64, 48))
    return TaggerInput("0" * 32, data, content_type, analyse(data, 10**8), preview=b"webp-preview")


def test_a_failing_tagger_adds_nothing_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        tags = run_taggers([Broken(), Fixed()], a_tagger_input())
    assert [tag.name for tag in tags] == ["dog", "color:red"]
    assert "broken failed on image 00000000" in caplog.text
    assert "service down" in caplog.text


def test_merging_keeps_one_tag_per_name_the_most_confident() -> None:
    merged = merge(
        [Tag("color:red", 1.0, "analysis"), Tag("x", 0.3, "a")],
        [Tag("color:red", 0.2, "v"), Tag("x", 0.8, "v")],
        limit=10,
    )
    assert merged == (Tag("color:red", 1.0, "analysis"), Tag("x", 0.8, "v"))


def test_past_the_limit_the_least_confident_tags_of_other_taggers_go_first() -> None:
    builtin = [Tag("format:png", 1.0, "analysis"), Tag("sharp", 0.6, "analysis")]
    labels = [Tag("cat", 0.9, "v"), Tag("sofa", 0.55, "v"), Tag("indoor", 0.7, "v")]
    merged = merge(builtin, labels, limit=4)
    assert [tag.name for tag in merged] == ["format:png", "sharp", "cat", "indoor"]


def test_a_tagger_joins_the_builtin_tags_of_the_record() -> None:
    ports = fake_ports(taggers=(Fixed(),))
    accepted = upload.accept_upload(ports, user_id="alice", data=image_bytes("PNG", (64, 48)))
    assert accepted.job is not None
    record = worker.tag_image(ports, accepted.job, claimant="m1")
    assert record is not None
    by_name = {tag.name: tag for tag in record.tags}
    assert by_name["dog"] == Tag("dog", 0.9, "fixed")
    assert by_name["color:red"].source == "analysis"  # the built-in tag was more confident


def test_a_broken_tagger_never_costs_the_image() -> None:
    ports = fake_ports(taggers=(Broken(),))
    accepted = upload.accept_upload(ports, user_id="alice", data=image_bytes("PNG", (64, 48)))
    assert accepted.job is not None
    record = worker.tag_image(ports, accepted.job, claimant="m1")
    assert record is not None
    assert record.status == "done"
    assert "format:png" in {tag.name for tag in record.tags}
    assert isinstance(ports.records, FakeCatalog)


def vision(endpoint: str) -> AzureVisionTagger:
    from azure.ai.vision.imageanalysis import ImageAnalysisClient
    from azure.core.credentials import AzureKeyCredential

    # No retries against the stub: a failure should show at once.
    client = ImageAnalysisClient(endpoint, AzureKeyCredential("test-key"), retry_policy=RetryPolicy(retry_total=0))
    return AzureVisionTagger(client)


def test_azure_vision_labels_come_back_as_tags_with_their_confidence() -> None:
    data = image_bytes("JPEG", (96, 64))
    with VisionStub([("Dog", 0.98), ("grass", 0.71), ("blur", 0.2)]) as stub:
        tags = vision(stub.endpoint).tag(a_tagger_input(data, "image/jpeg"))
    assert tags == [Tag("dog", 0.98, "azure-vision"), Tag("grass", 0.71, "azure-vision")]
    request = stub.requests[0]
    assert request["path"].startswith("/computervision/imageanalysis:analyze")
    assert "features=tags" in request["path"]
    assert request["headers"]["Ocp-Apim-Subscription-Key"] == "test-key"
    assert request["body"] == data  # the original bytes, in a format the service reads


def test_azure_vision_gets_the_preview_for_what_it_cannot_read() -> None:
    with VisionStub([("cat", 0.9)]) as stub:
        vision(stub.endpoint).tag(a_tagger_input(image_bytes("PNG", (96, 64)), "image/avif"))  # format
        vision(stub.endpoint).tag(a_tagger_input(image_bytes("PNG", (64, 48)), "image/png"))  # under 50 px
    assert [r["body"] for r in stub.requests] == [b"webp-preview", b"webp-preview"]


def test_an_azure_vision_failure_degrades_to_the_builtin_tags(caplog: pytest.LogCaptureFixture) -> None:
    with VisionStub([], status=500) as stub:
        ports = fake_ports(taggers=(vision(stub.endpoint),))
        accepted = upload.accept_upload(ports, user_id="alice", data=image_bytes("JPEG", (64, 48)))
        assert accepted.job is not None
        with caplog.at_level(logging.WARNING):
            record = worker.tag_image(ports, accepted.job, claimant="m1")
    assert record is not None
    assert record.status == "done"
    assert {tag.source for tag in record.tags} == {"analysis"}
    assert "azure-vision failed" in caplog.text


def test_a_vision_service_that_hangs_costs_seconds_then_the_image_keeps_its_builtin_tags(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with VisionStub([("cat", 0.9)], delay=4) as stub:
        tagger = AzureVisionTagger.connect(stub.endpoint, key="test-key", read_timeout=0.5)
        ports = fake_ports(taggers=(tagger,))
        accepted = upload.accept_upload(ports, user_id="alice", data=image_bytes("JPEG", (64, 48)))
        assert accepted.job is not None
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            record = worker.tag_image(ports, accepted.job, claimant="m1")
        waited = time.monotonic() - started
        assert 1 <= len(stub.requests) <= 2  # one retry at most
    assert record is not None
    assert {tag.source for tag in record.tags} == {"analysis"}
    assert "azure-vision failed" in caplog.text
    assert waited < 4, "the tagger waited for the service instead of giving up"


def test_automatic_tags_are_cut_to_what_an_owner_can_address() -> None:
    long_camera = Tag("camera:" + "very-long-model-name-" * 10, 1.0, "analysis")
    unaddressable = [Tag("a/b", 0.9, "azure-vision"), Tag("..", 0.9, "azure-vision")]

    kept = addressable([long_camera, *unaddressable, Tag("dog", 0.8, "azure-vision")])

    assert [tag.name for tag in kept] == [long_camera.name[:64].rstrip("-"), "dog"]
    assert all(len(tag.name) <= MAX_TAG_CHARS for tag in kept)
