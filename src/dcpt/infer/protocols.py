"""`dcpt evaluate --protocol dcpt|maskdcpt`: each release's test pipeline, step for step.

What the releases' ``basicsr/test.py`` + ``SRModel.nondist_validation`` do with every test image, and
what is repeated here (file:line references to the releases are tabulated in ``docs/protocols.md``):

1. inputs as their datasets build them (`dcpt.data.release_data`; noise: seed 0 before every image,
   float32; DCPT leaves the noisy input unclipped, MaskDCPT clips it to [0, 1]);
2. ``pre_test``: reflect-pad the bottom/right to a multiple of the config's ``window_size`` (16 for
   NAFNet, 8 for Restormer, SwinIR and PromptIR), one forward pass of the whole image (no tiling, no
   TLC, no self-ensemble), ``post_test``: crop back;
3. clamp output and clean image to [0, 1] (float32), then ``calculate_psnr`` / ``calculate_ssim`` with
   crop_border 0, RGB (no Y channel) and the config's ``image_range``: 255 rounds both images to 8 bits
   (``(x * 255.0).round().astype(uint8)``), 1.0 scores the float images as they are;
4. a set's score is the mean over its images.

The identity model (`net=None`) skips step 2, so its row is the "Input" row of the papers' tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import nn

from ..data.io import safe_name
from ..data.release_data import release_items
from ..errors import DcptError
from .evaluate import SetResult
from .release_tables import ReleaseSet, release_table


@dataclass(frozen=True)
class Protocol:
    """The conventions one release applies to all its tables (`image_range` may vary per table and net)."""

    name: str
    clip_noise: bool
    image_range: float
    summary: str


PROTOCOLS: Dict[str, Protocol] = {
    "dcpt": Protocol(
        "dcpt",
        clip_noise=False,
        image_range=255.0,
        summary="DCPT release: noisy input unclipped, metrics on 8-bit rounded images",
    ),
    "maskdcpt": Protocol(
        "maskdcpt",
        clip_noise=True,
        image_range=1.0,
        summary="MaskDCPT release: noisy input clipped, metrics on float images (image_range 1.0)",
    ),
}

RELEASE_WINDOW = {"nafnet": 16, "restormer": 8, "swinir": 8, "promptir": 8}
"""``network_g.window_size`` of the releases' test configs: the multiple ``pre_test`` pads inputs to."""

IMAGE_RANGE_BY_ARCH = {("maskdcpt", "dn"): {"restormer": 255.0, "swinir": 255.0, "promptir": 255.0}}
"""Tables whose configs disagree per network: MaskDCPT's ``test_{Restormer,SwinIR,PromptIR}_5d_dn.yml``
score at 255.0 where ``test_NAFNet_5d_dn.yml`` (and the identity model here) uses 1.0."""


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise DcptError(f"unknown protocol {name!r}; expected one of toolkit, {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def arch_of(net: Optional[nn.Module]) -> Optional[str]:
    return None if net is None else getattr(net, "arch_name", None)


def image_range_for(protocol: Protocol, benchmark: str, net: Optional[nn.Module]) -> float:
    arch = arch_of(net)
    if arch is None:
        return protocol.image_range
    return IMAGE_RANGE_BY_ARCH.get((protocol.name, benchmark), {}).get(arch, protocol.image_range)


def pad_multiple(net: nn.Module) -> int:
    """What ``pre_test`` pads to: the release config's window for a release family, else the net's own grid."""
    from .tiling import grid_multiple

    arch = arch_of(net)
    window = None if arch is None else RELEASE_WINDOW.get(arch)
    return window or grid_multiple(net)


def release_forward(net: Optional[nn.Module], lq: np.ndarray) -> np.ndarray:
    """``pre_test`` + ``test`` + ``post_test`` + clamp on one float32 ``H x W x 3`` RGB input -> same layout.

    `net=None` is the identity model: the (possibly unclipped) input itself, clamped like any output.
    """
    from ..models.layers import pad_to_multiple

    x = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1))).float()[None]
    if net is not None:
        height, width = x.shape[-2:]
        multiple = pad_multiple(net)
        device = next(net.parameters()).device
        with torch.no_grad():
            x = net(pad_to_multiple(x.to(device), multiple))[..., :height, :width]
    out = x.float().cpu().clamp(0, 1)
    return out[0].numpy().transpose(1, 2, 0)


