"""Image I/O against Pillow and OpenCV as independent decoders."""

import os
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from dcpt.data import io
from dcpt.data.io import (
    apply_exif_orientation,
    from_numpy,
    list_images,
    read_image,
    read_image_with_depth,
    to_uint8,
    write_image,
)
from dcpt.errors import DataError


@pytest.fixture
def rgb8():
    return np.random.default_rng(0).integers(0, 256, (12, 17, 3), dtype=np.uint8)


@pytest.fixture
def rgb16():
    return np.random.default_rng(1).integers(0, 65536, (12, 17, 3), dtype=np.uint16)


def as_hwc(t):
    return t.permute(1, 2, 0).numpy()


def test_png8_matches_pillow_exactly(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "a.png")
    img, depth = read_image_with_depth(tmp_path / "a.png")
    assert img.shape == (3, 12, 17) and img.dtype == torch.float32 and depth == 8
    np.testing.assert_array_equal(np.round(as_hwc(img) * 255).astype(np.uint8), rgb8)


def test_jpeg_matches_pillow_decode(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "a.jpg", quality=90)
    expected = np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB")).astype(np.float32) / 255
    np.testing.assert_allclose(as_hwc(read_image(tmp_path / "a.jpg")), expected, atol=1e-7)


def test_webp_lossless_round_trip(tmp_path, rgb8):
    Image.fromarray(rgb8).save(tmp_path / "a.webp", lossless=True)
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "a.webp")), rgb8)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_matches_opencv(tmp_path, rgb16, suffix):
    path = tmp_path / f"a{suffix}"
    cv2.imwrite(str(path), rgb16[:, :, ::-1])
    img, depth = read_image_with_depth(path)
    assert depth == 16
    np.testing.assert_allclose(as_hwc(img), rgb16.astype(np.float32) / 65535, atol=1e-7)


def test_16bit_grey_png_repeated_to_rgb(tmp_path, rgb16):
    grey = rgb16[:, :, 0]
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    img, depth = read_image_with_depth(tmp_path / "g.png")
    assert depth == 16
    for c in range(3):
        np.testing.assert_allclose(img[c].numpy(), grey.astype(np.float32) / 65535, atol=1e-7)


def test_grey_rgba_and_palette_become_rgb(tmp_path, rgb8):
    Image.fromarray(rgb8[:, :, 0], "L").save(tmp_path / "l.png")
    Image.fromarray(np.dstack([rgb8, rgb8[:, :, :1]]), "RGBA").save(tmp_path / "rgba.png")
    pal = Image.fromarray(rgb8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    grey = to_uint8(read_image(tmp_path / "l.png"))
    assert (grey == rgb8[:, :, :1]).all()
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "rgba.png")), rgb8)
    expected = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_array_equal(to_uint8(read_image(tmp_path / "p.png")), expected)


def test_exif_orientation_applied(tmp_path, rgb8):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb8).save(tmp_path / "o.png", exif=exif)
    img = read_image(tmp_path / "o.png")
    assert img.shape == (3, 17, 12)
    np.testing.assert_array_equal(to_uint8(img), np.rot90(rgb8, -1))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_helper_matches_pillow(rgb8, orientation):
    im = Image.fromarray(rgb8)
    im.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(apply_exif_orientation(rgb8, orientation), expected)


