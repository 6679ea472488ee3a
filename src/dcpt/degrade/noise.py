"""The noise family: Gaussian, Poisson (shot), salt-and-pepper and a camera (shot + read, linear-space) model.

Noise fields are drawn per sample from that sample's generator. On CPU the per-sample draws run on a
small thread pool (one thread per torch thread): torch releases the GIL while it fills a tensor and the
generators are independent, so the bytes do not depend on the thread count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List

import torch
from torch import Tensor

from .core import randn, register

PEAK_PHOTONS_AT_LEVEL_0 = 10**3.5
SHOT_VARIANCE_AT_LEVEL_0 = 1e-4
SHOT_VARIANCE_GROWTH = 500.0


def per_sample(fn: Callable[[int], None], batch: int, device: torch.device) -> None:
    """Run ``fn(i)`` for every sample, on threads when on CPU (draws there are single-threaded)."""
    workers = min(batch, torch.get_num_threads()) if device.type == "cpu" else 1
    if workers <= 1:
        for i in range(batch):
            fn(i)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(fn, range(batch)))


def normal_field(gens: List[torch.Generator], like: Tensor) -> Tensor:
    """Standard normal noise shaped like `like`; sample i from ``gens[i]`` (the same draws as core.randn)."""
    out = torch.empty(like.shape, dtype=like.dtype, device=like.device)  # contiguous: draws fill memory order

    def draw(i):
        torch.randn(like.shape[1:], generator=gens[i], out=out[i])

    per_sample(draw, like.shape[0], like.device)
    return out


def uniform_field(gens: List[torch.Generator], shape, like: Tensor) -> Tensor:
    """Uniform [0, 1) draws ``(B, *shape)`` in `like`'s dtype and device, sample i from ``gens[i]``."""
    out = torch.empty((like.shape[0], *shape), dtype=like.dtype, device=like.device)

    def draw(i):
        torch.rand(tuple(shape), generator=gens[i], out=out[i])

    per_sample(draw, like.shape[0], like.device)
    return out


def _per_image(level: Tensor, like: Tensor) -> Tensor:
    return level.to(like.dtype).view(-1, 1, 1, 1)


@register(
    "gaussian_noise",
    "noise",
    (0.0, 75.0),
    "additive i.i.d. Gaussian noise; level = sigma on the 0-255 scale (15/25/50 are benchmark levels)",
    aliases=("noise",),
)
def gaussian_noise(img: Tensor, level: Tensor, gens) -> Tensor:
    noise = normal_field(gens, img)
    return noise.mul_(_per_image(level, img) / 255.0).add_(img)


def peak_photons(level: Tensor) -> Tensor:
    """Photons collected by a white pixel at `level`: ``10^(3.5 - level)`` (3162 at 0, 10 at 2.5)."""
    return PEAK_PHOTONS_AT_LEVEL_0 * torch.pow(10.0, -level)


@register(
    "poisson_noise",
    "noise",
    (0.0, 2.5),
    "Poisson shot noise; level = log10(3162 / photons at white), i.e. 10^(3.5-level) photons (3162 to 10)",
    aliases=("shot_noise",),
)
def poisson_noise(img: Tensor, level: Tensor, gens) -> Tensor:
    peak = _per_image(peak_photons(level.double()), img)
    rates = img.clamp(0.0, 1.0) * peak
    counts = torch.empty_like(img)

    def draw(i):
        counts[i] = torch.poisson(rates[i], generator=gens[i])

    per_sample(draw, img.shape[0], img.device)
    return counts.div_(peak)


@register(
    "salt_pepper",
    "noise",
    (0.0, 0.5),
    "salt-and-pepper impulses; level = fraction of pixels set to black or white (half each, all channels)",
)
def salt_pepper(img: Tensor, level: Tensor, gens) -> Tensor:
    u = uniform_field(gens, img.shape[-2:], img)[:, None]
    half = _per_image(level, img) / 2
    salt = u < half
    hit = salt | (u >= 1 - half)
    # One select over the image (the masks are one plane per sample): two chained masked_fills cost
    # 1.7x more on CPU.
    return torch.where(hit, salt.to(img.dtype), img)


def _power(x: Tensor, exponent: float) -> Tensor:
    """``x ** exponent`` for positive `x`, in place, as ``exp(exponent * log x)`` (within ~1.5e-6 relative
    of the exact power in float32).

    Not `torch.pow`: its CPU kernel runs whole SIMD blocks vectorised and the tail through the scalar
    ``std::pow``, which differ by an ulp, so a pixel's value would depend on where it sits in the tensor
    (a batch would not equal one-by-one calls). `exp` and `log` run every element, tail included, through
    the same vectorised code, which lets the transfer curves run on the whole batch at once."""
    return x.log_().mul_(exponent).exp_()


def srgb_to_linear(x: Tensor) -> Tensor:
    """Inverse sRGB transfer function (IEC 61966-2-1), [0, 1] -> linear [0, 1]."""
    curve = _power(x.add(0.055).div_(1.055), 2.4)
    return curve.where(x > 0.04045, x / 12.92)


def linear_to_srgb(x: Tensor) -> Tensor:
    """sRGB transfer function; negative inputs are clipped to 0 first. In-place ops: this runs on full
    noisy images, where every fresh temporary costs as much as the arithmetic."""
    x = x.clamp(min=0.0)
    curve = _power(x.clamp(min=0.0031308), 1 / 2.4).mul_(1.055).sub_(0.055)
    return curve.where(x > 0.0031308, x.mul_(12.92))


def sensor_variances(level: Tensor, read_jitter: Tensor):
    """Shot variance per unit linear signal, ``1e-4 * 500^level``, and read variance from the log-linear fit
    of Brooks et al. 2019 (Unprocessing): ``log read = 2.18 log shot + 1.2 + 0.26 * jitter``."""
    shot = SHOT_VARIANCE_AT_LEVEL_0 * SHOT_VARIANCE_GROWTH**level
    read = torch.exp(2.18 * torch.log(shot) + 1.2 + 0.26 * read_jitter)
    return shot, read


@register(
    "camera_noise",
    "noise",
    (0.0, 1.0),
    "sensor noise in linear light (shot + read); level = log gain, shot variance 1e-4 * 500^level per unit signal",
)
def camera_noise(img: Tensor, level: Tensor, gens) -> Tensor:
    jitter = randn(gens, (), img.device, dtype=img.dtype)
    shot, read = sensor_variances(level.to(img.dtype), jitter)
    linear = srgb_to_linear(img.clamp(0.0, 1.0))
    std = (linear * _per_image(shot, img)).add_(_per_image(read, img)).sqrt_()
    return linear_to_srgb(normal_field(gens, img).mul_(std).add_(linear))
