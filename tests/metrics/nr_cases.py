"""The photographs and degradations on which dcpt's no-reference metrics are checked against the references.

Used twice: by ``scripts/make_nr_fixtures.py``, which scores every case with pyiqa and BasicSR in a
separate environment and writes ``tests/fixtures/no_reference.json``, and by
``tests/metrics/test_no_reference.py``, which rebuilds the same images and scores them with dcpt. So it
needs numpy and Pillow only (not dcpt, nor torch): the degradations are written out here, with numpy's
seeded generator and Pillow's JPEG encoder, and every case's pixels carry a SHA-256 in the fixture.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path
from typing import Callable, Dict, Iterator, Tuple

import numpy as np
from PIL import Image

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "no_reference.json"

# Natural photographs shipped in scikit-image's wheel (PNG, so decoding is exact everywhere).
PHOTOS = {
    "astronaut": "astronaut.png",
    "camera": "camera.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
}


def photo(name: str) -> np.ndarray:
    """An H x W x 3 uint8 RGB photograph from scikit-image's data folder (grey ones get 3 channels)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        raise RuntimeError("the no-reference cases need scikit-image installed")
    path = Path(spec.origin).parent / "data" / PHOTOS[name]
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def gaussian_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Additive white Gaussian noise of `sigma` (0-255 scale), every channel, rounded and clipped."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, img.shape)
    return _to_uint8(img.astype(np.float64) + noise)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (radius ceil(3 sigma), mirrored edges without repeating the edge pixel)."""
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-(offsets**2) / (2 * sigma**2))
    taps /= taps.sum()
    out = img.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        length = out.shape[axis]
        out = sum(w * np.take(padded, np.arange(k, k + length), axis=axis) for k, w in enumerate(taps))
    return _to_uint8(out)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """A JPEG round trip through Pillow at `quality` (4:2:0 chroma subsampling, Pillow's default)."""
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


DEGRADATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda img: img,
    "noise15": lambda img: gaussian_noise(img, 15.0, seed=0),
    "noise35": lambda img: gaussian_noise(img, 35.0, seed=1),
    "blur2": lambda img: gaussian_blur(img, 2.0),
    "jpeg20": lambda img: jpeg(img, 20),
    "jpeg5": lambda img: jpeg(img, 5),
}


def cases() -> Iterator[Tuple[str, str, np.ndarray]]:
    """``(photo, degradation, H x W x 3 uint8 RGB)`` for every photograph and degradation, in order."""
    for name in PHOTOS:
        clean = photo(name)
        for degradation, apply in DEGRADATIONS.items():
            yield name, degradation, apply(clean)


def digest(img: np.ndarray) -> str:
    """SHA-256 of an image's shape and pixels: the fixture records it, so that a test knows it scores
    exactly the pixels the references scored."""
    return hashlib.sha256(repr(img.shape).encode() + np.ascontiguousarray(img).tobytes()).hexdigest()
