"""The compression family: a real JPEG round trip (OpenCV's libjpeg-turbo, 4:2:0 chroma, baseline).

`jpeg_roundtrip_uint8` is the package's one JPEG codec: the `jpeg` op, the toolkit's JPEG test rows
(`dcpt.data.paired.JpegCleanDataset`) and the releases' `PairedImageJPEGCARDataset`
(`dcpt.data.release_data.jpeg_input`) all encode through it, so they agree to the byte.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from .core import register


def jpeg_quality(level: float) -> int:
    """``100 - level`` rounded half up to an integer quality in [1, 100]."""
    return int(min(max(math.floor(100.0 - level + 0.5), 1), 100))


def jpeg_roundtrip_uint8(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode one ``H x W x 3`` uint8 RGB image at `quality` (1-100) with OpenCV, which
    codes BGR arrays (as ``cv2.imwrite`` and BasicSR do); returns RGB."""
    import cv2

    bgr = np.ascontiguousarray(rgb[..., ::-1])
    ok, buf = cv2.imencode(".jpg", bgr, (cv2.IMWRITE_JPEG_QUALITY, int(quality)))
    if not ok:
        raise DataError(f"OpenCV could not JPEG-encode a {rgb.shape[1]} x {rgb.shape[0]} image")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:
        raise DataError("OpenCV could not decode the JPEG it encoded")
    return decoded[..., ::-1]


@register(
    "jpeg",
    "compression",
    (5.0, 95.0),
    "JPEG round trip on 8-bit RGB; level = 100 - JPEG quality (5 = quality 95, 95 = quality 5)",
)
def jpeg(img: Tensor, level: Tensor, gens) -> Tensor:
    qualities = [jpeg_quality(v) for v in level.tolist()]
    u8 = (img.detach().clamp(0.0, 1.0) * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.empty_like(u8)

    def roundtrip(i):
        out[i] = jpeg_roundtrip_uint8(u8[i], qualities[i])

    workers = min(len(qualities), torch.get_num_threads())
    if workers <= 1:
        for i in range(len(qualities)):
            roundtrip(i)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(roundtrip, range(len(qualities))))
    decoded = torch.from_numpy(out).to(img.device).permute(0, 3, 1, 2)
    return decoded.to(img.dtype).div_(255.0)
