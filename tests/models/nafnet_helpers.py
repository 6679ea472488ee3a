"""A NAFNet whose blocks are not the identity, for tests of what its forward computes."""

import torch


def randomized(net, seed=0):
    """Non-zero beta / gamma (zero at init makes every block the identity) and random norms."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("beta", "gamma")) or ".norm" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
    return net
