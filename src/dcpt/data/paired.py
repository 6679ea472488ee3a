"""Paired benchmark folders (degraded + clean), explicit pair lists, and clean-only folders degraded
at read time (seeded Gaussian noise, JPEG).

Layouts (sub-folders of the root, and how a degraded file finds its clean file):

===============  ======================  ==========================  =========================================
layout           degraded folder         clean folder                pairing rule (file stems)
===============  ======================  ==========================  =========================================
``rain100``      ``rainy/``              ``norain/``                 equal once a leading ``rain-`` / ``norain-``
                                                                     (or ``rain_`` / ``norain_``) is dropped:
                                                                     ``rain-001`` <-> ``norain-001``
``sots``         ``hazy/``               ``gt/`` or ``clear/``       clean stem = degraded stem before the first
                                                                     ``_``: ``0001_0.8_0.2.jpg`` -> ``0001.png``
``gopro``        ``input/`` or ``blur/``  ``groundtruth/``,          equal stems
                                         ``sharp/`` or ``target/``
``lol``          ``low/``                ``high/``                   equal stems
``generic``      ``lq/``                 ``gt/``                     equal stems
===============  ======================  ==========================  =========================================

Extensions never matter. Every degraded file must find exactly one clean file and every clean file
must be used, otherwise `DataError` lists the first few strays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from .bad_samples import BadSamplePolicy, BadSamples
from .crops import augment, check_patch, draw_augment, draw_crop, pad_to_patch
from .io import list_images, read_image
from .synthetic import derive_seed

SHOW = 5


def _same_stem(stem: str) -> str:
    return stem


def _rain_key(stem: str) -> str:
    return re.sub(r"^(no)?rain[-_]", "", stem, flags=re.IGNORECASE)


def _prefix_key(stem: str) -> str:
    return stem.split("_")[0]


@dataclass(frozen=True)
class Layout:
    """Candidate folder names for degraded and clean images, and the keys that pair their stems."""

    lq_dirs: Tuple[str, ...]
    gt_dirs: Tuple[str, ...]
    lq_key: Callable[[str], str]
    gt_key: Callable[[str], str]


LAYOUTS: Dict[str, Layout] = {
    "rain100": Layout(("rainy",), ("norain",), _rain_key, _rain_key),
    "sots": Layout(("hazy",), ("gt", "clear"), _prefix_key, _same_stem),
    "gopro": Layout(("input", "blur"), ("groundtruth", "sharp", "target"), _same_stem, _same_stem),
    "lol": Layout(("low",), ("high",), _same_stem, _same_stem),
    "generic": Layout(("lq",), ("gt",), _same_stem, _same_stem),
}


def _find_dirs(root: Path, layout: Layout) -> Optional[Tuple[Path, Path]]:
    lq = next((root / d for d in layout.lq_dirs if (root / d).is_dir()), None)
    gt = next((root / d for d in layout.gt_dirs if (root / d).is_dir()), None)
    return (lq, gt) if lq and gt else None


def detect_layout(root: Path) -> str:
    """The first layout in `LAYOUTS` whose degraded and clean folders both exist under `root`."""
    for name, layout in LAYOUTS.items():
        if _find_dirs(root, layout):
            return name
    expected = "; ".join(f"{'|'.join(lay.lq_dirs)} + {'|'.join(lay.gt_dirs)}" for lay in LAYOUTS.values())
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise DataError(
        f"{root}: no known paired layout (expected sub-folders {expected}); found {present or 'none'}"
    )


def _strays(kind: str, folder: Path, names: List[str]) -> str:
    shown = ", ".join(names[:SHOW]) + (f" and {len(names) - SHOW} more" if len(names) > SHOW else "")
    return f"{len(names)} {kind} in {folder} without a partner: {shown}"


def match_pairs(lq_dir: Path, gt_dir: Path, layout: Layout) -> List[Tuple[Path, Path]]:
    """``[(degraded file, clean file)]`` sorted by degraded file name; DataError on strays."""
    gt_by_key: Dict[str, Path] = {}
    for path in list_images(gt_dir):
        key = layout.gt_key(path.stem)
        if key in gt_by_key:
            raise DataError(f"{gt_dir}: {gt_by_key[key].name} and {path.name} both pair with key {key!r}")
        gt_by_key[key] = path
    pairs, lonely_lq = [], []
    for path in list_images(lq_dir):
        gt = gt_by_key.get(layout.lq_key(path.stem))
        if gt is None:
            lonely_lq.append(path.name)
        else:
            pairs.append((path, gt))
    used = {gt for _, gt in pairs}
    lonely_gt = [p.name for p in gt_by_key.values() if p not in used]
    if lonely_lq:
        raise DataError(_strays("degraded files", lq_dir, lonely_lq))
    if lonely_gt:
        raise DataError(_strays("clean files", gt_dir, sorted(lonely_gt)))
    return pairs


class _Crops:
    """Optional seeded random crop and flips shared by the folder data sets (same rule as SyntheticDataset)."""

    def _init_crops(self, patch_size: Optional[int], augment_: bool, seed: int, pad_small: bool) -> None:
        if patch_size is not None and int(patch_size) < 1:
            raise ConfigError(f"patch_size must be a positive number of pixels, got {patch_size}")
        self.patch_size = None if patch_size is None else int(patch_size)
        self.augment, self.seed, self.epoch, self.pad_small = augment_, int(seed), 0, pad_small

    def set_epoch(self, epoch: int) -> None:
        """Draw fresh crops and flips (training only; items of one epoch depend on (seed, epoch, index))."""
        self.epoch = int(epoch)

    def _crop(self, index: int, name: str, *images: Tensor) -> List[Tensor]:
        if self.patch_size is None and not self.augment:
            return list(images)
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, index))
        p = self.patch_size
        crops = list(images)
        if p is not None:
            crops = [pad_to_patch(im, p) if self.pad_small else im for im in crops]
            check_patch(crops[0], p, name)
            top, left = draw_crop(g, crops[0].shape[1], crops[0].shape[2], p)
            crops = [im[:, top : top + p, left : left + p] for im in crops]
        hflip, vflip, turns = draw_augment(g)
        if self.augment:
            crops = [augment(im, hflip, vflip, turns) for im in crops]
        return [im.contiguous() for im in crops]


class PairedFolderDataset(_Crops, Dataset):
    """Degraded / clean image pairs from a benchmark folder (see the module doc for layouts).

    Items: ``{"lq", "gt", "label", "name"}`` with ``name`` the degraded file's stem. Full images by
    default (evaluation); give `patch_size` (and `augment=True` for flips and 90-degree turns) to train.

    A pair that cannot be read (a corrupt file, or sides of different sizes) stops the data set
    naming the file, unless `bad_samples` says ``skip``: then the item is the next readable pair
    (cropped with the item's own seed) and the pair is counted in `bad`. Pairs are read lazily, so
    a bad pair is found when first drawn.
    """

    def __init__(
        self,
        root,
        layout: str = "auto",
        label: int = 0,
        patch_size: Optional[int] = None,
        augment: bool = False,
        seed: int = 0,
        pad_small: bool = False,
        bad_samples: Optional[BadSamplePolicy] = None,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: no such folder")
        if layout == "auto":
            layout = detect_layout(self.root)
        if layout not in LAYOUTS:
            raise ConfigError(f"unknown layout {layout!r}: expected auto or one of {', '.join(LAYOUTS)}")
        self.layout = layout
        dirs = _find_dirs(self.root, LAYOUTS[layout])
        if dirs is None:
            spec = LAYOUTS[layout]
            raise DataError(
                f"{self.root}: layout {layout!r} needs sub-folders {'|'.join(spec.lq_dirs)} "
                f"and {'|'.join(spec.gt_dirs)}"
            )
        self.lq_dir, self.gt_dir = dirs
        self.pairs = match_pairs(self.lq_dir, self.gt_dir, LAYOUTS[layout])
        self.label = int(label)
        self.bad = BadSamples(bad_samples, len(self.pairs), f"pairs in {self.root}")
        self._bad_index: set = set()
        self._init_crops(patch_size, augment, seed, pad_small)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self.pairs):
            raise IndexError(f"pair {index} is outside the {len(self.pairs)} pairs of {self.root}")
        for step in range(len(self.pairs)):
            k = (index + step) % len(self.pairs)
            images = self._read_pair(k)
            if images is not None:
                lq_path = self.pairs[k][0]
                lq, gt = self._crop(index, str(lq_path), *images)
                return {"lq": lq, "gt": gt, "label": self.label, "name": lq_path.stem}
        raise DataError(f"{self.root}: none of the {len(self.pairs)} pairs could be read")

    def _read_pair(self, k: int) -> Optional[Tuple[Tensor, Tensor]]:
        """Pair `k`'s (degraded, clean) images, or None when it is bad and the policy skips it."""
        if k in self._bad_index:
            return None
        lq_path, gt_path = self.pairs[k]
        try:
            lq, gt = read_image(lq_path), read_image(gt_path)
            if lq.shape != gt.shape:
                raise DataError(
                    f"{lq_path} is {lq.shape[1]}x{lq.shape[2]} but its clean partner "
                    f"{gt_path.name} is {gt.shape[1]}x{gt.shape[2]}"
                )
        except DataError as exc:
            self.bad.record(str(lq_path), exc)
            self._bad_index.add(k)
            return None
        return lq, gt


def _check_quantize(quantize: str) -> None:
    if quantize not in ("floor", "round", "none"):
        raise ConfigError(f"quantize must be 'floor', 'round' or 'none', got {quantize!r}")


def add_gaussian_noise(clean: Tensor, sigma: float, seed: int, quantize: str = "floor") -> Tensor:
    """PromptIR / AirNet test noise: ``clip(255 * clean + sigma * n, 0, 255)`` then to 8 bits, over 255.

    `sigma` is on the 0-255 scale; ``n`` is ``np.random.RandomState(seed).randn(H, W, 3)`` (height,
    width, RGB order, as those repositories draw it after ``np.random.seed``). `quantize` is "floor"
    (their ``astype(np.uint8)``), "round", or "none" to keep the float noisy image.
    """
    _check_quantize(quantize)
    hwc = clean.permute(1, 2, 0).to(torch.float64).numpy() * 255.0
    noise = np.random.RandomState(seed).randn(*hwc.shape)
    noisy = np.clip(hwc + float(sigma) * noise, 0.0, 255.0)
    if quantize == "floor":
        noisy = np.floor(noisy)
    elif quantize == "round":
        noisy = np.round(noisy)
    return torch.from_numpy(noisy / 255.0).permute(2, 0, 1).to(torch.float32).contiguous()


class NoisyCleanDataset(_Crops, Dataset):
    """A clean-only folder (CBSD68, Kodak24, Urban100...) with Gaussian noise of `sigma` (0-255 scale).

    Protocol (PromptIR / AirNet denoising test): the 8-bit image on the 0-255 scale plus
    ``sigma * randn``, clipped to [0, 255] and truncated to integers (`quantize="floor"`), divided by 255.
    The noise of a file depends only on (`seed`, its file name): seeded with
    ``derive_seed(seed, name) % 2**32`` in numpy's RandomState, so it is the same in every run, for any
    subset or order of files. Items: ``{"lq", "gt", "label", "name"}``.
    """

    def __init__(
        self,
        root,
        sigma: float,
        seed: int = 0,
        label: int = 0,
        quantize: str = "floor",
        patch_size: Optional[int] = None,
        augment: bool = False,
    ):
        if not 0 <= float(sigma) <= 255:
            raise ConfigError(f"sigma is on the 0-255 scale: expected a value in [0, 255], got {sigma}")
        self.paths = list_images(root)
        self.sigma, self.label, self.quantize = float(sigma), int(label), quantize
        _check_quantize(quantize)
        self._init_crops(patch_size, augment, seed, False)

    def noise_seed(self, index: int) -> int:
        return derive_seed(self.seed, self.paths[index].name) % 2**32

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        gt = read_image(path)
        lq = add_gaussian_noise(gt, self.sigma, self.noise_seed(index), self.quantize)
        lq, gt = self._crop(index, str(path), lq, gt)
        return {"lq": lq, "gt": gt, "label": self.label, "name": path.stem}


class JpegCleanDataset(Dataset):
    """A clean-only folder with each image's JPEG at `quality`: the clean image in 8 bits through
    `dcpt.degrade.compression.jpeg_roundtrip_uint8` (OpenCV's codec, its defaults otherwise).
    Items: ``{"lq", "gt", "name"}``."""

    def __init__(self, root, quality: int):
        self.paths, self.quality = list_images(root), int(quality)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        from ..degrade.compression import jpeg_roundtrip_uint8
        from .io import from_numpy, to_numpy

        gt = read_image(self.paths[index])
        try:
            lq = from_numpy(jpeg_roundtrip_uint8(to_numpy(gt, 8), self.quality))
        except DataError as exc:
            raise DataError(f"{self.paths[index]}: {exc}") from None
        return {"lq": lq, "gt": gt, "name": self.paths[index].stem}


class PairListDataset(Dataset):
    """Explicit (degraded, clean) file pairs, for folders named outside the standard layouts (see
    `match_pairs`). Items: ``{"lq", "gt", "name"}``, whole images."""

    def __init__(self, pairs: Sequence[Tuple[Path, Path]]):
        self.pairs = list(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        lq_path, gt_path = self.pairs[index]
        return {"lq": read_image(lq_path), "gt": read_image(gt_path), "name": lq_path.stem}
