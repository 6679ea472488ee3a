"""Per-image NumPy / OpenCV versions of the weather, light and sampling ops, written the way BasicSR-style
data pipelines do it (one ``H x W x 3`` float32 image at a time, cv2, ``np.random``), as the reference
point for `degrade_throughput.py`, which discovers `BASELINES`.

Each baseline is ``fn(img_hwc_float32, level, rng) -> img`` with the same level meaning as the dcpt op
of that name and `rng` a ``np.random.Generator``. They follow the same recipes, not the same bytes.

Run alone, it times each baseline on 16 images against the batched dcpt op (2 threads)::

    python benchmarks/baselines_weather_light_sampling.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np


def mosaic(img: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """RGGB mosaic in NumPy, raw noise of sigma `level` / 255, OpenCV's bilinear Bayer demosaic."""
    raw = np.empty(img.shape[:2], np.float32)
    raw[0::2, 0::2] = img[0::2, 0::2, 0]
    raw[0::2, 1::2] = img[0::2, 1::2, 1]
    raw[1::2, 0::2] = img[1::2, 0::2, 1]
    raw[1::2, 1::2] = img[1::2, 1::2, 2]
    raw += rng.normal(0.0, level / 255.0, raw.shape).astype(np.float32)
    raw8 = np.clip(np.round(raw * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(raw8, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 255.0  # BG2RGB is RGGB


def resample(img: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """cv2.resize down by `level` (area / linear / cubic) and back up (linear / cubic)."""
    h, w = img.shape[:2]
    down = rng.choice([cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC])
    up = rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC])
    small = cv2.resize(img, (max(1, round(w / level)), max(1, round(h / level))), interpolation=int(down))
    return np.clip(cv2.resize(small, (w, h), interpolation=int(up)), 0, 1)


def haze(img: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Scattering model with a pseudo-depth from a vertical ramp and heavily blurred brightness."""
    h, w = img.shape[:2]
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    bright = cv2.GaussianBlur(gray, (0, 0), sigmaX=max(h, w) / 16)
    bright = (bright - bright.min()) / max(float(bright.max() - bright.min()), 1e-6)
    depth = 0.6 * np.linspace(1, 0, h, dtype=np.float32)[:, None] + 0.4 * bright
    depth = 0.1 + 0.9 * (depth - depth.min()) / max(float(depth.max() - depth.min()), 1e-6)
    airlight = rng.uniform(0.7, 1.0) + rng.uniform(-0.03, 0.03, 3)
    t = np.exp(-level * depth)[..., None]
    return np.clip(img * t + airlight * (1 - t), 0, 1).astype(np.float32)


def low_light(img: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma to linear, exposure 0.5 .. 0.03, Poisson shot noise and Gaussian read noise, 12-bit ADC,
    gamma back, 8-bit output."""
    exposure = 0.5 * (0.03 / 0.5) ** level
    electrons = np.power(img, 2.2) * exposure * 4000.0
    noisy = rng.poisson(electrons).astype(np.float32) + rng.normal(0, 2 + 6 * level, img.shape)
    raw = np.round(np.clip(noisy / 4000.0, 0, 1) * 4095) / 4095
    return (np.round(np.power(raw, 1 / 2.2) * 255) / 255).astype(np.float32)


def rain(img: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Sparse noise, a rotated line kernel through cv2.filter2D, screen blend."""
    h, w = img.shape[:2]
    unit = min(h, w) / 256
    length = max(3, int(unit * (12 + 32 * level)))
    seeds = (rng.random((h, w)) < 0.0015 + 0.006 * level).astype(np.float32)
    kernel = np.zeros((length, length), np.float32)
    kernel[:, length // 2] = 1.0
    angle = rng.uniform(-25, 25)
    kernel = cv2.warpAffine(
        kernel, cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0), (length, length)
    )
    kernel = cv2.GaussianBlur(kernel, (0, 0), sigmaX=max(0.6, unit * (0.45 + 0.6 * level)))
    layer = cv2.filter2D(seeds, -1, kernel / max(float(kernel.max()), 1e-6))
    layer = (np.clip(layer, 0, 1) * (0.4 + 0.45 * level))[..., None]
    return (img + layer * (1 - img)).astype(np.float32)


BASELINES = {"mosaic": mosaic, "resample": resample, "haze": haze, "low_light": low_light, "rain": rain}


def main() -> None:
    import torch
    from skimage import data

    from dcpt import degrade
    from dcpt.degrade.core import DEGRADATIONS

    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    base = cv2.resize(data.astronaut().astype(np.float32) / 255, (256, 256), interpolation=cv2.INTER_AREA)
    batch = np.stack([np.roll(base, 17 * i, axis=1) for i in range(16)])
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
    print(
        f"{'op':12s} {'per-image numpy/cv2':>20s} {'dcpt batched':>14s} {'ratio':>7s}   (16 x 3 x 256 x 256)"
    )
    for name, fn in BASELINES.items():
        level = DEGRADATIONS.get(name).sheet_levels()[1]
        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for img in batch:
            fn(img, level, rng)
        numpy_s = time.perf_counter() - start
        degrade.apply(name, tensor[:2], level, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        degrade.apply(name, tensor, level, generator=torch.Generator().manual_seed(0))
        torch_s = time.perf_counter() - start
        print(f"{name:12s} {numpy_s * 1e3:17.1f} ms {torch_s * 1e3:11.1f} ms {numpy_s / torch_s:6.2f}x")


if __name__ == "__main__":
    main()
