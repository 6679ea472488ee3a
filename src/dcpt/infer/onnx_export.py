"""Export a restoration net to ONNX with dynamic batch, height and width (`dcpt export --onnx`).

How: `torch.export` traces the net once on an example whose height and width are *not* multiples of
the net's padding multiple, with batch, height and width declared dynamic, so the pad amount
(``(-h) % multiple``) stays an expression of the input size in the graph instead of a constant; the
ONNX file then restores any size, as the PyTorch net does. The exporter (`torch.onnx`, dynamo path,
which needs onnxscript) translates the traced program to ONNX.

One rewrite before translation: ONNX's attention translation accepts 4-D tensors only, and SwinIR
attends over B x windows x heads x tokens x channels, so `scaled_dot_product_attention` is written
out as its definition (softmax(q k^T * scale + mask) v), which batches over any leading dimensions.

The file carries what the engine needs in its metadata: the family, the pixel grid tiles start on,
and the multiple the net pads to (`dcpt.infer.onnx_engine`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from .. import __version__
from ..errors import DcptError
from ..fileio import atomic_path
from .onnx_engine import (
    INPUT_NAME,
    META_ARCH,
    META_GRID,
    META_PAD_MULTIPLE,
    OUTPUT_NAME,
    OnnxRestorer,
    require,
)
from .tiling import grid_multiple

PathLike = Union[str, os.PathLike]

CHECK_SIZE = (37, 53)
"""Height and width (pixels) of the random image the export is checked on: multiples of nothing."""


def pad_multiple(net: nn.Module) -> int:
    """The multiple a net pads its input to before the forward pass (NAFNet, Restormer / PromptIR, SwinIR)."""
    for name in ("padder_size", "pad_multiple", "window_size"):
        value = getattr(net, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1


def example_input(net: nn.Module) -> Tensor:
    """A 2 x 3 x h x w trace input, h and w above the padding multiple and not multiples of it.

    Sizes 0 and 1 are special-cased by `torch.export` (it would fix the batch to 1), hence 2; a size
    below the multiple would trace the replicate-padding branch, hence above it.
    """
    multiple = pad_multiple(net)
    generator = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 2 * multiple + 3, 3 * multiple + 5, generator=generator)


def math_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Optional[Tensor] = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: Optional[float] = None,
    enable_gqa: bool = False,
) -> Tensor:
    """`scaled_dot_product_attention` for inference, over any number of leading dimensions."""
    if dropout_p or is_causal or enable_gqa:
        raise NotImplementedError("ONNX export supports attention without dropout, causal mask or GQA")
    scores = query @ key.transpose(-2, -1) * (query.shape[-1] ** -0.5 if scale is None else scale)
    if attn_mask is not None:
        scores = (
            scores.masked_fill(~attn_mask, float("-inf"))
            if attn_mask.dtype == torch.bool
            else scores + attn_mask
        )
    return scores.softmax(dim=-1) @ value


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs optional-package notices and prints progress; a command prints its own lines."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(net: nn.Module, path: PathLike, opset: int = 18) -> Path:
    """Write `net` (a dcpt restoration net) to `path` as ONNX; returns the path.

    The model has one input ``image`` and one output ``restored``, both ``B x 3 x H x W`` float32
    in [0, 1] with dynamic B, H and W. Written atomically: an interrupted export leaves no file.
    """
    require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")
    if not hasattr(getattr(torch.export, "Dim", None), "DYNAMIC"):
        raise DcptError(
            f"ONNX export needs torch >= 2.6 (dynamic shapes of torch.export), got {torch.__version__}"
        )
    net = net.eval().cpu()
    example = example_input(net)
    dynamic = torch.export.Dim.DYNAMIC
    with _quiet_exporter(), torch.no_grad():
        program = torch.export.export(
            net, (example,), dynamic_shapes=({0: dynamic, 2: dynamic, 3: dynamic},), strict=False
        )
        program = program.run_decompositions(
            {torch.ops.aten.scaled_dot_product_attention.default: math_attention}
        )
        onnx_program = torch.onnx.export(
            program,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            optimize=True,
            verbose=False,
        )
    if onnx_program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    onnx_program.model.metadata_props.update(
        {
            META_ARCH: str(getattr(net, "arch_name", type(net).__name__)),
            META_PAD_MULTIPLE: str(pad_multiple(net)),
            META_GRID: str(grid_multiple(net)),
            "dcpt.version": __version__,
        }
    )
    with atomic_path(path) as tmp, _quiet_exporter():
        onnx_program.save(tmp)
    return Path(path)


def max_abs_error(net: nn.Module, path: PathLike, size: Tuple[int, int] = CHECK_SIZE, seed: int = 0) -> float:
    """Largest absolute difference between `net` and its ONNX export on one random image in [0, 1]."""
    image = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = net.eval()(image)
    return float((OnnxRestorer(path, device="cpu")(image) - expected).abs().max())
