"""What the web app does with one photo, without any web framework: classify, restore, score.

`Session` holds a checkpoint's net and classifier; calling it on an ``H x W x 3`` uint8 array (what
Gradio hands over) returns the class probabilities, the restored array of the same size and PIQE
before and after. The Gradio page (`dcpt.app.ui`) only lays this out, so the logic is tested here
without a browser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..data.io import to_uint8
from ..errors import DataError

PathLike = Union[str, os.PathLike]
ProgressFn = Callable[[int, int], None]

CLASSIFY_CROP = 512
"""The classifier reads the central crop of this many pixels: a bounded forward pass on big photos."""

EXAMPLES: Tuple[Tuple[str, str, float], ...] = (
    ("chelsea", "gaussian_noise", 50.0),
    ("coffee", "rain", 0.8),
    ("chelsea", "haze", 1.0),
    ("coffee", "low_light", 0.6),
)
"""(test photograph, degradation, level) of the example photos: held-out images, shipped classes."""


def default_checkpoint() -> Path:
    """The shipped MaskDCPT demo checkpoint (a tiny NAFNet with its degradation classifier)."""
    return Path(str(files("dcpt") / "assets/demo/nafnet-tiny-maskdcpt.safetensors"))


@dataclass
class Result:
    """One photo through the app: probabilities by class name (empty for a checkpoint without a
    classifier), the restored ``H x W x 3`` uint8 array, PIQE of input and output (None where
    `dcpt.metrics.piqe` is unavailable) and the tile count."""

    probabilities: Dict[str, float]
    restored: np.ndarray
    piqe_before: float
    piqe_after: float
    tiles: int

    @property
    def label(self) -> Optional[str]:
        if not self.probabilities:
            return None
        return max(self.probabilities, key=self.probabilities.__getitem__)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """An ``H x W``, ``H x W x 1|3|4`` uint8 (or float in [0, 1]) array -> ``3 x H x W`` float32 in [0, 1]."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise DataError(f"expected an H x W x 3 image, got an array of shape {tuple(arr.shape)}")
    arr = arr[..., :3] if arr.shape[2] >= 3 else np.repeat(arr, 3, axis=2)
    if arr.dtype == np.uint8:
        data = torch.from_numpy(np.ascontiguousarray(arr)).float().div_(255.0)
    else:
        data = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).clamp_(0.0, 1.0)
    return data.permute(2, 0, 1).contiguous()


def piqe_score(img: torch.Tensor) -> float:
    """PIQE of a ``3 x H x W`` image (lower is better)."""
    from ..metrics import piqe

    return float(piqe(img[None].float().cpu())[0])


class Session:
    """A checkpoint loaded once for the app's lifetime.

    A checkpoint without a degradation classifier (a fine-tuned net that did not keep it) still
    restores; its probabilities are empty.
    `arch` names the preset of a BasicSR `.pth` (a release's net, without a classifier).
    `tile`: images with more than ``tile * tile`` pixels are restored in overlapping tiles of that size
    (bounded memory, a progress step per tile); smaller ones whole. 0 or None restores every image whole.
    """

    def __init__(
        self,
        checkpoint: Optional[PathLike] = None,
        device: str = "auto",
        arch: Optional[str] = None,
        tile: Optional[int] = 512,
        overlap: int = 32,
    ) -> None:
        from ..device import resolve_device
        from ..models.checkpoint import load_bundle

        self.checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        self.device = resolve_device(device)
        bundle = load_bundle(self.checkpoint, arch=arch)
        self.net = bundle.net.to(self.device).eval()
        self.classifier = None
        self.class_names: List[str] = []
        if bundle.classifier is not None and bundle.class_names:
            self.classifier = bundle.classifier.to(self.device).eval()
            self.class_names = list(bundle.class_names)
        self.tile = tile or None
        self.overlap = overlap

    def tiles_for(self, height: int, width: int) -> Optional[int]:
        """The tile size for a ``height x width`` image: None (whole) unless it exceeds one tile."""
        if self.tile is None or height * width <= self.tile * self.tile:
            return None
        return self.tile

    @torch.no_grad()
    def classify(self, img: torch.Tensor) -> Dict[str, float]:
        """Class probabilities of a ``3 x H x W`` image, from its central `CLASSIFY_CROP` crop."""
        from ..infer.classify import center_crop, class_probabilities

        if self.classifier is None:
            return {}
        crop = center_crop(img, CLASSIFY_CROP)[None].to(self.device)
        probs = class_probabilities(self.net, self.classifier, crop)[0].cpu().tolist()
        return dict(zip(self.class_names, probs))

    def restore(self, img: torch.Tensor, progress: Optional[ProgressFn] = None) -> Tuple[torch.Tensor, int]:
        """(restored ``3 x H x W`` image on the CPU, number of tiles) for a ``3 x H x W`` image."""
        from ..infer.restore import restore_image
        from ..infer.tiling import count_tiles, grid_multiple

        tile = self.tiles_for(img.shape[1], img.shape[2])
        total = count_tiles(img.shape[1], img.shape[2], tile, self.overlap, grid_multiple(self.net))
        with torch.no_grad():
            out = restore_image(self.net, img.to(self.device), tile, self.overlap, progress=progress)
        return out, total

    def __call__(self, image: np.ndarray, progress: Optional[ProgressFn] = None) -> Result:
        """The app's button: an ``H x W x 3`` array -> probabilities, restoration and PIQE before/after."""
        img = to_tensor(image)
        probabilities = self.classify(img)
        restored, tiles = self.restore(img, progress)
        return Result(
            probabilities=probabilities,
            restored=to_uint8(restored),
            piqe_before=piqe_score(img),
            piqe_after=piqe_score(restored),
            tiles=tiles,
        )


def make_examples(
    folder: PathLike, examples: Sequence[Tuple[str, str, float]] = EXAMPLES, seed: int = 0
) -> List[Path]:
    """Write the example photos (embedded test photographs degraded by catalogue ops) as PNG files.

    The same seed gives the same bytes, so a file already there is kept."""
    from ..data import load_samples
    from ..data.io import write_image
    from ..degrade import apply

    photos = dict(load_samples("test"))
    folder = Path(folder)
    paths = []
    for name, op, level in examples:
        path = folder / f"{name}_{op}_{level:g}.png"
        if not path.is_file():
            generator = torch.Generator().manual_seed(seed)
            write_image(path, apply(op, photos[name][None], [level], generator=generator)[0])
        paths.append(path)
    return paths
