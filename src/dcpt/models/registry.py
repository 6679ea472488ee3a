"""`create_model(name, **overrides)`: the only door to the architectures (timm habit).

A preset is a 3-5-line function returning the constructor keyword arguments::

    @register_model("nafnet-tiny", arch="nafnet")
    def nafnet_tiny():
        return dict(width=16, enc_blk_nums=(1, 1, 1, 2), middle_blk_num=1, dec_blk_nums=(1, 1, 1, 1))

and each architecture family registers its class once with `register_arch("nafnet", NAFNet)`.
`create_model` merges the preset with the non-None overrides, builds the module and records
``model.arch_name`` (the family) and ``model.arch_config`` (the resolved keyword arguments), which is
everything a checkpoint needs to rebuild the network.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Dict

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


def build_arch(arch: str, **kwargs) -> nn.Module:
    """Build architecture family `arch` from explicit keyword arguments (used by checkpoint loading)."""
    cls = ARCHS.get(arch)
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise DcptError(
            f"{arch} has no option(s) {', '.join(unknown)}; valid: {', '.join(p for p in params if p != 'self')}"
        )
    model = cls(**kwargs)
    model.arch_name = ARCHS.canonical(arch)
    model.arch_config = dict(kwargs)
    return model


def create_model(name: str, **overrides) -> nn.Module:
    """Build preset `name` (e.g. 'nafnet-5d') or bare family `name` (e.g. 'nafnet') with overrides."""
    if name in PRESETS:
        preset = PRESETS.get(name)
        kwargs = {**preset.make_kwargs(), **drop_none(overrides)}
        model = build_arch(preset.arch, **kwargs)
        model.preset_name = preset.name
        return model
    if name in ARCHS:
        return build_arch(name, **drop_none(overrides))
    PRESETS.canonical(name)  # raises with close matches and the valid names
    raise AssertionError("unreachable")


def list_models() -> list:
    return PRESETS.names()
