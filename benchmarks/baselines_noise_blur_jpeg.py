"""Per-image numpy / OpenCV loops for the noise, blur and JPEG ops, written the way BasicSR does them.

Each baseline takes one ``H x W x 3`` float32 RGB image in [0, 1], the op's level (same meaning as the
catalogue) and a ``numpy.random.Generator``, builds its kernel or noise with numpy for this one image and
filters with ``cv2.filter2D`` (default border, BORDER_REFLECT_101, as in BasicSR). They exist only to time
the batched ops against the incumbent style; `degrade_throughput.py` discovers them.
"""

import math

import cv2
import numpy as np
from scipy import special


def _clip(img):
    return np.clip(img, 0.0, 1.0)


def _odd(radius, max_size=21):
    return int(min(max(2 * math.ceil(radius - 1e-9) + 1, 3), max_size))


# ----------------------------------------------------------------------------- noise


def gaussian_noise(img, level, rng):
    noise = np.float32(rng.standard_normal(img.shape)) * level / 255.0
    return _clip(img + noise)


def poisson_noise(img, level, rng):
    peak = 10 ** (3.5 - level)
    return _clip(np.float32(rng.poisson(_clip(img) * peak) / peak))


def salt_pepper(img, level, rng):
    u = rng.random(img.shape[:2])
    out = img.copy()
    out[u < level / 2] = 1.0
    out[u >= 1 - level / 2] = 0.0
    return out


def camera_noise(img, level, rng):
    x = _clip(img)
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    shot = 1e-4 * 500.0**level
    read = math.exp(2.18 * math.log(shot) + 1.2 + 0.26 * rng.standard_normal())
    noisy = np.maximum(linear + np.sqrt(linear * shot + read) * rng.standard_normal(img.shape), 0.0)
    srgb = np.where(
        noisy <= 0.0031308, noisy * 12.92, 1.055 * np.maximum(noisy, 0.0031308) ** (1 / 2.4) - 0.055
    )
    return _clip(np.float32(srgb))


# ----------------------------------------------------------------------------- blur kernels (numpy)


def _grid(size):
    r = (size - 1) / 2
    return np.meshgrid(np.linspace(-r, r, size), np.linspace(-r, r, size))


def _mahalanobis_sq(sx, sy, theta, size):
    xx, yy = _grid(size)
    u = xx * np.cos(theta) - yy * np.sin(theta)
    v = xx * np.sin(theta) + yy * np.cos(theta)
    return (u / sx) ** 2 + (v / sy) ** 2


def _filter(img, kernel):
    kernel = kernel / kernel.sum()
    return _clip(cv2.filter2D(img, -1, kernel.astype(np.float32)))


def gaussian_blur(img, level, rng):
    return _filter(img, np.exp(-0.5 * _mahalanobis_sq(level, level, 0.0, _odd(3 * level))))


def _shape_params(level, rng, ratio_range):
    theta = rng.uniform(0, np.pi)
    return theta, max(rng.uniform(*ratio_range) * level, 0.2)


def aniso_blur(img, level, rng):
    theta, minor = _shape_params(level, rng, (0.2, 0.8))
    return _filter(img, np.exp(-0.5 * _mahalanobis_sq(level, minor, theta, _odd(3 * level))))


def generalized_blur(img, level, rng):
    theta, minor = _shape_params(level, rng, (0.5, 1.0))
    beta = rng.uniform(0.5, 4.0)
    return _filter(img, np.exp(-0.5 * _mahalanobis_sq(level, minor, theta, _odd(3 * level)) ** beta))


def plateau_blur(img, level, rng):
    theta, minor = _shape_params(level, rng, (0.5, 1.0))
    beta = rng.uniform(2.0, 4.0)
    return _filter(img, 1 / (1 + _mahalanobis_sq(level, minor, theta, _odd(3 * level)) ** (beta / 2)))


def sinc_blur(img, level, rng):
    cutoff = np.pi / level
    xx, yy = _grid(21)
    d = np.hypot(xx, yy)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * d) / (2 * np.pi * d)
    kernel[10, 10] = cutoff**2 / (4 * np.pi)
    return _filter(img, kernel)


def _splat(points, size):
    r = (size - 1) / 2
    axis = np.linspace(-r, r, size)
    wx = np.clip(1 - np.abs(points[:, :1] - axis), 0, None)
    wy = np.clip(1 - np.abs(points[:, 1:] - axis), 0, None)
    return wy.T @ wx


def _motion_size(extent):
    return _odd(math.ceil(extent / 2) + 1, max_size=33)


def motion_blur(img, level, rng, steps=256):
    heading = rng.uniform(0, 2 * np.pi)
    turn = np.cumsum(rng.standard_normal(steps) * 6.0 / steps**1.5)
    angle = heading + np.cumsum(turn)
    speed = np.exp(np.cumsum(rng.standard_normal(steps)) / math.sqrt(steps))
    path = np.cumsum(np.stack([speed * np.cos(angle), -speed * np.sin(angle)], 1), 0)
    low, high = path.min(0), path.max(0)
    path = (path - (low + high) / 2) * (level / max((high - low).max(), 1e-6))
    return _filter(img, _splat(path, _motion_size(level)))


def linear_motion_blur(img, level, rng):
    angle = rng.uniform(0, np.pi)
    t = np.linspace(-0.5, 0.5, 257) * level
    return _filter(img, _splat(np.stack([t * np.cos(angle), -t * np.sin(angle)], 1), _motion_size(level)))


def defocus_blur(img, level, rng):
    size = _odd(math.ceil(level + 0.5) - 1)
    xx, yy = _grid(size)
    return _filter(img, np.clip(level + 0.5 - np.hypot(xx, yy), 0, 1))


# ----------------------------------------------------------------------------- compression


def jpeg(img, level, rng):
    quality = int(math.floor(100 - level + 0.5))
    u8 = np.ascontiguousarray((_clip(img) * 255).round().astype(np.uint8)[..., ::-1])
    _, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.float32(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]) / 255.0


BASELINES = {
    "gaussian_noise": gaussian_noise,
    "poisson_noise": poisson_noise,
    "salt_pepper": salt_pepper,
    "camera_noise": camera_noise,
    "gaussian_blur": gaussian_blur,
    "aniso_blur": aniso_blur,
    "generalized_blur": generalized_blur,
    "plateau_blur": plateau_blur,
    "sinc_blur": sinc_blur,
    "motion_blur": motion_blur,
    "linear_motion_blur": linear_motion_blur,
    "defocus_blur": defocus_blur,
    "jpeg": jpeg,
}
