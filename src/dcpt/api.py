"""The front door's verbs that cross layers: load a checkpoint, restore an image, name its degradation.

Each wraps what the CLI already runs (`dcpt.infer.restore`, `dcpt.infer.tiling`, `dcpt.infer.classify`)
so that a script and ``dcpt restore`` / ``dcpt classify`` give the same bytes. Every function returns one
type whatever its input, and every user mistake (a missing file, a `.pth` where a dcpt checkpoint is
needed, a wrongly shaped tensor) raises a `dcpt.errors.DcptError` with one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from .errors import CheckpointError, DcptError
from .models.checkpoint import Bundle

PathLike = Union[str, os.PathLike]
ImageInput = Union[Tensor, str, os.PathLike]
"""An image: a ``3 x H x W`` or ``B x 3 x H x W`` float tensor in [0, 1], or the path of an image file."""
Device = Union[str, torch.device]


@dataclass(frozen=True)
class Classification:
    """The degradation a checkpoint's classifier names for one image.

    `probabilities` maps every class name of the checkpoint, in its order, to a probability (they sum
    to 1); `label` is the most probable class.
    """

    label: str
    probabilities: Dict[str, float]

    @property
    def confidence(self) -> float:
        """The probability of `label`, in [0, 1]."""
        return self.probabilities[self.label]


def load_bundle(path: PathLike, device: Device = "cpu") -> Bundle:
    """Everything a dcpt checkpoint holds, rebuilt from the file alone, in eval mode on `device`.

    Returns a `Bundle`: ``net``, ``classifier`` and ``class_names`` (None for a checkpoint without a
    classifier, e.g. after fine-tuning) and ``meta`` (the header: ``arch``, ``arch_config``, ``preset``,
    ``step``, ...). `device` is ``"cpu"``, ``"cuda[:N]"``, ``"auto"`` or a `torch.device`. A BasicSR
    ``.pth`` does not record its architecture: load it with ``create_model(preset, checkpoint=path)``.
    """
    from .models.checkpoint import load_bundle as read_bundle
    from .models.weights import checkpoint_kind

    if checkpoint_kind(path) == "torch":
        raise CheckpointError(
            f"{path} is a torch .pth file, which does not record its architecture: "
            f"use dcpt.create_model(PRESET, checkpoint={str(path)!r})"
        )
    bundle = read_bundle(path, map_location="cpu")
    target = _device(device)
    bundle.net.to(target).eval()
    if bundle.classifier is not None:
        bundle.classifier.to(target).eval()
    return bundle


def load_model(path: PathLike, device: Device = "cpu") -> nn.Module:
    """The restoration network of a dcpt checkpoint, rebuilt from its header, in eval mode on `device`.

    The header records the family and its constructor arguments, so no preset name is needed. For
    the degradation classifier and its class names use `load_bundle` (or `classify` directly).
    """
    return load_bundle(path, device).net


def restore(
    net: nn.Module,
    image: ImageInput,
    tile: Optional[int] = None,
    overlap: int = 32,
    batch: int = 1,
) -> Tensor:
    """Restore `image` with `net`: a float32 tensor in [0, 1] of the input's shape.

    A ``3 x H x W`` input gives ``3 x H x W``, a ``B x 3 x H x W`` batch the same batch, an image file a
    ``3 x H x W`` tensor; any H x W works (the net pads to its grid). The result stays on the input's
    device while tiles run on the net's, so a large image may stay on the CPU while a GPU restores it.
    `tile` (pixels) bounds memory: None restores the whole image at once (exact); ``tile=512,
    overlap=32`` runs overlapping tiles blended without seams, `batch` tiles per forward pass (see
    `dcpt.infer.tiling` for what tiling changes for NAFNet's global pooling). The net is used in its
    current mode: `load_model` gives it in eval mode; call ``net.eval()`` on one from `create_model`.
    """
    from .infer.tiling import restore_tiled

    img, single = _image(image, "restore")
    out = restore_tiled(net, img, tile=tile, overlap=overlap, batch=batch)
    out = out.clamp_(0.0, 1.0).float()
    return out[0] if single else out


def classify(model: Union[Bundle, PathLike], image: ImageInput, crop: Optional[int] = None) -> Classification:
    """Name the degradation of one image with the classifier a dcpt checkpoint carries.

    `model` is a checkpoint path or a `Bundle` from `load_bundle` (load once, classify many images);
    `image` is a ``3 x H x W`` (or ``1 x 3 x H x W``) tensor in [0, 1] or an image file. `crop` (pixels)
    classifies only a centred ``crop x crop`` square, as ``dcpt classify --crop``. A checkpoint without a
    classifier (a fine-tuned one) raises CheckpointError.
    """
    from .infer.classify import center_crop, class_probabilities

    bundle = model if isinstance(model, Bundle) else load_bundle(model)
    if bundle.classifier is None or not bundle.class_names:
        raise CheckpointError(
            f"{bundle.meta.get('preset') or 'this checkpoint'} has no degradation classifier; use a "
            "checkpoint from `dcpt pretrain` (or a fine-tuned one that kept it)"
        )
    img, _ = _image(image, "classify")
    if img.shape[0] != 1:
        raise DcptError(f"classify names one image; got a batch of {img.shape[0]}: call it once per image")
    device = next(bundle.net.parameters()).device
    probs = class_probabilities(bundle.net, bundle.classifier, center_crop(img, crop).to(device))[0]
    names = list(bundle.class_names)
    values = probs.cpu().tolist()
    return Classification(names[int(probs.argmax())], dict(zip(names, values)))


def _image(image: ImageInput, who: str) -> Tuple[Tensor, bool]:
    """`image` as a ``B x 3 x H x W`` tensor, and whether it came as one ``3 x H x W`` image."""
    if isinstance(image, (str, os.PathLike)):
        from .data.io import read_image

        return read_image(image)[None], True
    if not isinstance(image, Tensor):
        raise DcptError(f"{who}: expected an image tensor or an image file path, got {type(image).__name__}")
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise DcptError(
            f"{who}: expected a 3 x H x W or B x 3 x H x W tensor, got shape {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise DcptError(f"{who}: expected a floating-point tensor in [0, 1], got dtype {image.dtype}")
    return (image[None], True) if image.ndim == 3 else (image, False)


def _device(device: Device) -> torch.device:
    from .device import resolve_device

    return resolve_device(device, option="device")
