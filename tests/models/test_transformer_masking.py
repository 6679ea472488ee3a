"""MaskDCPT masking and training contract shared by the Transformers (Restormer, PromptIR, SwinIR),
and the two masked passes of Restormer / PromptIR (`through="all"`: the release; "encoder": SimMIM).

Masked patches must reach the first block as zeros or as the learned mask token, so that nothing of
their content leaks: scrambling the masked pixels must leave output and features unchanged.
"""

import pytest
import torch

from dcpt.models import create_model
from dcpt.models.masking import resize_mask

# preset -> (module whose input is the patch embedding, whether that input is channels-last)
EMBEDDING_INPUT = {
    "restormer-tiny": ("encoder_level1", False),
    "promptir-tiny": ("encoder_level1", False),
    "swinir-tiny": ("patch_embed", True),
}


@pytest.mark.parametrize("preset", sorted(EMBEDDING_INPUT))
def test_tiny_and_odd_sizes_come_back_at_size(preset):
    net = create_model(preset).eval()
    for h, w in ((37, 53), (5, 7)):
        x = torch.rand(1, 3, h, w)
        assert net(x).shape == x.shape


@pytest.mark.parametrize("preset", sorted(EMBEDDING_INPUT))
def test_gradients_reach_every_parameter_including_the_mask_token(preset):
    torch.manual_seed(0)
    net = create_model(preset, mask_token=True)
    x = torch.rand(1, 3, 16, 16)
    mask = torch.ones(1, 1, 16, 16)
    mask[..., :8, :8] = 0
    y, feats = net.forward_masked(x, mask)
    (y.square().mean() + sum(f.mean() for f in feats)).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("use_token", [False, True])
@pytest.mark.parametrize("preset", sorted(EMBEDDING_INPUT))
def test_masked_forward_replaces_masked_patches(preset, use_token):
    torch.manual_seed(0)
    net = create_model(preset, mask_token=use_token).eval()
    if use_token:
        with torch.no_grad():
            net.mask_token.normal_()
    module_name, channels_last = EMBEDDING_INPUT[preset]
    seen = {}
    getattr(net, module_name).register_forward_pre_hook(lambda m, args: seen.update(embedded=args[0]))
    x = torch.rand(2, 3, 21, 30)
    mask = torch.ones(2, 1, 21, 30)
    mask[0, :, 8:16, 8:16] = 0
    mask[1, :, :8, 16:] = 0
    y, feats = net.forward_masked(x, mask)
    embedded = seen["embedded"]
    embedded = embedded[:, :21, :30] if channels_last else embedded[..., :21, :30].permute(0, 2, 3, 1)
    hidden = embedded[mask[:, 0] == 0]
    expected = net.mask_token.expand_as(hidden) if use_token else torch.zeros_like(hidden)
    torch.testing.assert_close(hidden, expected)
    y2, feats2 = net.forward_masked(torch.where(mask.bool(), x, torch.rand_like(x)), mask)
    torch.testing.assert_close(y2, y)
    for a, b in zip(feats, feats2):
        torch.testing.assert_close(a, b)
    assert y.shape == x.shape and torch.isfinite(y).all()


PYRAMIDS = ("restormer-tiny", "promptir-tiny")


def half_masked(b, h, w):
    """A mask hiding a few whole 8 x 8 patches (the nets' mask_patch_size) of each image."""
    mask = torch.ones(b, 1, h, w)
    mask[0, :, 8:16, 8:16] = 0
    mask[-1, :, :8, 16:24] = 0
    mask[-1, :, 16:24, :8] = 0
    return mask


@pytest.mark.parametrize("through", ["all", "encoder"])
@pytest.mark.parametrize("preset", PYRAMIDS)
def test_masked_content_never_leaks_through_either_pass(preset, through):
    torch.manual_seed(0)
    net = create_model(preset).eval()
    assert net.mask_patch_size == 8
    x = torch.rand(2, 3, 21, 30)
    mask = half_masked(2, 21, 30)
    y, feats = net.forward_masked(x, mask, through=through)
    y2, feats2 = net.forward_masked(torch.where(mask.bool(), x, torch.rand_like(x)), mask, through=through)
    torch.testing.assert_close(y2, y)
    for a, b in zip(feats, feats2):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("through", ["all", "encoder"])
@pytest.mark.parametrize("preset", PYRAMIDS)
def test_nothing_masked_is_the_plain_pass(preset, through):
    torch.manual_seed(0)
    net = create_model(preset).eval()
    x = torch.rand(1, 3, 24, 32)
    y, feats = net.forward_masked(x, torch.ones(1, 1, 24, 32), through=through)
    torch.testing.assert_close(y, net(x))
    for a, b in zip(feats, net.features(x)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("preset", PYRAMIDS)
def test_through_all_keeps_every_masked_position_independent_of_the_image(preset):
    """Under "all" a masked position of any level holds the same values for any image (zero for a
    bias-free net); under "encoder" the dense decoder fills the holes from the visible context."""
    for bias in (False, True):
        torch.manual_seed(0)
        net = create_model(preset, bias=bias).eval()
        mask = half_masked(2, 24, 32)
        x1, x2 = torch.rand(2, 3, 24, 32), torch.rand(2, 3, 24, 32)
        levels = []
        for through in ("all", "encoder"):
            f1, f2 = (
                net.forward_masked(x1, mask, through=through)[1],
                net.forward_masked(x2, mask, through=through)[1],
            )
            hidden = [1 - resize_mask(mask, f.shape[-2:]) for f in f1]
            levels.append([((a - b) * m).abs().max().item() for a, b, m in zip(f1, f2, hidden)])
            if through == "all" and not bias:
                assert all((f * m).abs().max() == 0 for f, m in zip(f1, hidden))
        assert max(levels[0]) < 1e-6 and min(levels[1]) > 1e-3
