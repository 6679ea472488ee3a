"""A memory estimate that refuses a batch or tile which cannot fit, before the kernel kills the process.

The figures are lower bounds, so a configuration that would fit is never refused: one training step
of NAFNet-tiny (the smallest preset) keeps about 20 KB per pixel of the batch for its backward pass
(measured with `dcpt pretrain`, fp32 on CPU: 1.2 GB at 2 x 128^2, 3.4 GB at 2 x 256^2, 6.5 GB at
2 x 384^2); we count 8 KB, which also covers bf16 and the larger presets. Inference keeps no
activations for a backward pass; we count 256 bytes per pixel (NAFNet-tiny needs more).
"""

from __future__ import annotations

import os
from typing import Optional

from ..errors import ConfigError

TRAIN_BYTES_PER_PIXEL = 8 * 1024
"""Lower bound on the memory of one training step, per pixel of the micro-batch."""

INFER_BYTES_PER_PIXEL = 256
"""Lower bound on the memory of one forward pass without gradients, per pixel of the batch."""

GIB = 1024**3


def available_ram() -> Optional[int]:
    """Bytes of memory a new allocation can get: MemAvailable from /proc/meminfo (Linux), else
    psutil when installed, else free pages from `os.sysconf`; None where nothing answers."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unusable here
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def device_memory(device: str) -> Optional[int]:
    """Bytes free on the device a run will use: the GPU's for ``cuda``/``cuda:N`` (and ``auto`` when
    CUDA is present), else the host's available RAM."""
    if device != "cpu":
        try:
            import torch

            if torch.cuda.is_available():
                index = int(device.partition(":")[2] or 0) if device.startswith("cuda") else 0
                free, _total = torch.cuda.mem_get_info(index)
                return int(free)
        except (ImportError, RuntimeError, ValueError):
            pass
    return available_ram()


def check_fits(
    pixels: int, bytes_per_pixel: int, what: str, device: str = "cpu", hint: str = "use smaller sizes"
) -> None:
    """Raise a one-line `ConfigError` when `pixels` x `bytes_per_pixel` exceeds the memory of `device`.

    `what` names the settings responsible, e.g. ``"data.patch_size=5000 x data.batch_size=8"``.
    """
    limit = device_memory(device)
    need = pixels * bytes_per_pixel
    if limit is None or need <= limit:
        return
    where = "free on the GPU" if device != "cpu" and _uses_cuda(device) else "of memory available"
    raise ConfigError(
        f"{what} needs at least {size_text(need)} ({bytes_per_pixel} bytes per pixel, a lower "
        f"bound), more than the {size_text(limit)} {where}; {hint}"
    )


def size_text(count: int) -> str:
    """Bytes in the largest binary unit that keeps the figure at 1 or more: ``1525.9 GiB``, ``768.0 KiB``."""
    if count >= 1024 * 1024 * GIB:  # past a PiB: integer arithmetic, exact for any size
        return f"{count // GIB} GiB"
    for unit, scale in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _uses_cuda(device: str) -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False
