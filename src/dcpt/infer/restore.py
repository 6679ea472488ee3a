"""Restore image files with a checkpoint: load the net, pick a device, run tiles, write files.

The library side of `dcpt restore`; `evaluate` reuses `load_model` and `restore_image`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Union

import torch
from torch import nn

from ..device import resolve_device
from ..errors import CheckpointError, DcptError
from ..fileio import check_output_folder
from .tiling import Restorer, count_tiles, grid_multiple, restore_tiled

if TYPE_CHECKING:
    from .speed import InferenceOptions

PathLike = Union[str, os.PathLike]

DEFAULT_TLC_SIZE = 256
"""Training crop size (pixels) that NAFNet's TLC local pooling imitates; the official models use 256."""

OUTPUT_EXTENSIONS = ("png", "tif")


def load_model(
    ckpt: PathLike,
    arch: Optional[str] = None,
    device: Union[str, torch.device] = "cpu",
    tlc: bool = False,
    tlc_size: int = DEFAULT_TLC_SIZE,
) -> nn.Module:
    """Load a checkpoint (ours, or a BasicSR `.pth` with `arch`) in eval mode on `device`.

    `tlc=True` converts NAFNet's global channel attention to local pooling over `tlc_size` pixels
    (TLC), which makes large or tiled inputs see training-sized statistics.
    """
    from ..models.checkpoint import load_checkpoint

    path = Path(ckpt)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    net = load_checkpoint(path, arch=arch, map_location="cpu")
    if tlc:
        net = _to_local_pooling(net, tlc_size)
    return net.to(resolve_device(device)).eval()


def load_restorer(
    ckpt: PathLike,
    engine: str = "torch",
    arch: Optional[str] = None,
    device: Union[str, torch.device] = "cpu",
    tlc: bool = False,
    options: Optional["InferenceOptions"] = None,
) -> Restorer:
    """What `dcpt restore` runs: the checkpoint's net (`engine="torch"`) under the inference
    switches `options` (`dcpt.infer.speed`; None = the defaults), or an exported `.onnx` file
    behind onnxruntime (`engine="onnx"`, see `dcpt.infer.onnx_engine`)."""
    from .speed import InferenceOptions, prepare

    if engine == "torch":
        if Path(ckpt).suffix.lower() == ".onnx":
            raise DcptError(f"{ckpt}: an ONNX file runs with --engine onnx")
        return prepare(load_model(ckpt, arch=arch, device=device, tlc=tlc), options or InferenceOptions())
    if engine != "onnx":
        raise DcptError(f"--engine: expected torch or onnx, got {engine!r}")
    if tlc or arch:
        raise DcptError("--tlc and --arch apply to the torch engine; an ONNX file already holds its net")
    if options is not None and (options.bf16 or options.compile):
        raise DcptError(
            "--bf16 and --compile apply to the torch engine; onnxruntime runs the file as exported"
        )
    from .onnx_engine import OnnxRestorer

    return OnnxRestorer(ckpt, device=str(device))


def _to_local_pooling(net: nn.Module, tlc_size: int) -> nn.Module:
    from ..models import nafnet

    if not isinstance(net, nafnet.NAFNet):
        family = getattr(net, "arch_name", type(net).__name__)
        raise DcptError(f"--tlc applies to NAFNet only; this checkpoint holds a {family} network")
    return nafnet.local_pooling(net, tlc_size)


