import math

import pytest
import torch
from torch import nn

from dcpt.errors import DcptError
from dcpt.infer.tiling import count_tiles, edge_window, restore_tiled, tile_spans


def conv_net(layers: int = 3, seed: int = 0) -> nn.Module:
    """A pure 3x3 conv net (no global op): receptive-field radius = `layers` pixels."""
    torch.manual_seed(seed)
    blocks = []
    for index in range(layers):
        blocks.append(nn.Conv2d(3 if index == 0 else 8, 3 if index == layers - 1 else 8, 3, padding=1))
        if index < layers - 1:
            blocks.append(nn.GELU())
    return nn.Sequential(*blocks).eval()


class Constant(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full_like(x, self.value)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (29, 100), (101, 33)])
def test_tiled_equals_whole_image_for_a_local_net(size):
    net = conv_net(layers=3)  # radius 3 <= overlap // 4 = 4
    img = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    whole = net(img).detach()
    tiled = restore_tiled(net, img, tile=24, overlap=16, batch=3)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() < 1e-4


def test_image_smaller_than_a_tile_is_one_forward_pass():
    net = conv_net()
    img = torch.rand(1, 3, 17, 23)
    calls = []
    out = restore_tiled(
        net, img, tile=64, overlap=8, progress=lambda done, total: calls.append((done, total))
    )
    assert torch.allclose(out, net(img).detach())
    assert calls == [(1, 1)]


@pytest.mark.parametrize("tile", [None, 0])
def test_whole_image_mode(tile):
    net = conv_net()
    img = torch.rand(1, 3, 40, 50)
    assert torch.equal(restore_tiled(net, img, tile=tile), net(img).detach())


def test_blending_weights_sum_to_one_everywhere():
    img = torch.rand(1, 3, 77, 131)
    out = restore_tiled(Constant(0.375), img, tile=32, overlap=12, batch=2)
    assert torch.allclose(out, torch.full_like(out, 0.375), atol=1e-6)


def test_progress_counts_every_tile_and_matches_count_tiles():
    img = torch.rand(1, 3, 50, 70)
    calls = []
    restore_tiled(Constant(0.5), img, tile=20, overlap=4, batch=4, progress=lambda d, t: calls.append((d, t)))
    total = count_tiles(50, 70, 20, 4)
    assert total == len(tile_spans(50, 20, 4)) * len(tile_spans(70, 20, 4))
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@pytest.mark.parametrize(
    "size,tile,overlap,align",
    [
        (100, 32, 8, 1),
        (33, 32, 8, 1),
        (64, 32, 0, 1),
        (1000, 512, 32, 1),
        (1000, 512, 32, 16),
        (77, 40, 12, 8),
        (50, 40, 16, 16),
        (3840, 512, 32, 16),
    ],
)
def test_tile_spans_cover_the_axis_on_the_grid(size, tile, overlap, align):
    spans = tile_spans(size, tile, overlap, align)
    assert spans[0][0] == 0 and sum(spans[-1]) == size
    assert all(start % align == 0 for start, _ in spans)
    assert all(length <= max(tile, align) + align - 1 for _, length in spans)
    assert all(
        a_start + a_len - b_start >= min(overlap, size)
        for (a_start, a_len), (b_start, _) in zip(spans, spans[1:])
    )


def test_window_is_one_at_image_borders_and_ramps_smoothly_inside():
    window = edge_window(32, 16, ramp_start=True, ramp_end=False)
    assert window[-1] == 1 and window[0] == 0
    assert torch.all(window[1:] >= window[:-1])
    assert torch.all(edge_window(32, 16, ramp_start=False, ramp_end=False) == 1)


def test_tiling_keeps_channel_attention_close(capsys):
    """A global-pooling net (like NAFNet's SCA) tiled differs a little; report the PSNR."""

    class GlobalGain(nn.Module):
        def forward(self, x):
            return x * (0.5 + x.mean(dim=(-2, -1), keepdim=True))

    img = torch.rand(1, 3, 96, 96)
    whole = GlobalGain()(img)
    tiled = restore_tiled(GlobalGain(), img, tile=48, overlap=16)
    value = psnr_db(tiled, whole)
    assert math.isfinite(value) and value > 25


def test_bad_arguments_raise_one_line_errors():
    img = torch.rand(1, 3, 16, 16)
    with pytest.raises(DcptError, match="overlap"):
        restore_tiled(Constant(0.0), img, tile=8, overlap=8)
    with pytest.raises(DcptError, match="B x C x H x W"):
        restore_tiled(Constant(0.0), img[0], tile=8, overlap=2)


def test_results_are_ordinary_tensors():
    img = torch.rand(1, 3, 40, 40)
    for tile in (None, 16):
        out = restore_tiled(conv_net(), img, tile=tile, overlap=8)
        assert not out.is_inference() and not out.requires_grad


@pytest.mark.parametrize("tlc", [False, True])
def test_nafnet_tiny_tiled_is_close_to_whole_image(tlc, capsys):
    """NAFNet's channel attention pools over each tile: tiled != whole, but close (PSNR printed)."""
    from dcpt.models import create_model
    from dcpt.models.nafnet import local_pooling

    torch.manual_seed(0)
    net = create_model("nafnet-tiny").eval()
    with torch.no_grad():  # NAFNet starts with beta = gamma = 0 (blocks are identities): wake them up
        for name, param in net.named_parameters():
            if name.endswith(("beta", "gamma")):
                param.normal_(0.0, 0.5)
    if tlc:
        net = local_pooling(net, 32)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 72), torch.linspace(0, 1, 88), indexing="ij")
    img = (0.2 + 0.5 * torch.stack([xx, yy, xx * yy]) + 0.2 * torch.rand(3, 72, 88))[None].clamp(0, 1)
    whole = restore_tiled(net, img, tile=None)
    tiled = restore_tiled(net, img, tile=48, overlap=16)
    value = psnr_db(tiled, whole)
    with capsys.disabled():
        print(f"\nnafnet-tiny {'TLC' if tlc else 'global SCA'}: tiled (48/16) vs whole PSNR = {value:.1f} dB")
    assert math.isfinite(value) and value > 30


def test_an_overlap_the_grid_cannot_honour_is_refused_not_nan():
    """On a 16-pixel grid, tile 16 with overlap 4 put tiles edge to edge with zero blending weight at
    the seams: 0 / 0 = NaN pixels in the written image. Now refused; overlap = tile - grid works."""

    class GridConstant(Constant):
        padder_size = 16

    img = torch.rand(1, 3, 48, 64)
    with pytest.raises(DcptError, match=r"overlap must be in \[0, tile - 16\]"):
        restore_tiled(GridConstant(0.25), img, tile=16, overlap=4)
    out = restore_tiled(GridConstant(0.25), img, tile=32, overlap=16)
    assert torch.isfinite(out).all() and torch.allclose(out, torch.full_like(out, 0.25))
