"""SwinIR's window attention on the CPU is written out (faster there than the fused kernel); it must be
what PyTorch's `scaled_dot_product_attention` computes."""

import torch
import torch.nn.functional as F

from dcpt.models.swinir_blocks import WindowAttention, shifted_window_mask


def test_cpu_window_attention_equals_scaled_dot_product_attention():
    torch.manual_seed(0)
    attn = WindowAttention(dim=24, window_size=4, num_heads=3).double()
    torch.nn.init.normal_(attn.relative_position_bias_table, std=0.5)
    windows = torch.randn(2, 4, 16, 24, dtype=torch.float64)
    mask = shifted_window_mask(8, 8, 4, 2).double()
    for m in (None, mask):
        out = attn(windows, m)
        q, k, v = attn.qkv(windows).view(2, 4, 16, 3, 3, 8).permute(3, 0, 1, 4, 2, 5)
        bias = attn.position_bias() + (0 if m is None else m[:, None])
        ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        ref = attn.proj(ref.transpose(2, 3).reshape(2, 4, 16, 24))
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
