"""Import of BasicSR `.pth` checkpoints (the official NAFNet, DCPT and MaskDCPT releases).

Always `torch.load(weights_only=True)`: a file that needs pickled code is refused. The state dict is
`params_ema` if present, else `params`, else the file itself; a DataParallel `module.` prefix is
stripped. The architecture must be named (a preset, or a family whose configuration is then inferred
from the tensor shapes where an inferer is registered, as for NAFNet, whose three released
parameter namings are told apart by their keys).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Callable, Dict, Optional, Set

import torch
from torch import nn

from ..errors import CheckpointError, one_line
from .registry import ARCHS, PRESETS, build_arch, create_model

CONFIG_INFERERS: Dict[str, Callable[[Dict[str, torch.Tensor]], Dict]] = {}


def register_config_inferer(arch: str, fn: Callable[[Dict[str, torch.Tensor]], Dict]) -> Callable:
    """Let family `arch` rebuild its constructor arguments from a state dict's keys and shapes."""
    CONFIG_INFERERS[arch] = fn
    return fn


def read_state_dict(path: Path, map_location="cpu") -> Dict[str, torch.Tensor]:
    """The weights of a BasicSR / plain `torch.save` file, loaded without running any pickled code."""
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise CheckpointError(
                f"{path} contains pickled code and was refused for safety (torch.load weights_only=True); "
                "re-save its state dict with torch.save(model.state_dict(), ...)"
            ) from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({one_line(exc)})") from None
    except Exception as exc:  # zip / EOF / unpickling errors of damaged files
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {one_line(exc)})"
        ) from None
    if isinstance(obj, dict):
        for key in ("params_ema", "params"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if (
        not isinstance(obj, dict)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        raise CheckpointError(
            f"{path} holds no state dict (expected params_ema, params or a dict of tensors)"
        )
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}


def load_basicsr(path, arch: Optional[str], map_location="cpu") -> nn.Module:
    """Build `arch` and load the `.pth` at `path` into it strictly."""
    from .checkpoint import build_within, load_state_strict

    path = Path(path)
    if not arch:
        raise CheckpointError(
            f"{path} is a torch .pth file, which does not say its architecture: pass --arch "
            f"(a preset such as {', '.join(sorted(PRESETS.names())[:3])}, or a family)"
        )
    state = read_state_dict(path, map_location)
    if arch in PRESETS:
        net = create_model(arch)
    else:
        family = ARCHS.canonical(arch) if arch in ARCHS else PRESETS.canonical(arch)
        try:
            config = CONFIG_INFERERS[family](state) if family in CONFIG_INFERERS else {}
        except CheckpointError as exc:
            raise CheckpointError(f"{path} does not hold a {arch}: {exc}") from None
        net = build_within(path, "network", lambda: build_arch(family, **config), state)
    load_state_strict(net, state, path, f"{arch} {net.arch_config}")
    return net.to(map_location)


NAFNET_STAGE_KEYS = {  # naming -> regexes of (encoder stage, block), (middle block), (decoder stage, block)
    "megvii": (r"encoders\.(\d+)\.(\d+)\.", r"middle_blks\.(\d+)\.", r"decoders\.(\d+)\.(\d+)\."),
    "dcpt": (r"encoders\.(\d+)\.(\d+)\.", r"middle_blks\.(\d+)\.", r"decoder(\d+)\.(\d+)\."),
    "maskdcpt": (
        r"encoders\.(\d+)\.blocks\.(\d+)\.",
        r"middle_blks\.blocks\.(\d+)\.",
        r"decoder(\d+)\.blocks\.(\d+)\.",
    ),
}


def infer_nafnet_config(state: Dict[str, torch.Tensor]) -> Dict:
    """NAFNet's constructor arguments from its parameter names and shapes.

    The naming is read from the keys: ``decoders.i.j`` (megvii), ``decoder{i}.j`` (the DCPT release)
    or ``encoders.i.blocks.j`` (the MaskDCPT release, whose LayerNorm uses eps 1e-5, which a state
    dict cannot show: it is implied by the naming). `mask_patch_size` is left at its default.
    """
    if "intro.weight" not in state:
        raise CheckpointError("not a NAFNet state dict: it has no intro.weight")
    if any(re.match(NAFNET_STAGE_KEYS["maskdcpt"][0], k) for k in state):
        naming = "maskdcpt"
    elif any(re.match(NAFNET_STAGE_KEYS["dcpt"][2], k) for k in state):
        naming = "dcpt"
    else:
        naming = "megvii"
    enc_key, middle_key, dec_key = NAFNET_STAGE_KEYS[naming]

    def count(pattern: str) -> tuple:
        blocks: Dict[int, Set[int]] = {}
        for key in state:
            m = re.match(pattern, key)
            if m:
                blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
        return tuple(len(blocks.get(i, ())) for i in range(len(blocks)))

    middle = {int(m.group(1)) for k in state for m in [re.match(middle_key, k)] if m}
    return dict(
        img_channel=int(state["intro.weight"].shape[1]),
        width=int(state["intro.weight"].shape[0]),
        middle_blk_num=len(middle),
        enc_blk_nums=count(enc_key),
        dec_blk_nums=count(dec_key),
        naming=naming,
        norm_eps=1e-5 if naming == "maskdcpt" else 1e-6,
    )


register_config_inferer("nafnet", infer_nafnet_config)
