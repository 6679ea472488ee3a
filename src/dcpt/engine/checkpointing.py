"""Training checkpoints (`last.pt`): one plain dict, written atomically so a kill never leaves half a file."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np
import torch

from ..errors import CheckpointError
from ..fileio import atomic_path

LAST = "last.pt"


def save_training_state(state: Dict[str, Any], path: Union[str, Path]) -> None:
    """`torch.save` through `dcpt.fileio.atomic_path`: a kill mid-write keeps the previous `last.pt`.

    Saved through a Python file object, not a file name: torch's own file writer reports a full disk
    as "unexpected pos", while a Python write raises the `OSError` that `WriteError` names."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)


def load_training_state(path: Union[str, Path], map_location="cpu") -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"cannot resume: no training checkpoint at {str(path)!r}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise CheckpointError(
            f"cannot read training checkpoint {str(path)!r}: {type(exc).__name__}"
        ) from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{str(path)!r} is not a dcpt training checkpoint (no 'step')")
    return state


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": _python_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]


def _python_state():
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]
