"""Device names from users (``--device``, ``train.device``, the Python API) -> a `torch.device`.

The one place that reads them, so every command accepts the same spellings and reports the same
one-line errors: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` and ``cuda:N``.
An absent or out-of-range GPU is a user mistake (`DcptError`), found here rather than as a CUDA
traceback at the first ``.to(device)``.
"""

from __future__ import annotations

from typing import Union

import torch

from .errors import DcptError

DEVICE_CHOICES = "cpu, cuda, cuda:N or auto"


def resolve_device(name: Union[str, torch.device] = "auto", option: str = "--device") -> torch.device:
    """The `torch.device` that `name` means; `option` names the setting in messages."""
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError):
            raise DcptError(f"{option}: expected {DEVICE_CHOICES}, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DcptError(f"{option} {str(device)!r}: no CUDA device is available; use cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DcptError(f"{option} {str(device)!r}: this machine has {count} CUDA device(s)")
    return device
