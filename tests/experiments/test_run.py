"""`run` on a two-step arm: it pre-trains, fine-tunes, scores, appends a row, and skips it the next time."""

import argparse

import pytest

from experiments import arms, runner
from experiments import results as store
from experiments.__main__ import main


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A two-step pre-training and a two-step arm fine-tuned from it, scored on 10 held-out crops."""
    monkeypatch.setitem(store.PROTOCOL, "eval_count", 10)
    monkeypatch.setitem(arms.PRETRAININGS, "tiny-dcpt", arms.Pretraining("tiny-dcpt", "dcpt", 2))
    arm = arms.Arm("tiny", "pretrained", 2, ((0, 0), (0, 1)), "tiny-dcpt", baseline="scratch")
    monkeypatch.setitem(arms.ARMS, "tiny", arm)
    args = argparse.Namespace(
        results=tmp_path / "results.jsonl", work=tmp_path / "work", threads=1, ckpt_every=1
    )
    return arm, args


def test_a_run_appends_its_row_and_a_rerun_skips_it(tiny):
    arm, args = tiny
    (row,) = runner.run_arm(arm, ((0, 0),), args)
    assert row.key == ("tiny", 0, 0) and (row.pretrain_steps, row.finetune_steps) == (2, 2)
    assert (
        set(row.psnr)
        == set(row.ssim)
        == {"gaussian_noise", "rain", "haze", "gaussian_blur", "low_light", "average"}
    )
    assert 0.0 <= row.classifier_accuracy <= 1.0 and row.recipe and row.dcpt_version
    assert store.read(args.results).rows == [row]
    assert runner.run_arm(arm, ((0, 0),), args) == []
    # the pre-training run is shared: a second fine-tuning seed reuses its checkpoint
    (second,) = runner.run_arm(arm, ((0, 1),), args)
    assert second.classifier_accuracy == row.classifier_accuracy and second.recipe == row.recipe
    assert len(list(args.work.glob("pre-tiny-dcpt-s0-*"))) == 1


def test_undeclared_seeds_and_retired_arms_are_refused(tiny):
    arm, args = tiny
    with pytest.raises(ValueError, match="does not declare"):
        runner.run_arm(arm, ((1, 0),), args)
    with pytest.raises(ValueError, match="cannot be re-run"):
        runner.run_arm(arms.ARMS["v1-dcpt"], arms.ARMS["v1-dcpt"].seeds, args)


def test_the_command_line_says_what_is_wrong_in_one_line(capsys, tmp_path):
    assert main(["--results", str(tmp_path / "r.jsonl"), "run", "dcpt-lr-1e3"]) == 2
    assert "did you mean dcpt-lr-1e-3" in capsys.readouterr().err
    assert main(["check"]) == 0
