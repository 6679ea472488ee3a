"""Test inputs built exactly as the releases' BasicSR datasets build them, as float32 ``H x W x 3`` RGB arrays.

Why apart from `dcpt.data.io` and `dcpt.data.paired`: the releases decode with OpenCV
(``cv2.imdecode(..., IMREAD_COLOR)``, whose JPEG decoder and 16-bit handling differ from Pillow's),
divide by 255 in float32, synthesise noise in numpy in a fixed order, and pair files by their own
rules. Reproducing their numbers means repeating each of those steps, which the rest of `dcpt.data`
deliberately does differently (see ``docs/protocols.md``). The table rows (`dcpt.infer.release_tables`)
say which set to build; this module only needs the fields `ReleaseEntry` lists.

Every reader returns a list of `Item` loaders, so a data set is listed (and its pairing checked) before
any image is decoded. A pairing the release would refuse (an `assert` there) is a `DcptError` here.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, List, Optional, Protocol

import numpy as np

from ..errors import DataError, DcptError
from .io import safe_name

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ReleaseEntry(Protocol):
    """What a release test set row (`dcpt.infer.release_tables.ReleaseSet`) tells the readers: its
    kind, folders (relative to DATA_ROOT), dehaze suffix, noise sigma and JPEG quality."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def gt(self) -> str: ...
    @property
    def lq(self) -> Optional[str]: ...
    @property
    def suffix(self) -> str: ...
    @property
    def sigma(self) -> float: ...
    @property
    def quality(self) -> int: ...
    def source(self) -> str: ...


@dataclass
class Item:
    """One test pair, decoded on `load()` -> ``(lq, gt)`` float32 RGB ``H x W x 3`` arrays."""

    name: str
    load: Callable[[], tuple]


def read_bgr(path: Path) -> np.ndarray:
    """``imfrombytes(..., flag="color")``: OpenCV decoding to 8-bit BGR (grey -> 3 channels, 16-bit -> 8-bit)."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if img is None:
        raise DataError(f"{path}: OpenCV cannot decode this file (missing, empty or not an image)")
    return img


def read_rgb_float(path: Path) -> np.ndarray:
    """The releases' float image: ``bgr.astype(float32) / 255.0``, then BGR -> RGB."""
    return np.ascontiguousarray((read_bgr(path).astype(np.float32) / 255.0)[:, :, ::-1])


def gaussian_noise_input(gt: np.ndarray, sigma: float, clip: bool) -> np.ndarray:
    """PairedImageDenoiseDataset at test time: ``np.random.seed(0)`` before every image, then
    ``lq += np.random.normal(0, sigma / 255, lq.shape)`` on the float32 RGB ``H x W x 3`` array (the
    float64 noise is added and stored back in float32). MaskDCPT clips to [0, 1] afterwards; DCPT
    feeds the unclipped array to the network."""
    lq = gt.copy()
    lq += np.random.RandomState(0).normal(0, sigma / 255.0, lq.shape)
    return np.clip(lq, 0, 1) if clip else lq


def jpeg_input(gt: np.ndarray, quality: int) -> np.ndarray:
    """PairedImageJPEGCARDataset: round to 8 bits, OpenCV JPEG at `quality` of the BGR array, decode, /255."""
    from ..degrade.compression import jpeg_roundtrip_uint8

    rgb8 = (np.ascontiguousarray(gt) * 255).round().astype(np.uint8)
    return np.ascontiguousarray(jpeg_roundtrip_uint8(rgb8, quality).astype(np.float32) / 255.0)


def mosaic_input(rgb8: np.ndarray) -> np.ndarray:
    """PairedImageMosaicDataset: RGGB Bayer samples of the 8-bit RGB image, demosaiced by OpenCV's
    edge-aware ``COLOR_BAYER_BG2BGR_EA``; the result is used as RGB without a channel swap, as there."""
    import cv2

    cfa = np.empty(rgb8.shape[:2], dtype=np.uint8)
    cfa[0::2, 0::2] = rgb8[0::2, 0::2, 0]
    cfa[0::2, 1::2] = rgb8[0::2, 1::2, 1]
    cfa[1::2, 0::2] = rgb8[1::2, 0::2, 1]
    cfa[1::2, 1::2] = rgb8[1::2, 1::2, 2]
    return cv2.cvtColor(cfa, cv2.COLOR_BAYER_BG2BGR_EA).astype(np.float32) / 255.0


def crop_gt_to_lq(lq: np.ndarray, gt: np.ndarray, name: str) -> np.ndarray:
    """PairedImageDataset crops a larger clean image to the degraded one's size at test time; a smaller
    one fails the release's metric assertion, so it is refused here."""
    if gt.shape[0] < lq.shape[0] or gt.shape[1] < lq.shape[1]:
        raise DcptError(
            f"{name}: the clean image is {gt.shape[1]} x {gt.shape[0]} but the degraded one is "
            f"{lq.shape[1]} x {lq.shape[0]}; the release cannot score this pair"
        )
    return gt[: lq.shape[0], : lq.shape[1]]


