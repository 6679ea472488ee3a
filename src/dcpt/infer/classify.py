"""Name the degradation of images with the classifier bundled in a pre-trained checkpoint.

The classifier reads only the restoration net's features, at the taps it was trained on
(`dcpt.models.classifier.classifier_features`), exactly as in pre-training; the probabilities are the softmax of its logits over the checkpoint's class names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..device import resolve_device
from ..errors import CheckpointError, DcptError


@dataclass
class Prediction:
    path: str
    label: str
    probabilities: Dict[str, float]

    def as_dict(self) -> Dict:
        return {"path": self.path, "label": self.label, "probabilities": self.probabilities}


def load_classifier(ckpt, device: Optional[torch.device] = None) -> Tuple[nn.Module, nn.Module, List[str]]:
    """(net, classifier, class names) of a dcpt checkpoint; raises if it carries no classifier."""
    from ..models.checkpoint import _sniff, load_bundle

    if _sniff(Path(ckpt)) == "torch":  # the reader would ask for --arch, which classify does not have
        raise CheckpointError(
            f"{ckpt} is a torch .pth file; release checkpoints carry no degradation classifier: "
            "use a dcpt checkpoint from `dcpt pretrain`"
        )
    bundle = load_bundle(ckpt)
    if bundle.classifier is None or not bundle.class_names:
        raise CheckpointError(
            f"{ckpt} has no degradation classifier; use a checkpoint from `dcpt pretrain` "
            f"(or a fine-tuned one that kept it)"
        )
    device = device or torch.device("cpu")
    return bundle.net.to(device).eval(), bundle.classifier.to(device).eval(), list(bundle.class_names)


def center_crop(img: torch.Tensor, size: Optional[int]) -> torch.Tensor:
    if size is None:
        return img
    if size < 1:
        raise DcptError(f"crop size must be a positive number of pixels, got {size}")
    h, w = img.shape[-2:]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return img[..., top : top + size, left : left + size]


@torch.no_grad()
def class_probabilities(net: nn.Module, classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Softmax over classes for a ``B x 3 x H x W`` batch in [0, 1]: a ``B x K`` tensor."""
    from ..models.classifier import classifier_features

    return torch.softmax(classifier(classifier_features(net, classifier, images)).float(), dim=1)


def classify_paths(
    ckpt, inputs: Sequence, device: str = "auto", crop: Optional[int] = None
) -> List[Prediction]:
    """One prediction per image file (folders are expanded), in sorted order."""
    from ..data import list_images, read_image

    dev = resolve_device(device)
    net, classifier, names = load_classifier(ckpt, dev)
    predictions = []
    for path in list_images([Path(p) for p in inputs]):
        img = center_crop(read_image(path), crop)[None].to(dev)
        probs = class_probabilities(net, classifier, img)[0].cpu().tolist()
        best = max(range(len(names)), key=probs.__getitem__)
        predictions.append(Prediction(str(path), names[best], dict(zip(names, probs))))
    return predictions
