"""DCPT pre-training: classify the degradation from the net's features, and reconstruct the clean image.

Per step (two forward passes, one backward)::

    loss = cls_weight * CE(classifier(net.features(lq)), label) + rec_weight * L1(net(gt), gt)

A net with ``forward_and_features`` (NAFNet) runs both as one pass over ``[lq; gt]``.

(CE becomes the focal loss with `focal_gamma` > 0.)

The classifier sees only the features, never the image; the cross-entropy therefore reaches the net
through `net.features`, and the L1 term keeps the whole net a restoration network.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.classifier import classifier_features, classifier_taps, taps_kwargs


def classification_loss(logits: Tensor, labels: Tensor, focal_gamma: float = 0.0) -> Tensor:
    """Mean cross-entropy, or with `focal_gamma` > 0 the focal loss ``-(1 - p_y)^gamma log p_y``
    (Lin et al. 2017), which down-weights classes that are already easy."""
    if not focal_gamma:
        return F.cross_entropy(logits, labels)
    log_p = F.log_softmax(logits, dim=1).gather(1, labels[:, None])[:, 0]
    return (-((1.0 - log_p.exp()) ** focal_gamma) * log_p).mean()


def accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Fraction of correct top-1 predictions (a 0-dim tensor)."""
    return (logits.argmax(dim=1) == labels).float().mean()


class DcptObjective:
    trains = ("net", "classifier")

    def __init__(
        self,
        cls_weight: float = 1.0,
        rec_weight: float = 1.0,
        focal_gamma: float = 0.0,
        one_pass: bool = True,
    ):
        self.cls_weight = cls_weight
        self.focal_gamma = focal_gamma
        self.rec_weight = rec_weight
        self.one_pass = one_pass
        self.find_unused_parameters = rec_weight == 0

    def __call__(self, batch: Dict, nets) -> Tuple[Tensor, Dict[str, Tensor]]:
        net, classifier = nets["net"], nets["classifier"]
        lq, gt, labels = batch["lq"], batch["gt"], batch["label"]
        both = getattr(net, "forward_and_features", None)
        if self.rec_weight and self.one_pass and callable(both) and lq.shape == gt.shape:
            # one pass over [lq; gt]: every layer is per image, so this is the two passes' result
            out, features = both(torch.cat([lq, gt]), **taps_kwargs(classifier_taps(classifier)))
            features, restored = [f[: len(lq)] for f in features], out[len(lq) :]
        else:
            features = classifier_features(net, classifier, lq)
            restored = net(gt) if self.rec_weight else None
        logits = classifier(features).float()
        cls_loss = classification_loss(logits, labels, self.focal_gamma)
        loss = self.cls_weight * cls_loss
        logs = {"cls_loss": cls_loss.detach(), "acc": accuracy(logits.detach(), labels)}
        if restored is not None:
            rec_loss = F.l1_loss(restored.float(), gt.float())
            loss = loss + self.rec_weight * rec_loss
            logs["rec_loss"] = rec_loss.detach()
        return loss, logs

    @torch.no_grad()
    def evaluate(self, batch: Dict, nets) -> Dict[str, Tensor]:
        """Per image: 1.0 where the degradation of `lq` is named correctly, else 0.0."""
        logits = nets["classifier"](classifier_features(nets["net"], nets["classifier"], batch["lq"]))
        return {"acc": (logits.argmax(dim=1) == batch["label"]).float()}
