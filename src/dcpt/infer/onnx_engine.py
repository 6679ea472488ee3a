"""Run an exported `.onnx` restoration net with onnxruntime, as a drop-in for the PyTorch net.

`OnnxRestorer` maps a ``B x 3 x H x W`` tensor in [0, 1] to its restoration, like `net(x)`, so
`restore_tiled`, `restore_image` and `restore_paths` run it unchanged (`dcpt restore --engine onnx`).
It reads what tiling needs from the file's metadata, written by `dcpt.infer.onnx_export`: the pixel
grid tiles start on, and the multiple the net pads its input to.

Tiny images: the nets reflect-pad to their multiple and fall back to replicate padding when the pad
would be as large as the image (`dcpt.models.layers.pad_to_multiple`). The exported graph keeps the
reflect branch only, so for such images this class does the replicate padding itself before the
graph runs (the graph's own pad is then zero) and crops back: the same result as PyTorch.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Union

import numpy as np
import torch

from ..errors import CheckpointError, DcptError, one_line
from ..models.layers import pad_to_multiple

PathLike = Union[str, os.PathLike]

INSTALL_HINT = 'pip install "dcpt[onnx]"'
"""How to get the optional ONNX packages (onnx, onnxscript, onnxruntime): the `onnx` extra."""

META_ARCH = "dcpt.arch"
META_PAD_MULTIPLE = "dcpt.pad_multiple"
META_GRID = "dcpt.grid_multiple"
INPUT_NAME = "image"
OUTPUT_NAME = "restored"


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional package, or raise one line that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DcptError(
            f"{purpose} needs the {module!r} package, which is not installed: {INSTALL_HINT}"
        ) from None


class OnnxRestorer:
    """An exported restoration net behind onnxruntime: ``restorer(x) -> y``, both ``B x 3 x H x W``.

    `threads` sets onnxruntime's intra-op threads (None: its default, one per core). Runs on the
    CPU; with `device` "cuda" it needs onnxruntime-gpu's CUDA provider.
    """

    def __init__(self, path: PathLike, device: str = "auto", threads: Union[int, None] = None):
        ort = require("onnxruntime", "the onnx engine")
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        # Idle threads sleep instead of spinning, as dcpt sets for torch's OpenMP (dcpt.cli): on
        # cores busy with other work, spinning threads steal the time of the working ones.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=_providers(ort, device))
        except Exception as exc:  # onnxruntime raises its own untyped errors for damaged files
            raise CheckpointError(f"{path}: not a readable ONNX model ({one_line(exc, 200)})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise CheckpointError(f"{path}: expected an ONNX model with one B x 3 x H x W input")
        self.input_name = inputs[0].name
        meta = self.session.get_modelmeta().custom_metadata_map
        self.arch_name = meta.get(META_ARCH, "unknown")
        self.pad_multiple = int(meta.get(META_PAD_MULTIPLE, 1))
        self.grid = int(meta.get(META_GRID, 1))
        self.path = path

    @property
    def padder_size(self) -> int:
        """The pixel grid tiles start on; named like NAFNet's so `tiling.grid_multiple` reads it."""
        return self.grid

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise DcptError(f"expected a B x 3 x H x W image tensor, got shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        multiple = self.pad_multiple
        if (-height) % multiple >= height or (-width) % multiple >= width:
            x = pad_to_multiple(x, multiple, mode="replicate")
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        (out,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(out)[..., :height, :width].to(x.device)


def _providers(ort: ModuleType, device: str) -> list:
    available = ort.get_available_providers()
    wants_cuda = str(device).startswith("cuda")
    if wants_cuda and "CUDAExecutionProvider" not in available:
        raise DcptError(
            f"--device {device}: this onnxruntime has no CUDA provider (install onnxruntime-gpu), "
            "or use --device cpu"
        )
    if wants_cuda or (device == "auto" and "CUDAExecutionProvider" in available):
        index = str(device).partition(":")[2]
        options = {"device_id": int(index)} if index.isdigit() else {}
        return [("CUDAExecutionProvider", options), "CPUExecutionProvider"]
    if device not in ("auto", "cpu"):
        raise DcptError(f"--device: expected cpu, cuda, cuda:N or auto, got {device!r}")
    return ["CPUExecutionProvider"]
