"""Load a checkpoint's weights into a network that is already built (``create_model(..., checkpoint=)``).

Why a separate step from `checkpoint.load_bundle`: there the file decides the architecture; here the
caller does (a preset plus overrides) and the file must fit it exactly. Both formats are read
without running pickled code: a dcpt ``.safetensors`` file (its classifier tensors are left out, and its
recorded family must be the net's), or a BasicSR / plain ``torch.save`` ``.pth`` (``params_ema``,
``params`` or a bare state dict). Any missing, unexpected or misshapen key is one CheckpointError line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from torch import nn

from ..errors import CheckpointError
from .checkpoint import CLASSIFIER_PREFIX, _read_safetensors, _sniff, load_state_strict
from .import_basicsr import read_state_dict
from .registry import ARCHS

PathLike = Union[str, os.PathLike]


def checkpoint_kind(path: PathLike) -> str:
    """``"safetensors"`` (a dcpt checkpoint) or ``"torch"`` (a ``.pth``), told apart by content;
    raises CheckpointError if the file is missing or empty."""
    return _sniff(Path(path))


def load_weights(net: nn.Module, path: PathLike) -> nn.Module:
    """Copy the weights in `path` into `net` strictly (every key, every shape) and return `net`.

    The tensors are read on the CPU and copied into `net`'s parameters, which keep their device and
    dtype (a float16 file loads into a float32 net).
    """
    path = Path(path)
    arch = getattr(net, "arch_name", None)
    if checkpoint_kind(path) == "torch":
        state = read_state_dict(path, map_location="cpu")
    else:
        header, tensors = _read_safetensors(path, "cpu")
        if arch is not None and ARCHS.canonical(header["arch"]) != ARCHS.canonical(arch):
            raise CheckpointError(f"{path} holds a {header['arch']} network, not {arch}")
        state = {k: v for k, v in tensors.items() if not k.startswith(CLASSIFIER_PREFIX)}
    config = getattr(net, "arch_config", None)
    load_state_strict(net, state, path, f"{arch} {config}" if arch else type(net).__name__)
    return net
