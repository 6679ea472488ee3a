"""The DCPT degradation classifier: a light decoder that names the degradation from features only.

It follows the official `PromptIR_NoImg_DC` of MILab-PKU/dcpt (parameter names included, so its
released `net_dc` weights load): a running state starts at zero; for each scale `k` (full resolution
first) it adds `softmax(mixing_weights)[k] * feature_k`, runs ResNet bottleneck blocks with channel
LayerNorm, then a 1x1 conv to the next scale's width, 2x2 max-pooling and ReLU. After the last scale
another group of bottleneck blocks, a global average pool and a linear layer give the logits.
The image itself is never seen.

Departures, both no-ops for NAFNet-style pyramids: the max-pool rounds up (odd sizes keep their
border), and a feature whose size differs from the running state's is resized to it with
nearest-neighbour interpolation. That is the official treatment of SwinIR, whose features all share
one resolution (the official code subsamples feature `k` by `2 ** k`).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DcptError
from .layers import LayerNorm2d

TAPS = (
    "decoder",
    "encoder",
)  # which features of a net a classifier reads; nets list theirs in `feature_taps`


def check_taps(taps: str, supported: Sequence[str], arch: str) -> None:
    """Fail with one line when a net cannot give the feature taps (``decoder`` / ``encoder``) asked for."""
    if taps not in supported:
        raise DcptError(f"{arch} gives classifier features from {' or '.join(supported)} taps, not {taps!r}")


def taps_kwargs(taps: str) -> Dict[str, str]:
    """The keyword for `net.features` / `net.forward_masked`: none for the default decoder taps, so
    nets that only have decoder taps need not take the argument."""
    return {} if taps == "decoder" else {"taps": taps}


def net_features(net: nn.Module, x: torch.Tensor, taps: str = "decoder") -> List[torch.Tensor]:
    """`net.features(x)` at `taps` (no keyword for the default decoder taps, see `taps_kwargs`)."""
    features = getattr(net, "features", None)
    if not callable(features):
        raise DcptError(f"{type(net).__name__} has no features(x) method to give classifier features")
    return features(x, **taps_kwargs(taps))


class ConvNorm(nn.Conv2d):
    """A bias-free convolution followed by a channel LayerNorm stored as `.norm` (official layout)."""

    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.norm = LayerNorm2d(cout)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(super().forward(x))


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1, identity shortcut) at `channels`, inner width
    `expansion * channels` (the official decoder widens: expansion 2)."""

    def __init__(self, channels: int, expansion: float):
        super().__init__()
        inner = int(channels * expansion)
        self.conv1 = ConvNorm(channels, inner, 1)
        self.conv2 = ConvNorm(inner, inner, 3)
        self.conv3 = ConvNorm(inner, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = F.relu(self.conv2(out))
        return F.relu(self.conv3(out) + x)


class DegradationClassifier(nn.Module):
    """`DegradationClassifier(feature_channels, num_classes)(features) -> logits` (`B x num_classes`).

    `features` is the list a restoration net's `features(x)` returns (full resolution first) and
    `feature_channels` its `feature_channels`. `blocks_per_scale` bottlenecks of inner width
    `expansion * channels` run at every scale and once more at the end (official: 2 and 2.0; the
    cost grows with the square of the widest feature). `taps` records which features of the net it
    reads, ``decoder`` (DCPT, the default) or ``encoder`` (MaskDCPT); see `classifier_features`.
    `config` holds the constructor arguments, which is what a checkpoint stores to rebuild it.
    """

    def __init__(
        self,
        feature_channels: Sequence[int],
        num_classes: int,
        blocks_per_scale: int = 2,
        expansion: float = 2.0,
        taps: str = "decoder",
    ):
        super().__init__()
        feature_channels = tuple(int(c) for c in feature_channels)
        if taps not in TAPS:
            raise DcptError(f"classifier taps: expected one of {', '.join(TAPS)}, got {taps!r}")
        if not feature_channels or num_classes < 1 or blocks_per_scale < 1:
            raise DcptError(
                f"expected at least one feature width, num_classes >= 1 and blocks_per_scale >= 1, got "
                f"{feature_channels}, {num_classes} and {blocks_per_scale}"
            )
        self.config = dict(
            feature_channels=list(feature_channels),
            num_classes=int(num_classes),
            blocks_per_scale=int(blocks_per_scale),
            expansion=float(expansion),
        )
        if taps != "decoder":  # absent = decoder, so files with decoder taps stay readable by older dcpt
            self.config["taps"] = str(taps)
        self.feature_channels = feature_channels
        self.taps = str(taps)

        def stage(c: int) -> nn.Sequential:
            return nn.Sequential(*[Bottleneck(c, expansion) for _ in range(blocks_per_scale)])

        self.bottleneck_layers = nn.ModuleList(stage(c) for c in feature_channels)
        self.downsample_layers = nn.ModuleList()
        for k, c in enumerate(feature_channels):
            nxt = feature_channels[min(k + 1, len(feature_channels) - 1)]
            self.downsample_layers.append(
                nn.Sequential(nn.Conv2d(c, nxt, 1, bias=False), nn.MaxPool2d(2, 2, ceil_mode=True), nn.ReLU())
            )
        self.last_stage = stage(feature_channels[-1])
        self.mixing_weights = nn.Parameter(torch.ones(len(feature_channels)))
        self.fc = nn.Linear(feature_channels[-1], num_classes)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        self._check(features)
        weights = torch.softmax(self.mixing_weights, dim=0)
        state = None
        for k, feature in enumerate(features):
            if state is None:
                state = weights[k] * feature
            else:
                if feature.shape[-2:] != state.shape[-2:]:
                    feature = F.interpolate(feature, size=state.shape[-2:], mode="nearest")
                state = state + weights[k] * feature
            state = self.downsample_layers[k](self.bottleneck_layers[k](state))
        return self.fc(self.last_stage(state).mean((2, 3)))

    def _check(self, features: List[torch.Tensor]) -> None:
        widths = tuple(f.shape[1] if f.dim() == 4 else None for f in features)
        if widths != self.feature_channels:
            shapes = [tuple(f.shape) for f in features]
            raise DcptError(
                f"expected {len(self.feature_channels)} B x C x H x W features with C = "
                f"{self.feature_channels}, got shapes {shapes}"
            )


def classifier_features(net: nn.Module, classifier: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    """`net.features(x)` at the taps `classifier` was trained on (``decoder`` unless it says otherwise);
    unwraps a DDP / compiled classifier to read them (the net must be the bare module). Nets that only
    know decoder taps need not take `taps`."""
    return net_features(net, x, classifier_taps(classifier))


def classifier_taps(classifier: nn.Module) -> str:
    inner = getattr(classifier, "module", getattr(classifier, "_orig_mod", classifier))
    return getattr(inner, "taps", "decoder")
