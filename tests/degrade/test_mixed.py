"""Composite ops: the fixed mixtures equal the same stages applied as an explicit mixture, the
Real-ESRGAN pipeline keeps size and 8-bit values, and the catalogue contract holds."""

import torch

from dcpt import degrade


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _psnr(x, ref):
    return (10 * torch.log10(1 / ((x.double() - ref.double()) ** 2).mean(dim=(1, 2, 3)))).mean().item()


def test_blur_jpeg_is_blur_then_jpeg(images):
    out = degrade.apply("blur_jpeg", images, 0.5, generator=_gen(1))
    ref = degrade.apply([("gaussian_blur", 1.75), ("jpeg", 40.0)], images, generator=_gen(1))
    assert torch.equal(out, ref)


def test_blur_lowlight_noise_is_its_three_stages(images):
    out = degrade.apply("blur_lowlight_noise", images, 0.5, generator=_gen(2))
    ref = degrade.apply(
        [("gaussian_blur", 1.5), ("low_light", 0.5), ("gaussian_noise", 11.0)], images, generator=_gen(2)
    )
    assert torch.equal(out, ref)


def test_lowlight_haze_rain_snow_is_dark_and_hazy(images):
    out = degrade.apply("lowlight_haze_rain_snow", images, 0.5, generator=_gen(3))
    assert out.mean() < 0.6 * images.mean()
    contrast_in = images.std(dim=(1, 2, 3))
    assert torch.all(out.std(dim=(1, 2, 3)) < contrast_in)


def test_realesrgan_keeps_the_size_and_8_bit_values():
    img = torch.rand(3, 3, 40, 56, generator=_gen())
    out = degrade.apply("realesrgan", img, [0.2, 0.6, 1.0], generator=_gen(4))
    assert out.shape == img.shape
    torch.testing.assert_close(out * 255, (out * 255).round(), rtol=0, atol=1e-4)


def test_realesrgan_at_level_zero_is_mild():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    smooth = 0.1 + 0.8 * torch.stack([xx, yy, 0.5 + 0.4 * torch.sin(6 * xx + 4 * yy)])[None].repeat(
        4, 1, 1, 1
    )
    assert _psnr(degrade.apply("realesrgan", smooth, 0.0, generator=_gen(5)), smooth) > 35
