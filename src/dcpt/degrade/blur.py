"""The blur family: Gaussian (isotropic, anisotropic, generalised, plateau), sinc, motion and defocus.

Each op draws its random shape parameters per sample (from that sample's generator), builds one kernel
per sample with `kernels`, groups samples whose kernels share a size and filters each group in one
batched call (`kernels.blur_with_kernels`; isotropic Gaussians as two 1-D passes). Borders are reflected
without repeating the edge pixel, or replicated when the kernel radius reaches the image side.
"""

from __future__ import annotations

import math
from typing import Callable, List

import torch
from torch import Tensor

from .core import randn, register, uniform
from .kernels import (
    blur_separable,
    blur_with_kernels,
    disk_kernel,
    gaussian_kernel,
    gaussian_kernel1d,
    generalized_gaussian_kernel,
    line_kernel,
    odd_size,
    plateau_kernel,
    sinc_kernel,
    trajectory_kernel,
)

SIGMA_RANGE = (0.2, 4.0)
SHAPED_SIGMA_RANGE = (0.5, 4.0)  # below ~0.5 px a rotated, flat-topped kernel is a delta on the pixel grid
MOTION_RANGE = (2.0, 30.0)
MOTION_MAX_SIZE = 33
TRAJECTORY_STEPS = 256

KernelBuilder = Callable[[int, int], Tensor]


def blur_grouped(img: Tensor, sizes: List[int], build: KernelBuilder, separable: bool = False) -> Tensor:
    """Filter sample i with ``build(i, sizes[i])``; samples sharing a kernel size go through one batched call.

    With `separable`, `build` returns a 1-D kernel k and the filter is ``outer(k, k)``.
    """
    out = torch.empty_like(img)
    apply = blur_separable if separable else blur_with_kernels
    for size in sorted(set(sizes)):
        idx = [i for i, s in enumerate(sizes) if s == size]
        kernels = torch.stack([build(i, size) for i in idx])
        if len(idx) == len(sizes):
            return apply(img, kernels)
        index = torch.tensor(idx, device=img.device)
        out[index] = apply(img[index], kernels)
    return out


def _sigma_sizes(level: Tensor) -> List[int]:
    return [odd_size(3.0 * s) for s in level.tolist()]


def _rotated_params(level: Tensor, gens, ratio_range):
    """Per-sample rotation in [0, pi) and minor sigma = ratio * major (at least the range minimum)."""
    theta = uniform(gens, 0.0, math.pi, level.device)
    ratio = uniform(gens, ratio_range[0], ratio_range[1], level.device)
    return theta, torch.clamp(ratio * level, min=SIGMA_RANGE[0])


@register(
    "gaussian_blur",
    "blur",
    SIGMA_RANGE,
    "isotropic Gaussian blur; level = sigma in pixels (kernel radius ceil(3 sigma), at most 21x21)",
    aliases=("blur",),
)
def gaussian_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    def build(i, size):
        return gaussian_kernel1d(level[i], size, dtype=img.dtype)

    return blur_grouped(img, _sigma_sizes(level), build, separable=True)


@register(
    "aniso_blur",
    "blur",
    SHAPED_SIGMA_RANGE,
    "anisotropic Gaussian blur, random rotation; level = major-axis sigma in pixels (minor = 0.2-0.8 x major)",
)
def aniso_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    theta, minor = _rotated_params(level, gens, (0.2, 0.8))

    def build(i, size):
        return gaussian_kernel(level[i], minor[i], theta[i], size, dtype=img.dtype)

    return blur_grouped(img, _sigma_sizes(level), build)


@register(
    "generalized_blur",
    "blur",
    SHAPED_SIGMA_RANGE,
    "generalised Gaussian exp(-0.5 q^beta), random beta in [0.5, 4] and rotation; level = major sigma in pixels",
)
def generalized_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    return _shaped_blur(img, level, gens, generalized_gaussian_kernel, (0.5, 4.0))


@register(
    "plateau_blur",
    "blur",
    SHAPED_SIGMA_RANGE,
    "plateau kernel 1/(1+(d/sigma)^beta), random beta in [2, 4] and rotation; level = major sigma in pixels",
)
def plateau_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    return _shaped_blur(img, level, gens, plateau_kernel, (2.0, 4.0))


