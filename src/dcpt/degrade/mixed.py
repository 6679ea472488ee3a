"""Composite degradations: the Real-ESRGAN second-order pipeline and MaskDCPT's fixed mixtures.

Every composite reuses the caller's per-sample generators, so a batch gives the same bytes as one-by-one
calls. Arbitrary mixtures need no op here: `apply` takes a list of ``(name, level)``.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from . import core, kernels
from .apply import run_stage

RESIZE_MODES = ("area", "bilinear", "bicubic")

BLUR_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
BLUR_TYPE_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


class _Draws:
    """A sample's uniform draws, consumed in order, so every branch of the pipeline stays replayable."""

    def __init__(self, gen: torch.Generator, count: int = 64):
        self._values: Iterator[float] = iter(core.rand([gen], (count,), gen.device)[0].tolist())

    def __call__(self) -> float:
        return next(self._values)

    def choice(self, probs) -> int:
        u, acc = self(), 0.0
        for i, p in enumerate(probs):
            acc += p
            if u < acc:
                return i
        return len(probs) - 1


def _strength(draws: _Draws, level: float) -> float:
    """A random fraction of `level` (between 0.3 and 1 of it): where in its range a stage parameter goes."""
    return level * (0.3 + 0.7 * draws())


def _random_kernel(draws: _Draws, level: float, sigma_max: float, sinc_prob: float, dtype, device) -> Tensor:
    """One Real-ESRGAN blur kernel (7 .. 21 taps): a sinc with probability `sinc_prob`, else one of the six
    Gaussian-like types; the sigmas grow from 0.2 towards `sigma_max` pixels with the level."""
    size = 7 + 2 * min(7, int(draws() * 8))
    if draws() < sinc_prob:
        lowest = math.pi / 3 if size < 13 else math.pi / 5
        cutoff = math.pi - (math.pi - lowest) * _strength(draws, level)
        return kernels.sinc_kernel(cutoff, size, dtype, device)
    kind = BLUR_TYPES[draws.choice(BLUR_TYPE_PROBS)]
    anisotropic = kind.endswith("aniso")
    sigma_x = 0.2 + (sigma_max - 0.2) * _strength(draws, level)
    sigma_y = 0.2 + (sigma_max - 0.2) * _strength(draws, level) if anisotropic else sigma_x
    theta = math.pi * draws() if anisotropic else 0.0
    if kind.startswith("generalized"):
        return kernels.generalized_gaussian_kernel(
            sigma_x, sigma_y, theta, 0.5 + 3.5 * draws(), size, dtype, device
        )
    if kind.startswith("plateau"):
        return kernels.plateau_kernel(sigma_x, sigma_y, theta, 1.0 + draws(), size, dtype, device)
    return kernels.gaussian_kernel(sigma_x, sigma_y, theta, size, dtype, device)


def _resize(x: Tensor, draws: _Draws, size) -> Tensor:
    mode = RESIZE_MODES[min(2, int(draws() * 3))]
    size = (max(1, int(size[0])), max(1, int(size[1])))
    extra = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=mode, **extra)


def _random_resize(x: Tensor, draws: _Draws, level: float, probs, low: float, high: float, ref) -> Tensor:
    """Resize to ``ref * scale``: up (towards `high`), down (towards `low`) or kept, chosen by `probs`."""
    choice, strength = draws.choice(probs), _strength(draws, level)
    scale = (1 + (high - 1) * strength, 1 - (1 - low) * strength, 1.0)[choice]
    return _resize(x, draws, (ref[0] * scale, ref[1] * scale))


def _random_noise(
    x: Tensor, draws: _Draws, gen, level: float, sigma_max: float, poisson_max: float
) -> Tensor:
    """Gaussian (sigma 1 .. `sigma_max` in 8-bit units) or Poisson-like noise (8-bit photon counts, scaled
    0.05 .. `poisson_max`), each with probability 0.5; grey (shared by channels) with probability 0.4."""
    gray = draws() < 0.4
    gaussian = draws() < 0.5
    strength = _strength(draws, level)
    noise = core.randn([gen], x.shape[1:], x.device).to(x.dtype)
    if gray:
        noise = noise[:, :1].expand_as(x)
    if gaussian:
        return x + noise * ((1 + (sigma_max - 1) * strength) / 255.0)
    signal = x.mean(dim=1, keepdim=True) if gray else x
    return x + noise * (signal.clamp(min=0) / 255.0).sqrt() * (0.05 + (poisson_max - 0.05) * strength)


