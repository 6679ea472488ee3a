"""NAFNet's masked forwards (MaskDCPT): masked content reaches no output or feature, under the
release's masking through every block and dcpt's sparse encoder with a dense decoder."""

import pytest
import torch
import torch.nn.functional as F
from nafnet_helpers import randomized

from dcpt.errors import DcptError
from dcpt.models import create_model
from dcpt.models.masking import random_patch_mask, resize_mask
from dcpt.models.nafnet import NAFBlock


def masked_pair(seed=0, patch=16, size=(37, 53)):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, *size, generator=g)
    mask = random_patch_mask(2, *size, patch, 0.5, generator=g)
    other = x + (1 - mask) * torch.randn(x.shape, generator=g) * 3  # differs only where masked
    return x, other, mask


@pytest.mark.parametrize("through", ["all", "encoder"])
@pytest.mark.parametrize("patch", [16, 8])
def test_masked_content_cannot_reach_outputs_or_features(patch, through):
    """Under both modes nothing depends on masked content, at visible *and* masked positions (a
    patch of 8 is finer than the net's 16: "all" then counts a 16-patch visible only if wholly so)."""
    net = randomized(create_model("nafnet-tiny"))
    x, other, mask = masked_pair(patch=patch)
    y1, f1 = net.forward_masked(x, mask, through=through)
    y2, f2 = net.forward_masked(other, mask, through=through)
    assert torch.isfinite(y1).all()
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)
    for a, b in zip(f1, f2):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_through_all_masked_positions_hold_constants_of_the_weights():
    """Under "all" a masked position of any feature holds a value of the weights alone: the same for
    every image (it still varies with the position's phase under the pixel-shuffle up-sampling);
    `y` is `ending(features[0]) + masked input`."""
    net = randomized(create_model("nafnet-tiny")).eval()
    x, _, mask = masked_pair()
    z = torch.rand_like(x)  # other images altogether, same masks
    with torch.no_grad():
        (y, fx), (_, fz) = net.forward_masked(x, mask), net.forward_masked(z, mask)
        padded = F.pad(
            torch.cat([mask, 1 - (1 - mask[:1]) * (1 - mask[1:])]), (0, 11, 0, 11), mode="replicate"
        )
        for a, b in zip(fx, fz):
            hidden = resize_mask(padded, a.shape[-2:]) == 0  # masked in image 0, image 1, both
            assert hidden[2].any() and not torch.allclose(a, b)
            torch.testing.assert_close(a * hidden[:2], b * hidden[:2], rtol=0, atol=1e-5)
            torch.testing.assert_close(a[0] * hidden[2], a[1] * hidden[2], rtol=0, atol=1e-5)
        torch.testing.assert_close(y, net.ending(fx[0])[:, :, :37, :53] + x * mask, rtol=0, atol=1e-6)


def test_every_block_is_masked_under_all_with_the_patch_grid_repeated_to_its_scale():
    net = randomized(create_model("nafnet-tiny"))
    x, _, mask = masked_pair(size=(32, 48))
    grid = mask[:, :, ::16, ::16]
    seen = []

    def hook(module, args, out):
        assert len(args) == 3 and args[2] == "all" and out.shape[-2:] == args[1].shape[-2:]
        r = out.shape[-2] // grid.shape[-2]
        assert torch.equal(args[1], grid.repeat_interleave(r, 2).repeat_interleave(r, 3))
        seen.append(float((out * (1 - args[1])).abs().max()))

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, NAFBlock)]
    with torch.no_grad():
        net.forward_masked(x, mask)
    for h in hooks:
        h.remove()
    assert len(seen) == sum(1 for m in net.modules() if isinstance(m, NAFBlock))
    assert min(seen) > 0  # masked positions are not zeroed: they carry the block's constant


