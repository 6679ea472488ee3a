"""Restoration architectures, the degradation classifier and checkpoints.

Contract of every restoration net (see docs/architecture.md):
``net(x) -> y`` for any H x W; ``net.features(x) -> list[Tensor]`` (full resolution first);
``net.feature_channels``; ``net.forward_masked(x, mask) -> (y, features)``; ``net.mask_patch_size``.
Nets that can also give encoder features (NAFNet) take ``taps="encoder"`` in `features` and
`forward_masked` and list what they give in ``net.feature_taps``.
"""

from __future__ import annotations

import importlib

from .registry import ARCHS, PRESETS, build_arch, create_model, list_models, register_arch, register_model  # noqa: F401

# The family modules register their presets on import; this order is the order `list_models` gives.
for _module in ("nafnet", "restormer", "swinir", "promptir", "classifier", "checkpoint", "masking"):
    importlib.import_module(f"{__name__}.{_module}")