def _random_jpeg(x: Tensor, draws: _Draws, gen, level: float) -> Tensor:
    """JPEG at quality 95 down towards 30 with the level."""
    quality = 95 - 65 * _strength(draws, level)
    return run_stage("jpeg", x.clamp(0.0, 1.0), 100.0 - quality, [gen])


def _second_order(x: Tensor, gen, level: float) -> Tensor:
    """Real-ESRGAN's degradation of one ``1 x 3 x H x W`` image, back at ``H x W``."""
    draws = _Draws(gen)
    height, width = x.shape[-2:]
    dtype, device = x.dtype, x.device
    x = kernels.blur_with_kernels(x, _random_kernel(draws, level, 3.0, 0.1, dtype, device))
    x = _random_resize(x, draws, level, (0.2, 0.7, 0.1), 0.15, 1.5, x.shape[-2:])
    x = _random_noise(x, draws, gen, level, 30.0, 3.0)
    x = _random_jpeg(x, draws, gen, level)
    if draws() < 0.8:
        x = kernels.blur_with_kernels(x, _random_kernel(draws, level, 1.5, 0.1, dtype, device))
    x = _random_resize(x, draws, level, (0.3, 0.4, 0.3), 0.3, 1.2, (height, width))
    x = _random_noise(x, draws, gen, level, 25.0, 2.5)
    final_sinc = draws() < 0.8
    sinc = _random_kernel(draws, level, 1.5, 1.0, dtype, device)
    jpeg_first = draws() < 0.5
    if jpeg_first:
        x = _random_jpeg(x, draws, gen, level)
    x = _resize(x, draws, (height, width))
    if final_sinc:
        x = kernels.blur_with_kernels(x, sinc)
    if not jpeg_first:
        x = _random_jpeg(x, draws, gen, level)
    return torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0


@core.register(
    "realesrgan",
    "mixed",
    (0.0, 1.0),
    "Real-ESRGAN second-order degradation (blur, resize, noise, JPEG, twice; final sinc), output at the "
    "input size; level in [0, 1] scales every stage's strength towards the paper's harshest settings",
)
def realesrgan(img: Tensor, level: Tensor, gens) -> Tensor:
    levels = level.tolist()
    return torch.cat([_second_order(img[i : i + 1], gens[i], levels[i]) for i in range(img.shape[0])])


@core.register(
    "blur_jpeg",
    "mixed",
    (0.0, 1.0),
    "Gaussian blur (sigma 0.5 .. 3 px) then JPEG (quality 90 .. 30); level in [0, 1] moves both",
)
def blur_jpeg(img: Tensor, level: Tensor, gens) -> Tensor:
    out = run_stage("gaussian_blur", img, 0.5 + 2.5 * level, gens)
    return run_stage("jpeg", out, 10.0 + 60.0 * level, gens)


@core.register(
    "blur_lowlight_noise",
    "mixed",
    (0.0, 1.0),
    "Gaussian blur (sigma 0.5 .. 2.5 px), low light (low_light level 0.2 .. 0.8) and Gaussian noise "
    "(sigma 2 .. 20 in 8-bit units); level in [0, 1] moves all three",
)
def blur_lowlight_noise(img: Tensor, level: Tensor, gens) -> Tensor:
    out = run_stage("gaussian_blur", img, 0.5 + 2.0 * level, gens)
    out = run_stage("low_light", out, 0.2 + 0.6 * level, gens)
    return run_stage("gaussian_noise", out, 2.0 + 18.0 * level, gens)


@core.register(
    "lowlight_haze_rain_snow",
    "mixed",
    (0.0, 1.0),
    "haze (beta 0.5 .. 2), then rain or snow (drawn per image, level 0.2 .. 0.8), then low light "
    "(level 0.2 .. 0.8), like CDD-11's low+haze+rain / low+haze+snow; level in [0, 1] moves all",
)
def lowlight_haze_rain_snow(img: Tensor, level: Tensor, gens) -> Tensor:
    rain_not_snow = core.rand(gens, (), img.device) < 0.5
    weather = 0.2 + 0.6 * level
    out = run_stage("haze", img, 0.5 + 1.5 * level, gens)
    rained = run_stage("rain", out, weather, gens)
    snowed = run_stage("snow", out, weather, gens)
    out = torch.where(rain_not_snow.view(-1, 1, 1, 1), rained, snowed)
    return run_stage("low_light", out, weather, gens)