def quantise(img: np.ndarray, image_range: float) -> np.ndarray:
    """What ``calculate_psnr`` / ``calculate_ssim`` score, on our metrics' 0-255 scale.

    255: ``(img * 255.0).round().astype(uint8)`` in float32 as there. 1.0: the float image untouched
    (scaled by 255 in float64 here, which leaves PSNR and SSIM unchanged: SSIM's constants scale with the
    range).
    """
    if image_range == 255.0:
        return (img.astype(np.float32) * 255.0).round().astype(np.uint8)
    if image_range == 1.0:
        return img.astype(np.float64) * 255.0
    raise DcptError(f"image_range {image_range} is not used by the releases; expected 255.0 or 1.0")


def release_scores(out: np.ndarray, gt: np.ndarray, image_range: float, name: str) -> Dict[str, float]:
    """PSNR (dB) and SSIM of one restored image against its clean image, as the release computes them."""
    from ..metrics import psnr, ssim

    if out.shape != gt.shape:
        raise DcptError(
            f"{name}: restored image is {out.shape[1]} x {out.shape[0]} but the clean image is "
            f"{gt.shape[1]} x {gt.shape[0]}; the release cannot score this pair"
        )
    a, b = quantise(out, image_range), quantise(np.clip(gt, 0, 1), image_range)
    return {"psnr": float(psnr(a, b)), "ssim": float(ssim(a, b))}


def evaluate_release(
    net: Optional[nn.Module],
    protocol: str,
    benchmark: str,
    data_root,
    save_dir=None,
    show_progress: bool = True,
) -> List[SetResult]:
    """Rows of a release table for `net` (None: the identity model). Absent folders become "missing"
    rows; a pairing or image the release would stop on raises DcptError."""
    proto = get_protocol(protocol)
    entries = release_table(protocol, benchmark)
    root = Path(data_root)
    if not root.is_dir():
        raise DcptError(f"data root {root} does not exist (expected e.g. {root}/{entries[0].folders()[0]})")
    image_range = image_range_for(proto, benchmark, net)
    return [_score_set(net, proto, entry, root, image_range, save_dir, show_progress) for entry in entries]


def _score_set(
    net, proto: Protocol, entry: ReleaseSet, root: Path, image_range: float, save_dir, show_progress
) -> SetResult:
    from tqdm import tqdm

    from ..data.io import write_image

    absent = [str(root / folder) for folder in entry.folders() if not (root / folder).exists()]
    if absent:
        return SetResult(entry.name, absent[0], "missing", detail=f"expected {absent[0]}")
    items = release_items(entry, root, proto.clip_noise)
    rows = []
    for item in tqdm(items, desc=entry.name, unit="img", disable=None if show_progress else True):
        lq, gt = item.load()
        out = release_forward(net, lq)
        rows.append({"name": item.name, **release_scores(out, gt, image_range, item.name)})
        if save_dir is not None:
            restored = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
            write_image(Path(save_dir) / safe_name(entry.name) / f"{item.name}.png", restored)
    mean = {key: float(np.mean([r[key] for r in rows])) for key in ("psnr", "ssim")}
    return SetResult(
        entry.name,
        str(root / entry.folders()[0]),
        "ok",
        mean["psnr"],
        mean["ssim"],
        len(rows),
        per_image=rows,
    )


def describe(protocol: str, benchmark: str, net: Optional[nn.Module]) -> Dict:
    """The conventions of a run, for ``results.json``."""
    proto = get_protocol(protocol)
    return {
        "protocol": proto.name,
        "summary": proto.summary,
        "clip_noise": proto.clip_noise,
        "image_range": image_range_for(proto, benchmark, net),
        "crop_border": 0,
        "y_channel": False,
        "pad_multiple": pad_multiple(net) if net is not None else None,
        "sources": sorted({e.config for e in release_table(protocol, benchmark)}),
    }