def restore_image(
    net: Restorer,
    img: torch.Tensor,
    tile: Optional[int] = None,
    overlap: int = 32,
    batch: Optional[int] = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> torch.Tensor:
    """One ``3 x H x W`` image in [0, 1] -> its restoration, clamped to [0, 1], on the CPU.

    Refused with a one-line error, before the forward pass, when the image (or `batch` tiles) cannot
    fit in the memory of the net's device (`dcpt.config.memory`)."""
    if batch is None:
        batch = auto_tile_batch(net, img.shape[-2], img.shape[-1], tile)
    check_restore_memory(net, img.shape[-2], img.shape[-1], tile, batch)
    out = restore_tiled(net, img[None], tile=tile, overlap=overlap, batch=batch, progress=progress)
    return out[0].clamp_(0.0, 1.0).cpu()


AUTO_MAX_TILES = 4
"""Most tiles per forward pass chosen by ``--tile-batch auto`` (opt-in): several small tiles per call
can amortise its fixed cost, but the gain is not reliable (2.3-2.7x the release on a loaded machine,
0.56-1.43x on an idle one, benchmarks/results/inference_vs_release.md) and memory grows with K."""

AUTO_BYTES_PER_PIXEL = 16384
"""Memory assumed per pixel of a batch of tiles when choosing how many to stack: about the peak
measured for the hungriest preset (swinir-5d, 4 tiles per pass: 14.6 GB per megapixel of tiles;
nafnet-5d 3.6, restormer-5d 11.1)."""


def _device_of(net: Restorer) -> str:
    param = next(net.parameters(), None) if isinstance(net, nn.Module) else None
    return "cpu" if param is None or param.device.type == "cpu" else str(param.device)


def auto_tile_batch(net: Restorer, height: int, width: int, tile: Optional[int]) -> int:
    """Tiles per forward pass for ``--tile-batch auto`` (`batch=None`): up to `AUTO_MAX_TILES`, no more than
    the image has, and fewer when that many tiles at `AUTO_BYTES_PER_PIXEL` would take more than a
    quarter of the free memory of `net`'s device; 1 for a whole image or an unknown memory size."""
    from ..config.memory import device_memory

    if not tile:
        return 1
    free = device_memory(_device_of(net))
    if free is None:
        return 1
    per_tile = min(tile, height) * min(tile, width) * AUTO_BYTES_PER_PIXEL
    fits = int(free // 4 // per_tile)
    return max(1, min(AUTO_MAX_TILES, count_tiles(height, width, tile, 0, 1), fits))


def check_restore_memory(net: Restorer, height: int, width: int, tile: Optional[int], batch: int) -> None:
    """Raise when one forward pass over a ``height x width`` image, whole or in `batch` tiles of
    `tile` pixels, needs more than the memory of `net`'s device (a lower bound: no false refusals)."""
    from ..config.memory import INFER_BYTES_PER_PIXEL, check_fits

    device = _device_of(net)
    if tile:
        count = count_tiles(height, width, tile, 0, 1)
        pixels = min(tile, height) * min(tile, width) * max(1, min(batch, count))
        what = f"{min(batch, count)} tile(s) of {tile} x {tile} pixels per forward pass"
        hint = "use smaller or fewer tiles per pass"
    else:
        pixels = height * width
        what = f"restoring a {width} x {height} image whole"
        hint = "restore it in tiles (tile=512, --tile 512 at the command line)"
    check_fits(pixels, INFER_BYTES_PER_PIXEL, what, device, hint)


def output_paths(inputs: Sequence[Path], out_dir: PathLike, ext: str = "png") -> List[Path]:
    """Same base names under `out_dir`, with extension `ext`; two inputs with one stem are an error."""
    if ext not in OUTPUT_EXTENSIONS:
        raise DcptError(f"output format must be one of {', '.join(OUTPUT_EXTENSIONS)}, got {ext!r}")
    out_dir = check_output_folder(out_dir, "-o/--out")
    targets = [out_dir / f"{path.stem}.{ext}" for path in inputs]
    seen: Dict[Path, Path] = {}
    for source, target in zip(inputs, targets):
        if target.exists() and target.resolve() == Path(source).resolve():
            raise DcptError(f"{target}: the restored image would overwrite its input; choose another folder")
        if target in seen:
            raise DcptError(
                f"{seen[target]} and {source} would both be written to {target}; restore them separately"
            )
        seen[target] = source
    return targets


def restore_paths(
    net: Restorer,
    inputs: Iterable[PathLike],
    out_dir: PathLike,
    tile: Optional[int] = None,
    overlap: int = 32,
    batch: Optional[int] = 1,
    bit_depth: Optional[int] = None,
    ext: str = "png",
    show_progress: bool = True,
    on_restored: Optional[Callable[[Path, torch.Tensor, torch.Tensor], None]] = None,
) -> List[Path]:
    """Restore image files and folders into `out_dir`; returns the written paths.

    `bit_depth=None` keeps each input's depth (16-bit in, 16-bit out); 8 or 16 forces it.
    Progress bars (images, and tiles within an image) go to stderr and vanish when it is not a terminal.
    `on_restored(source, image, restored)` is called after each image is written (``--metrics``).
    """
    from tqdm import tqdm

    from ..data.io import list_images, read_image_with_depth, write_image

    sources = list_images(list(inputs))
    targets = output_paths(sources, out_dir, ext)
    disable = None if show_progress else True
    written = []
    for source, target in tqdm(list(zip(sources, targets)), desc="images", unit="img", disable=disable):
        img, depth = read_image_with_depth(source)
        total = count_tiles(img.shape[1], img.shape[2], tile, overlap, grid_multiple(net))
        with tqdm(
            total=total, desc=source.name, unit="tile", leave=False, disable=disable or total == 1
        ) as bar:
            restored = restore_image(
                net, img, tile, overlap, batch, progress=lambda done, _total: bar.update(done - bar.n)
            )
        written.append(write_image(target, restored, bit_depth=bit_depth or depth))
        if on_restored is not None:
            on_restored(source, img, restored)
    return written
