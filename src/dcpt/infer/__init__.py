"""Inference: tiled restoration of images of any size, evaluation tables, degradation classification,
ONNX export and the onnxruntime engine.

Submodules are imported on first use (``dcpt.infer.restore_tiled`` loads ``tiling``), so importing
the package stays cheap and each submodule can be developed on its own.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "restore_tiled": "tiling",
    "count_tiles": "tiling",
    "restore_paths": "restore",
    "load_model": "restore",
    "load_restorer": "restore",
    "export_onnx": "onnx_export",
    "OnnxRestorer": "onnx_engine",
    "evaluate_benchmark": "evaluate",
    "evaluate_pairs": "evaluate",
    "classify_paths": "classify",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    if name in ("tiling", "restore", "evaluate", "benchmarks", "classify", "onnx_export", "onnx_engine"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
