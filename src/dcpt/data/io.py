"""Image files in and out: the only place where pixels leave the library's ``3 x H x W`` float [0, 1] RGB.

Reading accepts 8- and 16-bit PNG, JPEG, WebP, TIFF and BMP; grey, grey+alpha, palette and CMYK images
become RGB, alpha is dropped and the EXIF orientation is applied. 16-bit values are scaled by 65535.
Anything unreadable (missing, empty, not an image, truncated, larger than `MAX_PIXELS`, an unsupported
pixel mode) raises `DataError` with one line naming the file, so the CLI can report it and exit 2.

Pillow reads 16-bit colour PNG/TIFF as 8-bit, so those few files are decoded with OpenCV instead.
Writes go through `dcpt.fileio.atomic_path`, so a crash never leaves a half-written image behind.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable, List, Tuple, Union

import numpy as np
import torch
from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError
from torch import Tensor

from ..errors import DataError
from ..fileio import atomic_path

PathLike = Union[str, os.PathLike]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")

MAX_PIXELS = 16384 * 16384
"""Largest image read, in pixels (width x height); larger files are refused as likely decompression bombs."""

_EXIF_ORIENTATION = 0x0112
_GREY_16_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_CONVERTIBLE_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr")


# ----------------------------------------------------------------------------- numpy <-> tensor


def from_numpy(arr: np.ndarray) -> Tensor:
    """``H x W [x C]`` uint8 (/255), uint16 (/65535) or float ([0, 1]) array -> ``3 x H x W`` float32.

    One channel is repeated to RGB; a fourth (alpha) channel is dropped.
    """
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise DataError(f"expected an H x W or H x W x C image array (C in 1..4), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        scaled = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        scaled = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        scaled = np.clip(arr.astype(np.float32), 0.0, 1.0)
    else:
        raise DataError(f"expected a uint8, uint16 or float image array, got dtype {arr.dtype}")
    channels = scaled.shape[2]
    if channels <= 2:
        scaled = np.repeat(scaled[:, :, :1], 3, axis=2)
    else:
        scaled = scaled[:, :, :3]
    return torch.from_numpy(np.ascontiguousarray(scaled.transpose(2, 0, 1)))


def to_numpy(img: Tensor, bit_depth: int = 8) -> np.ndarray:
    """``3 x H x W`` (or ``1 x 3 x H x W``) float image in [0, 1] -> ``H x W x 3`` uint8 or uint16, rounded."""
    if bit_depth not in (8, 16):
        raise DataError(f"expected bit_depth 8 or 16, got {bit_depth}")
    if not isinstance(img, Tensor):
        raise DataError(f"expected a torch.Tensor image, got {type(img).__name__}")
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3 or img.shape[0] != 3:
        raise DataError(f"expected a 3 x H x W image tensor, got shape {tuple(img.shape)}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    scaled = (img.detach().to("cpu", torch.float64).clamp(0.0, 1.0) * peak).round()
    return scaled.permute(1, 2, 0).numpy().astype(dtype)


def to_uint8(img: Tensor) -> np.ndarray:
    """``3 x H x W`` float image in [0, 1] -> ``H x W x 3`` uint8 (rounded), e.g. for Pillow or plotting."""
    return to_numpy(img, 8)


# ----------------------------------------------------------------------------- reading


def read_image(path: PathLike) -> Tensor:
    """Read an image file as a ``3 x H x W`` float32 RGB tensor in [0, 1]; raises DataError if unreadable."""
    return read_image_with_depth(path)[0]


def read_image_with_depth(path: PathLike) -> Tuple[Tensor, int]:
    """Like `read_image`, also returning the file's bit depth per channel (8 or 16), so a writer can keep it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: expected an image file, got a folder or special file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata (corrupt EXIF, odd TIFF tags) as it reads; the
            # image either decodes or fails as a DataError, so these only add noise on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as im:
                _check_size(path, im.size)
                if _is_colour_16bit(path, im):
                    arr = _read_16bit_colour(path, im)
                else:
                    arr = _pillow_to_array(path, im)
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError:
        raise DataError(f"{path}: image too large (limit {MAX_PIXELS} pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(
            f"{path}: cannot decode the image ({_one_line(exc)}); is it truncated or corrupt?"
        ) from None
    bit_depth = 16 if arr.dtype == np.uint16 else 8
    return from_numpy(arr), bit_depth


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_size(path: Path, size: Tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: image has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise DataError(f"{path}: image too large ({width} x {height} pixels; limit {MAX_PIXELS} pixels)")


def _pillow_to_array(path: Path, im: Image.Image) -> np.ndarray:
    """Decode with Pillow: uint8 H x W x 3, or uint16 H x W for 16-bit grey."""
    im.load()
    im = ImageOps.exif_transpose(im)
    mode = im.mode
    if mode in _GREY_16_MODES:
        return np.clip(np.asarray(im).astype(np.int64), 0, 65535).astype(np.uint16)
    if mode == "F":
        values = np.asarray(im, dtype=np.float32)
        return np.clip(values, 0.0, 1.0) if values.max(initial=0.0) <= 1.0 else _float_to_uint16(values)
    if mode not in _CONVERTIBLE_MODES:
        raise DataError(f"{path}: unsupported pixel mode {mode!r}")
    if mode in ("P", "PA") and "transparency" in im.info:
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB"))


def _float_to_uint16(values: np.ndarray) -> np.ndarray:
    """Float images outside [0, 1] are taken as 16-bit counts (as some TIFF writers store them)."""
    return np.clip(np.round(values), 0, 65535).astype(np.uint16)


def _is_colour_16bit(path: Path, im: Image.Image) -> bool:
    """Pillow decodes these as 8-bit RGB, losing precision, so OpenCV reads them instead."""
    if path.suffix.lower() not in SIXTEEN_BIT_EXTENSIONS or im.mode not in ("RGB", "RGBA"):
        return False
    if im.format == "PNG":
        with open(path, "rb") as fh:
            header = fh.read(26)
        return len(header) == 26 and header[12:16] == b"IHDR" and header[24] == 16
    if im.format == "TIFF" and isinstance(im, TiffImagePlugin.TiffImageFile):
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(bits) > 8
    return False


def _read_16bit_colour(path: Path, im: Image.Image) -> np.ndarray:
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(f"{path}: cannot decode the 16-bit image; is it truncated or corrupt?")
    if arr.shape[:2] != (im.size[1], im.size[0]):
        raise DataError(f"{path}: cannot decode the 16-bit image; is it truncated or corrupt?")
    rgb = arr[:, :, 2::-1]
    if rgb.dtype != np.uint16:
        rgb = rgb.astype(np.uint16) * 257 if rgb.dtype == np.uint8 else _float_to_uint16(rgb)
    return apply_exif_orientation(rgb, im.getexif().get(_EXIF_ORIENTATION, 1))


def apply_exif_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an ``H x W [x C]`` array stored with EXIF `orientation` (1..8) upright, as Pillow's exif_transpose."""
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    transform = transforms.get(int(orientation))
    return np.ascontiguousarray(transform(arr)) if transform else arr


# ----------------------------------------------------------------------------- writing


def write_image(
    path: PathLike, img: Union[Tensor, np.ndarray], bit_depth: int = 8, quality: int = 95
) -> Path:
    """Write a ``3 x H x W`` float image in [0, 1] (or an H x W x C array) atomically; returns the path.

    The format follows the extension. 16-bit output needs .png or .tif/.tiff. `quality` (1-100) is used by
    JPEG and WebP (JPEG without chroma subsampling). Parent folders are created.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise DataError(f"{path}: cannot write this format; expected one of {', '.join(IMAGE_EXTENSIONS)}")
    if bit_depth == 16 and suffix not in SIXTEEN_BIT_EXTENSIONS:
        raise DataError(f"{path}: 16-bit images need a .png or .tif/.tiff file, got {suffix!r}")
    if isinstance(img, np.ndarray):
        img = from_numpy(img)
    pixels = to_numpy(img, bit_depth)
    with atomic_path(path) as tmp:
        if bit_depth == 16:
            _write_16bit(str(tmp), pixels)
        else:
            _write_8bit(str(tmp), pixels, suffix, quality)
    return path


def _write_8bit(tmp_name: str, pixels: np.ndarray, suffix: str, quality: int) -> None:
    formats = {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".bmp": "BMP",
    }
    fmt = formats[suffix]
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "JPEG":
        options["subsampling"] = 0  # 4:4:4, so a written result is not blurred in colour on top
    Image.fromarray(pixels, "RGB").save(tmp_name, format=fmt, **options)


def _write_16bit(tmp_name: str, pixels: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(tmp_name, np.ascontiguousarray(pixels[:, :, ::-1])):
        raise DataError(f"{tmp_name}: OpenCV could not write the 16-bit image")


def safe_name(name: str) -> str:
    """`name` as one file or folder name: characters other than letters, digits and ``-_.`` become ``_``
    (a data set called "CBSD68 sigma=15" is saved under ``CBSD68_sigma_15``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# ----------------------------------------------------------------------------- listing


def list_images(path_or_paths: Union[PathLike, Iterable[PathLike]], recursive: bool = False) -> List[Path]:
    """Image files named directly or found in folders (by extension, case-insensitive), sorted, no repeats.

    A file named explicitly is kept whatever its extension (reading it reports a non-image). A missing
    path, or a folder holding no image, raises DataError.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        path_or_paths = [path_or_paths]
    found = set()
    for entry in path_or_paths:
        entry = Path(entry)
        if entry.is_file():
            found.add(entry)
        elif entry.is_dir():
            pattern = entry.rglob("*") if recursive else entry.iterdir()
            images = [
                p
                for p in pattern
                if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
            ]
            if not images:
                where = "or its sub-folders " if recursive else ""
                raise DataError(
                    f"{entry}: no image files in this folder {where}"
                    f"(expected extensions {', '.join(IMAGE_EXTENSIONS)})"
                )
            found.update(images)
        else:
            raise DataError(f"{entry}: no such file or folder")
    if not found:
        raise DataError("no image paths given")
    return sorted(found)
