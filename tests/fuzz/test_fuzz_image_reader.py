"""Fuzzing `read_image`: whatever the bytes, a 3 x H x W float image in [0, 1] or a one-line DataError.

Mutations start from real files of every format the reader accepts (so the fuzzer reaches the
decoders, not only the format sniffing): flipped bytes in the header, truncations, random bytes.
Valid images of every size from 1 x 1, in grey, grey+alpha, RGBA, palette and 16 bits, must read.
"""

import io
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dcpt.data.io import read_image, read_image_with_depth
from dcpt.errors import DataError

# Examples that cost microseconds (bytes through a parser) can be many more than the profile's.
CHEAP = settings(max_examples=settings.default.max_examples * 8)
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".tif": "TIFF", ".bmp": "BMP", ".webp": "WEBP"}


def _encode(suffix: str, mode: str = "RGB", size=(5, 4)) -> bytes:
    rng = np.random.default_rng(0)
    w, h = size
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
    else:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    im.save(buf, format=FORMATS[suffix])
    return buf.getvalue()


def _encode_16bit_colour(suffix: str, size=(5, 4), channels: int = 3) -> bytes:
    """16-bit colour, which the reader hands to OpenCV (Pillow would drop it to 8 bits)."""
    import cv2

    w, h = size
    pixels = np.random.default_rng(1).integers(0, 65536, (h, w, channels), dtype=np.uint16)
    ok, buf = cv2.imencode(suffix, pixels)
    assert ok
    return buf.tobytes()


def _encode_rotated_jpeg() -> bytes:
    """A JPEG whose EXIF says 'turn me' (orientation 6), so the EXIF path is fuzzed too."""
    im = Image.fromarray(np.random.default_rng(2).integers(0, 256, (4, 6, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


SEEDS = {
    ".png": [
        _encode(".png"),
        _encode(".png", "RGBA"),
        _encode(".png", "I;16"),
        _encode(".png", "P"),
        _encode_16bit_colour(".png"),
        _encode_16bit_colour(".png", channels=4),
    ],
    ".jpg": [_encode(".jpg"), _encode(".jpg", "L"), _encode_rotated_jpeg()],
    ".tif": [_encode(".tif"), _encode(".tif", "RGBA"), _encode(".tif", "I;16"), _encode_16bit_colour(".tif")],
    ".bmp": [_encode(".bmp")],
    ".webp": [_encode(".webp")],
}


def read_bytes(data: bytes, suffix: str):
    """`read_image_with_depth` of a file holding `data`; checks the one promise on success."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            img, depth = read_image_with_depth(path)
        except DataError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            return None
    assert img.dtype == torch.float32 and img.ndim == 3 and img.shape[0] == 3 and depth in (8, 16)
    assert bool(torch.isfinite(img).all()) and 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    return img


@CHEAP
@given(data=st.binary(max_size=300), suffix=st.sampled_from(sorted(FORMATS)))
def test_random_bytes(data, suffix):
    read_bytes(data, suffix)


@st.composite
def mutated(draw):
    suffix = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(draw(st.sampled_from(SEEDS[suffix])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, min(len(data), 64) - 1))  # the header and the first chunks
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data), suffix


@CHEAP
@given(mutated())
def test_mutated_headers_and_truncations(case):
    read_bytes(*case)


@given(
    width=st.integers(1, 40),
    height=st.integers(1, 40),
    mode=st.sampled_from(["L", "LA", "RGB", "RGBA", "P", "I;16"]),
    suffix=st.sampled_from([".png", ".tif"]),
)
def test_valid_images_of_every_size_read(width, height, mode, suffix):
    img = read_bytes(_encode(suffix, mode, (width, height)), suffix)
    assert img is not None and img.shape == (3, height, width)


@given(width=st.integers(1, 40), height=st.integers(1, 40), suffix=st.sampled_from([".png", ".tif"]))
def test_valid_16bit_colour_images_of_every_size_read(width, height, suffix):
    img = read_bytes(_encode_16bit_colour(suffix, (width, height)), suffix)
    assert img is not None and img.shape == (3, height, width)


@given(width=st.integers(1, 24), height=st.integers(1, 24), suffix=st.sampled_from([".jpg", ".bmp", ".webp"]))
def test_valid_8bit_images_of_every_size_read(width, height, suffix):
    img = read_bytes(_encode(suffix, "RGB", (width, height)), suffix)
    assert img is not None and img.shape == (3, height, width)


def test_a_mutation_can_be_caught():
    """The harness itself: a file cut after its header is refused, not read as an image."""
    assert read_bytes(SEEDS[".png"][0][:40], ".png") is None
    assert read_image.__name__ == "read_image"