def _with_exif_chunk(png: bytes, orientation: int) -> bytes:
    """Insert a PNG eXIf chunk (OpenCV writes none) right after IHDR."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = exif.tobytes()
    data = data[6:] if data.startswith(b"Exif\x00\x00") else data
    chunk = len(data).to_bytes(4, "big") + b"eXIf" + data + zlib.crc32(b"eXIf" + data).to_bytes(4, "big")
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def test_16bit_colour_orientation_applied(tmp_path, rgb16):
    path = tmp_path / "o16.png"
    cv2.imwrite(str(path), rgb16[:, :, ::-1])
    path.write_bytes(_with_exif_chunk(path.read_bytes(), 8))
    img, depth = read_image_with_depth(path)
    assert depth == 16 and img.shape == (3, 17, 12)
    np.testing.assert_allclose(as_hwc(img), np.rot90(rgb16, 1) / 65535, atol=1e-7)


def test_missing_empty_and_non_image(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "notes.png").write_text("hello, not pixels")
    with pytest.raises(DataError, match="not an image") as err:
        read_image(tmp_path / "notes.png")
    assert "notes.png" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="folder"):
        read_image(tmp_path)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_8bit(tmp_path, rgb8, suffix):
    big = np.tile(rgb8, (8, 8, 1))
    path = tmp_path / f"t{suffix}"
    Image.fromarray(big).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as err:
        read_image(path)
    assert str(path) in str(err.value)


def test_truncated_16bit_png(tmp_path, rgb16):
    path = tmp_path / "t16.png"
    cv2.imwrite(str(path), np.tile(rgb16, (8, 8, 1)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="t16.png"):
        read_image(path)


def test_pixel_limit_and_pillow_bomb_check(tmp_path, rgb8, monkeypatch):
    Image.fromarray(rgb8).save(tmp_path / "a.png")
    monkeypatch.setattr(io, "MAX_PIXELS", 100)
    with pytest.raises(DataError, match="too large"):
        read_image(tmp_path / "a.png")
    monkeypatch.setattr(io, "MAX_PIXELS", 10**9)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(DataError, match="too large"):
        read_image(tmp_path / "a.png")


def test_unsupported_mode(tmp_path, rgb8):
    Image.fromarray(rgb8).convert("LAB").save(tmp_path / "lab.tif")
    with pytest.raises(DataError, match="unsupported pixel mode 'LAB'"):
        read_image(tmp_path / "lab.tif")


def test_write_round_trip_atomic_and_creates_folders(tmp_path, rgb8, rgb16):
    img8 = from_numpy(rgb8)
    out = write_image(tmp_path / "a" / "b" / "x.png", img8)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), rgb8)
    img16 = from_numpy(rgb16)
    for suffix in (".png", ".tiff"):
        out16 = write_image(tmp_path / f"y{suffix}", img16, bit_depth=16)
        back = cv2.imread(str(out16), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
        assert back.dtype == np.uint16
        np.testing.assert_array_equal(back, rgb16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "y.png", "y.tiff"]


def test_write_jpeg_and_bad_requests(tmp_path, rgb8):
    img = from_numpy(rgb8)
    write_image(tmp_path / "x.jpg", img, quality=100)
    assert np.abs(np.asarray(Image.open(tmp_path / "x.jpg")).astype(int) - rgb8).mean() < 3
    with pytest.raises(DataError, match="16-bit"):
        write_image(tmp_path / "x.jpg", img, bit_depth=16)
    with pytest.raises(DataError, match="cannot write"):
        write_image(tmp_path / "x.gif", img)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_numpy_conversions():
    grey = np.array([[0, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(from_numpy(grey).numpy(), [[[0.0, 1.0]]] * 3)
    rgba16 = np.full((1, 1, 4), 65535, dtype=np.uint16)
    assert from_numpy(rgba16).shape == (3, 1, 1) and from_numpy(rgba16).max() == 1.0
    floats = np.array([[[-0.5, 0.25, 2.0]]], dtype=np.float64)
    np.testing.assert_allclose(from_numpy(floats).flatten().numpy(), [0.0, 0.25, 1.0])
    x = torch.rand(3, 5, 7)
    np.testing.assert_array_equal(to_uint8(x), np.round(x.permute(1, 2, 0).double().numpy() * 255))
    with pytest.raises(DataError):
        from_numpy(np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(DataError):
        to_uint8(torch.rand(4, 5, 7))


def test_list_images(tmp_path, rgb8):
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.JPG", "sub/c.webp"):
        Image.fromarray(rgb8).save(tmp_path / name, format="PNG")
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png"]
    assert [p.name for p in list_images(str(tmp_path), recursive=True)] == ["a.JPG", "b.png", "c.webp"]
    both = list_images([tmp_path / "b.png", tmp_path, tmp_path / "readme.txt"])
    assert [p.name for p in both] == ["a.JPG", "b.png", "readme.txt"]
    with pytest.raises(DataError, match="no such file or folder"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        list_images(tmp_path / "empty")
    assert os.path.exists(tmp_path / "readme.txt")


def test_pillow_metadata_warnings_do_not_reach_the_user(tmp_path):
    """A TIFF tag pointing past the end of the file makes Pillow warn while opening; the reader
    either decodes or raises one DataError, so the warning would only be noise on stderr."""
    import io as stdio
    import warnings

    buf = stdio.BytesIO()
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(buf, format="TIFF")
    data = bytearray(buf.getvalue())
    data[62] = 197  # the offset of a tag's data, now beyond the file
    path = tmp_path / "odd.tif"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            read_image(path)
        except DataError:
            pass
    assert not [w for w in caught if issubclass(w.category, UserWarning)]
