"""`create_model(name, checkpoint=None, **overrides)`: the only door to the architectures (timm habit).

A preset is a 3-5-line function returning the constructor keyword arguments::

    @register_model("nafnet-tiny", arch="nafnet")
    def nafnet_tiny():
        return dict(width=16, enc_blk_nums=(1, 1, 1, 2), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))

and each architecture family registers its class once with `register_arch("nafnet", NAFNet)`.
`create_model` merges the preset with the non-None overrides, builds the module and records
``model.arch_name`` (the family) and ``model.arch_config`` (the resolved keyword arguments), which is
everything a checkpoint needs to rebuild the network. With `checkpoint` it then loads that file's
weights strictly (`dcpt.models.weights`). `list_models(pattern)` lists the presets.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

from torch import nn

from ..errors import DcptError
from ..registry import Registry, drop_none

ARCHS: Registry[type] = Registry("architecture")


@dataclass(frozen=True)
class Preset:
    name: str
    arch: str
    make_kwargs: Callable[[], Dict]


PRESETS: Registry[Preset] = Registry("model")


def register_arch(name: str, cls: type) -> type:
    return ARCHS.add(name, cls)


def register_model(name: str, arch: str) -> Callable:
    def wrap(fn: Callable[[], Dict]) -> Callable[[], Dict]:
        PRESETS.add(name, Preset(name, arch, fn))
        return fn

    return wrap


def build_arch(arch: str, **kwargs: Any) -> nn.Module:
    """Build architecture family `arch` from explicit keyword arguments (used by checkpoint loading)."""
    return _build(arch, None, kwargs)


def _build(arch: str, preset_name: Optional[str], kwargs: Dict[str, Any]) -> nn.Module:
    cls = ARCHS.get(arch)
    params = inspect.signature(cls).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise DcptError(
            f"{arch} has no option(s) {', '.join(unknown)}; valid: {', '.join(p for p in params if p != 'self')}"
        )
    model = cls(**kwargs)
    model.arch_name = ARCHS.canonical(arch)
    model.arch_config = dict(kwargs)
    if preset_name is not None:
        model.preset_name = preset_name
    return model


def create_model(
    name: str, checkpoint: Optional[Union[str, os.PathLike]] = None, **overrides: Any
) -> nn.Module:
    """Build preset `name` (e.g. 'nafnet-5d') or bare family `name` (e.g. 'nafnet'), in train mode.

    `overrides` replace the preset's constructor arguments; None values are dropped, so the preset's
    (or the family's) defaults survive unset CLI options. `checkpoint`, if given, is a dcpt
    ``.safetensors`` file or a BasicSR / release ``.pth`` whose weights must fit the built net exactly
    (a missing file or any mismatch raises `dcpt.errors.CheckpointError`). An unknown `name` raises
    `DcptError` with the closest preset names.
    """
    if name in PRESETS:
        preset = PRESETS.get(name)
        model = _build(preset.arch, preset.name, {**preset.make_kwargs(), **drop_none(overrides)})
    elif name in ARCHS:
        model = _build(name, None, drop_none(overrides))
    else:
        PRESETS.canonical(name)  # raises with close matches and the valid names
        raise AssertionError("unreachable")
    if checkpoint is not None:
        from .weights import load_weights

        load_weights(model, checkpoint)
    return model


def list_models(pattern: str = "*") -> List[str]:
    """The preset names matching the shell-style `pattern` (``"*swinir*"``), sorted.

    Presets only, as timm lists variants: the bare family names that `create_model` also accepts
    (``nafnet``, ``restormer``, ...) are ``ARCHS.names()``.
    """
    return sorted(fnmatch.filter(PRESETS.names(), pattern))
