"""Objectives: ``objective(batch, nets) -> (loss, logs)``; the only code that knows what DCPT is.

`nets` maps ``"net"`` (the restoration network) and ``"classifier"`` to modules. An objective also
declares `trains` (the modules it optimises) and `evaluate(batch, nets) -> {metric: Tensor[B]}`.
"""

from __future__ import annotations

from ..config import ObjectiveConfig
from .dcpt import DcptObjective
from .maskdcpt import MaskDcptObjective
from .restore import RestoreObjective

__all__ = ["DcptObjective", "MaskDcptObjective", "RestoreObjective", "build_objective"]


def build_objective(cfg: ObjectiveConfig):
    if cfg.name == "dcpt":
        return DcptObjective(cfg.cls_weight, cfg.rec_weight, cfg.focal_gamma)
    if cfg.name == "maskdcpt":
        return MaskDcptObjective(
            cfg.cls_weight,
            cfg.rec_weight,
            cfg.mask_ratio,
            cfg.mask_patch,
            cfg.mask_mode,
            cfg.focal_gamma,
            cfg.mask_through,
        )
    return RestoreObjective(
        cfg.freq_weight, cfg.pixel_loss, cfg.l1_weight, cfg.psnr_cap_db, cfg.relative_weight, cfg.ssim_weight
    )