@pytest.mark.parametrize("through", ["all", "encoder"])
def test_channel_attention_pool(through):
    """ "encoder" averages visible positions only; "all" (the release) averages every position."""
    net = randomized(create_model("nafnet-tiny"))
    x, _, mask = masked_pair(size=(32, 48))
    block = net.encoders[0][0]
    inp = net.intro(x * mask) * mask
    pooled = []
    hook = block.sca[1].register_forward_pre_hook(lambda m, args: pooled.append(args[0]))
    block(inp, mask, through)
    hook.remove()
    with torch.no_grad():
        if through == "all":
            h = block.sg(block.conv2(block.conv1(block.norm1(inp) * mask)))
            torch.testing.assert_close(pooled[0], h.mean((2, 3), keepdim=True), rtol=1e-5, atol=1e-6)
            return
        h = block.sg(block.conv2(block.conv1(block.norm1(inp)) * mask))
        visible = mask[:, 0] > 0
        for b in range(2):
            reference = h[b][:, visible[b]].mean(dim=1)
            torch.testing.assert_close(pooled[0][b, :, 0, 0], reference, rtol=1e-5, atol=1e-6)
            assert not torch.allclose(pooled[0][b, :, 0, 0], h[b].mean((1, 2)), rtol=1e-3)


def test_through_encoder_is_sparse_and_its_decoder_fills_the_holes():
    net = randomized(create_model("nafnet-tiny"))
    x, _, mask = masked_pair()
    checked = []

    def hook(module, args, out):
        if len(args) > 1:  # called with a mask: an encoder or middle block
            assert args[2] == "encoder" and out.shape[-2:] == args[1].shape[-2:]
            checked.append(float((out * (1 - args[1])).abs().max()))

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, NAFBlock)]
    with torch.no_grad():
        y, feats = net.forward_masked(x, mask, through="encoder")
    for h in hooks:
        h.remove()
    sparse_blocks = sum(1 for stage in [*net.encoders, net.middle_blks] for _ in stage)
    assert len(checked) == sparse_blocks and max(checked) == 0.0
    padded_mask = F.pad(mask, (0, 11, 0, 11), mode="reflect")
    for f in feats:  # dense decoder: masked positions carry content inferred from their context
        hidden = 1 - resize_mask(padded_mask, f.shape[-2:])
        assert float((f * hidden).abs().sum()) > 0
    assert float((y * (1 - mask)).abs().sum()) > 0


@pytest.mark.parametrize("through", ["all", "encoder"])
def test_all_visible_mask_equals_plain_forward(through):
    net = randomized(create_model("nafnet-tiny")).eval()
    x = torch.rand(2, 3, 37, 53)
    y, feats = net.forward_masked(x, torch.ones(2, 1, 37, 53, dtype=torch.bool), through=through)
    torch.testing.assert_close(y, net(x), rtol=1e-5, atol=1e-5)
    for a, b in zip(feats, net.features(x)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_encoder_taps_are_the_encoder_stage_outputs_and_never_see_masked_content():
    net = randomized(create_model("nafnet-tiny")).eval()
    x = torch.rand(1, 3, 32, 48)
    seen = []
    hooks = [stage.register_forward_hook(lambda m, a, out: seen.append(out)) for stage in net.encoders]
    with torch.no_grad():
        feats = net.features(x, taps="encoder")
    for h in hooks:
        h.remove()
    assert len(feats) == len(seen) == 4
    for f, hooked, width in zip(feats, seen, net.feature_channels):
        assert torch.equal(f, hooked) and f.shape[1] == width
    x, other, mask = masked_pair()
    (y1, f1), (y2, f2) = (
        net.forward_masked(x, mask, taps="encoder"),
        net.forward_masked(other, mask, taps="encoder"),
    )
    torch.testing.assert_close(y1, y2, rtol=0, atol=0)
    assert torch.equal(y1, net.forward_masked(x, mask)[0])  # the taps do not change the restoration
    for a, b in zip(f1, f2):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(DcptError, match="taps"):
        net.features(x, taps="middle")
