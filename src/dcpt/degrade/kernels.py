"""Blur kernels: pure builders (no randomness) and `blur_with_kernels`, the batched filter that applies them.

Builders return a ``size x size`` tensor that sums to 1; `size` is odd and the centre pixel is the origin.
Coordinates are in pixels, ``x`` to the right and ``y`` downwards; an angle ``theta`` (radians) rotates the
major axis counter-clockwise from ``x`` as seen with ``y`` pointing down. Shape parameters may be Python
floats or 0-d tensors (then the kernel lives on their device), so other ops can build kernels from
per-sample draws without leaving the device.

Filtering is cross-correlation, as ``cv2.filter2D`` and ``torch.conv2d`` do (flip a kernel to convolve).
Borders are padded by reflection without repeating the edge pixel (torch ``reflect`` = OpenCV
``BORDER_REFLECT_101`` = scipy ``mirror``); when the kernel radius reaches the image side, which reflection
cannot serve, the edge pixel is repeated instead (torch ``replicate`` = scipy ``nearest``).
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Number = Union[float, Tensor]

MAX_SIZE = 21
FFT_FROM_SIZE = 25  # direct depthwise convolution is faster below this kernel size on CPU (measured)
SEPARABLE_FROM_SIZE = 9  # below this one 2-D pass beats two 1-D passes on CPU (measured)


def odd_size(radius: float, max_size: int = MAX_SIZE, min_size: int = 3) -> int:
    """The odd kernel size ``2 * ceil(radius) + 1``, kept within [min_size, max_size]."""
    size = 2 * int(math.ceil(max(float(radius), 0.0) - 1e-9)) + 1
    return int(min(max(size, min_size), max_size))


def _grid(size: int, like: Tensor):
    r = (size - 1) / 2.0
    axis = torch.linspace(-r, r, size, dtype=like.dtype, device=like.device)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return xx, yy


def _as_tensor(value: Number, dtype, device) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(dtype=dtype)
    return torch.tensor(float(value), dtype=dtype, device=device)


def _params(values: Sequence[Number], dtype, device):
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    device = ref.device if ref is not None and device is None else device
    return [_as_tensor(v, dtype, device) for v in values]


def _normalise(k: Tensor) -> Tensor:
    """`k` summing to one, its subnormal values (far tails of narrow kernels) set to zero: they add
    nothing a float can hold next to 1, and CPUs compute with them up to 100x slower."""
    k = k / k.sum()
    return k.masked_fill(k.abs() < torch.finfo(k.dtype).tiny, 0.0)


def mahalanobis_sq(
    sigma_x: Number, sigma_y: Number, theta: Number, size: int, dtype=torch.float32, device=None
):
    """``(u / sigma_x)^2 + (v / sigma_y)^2`` on the kernel grid, (u, v) the grid rotated by -theta."""
    sx, sy, th = _params((sigma_x, sigma_y, theta), dtype, device)
    xx, yy = _grid(size, sx)
    cos, sin = torch.cos(th), torch.sin(th)
    u = xx * cos - yy * sin
    v = xx * sin + yy * cos
    return (u / sx) ** 2 + (v / sy) ** 2


def gaussian_kernel1d(sigma: Number, size: int, dtype=torch.float32, device=None) -> Tensor:
    """Sampled 1-D Gaussian ``exp(-x^2 / (2 sigma^2))``, normalised; the 2-D isotropic kernel is its outer
    product with itself, which is why isotropic blur can run as two 1-D passes."""
    (s,) = _params((sigma,), dtype, device)
    r = (size - 1) / 2.0
    x = torch.linspace(-r, r, size, dtype=dtype, device=s.device)
    return _normalise(torch.exp(-0.5 * (x / s) ** 2))


def gaussian_kernel(
    sigma_x: Number, sigma_y: Number, theta: Number, size: int, dtype=torch.float32, device=None
):
    """Anisotropic Gaussian ``exp(-0.5 * q)``, q the squared Mahalanobis distance (sigmas in pixels)."""
    return _normalise(torch.exp(-0.5 * mahalanobis_sq(sigma_x, sigma_y, theta, size, dtype, device)))


def generalized_gaussian_kernel(sigma_x, sigma_y, theta, beta, size: int, dtype=torch.float32, device=None):
    """Generalised Gaussian ``exp(-0.5 * q^beta)`` (Real-ESRGAN): beta < 1 gives heavy tails, beta > 1 a
    flatter top; beta = 1 is the Gaussian."""
    q = mahalanobis_sq(sigma_x, sigma_y, theta, size, dtype, device)
    (b,) = _params((beta,), dtype, q.device)
    return _normalise(torch.exp(-0.5 * q**b))


def plateau_kernel(sigma_x, sigma_y, theta, beta, size: int, dtype=torch.float32, device=None):
    """Plateau ``1 / (1 + (d / sigma)^beta)`` with d / sigma the Mahalanobis distance, i.e. ``q^(beta/2)``
    (Real-ESRGAN's exponent on q is beta / 2)."""
    q = mahalanobis_sq(sigma_x, sigma_y, theta, size, dtype, device)
    (b,) = _params((beta,), dtype, q.device)
    return _normalise(1.0 / (1.0 + q ** (0.5 * b)))


def sinc_kernel(cutoff: Number, size: int, dtype=torch.float32, device=None) -> Tensor:
    """Circular low-pass (2-D sinc) ``wc * J1(wc * d) / (2 pi d)``, cutoff ``wc`` in radians per pixel
    (pi = Nyquist); the centre takes the limit ``wc^2 / (4 pi)``. It rings and has negative lobes."""
    (wc,) = _params((cutoff,), dtype, device)
    xx, yy = _grid(size, wc)
    d = torch.sqrt(xx**2 + yy**2)
    safe = torch.where(d > 0, d, torch.ones_like(d))
    k = wc * torch.special.bessel_j1(wc * safe) / (2 * math.pi * safe)
    k = torch.where(d > 0, k, wc**2 / (4 * math.pi))
    return _normalise(k)


def disk_kernel(radius: Number, size: int, dtype=torch.float32, device=None) -> Tensor:
    """Defocus disk of `radius` pixels; a pixel's weight is its approximate coverage
    ``clamp(radius + 0.5 - d, 0, 1)``, which keeps the edge anti-aliased."""
    (r,) = _params((radius,), dtype, device)
    xx, yy = _grid(size, r)
    d = torch.sqrt(xx**2 + yy**2)
    return _normalise(torch.clamp(r + 0.5 - d, 0.0, 1.0))


def trajectory_kernel(points: Tensor, size: int) -> Tensor:
    """Rasterise a path, ``N x 2`` (x, y) pixel offsets from the centre, one point per equal slice of
    exposure time, by bilinear splatting (a dense matrix product, so it is deterministic on every device)."""
    r = (size - 1) / 2.0
    axis = torch.linspace(-r, r, size, dtype=points.dtype, device=points.device)
    wx = torch.clamp(1.0 - (points[:, 0:1] - axis).abs(), min=0.0)
    wy = torch.clamp(1.0 - (points[:, 1:2] - axis).abs(), min=0.0)
    return _normalise(wy.T @ wx)


def line_kernel(
    length: Number, angle: Number, size: int, dtype=torch.float32, device=None, samples: int = 257
):
    """Straight motion of `length` pixels through the centre at `angle` radians (uniform speed)."""
    length_t, angle_t = _params((length, angle), dtype, device)
    t = torch.linspace(-0.5, 0.5, samples, dtype=dtype, device=length_t.device) * length_t
    points = torch.stack([t * torch.cos(angle_t), -t * torch.sin(angle_t)], dim=1)
    return trajectory_kernel(points, size)


# ----------------------------------------------------------------------------- applying kernels


def pad_mode(radius: int, height: int, width: int) -> str:
    """``reflect`` when the image can serve it, else ``replicate`` (see the module docstring)."""
    return "reflect" if radius < min(height, width) else "replicate"


def _pad(img: Tensor, ry: int, rx: int) -> Tensor:
    if ry == 0 and rx == 0:
        return img
    mode = pad_mode(max(ry, rx), img.shape[-2], img.shape[-1])
    return F.pad(img, (rx, rx, ry, ry), mode=mode)


def _per_channel(kernels: Tensor, channels: int) -> Tensor:
    """``(B, kh, kw)`` -> conv weight ``(B * C, 1, kh, kw)``."""
    return kernels.repeat_interleave(channels, dim=0)[:, None]


def _fast_len(n: int) -> int:
    """The smallest 2-3-5-smooth length >= n (cheap FFT sizes)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _fft_correlate(padded: Tensor, kernels: Tensor, out_h: int, out_w: int) -> Tensor:
    """Valid cross-correlation of padded ``(B, C, H', W')`` with ``(B, k, k)`` via real FFTs."""
    kh, kw = kernels.shape[-2:]
    size = (_fast_len(padded.shape[-2]), _fast_len(padded.shape[-1]))
    spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kernels.flip(-2, -1), s=size)[:, None]
    full = torch.fft.irfft2(spectrum, s=size)
    return full[..., kh - 1 : kh - 1 + out_h, kw - 1 : kw - 1 + out_w]


def blur_with_kernels(img: Tensor, kernels: Tensor) -> Tensor:
    """Cross-correlate each sample of ``B x C x H x W`` `img` with its own odd ``k x k`` kernel.

    `kernels` is ``(B, k, k)`` (one per sample) or ``(k, k)`` (shared). Kernels up to 23 x 23 run as one
    grouped (depthwise) convolution, larger ones through real FFTs. The result for a sample depends only on
    that sample and its kernel, so a batch gives the same bytes as one-by-one calls.
    """
    b, c, h, w = img.shape
    kernels = kernels.to(device=img.device, dtype=img.dtype)
    if kernels.ndim == 2:
        kernels = kernels.expand(b, *kernels.shape)
    kh, kw = kernels.shape[-2:]
    if kh % 2 == 0 or kw % 2 == 0 or kernels.shape[0] != b:
        raise ValueError(f"expected ({b}, odd, odd) kernels, got {tuple(kernels.shape)}")
    padded = _pad(img, kh // 2, kw // 2)
    if max(kh, kw) >= FFT_FROM_SIZE:
        return _fft_correlate(padded, kernels, h, w)
    out = F.conv2d(padded.reshape(1, b * c, *padded.shape[-2:]), _per_channel(kernels, c), groups=b * c)
    return out.view(b, c, h, w)


def blur_separable(img: Tensor, kernels_1d: Tensor) -> Tensor:
    """Filter with the separable kernel ``outer(k, k)`` per sample, `kernels_1d` ``(B, k)``: a row pass then
    a column pass (2k instead of k^2 multiplies per pixel)."""
    b, c, h, w = img.shape
    kernels_1d = kernels_1d.to(device=img.device, dtype=img.dtype)
    k = kernels_1d.shape[-1]
    if k < SEPARABLE_FROM_SIZE:
        return blur_with_kernels(img, kernels_1d[:, :, None] * kernels_1d[:, None, :])
    weight = _per_channel(kernels_1d, c)
    flat = _pad(img, k // 2, k // 2).reshape(1, b * c, h + k - 1, w + k - 1)
    rows = F.conv2d(flat, weight[:, :, None, :], groups=b * c)
    return F.conv2d(rows, weight[:, :, :, None], groups=b * c).view(b, c, h, w)
