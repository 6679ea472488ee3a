"""JPEG against Pillow's and OpenCV's own round trips, the level <-> quality mapping and the op contract."""

import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dcpt import degrade
from dcpt.degrade.compression import jpeg_quality


def to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def pillow_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def opencv_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_level_is_100_minus_quality():
    assert [jpeg_quality(v) for v in (5.0, 50.0, 54.5, 95.0)] == [95, 50, 46, 5]
    assert "100 - JPEG quality" in degrade.DEGRADATIONS.get("jpeg").description


@pytest.mark.parametrize("level", [5.0, 40.0, 90.0])
@pytest.mark.parametrize("reference", [pillow_roundtrip, opencv_roundtrip])
def test_jpeg_equals_library_roundtrip(level, reference, images):
    out = degrade.apply("jpeg", images, level)
    for i in range(images.shape[0]):
        ref = reference(to_uint8(images[i]), int(100 - level)).astype(np.float64) / 255
        got = out[i].permute(1, 2, 0).double().numpy()
        assert np.abs(got - ref).max() <= 1 / 255 + 1e-7


def test_per_sample_qualities_and_dtypes(images):
    levels = [10.0, 80.0, 30.0, 60.0]
    batch = degrade.apply("jpeg", images.double(), levels)
    assert batch.dtype == torch.float64
    one_by_one = torch.cat([degrade.apply("jpeg", images[i : i + 1].double(), levels[i]) for i in range(4)])
    assert torch.equal(batch, one_by_one)
    assert torch.equal(batch, degrade.apply("jpeg", images.double(), levels))