def _files(folder: Path) -> List[str]:
    """``os.listdir`` as the releases use it, less hidden files and non-images (which would crash them)."""
    if not folder.is_dir():
        raise DcptError(f"{folder} is not a folder (the release reads a folder of images there)")
    return sorted(
        n
        for n in os.listdir(folder)
        if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES and (folder / n).is_file()
    )


def _same_name_pairs(lq_dir: Path, gt_dir: Path) -> List[tuple]:
    """``paired_paths_from_folder``: as many files in both folders, each clean file's name present in `lq_dir`."""
    lq_names, gt_names = _files(lq_dir), _files(gt_dir)
    if len(lq_names) != len(gt_names):
        raise DcptError(
            f"{lq_dir} holds {len(lq_names)} images but {gt_dir} holds {len(gt_names)}; the release "
            "pairs files of identical name and needs as many in both"
        )
    missing = sorted(set(gt_names) - set(lq_names))
    if missing:
        raise DcptError(
            f"{missing[0]} is in {gt_dir} but not in {lq_dir} ({len(missing)} unpaired); the release "
            "pairs files of identical name"
        )
    return [(lq_dir / n, gt_dir / n) for n in gt_names]


def _paired_item(lq_path: Path, gt_path: Path, crop: bool = True, name: str = "") -> Item:
    def load():
        lq, gt = read_rgb_float(lq_path), read_rgb_float(gt_path)
        return lq, crop_gt_to_lq(lq, gt, lq_path.name) if crop else gt

    return Item(name or lq_path.stem, load)


def _dehaze_items(lq_dir: Path, gt_dir: Path, suffix: str) -> List[Item]:
    """PairedImageDehazeDataset: clean name = hazy file name up to its first '_' + `suffix` (no crop)."""
    items = []
    for name in _files(lq_dir):
        gt_path = gt_dir / (name.split("_")[0] + suffix)
        if not gt_path.is_file():
            raise DcptError(
                f"{lq_dir / name} has no clean image {gt_path} (the release pairs a hazy file "
                f"with its name up to the first '_' plus {suffix!r})"
            )
        items.append(_paired_item(lq_dir / name, gt_path, crop=False))
    return items


def _txtlist_items(list_file: Path, root: Path) -> List[Item]:
    """PairedImageTxtlistDataset: each line ``<gt> <lq>``, both relative to `root`. An item is named by
    its whole lq path (``/`` -> ``_``): lists such as RSBlur's repeat one file name in every scene."""
    if not list_file.is_file():
        raise DcptError(f"{list_file} is not a file (the release reads '<gt path> <lq path>' lines from it)")
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DcptError(f"{list_file}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    items = []
    for number, line in enumerate(lines, 1):
        names = line.split(" ")
        if not line.strip():
            continue
        if len(names) < 2:
            raise DcptError(f"{list_file}:{number}: expected '<gt path> <lq path>', got {line!r}")
        gt_path, lq_path = root / names[0], root / names[1]
        for path in (gt_path, lq_path):
            if not path.is_file():
                raise DcptError(f"{list_file}:{number}: {path} does not exist")
        name = safe_name(str(PurePosixPath(names[1]).with_suffix("")))
        items.append(_paired_item(lq_path, gt_path, name=name))
    return items


def _synthetic_items(gt_dir: Path, make_lq: Callable[[Path], tuple]) -> List[Item]:
    return [Item(Path(n).stem, functools.partial(make_lq, gt_dir / n)) for n in _files(gt_dir)]


def release_items(entry: ReleaseEntry, root: Path, clip_noise: bool) -> List[Item]:
    """The pairs of one release test set under DATA_ROOT `root` (folders already checked to exist)."""
    gt_dir = root / entry.gt

    def lq_path() -> Path:
        if entry.lq is None:
            raise DcptError(f"release set {entry.name!r} ({entry.kind}, {entry.source()}) has no lq folder")
        return root / entry.lq

    if entry.kind in ("paired", "pregenerated"):
        items = [_paired_item(lq, gt) for lq, gt in _same_name_pairs(lq_path(), gt_dir)]
    elif entry.kind == "dehaze":
        items = _dehaze_items(lq_path(), gt_dir, entry.suffix)
    elif entry.kind == "txtlist":
        items = _txtlist_items(lq_path(), gt_dir)
    elif entry.kind == "noise":

        def noisy(path):
            gt = read_rgb_float(path)
            return gaussian_noise_input(gt, entry.sigma, clip_noise), gt

        items = _synthetic_items(gt_dir, noisy)
    elif entry.kind == "jpeg":

        def compressed(path):
            gt = read_rgb_float(path)
            return jpeg_input(gt, entry.quality), gt

        items = _synthetic_items(gt_dir, compressed)
    elif entry.kind == "mosaic":

        def mosaic(path):
            rgb8 = np.ascontiguousarray(read_bgr(path)[:, :, ::-1])
            return mosaic_input(rgb8), rgb8.astype(np.float32) / 255.0

        items = _synthetic_items(gt_dir, mosaic)
    else:  # pragma: no cover - the tables hold only the kinds above
        raise ValueError(f"unknown release data set kind {entry.kind!r}")
    if not items:
        raise DcptError(f"{root / (entry.lq or entry.gt)}: no images for {entry.name}")
    return items
