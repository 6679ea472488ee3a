"""All-in-one restoration (fine-tuning): a pixel loss plus an optional frequency-domain L1.

The pixel loss is ``l1`` (mean absolute error over the batch) or ``psnr``: minus the mean over
images of each image's PSNR in dB (NAFNet's own training loss). Why ``psnr`` for all-in-one training:
an L1 over a batch is dominated by the images with the largest errors (haze and low light, 10-15 dB),
so a net learns their global corrections first and may make mild degradations (rain, blur, 25 dB)
worse than their inputs; in dB every image counts for its relative improvement, whatever its type.
``relative`` divides each image's squared error by its input's: the same weights as ``psnr`` at the
start, but they do not fade on an image the net makes worse, so a net cannot buy gains elsewhere with
a few ruined crops (``relative_weight`` adds it to ``psnr`` for that purpose). ``ssim_weight`` adds
that many times ``1 - SSIM`` (the reported metric, differentiable), because a PSNR loss is content to
dehaze a crop's mean while smoothing its structure away, which lowers its SSIM below its input's.

The frequency term is ``freq_weight * mean |FFT2(net(lq)) - FFT2(gt)|`` over the real and imaginary
parts (an orthonormal 2-D FFT per channel), which sharpens edges that a pixel L1 alone leaves soft.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..metrics import psnr
from ..metrics.ssim import ssim_of_batches


def fft_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference of the real and imaginary parts of the orthonormal 2-D FFTs."""
    fp = torch.view_as_real(torch.fft.fft2(pred.float(), norm="ortho"))
    ft = torch.view_as_real(torch.fft.fft2(target.float(), norm="ortho"))
    return (fp - ft).abs().mean()


def per_image_mse(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each image of a batch, in float32 (shape ``(B,)``)."""
    return (pred.float() - target.float()).pow(2).flatten(1).mean(1)


def relative_mse_loss(pred: Tensor, target: Tensor, lq: Tensor, cap_db: float = 80.0) -> Tensor:
    """Mean over images of ``mse(pred, target) / mse(lq, target)``: each image's error as a fraction
    of its input's. Unlike minus the PSNR, whose gradient ``1 / mse(pred)`` fades on an image the net
    has made much worse, an image keeps the weight of its input's error however badly it is restored,
    so a mildly degraded crop turned into a catastrophe costs the most. The input's error is floored
    at ``10^(-cap/10)`` so that a clean input cannot blow the ratio up."""
    floor = 10.0 ** (-cap_db / 10.0)
    return (per_image_mse(pred, target) / per_image_mse(lq, target).clamp(min=floor)).mean()


def psnr_loss(pred: Tensor, target: Tensor, cap_db: float = 80.0) -> Tensor:
    """Minus the mean per-image PSNR (dB, peak 1), each image's PSNR bounded by about `cap_db`:
    ``log10(mse + 10^(-cap/10))`` is smooth, and the gradient of a near-perfect image stays finite."""
    eps = 10.0 ** (-cap_db / 10.0)
    return 10.0 * torch.log10(per_image_mse(pred, target) + eps).mean()


def ssim_loss(pred: Tensor, target: Tensor) -> Tensor:
    """``1 - mean SSIM`` of the batch (the metric's window and constants, on the 0-255 scale, float32,
    unrounded): 0 for a perfect output, and it falls only where local structure comes back."""
    return 1.0 - ssim_of_batches(pred.float() * 255.0, target.float() * 255.0).mean()


PIXEL_LOSSES = ("l1", "psnr", "relative")


class RestoreObjective:
    trains = ("net",)

    def __init__(
        self,
        freq_weight: float = 0.0,
        pixel_loss: str = "l1",
        l1_weight: float = 0.0,
        psnr_cap_db: float = 80.0,
        relative_weight: float = 0.0,
        ssim_weight: float = 0.0,
    ):
        if pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"pixel_loss must be one of {PIXEL_LOSSES}, got {pixel_loss!r}")
        self.freq_weight = freq_weight
        self.pixel_loss = pixel_loss
        self.l1_weight = l1_weight
        self.psnr_cap_db = psnr_cap_db
        self.relative_weight = relative_weight
        self.ssim_weight = ssim_weight

    def __call__(self, batch: Dict, nets) -> Tuple[Tensor, Dict[str, Tensor]]:
        lq, gt = batch["lq"], batch["gt"]
        out = nets["net"](lq).float()
        l1 = F.l1_loss(out, gt.float())
        logs = {"l1": l1.detach()}
        if self.pixel_loss == "psnr":
            loss = psnr_loss(out, gt, self.psnr_cap_db)
            logs["psnr_loss"] = loss.detach()
            if self.l1_weight:
                loss = loss + self.l1_weight * l1
            if self.relative_weight:
                relative = relative_mse_loss(out, gt, lq, self.psnr_cap_db)
                loss = loss + self.relative_weight * relative
                logs["relative_loss"] = relative.detach()
        elif self.pixel_loss == "relative":
            loss = relative_mse_loss(out, gt, lq, self.psnr_cap_db)
            logs["relative_loss"] = loss.detach()
        else:
            loss = l1
        if self.ssim_weight:
            structure = ssim_loss(out, gt)
            loss = loss + self.ssim_weight * structure
            logs["ssim_loss"] = structure.detach()
        if self.freq_weight:
            freq = fft_l1(out, gt)
            loss = loss + self.freq_weight * freq
            logs["freq_loss"] = freq.detach()
        return loss, logs

    @torch.no_grad()
    def evaluate(self, batch: Dict, nets) -> Dict[str, Tensor]:
        """PSNR (dB, RGB, no border crop) of each restored image against its clean image."""
        out = nets["net"](batch["lq"]).clamp(0, 1)
        return {"psnr": psnr(out, batch["gt"])}
