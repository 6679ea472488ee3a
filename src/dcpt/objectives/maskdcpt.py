"""MaskDCPT pre-training: classify the degradation and restore the clean image from a *masked* input.

Per step (one forward pass)::

    mask = random_patch_mask(ratio, patch)          # 1 = visible
    y, features = net.forward_masked(lq, mask, through=mask_through)
    loss = cls_weight * CE(classifier(features), label) + rec_weight * L1(y, gt)

`mask_through` ``all`` (default) is the MaskDCPT release's mask architectures (`mask_*_arch.py`):
the mask is kept through every block, decoder included, so no feature at a masked position depends
on the image and the L1 is taken over visible pixels only (an L1 over masked pixels would only teach
the biases the mean clean colour). ``encoder`` is dcpt's own variant: a sparse encoder, a dense
decoder that fills the holes from context, and an L1 over every pixel.

`mask_mode` picks how masked patches are kept out of the net: ``sparse`` and ``token`` use the net's
own `forward_masked` (sparse SparK-style for NAFNet; zeros, or the learned ``mask_token`` when the
net was built with one, for the Transformers); ``zero`` blanks the patches of the input and runs the
ordinary dense network (SimMIM with a zero token, works for any net; unlike NAFNet's sparse
mode, a residual net then adds zeros, not a fill from visible pixels, at masked positions).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ..models.classifier import classifier_features, classifier_taps, taps_kwargs
from ..models.masking import MASK_THROUGH, random_patch_mask
from .dcpt import accuracy, classification_loss

MASK_MODES = ("sparse", "zero", "token")


class MaskDcptObjective:
    trains = ("net", "classifier")
    find_unused_parameters = True

    def __init__(
        self,
        cls_weight: float = 1.0,
        rec_weight: float = 1.0,
        mask_ratio: float = 0.5,
        mask_patch: Optional[int] = None,
        mask_mode: str = "sparse",
        focal_gamma: float = 0.0,
        mask_through: str = "all",
    ):
        if mask_mode not in MASK_MODES:
            raise ConfigError(f"mask_mode: expected one of {', '.join(MASK_MODES)}, got {mask_mode!r}")
        if mask_through not in MASK_THROUGH:
            raise ConfigError(
                f"mask_through: expected one of {', '.join(MASK_THROUGH)}, got {mask_through!r}"
            )
        self.mask_through = mask_through
        self.cls_weight = cls_weight
        self.rec_weight = rec_weight
        self.mask_ratio = mask_ratio
        self.mask_patch = mask_patch
        self.mask_mode = mask_mode
        self.focal_gamma = focal_gamma
        self.generator = torch.Generator()

    def check_net(self, net) -> None:
        """Fail early (one line) when `net` cannot run this objective."""
        if not hasattr(net, "forward_masked"):
            raise ConfigError(f"{type(net).__name__} has no masked forward; MaskDCPT needs one")
        if self.mask_mode == "token" and getattr(net, "mask_token", None) is None:
            raise ConfigError(
                f"mask_mode 'token' needs a net built with a learned mask token "
                f"(model.overrides.mask_token: true on restormer / swinir / promptir); "
                f"{type(net).__name__} has none"
            )
        patch = getattr(net, "mask_patch_size", None)
        if self.mask_through == "all" and self.mask_patch and patch and self.mask_patch % patch:
            raise ConfigError(
                f"objective.mask_patch {self.mask_patch} is not a multiple of the net's mask patch "
                f"{patch}: with mask_through 'all' the net would hide more than the mask does, and "
                f"the loss would score pixels the net never saw"
            )

    def make_mask(self, lq: Tensor, net) -> Tensor:
        patch = self.mask_patch or net.mask_patch_size
        b, _, h, w = lq.shape
        return random_patch_mask(b, h, w, patch, self.mask_ratio, generator=self.generator, device=lq.device)

    def __call__(self, batch: Dict, nets) -> Tuple[Tensor, Dict[str, Tensor]]:
        net, classifier = nets["net"], nets["classifier"]
        lq, gt, labels = batch["lq"], batch["gt"], batch["label"]
        mask = self.make_mask(lq, net).to(lq.dtype)
        kwargs = taps_kwargs(classifier_taps(classifier))
        if self.mask_mode == "zero":
            y, features = net.forward_masked(lq * mask, torch.ones_like(mask), **kwargs)
            scored = None
        else:
            y, features = net.forward_masked(lq, mask, through=self.mask_through, **kwargs)
            scored = mask if self.mask_through == "all" else None
        logits = classifier(features).float()
        cls_loss = classification_loss(logits, labels, self.focal_gamma)
        rec_loss = masked_l1(y.float(), gt.float(), scored)
        loss = self.cls_weight * cls_loss + self.rec_weight * rec_loss
        logs = {
            "cls_loss": cls_loss.detach(),
            "rec_loss": rec_loss.detach(),
            "acc": accuracy(logits.detach(), labels),
        }
        return loss, logs

    @torch.no_grad()
    def evaluate(self, batch: Dict, nets) -> Dict[str, Tensor]:
        """Per image: 1.0 where the degradation of the *unmasked* `lq` is named correctly (how it is used)."""
        logits = nets["classifier"](classifier_features(nets["net"], nets["classifier"], batch["lq"]))
        return {"acc": (logits.argmax(dim=1) == batch["label"]).float()}


def masked_l1(y: Tensor, target: Tensor, mask: Optional[Tensor]) -> Tensor:
    """Mean absolute error over the positions where `mask` (`B x 1 x H x W`, 1 = scored) is 1, or
    over every pixel when `mask` is None; the same scale as `F.l1_loss` either way."""
    if mask is None:
        return F.l1_loss(y, target)
    mask = mask.to(y.dtype)
    return ((y - target).abs() * mask).sum() / (mask.sum() * y.shape[1]).clamp_min(1.0)