def _shaped_blur(img: Tensor, level: Tensor, gens, kernel, beta_range) -> Tensor:
    """Blur with a rotated `kernel(major, minor, theta, beta, size)` of random shape exponent `beta`,
    drawn after the rotation and the minor sigma (minor = 0.5-1 x major)."""
    theta, minor = _rotated_params(level, gens, (0.5, 1.0))
    beta = uniform(gens, beta_range[0], beta_range[1], img.device)

    def build(i, size):
        return kernel(level[i], minor[i], theta[i], beta[i], size, dtype=img.dtype)

    return blur_grouped(img, _sigma_sizes(level), build)


@register(
    "sinc_blur",
    "blur",
    (1.0, 6.0),
    "2-D sinc (circular low-pass) 21x21; level = Nyquist / cutoff, i.e. cutoff pi/level rad per pixel",
)
def sinc_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    def build(i, size):
        return sinc_kernel(math.pi / level[i], size, dtype=img.dtype)

    return blur_grouped(img, [21] * img.shape[0], build)


def _motion_size(extent: float) -> int:
    return odd_size(math.ceil(extent / 2.0) + 1, max_size=MOTION_MAX_SIZE)


def shake_trajectory(accel: Tensor, speed_noise: Tensor, heading: Tensor, extent: Tensor) -> Tensor:
    """A camera-shake path, ``N x 2`` pixel offsets, from N standard-normal draws each of `accel` (angular
    acceleration) and `speed_noise`, and a start `heading` (radians). The path curves smoothly (heading is
    a doubly integrated random walk), its speed drifts (log-speed random walk), and it is scaled so that
    the longer side of its bounding box is `extent` pixels and centred on that box."""
    n = accel.shape[0]
    turn_rate = torch.cumsum(accel * (6.0 / n**1.5), dim=0)
    angle = heading + torch.cumsum(turn_rate, dim=0)
    speed = torch.exp(torch.cumsum(speed_noise, dim=0) / math.sqrt(n))
    steps = torch.stack([speed * torch.cos(angle), -speed * torch.sin(angle)], dim=1)
    path = torch.cumsum(steps, dim=0)
    low, high = path.min(dim=0).values, path.max(dim=0).values
    span = torch.clamp((high - low).max(), min=1e-6)
    return (path - (low + high) / 2) * (extent / span)


@register(
    "motion_blur",
    "blur",
    MOTION_RANGE,
    "random camera-shake trajectory; level = trajectory extent in pixels (kernels up to 33x33)",
)
def motion_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    heading = uniform(gens, 0.0, 2 * math.pi, img.device)
    accel = randn(gens, (TRAJECTORY_STEPS,), img.device, dtype=img.dtype)
    speed_noise = randn(gens, (TRAJECTORY_STEPS,), img.device, dtype=img.dtype)

    def build(i, size):
        path = shake_trajectory(accel[i], speed_noise[i], heading[i].to(img.dtype), level[i].to(img.dtype))
        return trajectory_kernel(path, size)

    return blur_grouped(img, [_motion_size(v) for v in level.tolist()], build)


@register(
    "linear_motion_blur",
    "blur",
    MOTION_RANGE,
    "straight-line motion at a random angle; level = length in pixels (kernels up to 33x33)",
)
def linear_motion_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    angle = uniform(gens, 0.0, math.pi, img.device)

    def build(i, size):
        return line_kernel(level[i], angle[i], size, dtype=img.dtype)

    return blur_grouped(img, [_motion_size(v) for v in level.tolist()], build)


@register(
    "defocus_blur",
    "blur",
    (1.0, 10.0),
    "defocus disk with anti-aliased edge; level = disk radius in pixels (kernels up to 21x21)",
)
def defocus_blur(img: Tensor, level: Tensor, gens) -> Tensor:
    def build(i, size):
        return disk_kernel(level[i], size, dtype=img.dtype)

    sizes = [odd_size(math.ceil(r + 0.5) - 1) for r in level.tolist()]
    return blur_grouped(img, sizes, build)
