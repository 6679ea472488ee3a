"""Parameter and MAC counts against analytic formulas, and `dcpt info`."""

import pytest
from torch import nn

from dcpt.cli import main
from dcpt.models.complexity import count_macs, count_parameters, model_complexity


def test_conv_and_linear_macs_match_the_formula():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, size=32) == 3 * 8 * 9 * 32 * 32
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    assert count_macs(model, size=16) == 3 * 4 * 16 * 16 + 4 * 10
    assert count_parameters(model) == 3 * 4 + 4 + 4 * 10 + 10


def test_nafnet_5d_cost_matches_the_paper():
    cost = model_complexity("nafnet-5d", 256)
    assert cost.params == 67_888_835
    # NAFNet paper (width 64): 63.6 GMACs with ptflops, which also counts some element-wise ops
    assert 62.0 < cost.macs / 1e9 < 63.6


def test_dcpt_info_prints_parameters_and_gmacs(capsys):
    assert main(["info", "nafnet-5d"]) == 0
    out = capsys.readouterr().out
    assert "67.889 M" in out and "GMACs:       63.05 at 256 x 256" in out
    assert main(["info", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "nafnet-tiny" in listing and "restormer" in listing


def test_dcpt_info_on_a_checkpoint(tmp_path, capsys):
    from dcpt.models import create_model
    from dcpt.models.checkpoint import save_checkpoint

    path = save_checkpoint(
        create_model("nafnet-tiny"), tmp_path / "c.safetensors", class_names=["a", "b"], step=7
    )
    assert main(["info", str(path), "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "nafnet-tiny (nafnet)" in out and "step:        7" in out and "classes:     a, b" in out


@pytest.mark.parametrize(
    "argv,message", [(["info"], "expected a model NAME"), (["info", "nafnet-5x"], "unknown model")]
)
def test_dcpt_info_mistakes_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
