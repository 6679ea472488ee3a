"""All-in-one restoration (fine-tuning): ``L1(net(lq), gt)`` plus an optional frequency-domain L1.

The frequency term is ``freq_weight * mean |FFT2(net(lq)) - FFT2(gt)|`` over the real and imaginary
parts (an orthonormal 2-D FFT per channel), which sharpens edges that a pixel L1 alone leaves soft.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..metrics import psnr


def fft_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute difference of the real and imaginary parts of the orthonormal 2-D FFTs."""
    fp = torch.view_as_real(torch.fft.fft2(pred.float(), norm="ortho"))
    ft = torch.view_as_real(torch.fft.fft2(target.float(), norm="ortho"))
    return (fp - ft).abs().mean()


class RestoreObjective:
    trains = ("net",)

    def __init__(self, freq_weight: float = 0.0):
        self.freq_weight = freq_weight

    def __call__(self, batch: Dict, nets) -> Tuple[Tensor, Dict[str, Tensor]]:
        lq, gt = batch["lq"], batch["gt"]
        out = nets["net"](lq).float()
        l1 = F.l1_loss(out, gt.float())
        loss = l1
        logs = {"l1": l1.detach()}
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
