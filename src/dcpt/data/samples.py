"""The embedded default data: natural photographs shipped inside scikit-image's wheel.

They are read from the installed ``skimage/data`` folder (never downloaded), so the demo and the
tests have real images on any machine. Grey photographs (brick, camera, coins, grass, gravel, moon)
are read as RGB with three equal channels. Synthetic, medical and microscopy images in that folder
(logo, phantom, retina, cells, text pages, ...) are left out, and so is ``clock_motion`` (already
blurred). The split is fixed: three well-known test photographs, the rest for training.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import List, Tuple

from torch import Tensor

from ..errors import DataError
from .io import read_image, write_image

TRAIN_SAMPLES = {
    "astronaut": "astronaut.png",
    "brick": "brick.png",
    "coins": "coins.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "moon": "moon.png",
    "motorcycle_left": "motorcycle_left.png",
    "motorcycle_right": "motorcycle_right.png",
    "rocket": "rocket.jpg",
}
TEST_SAMPLES = {
    "camera": "camera.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
}
SPLITS = ("train", "test", "all")


def samples_folder() -> Path:
    """The ``data`` folder of the installed scikit-image package."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise DataError("the embedded sample images need scikit-image installed (pip install scikit-image)")
    return Path(spec.origin).parent / "data"


def _files(split: str) -> dict:
    if split == "train":
        return TRAIN_SAMPLES
    if split == "test":
        return TEST_SAMPLES
    if split == "all":
        return {**TRAIN_SAMPLES, **TEST_SAMPLES}
    raise DataError(f"unknown sample split {split!r}: expected one of {', '.join(SPLITS)}")


def sample_names(split: str = "train") -> List[str]:
    """Names of the embedded images in `split` ('train', 'test' or 'all'), in a fixed order."""
    return list(_files(split))


def sample_paths(split: str = "train") -> List[Path]:
    """The files behind `sample_names(split)`; raises DataError if the installed package lacks one."""
    folder = samples_folder()
    paths = [folder / f for f in _files(split).values()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"scikit-image's data folder {folder} lacks {', '.join(missing)}; reinstall scikit-image"
        )
    return paths


def load_samples(split: str = "train") -> List[Tuple[str, Tensor]]:
    """``[(name, 3 x H x W float32 RGB in [0, 1])]`` for the embedded images of `split`."""
    return [(name, read_image(p)) for name, p in zip(sample_names(split), sample_paths(split))]


def export_samples(folder, split: str = "train") -> List[Path]:
    """Write the embedded images of `split` as 8-bit RGB PNGs ``<name>.png`` into `folder`."""
    folder = Path(folder)
    return [write_image(folder / f"{name}.png", img) for name, img in load_samples(split)]
