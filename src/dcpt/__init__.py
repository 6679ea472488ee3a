"""dcpt: universal image restoration pre-training (DCPT and MaskDCPT), end to end.

The front door (documented in docs/api.md)::

    import dcpt
    net = dcpt.create_model("nafnet-5d", checkpoint="NAFNet-5D.pth")   # a preset, release weights
    dcpt.list_models("*swinir*")                                       # preset names
    net = dcpt.load_model("run/best.safetensors")                      # rebuilt from the file alone
    lq = dcpt.degrade.apply("gaussian_noise", img, 25)                 # the degradation catalogue
    out = dcpt.restore(net, lq, tile=512)                              # any size, tiled
    dcpt.classify("pretrained.safetensors", lq).label                  # names the degradation
    dcpt.psnr(out, img), dcpt.ssim(out, img)                           # (B,) tensors, BasicSR conventions
    dcpt.piqe(out), dcpt.niqe(out)                                     # no reference: (B,), lower is better

Why lazy: ``dcpt --help`` and ``import dcpt`` must not pay for torch and every architecture (nor
even for `typing`, ~9 ms). Each public name is imported on first access (PEP 562 module
``__getattr__``), then cached here.
"""

from __future__ import annotations

import importlib

from .errors import DcptError

__version__ = "0.1.0"

TYPE_CHECKING = False  # type checkers take it as True (the typing-free idiom of Python 3.13's stdlib)
if TYPE_CHECKING:  # what the names are, for type checkers and IDEs; nothing is imported at run time
    from typing import Any, List

    from . import degrade, errors
    from .api import Classification, classify, load_bundle, load_model, restore
    from .metrics import niqe, piqe, psnr, ssim
    from .models import create_model, list_models
    from .models.checkpoint import Bundle

_EXPORTS = {
    "create_model": "dcpt.models",
    "list_models": "dcpt.models",
    "load_model": "dcpt.api",
    "load_bundle": "dcpt.api",
    "restore": "dcpt.api",
    "classify": "dcpt.api",
    "Classification": "dcpt.api",
    "Bundle": "dcpt.models.checkpoint",
    "psnr": "dcpt.metrics",
    "ssim": "dcpt.metrics",
    "piqe": "dcpt.metrics",
    "niqe": "dcpt.metrics",
}
_SUBMODULES = ("degrade", "errors")

__all__ = [
    "Bundle",
    "Classification",
    "DcptError",
    "__version__",
    "classify",
    "create_model",
    "degrade",
    "errors",
    "list_models",
    "load_bundle",
    "load_model",
    "niqe",
    "piqe",
    "psnr",
    "restore",
    "ssim",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
