"""The study's table: gains are paired by seed against the arm's baseline at the same F, and
scratch trained P + F steps stands in for scratch at that F (it is the same training)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pretrain_gain.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("pretrain_gain", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(arm, seed, average, p=0, f=1200, baseline="scratch", recipe=None, acc=None):
    return {
        "arm": arm,
        "seed": seed,
        "pretrain_steps": p,
        "finetune_steps": f,
        "patch_size": 64,
        "batch_size": 8,
        "eval_patch": 128,
        "eval_count": 200,
        "baseline": baseline,
        "recipe": recipe,
        "classifier_accuracy": acc,
        "psnr": {"noise": average, "average": average},
    }


def table_row(table: str, arm: str, f: int) -> list:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == arm and cells[3] == str(f):
            return cells
    raise AssertionError(f"no row for {arm} at F = {f}:\n{table}")


def test_gain_is_paired_by_seed(study):
    rows = [
        row("scratch", 0, 19.0),
        row("scratch", 1, 20.0),
        row("scratch", 2, 21.0),
        row("dcpt", 0, 20.0, p=4000, recipe="r", acc=0.9),
        row("dcpt", 2, 21.5, p=4000, recipe="r", acc=0.8),
    ]
    cells = table_row(study.summarise(rows), "dcpt", 1200)
    # gains +1.0 (seed 0) and +0.5 (seed 2): mean 0.75, sample std 0.354; seed 1 has no pre-trained row
    assert cells[-2] == "0.75 ± 0.35 (n=2, vs scratch)"
    assert cells[-1] == "85.00 ± 7.07"
    assert table_row(study.summarise(rows), "scratch", 1200)[-4] == "20.00 ± 1.00"


def test_scratch_longer_stands_in_for_scratch_at_its_total_steps(study):
    rows = [
        row("scratch-longer", 0, 21.0, p=2000, f=1200),
        row("maskdcpt", 0, 21.8, p=4000, f=3200, recipe="r"),
    ]
    assert table_row(study.summarise(rows), "maskdcpt", 3200)[-2] == "0.80 (n=1, vs scratch)"


def test_ablation_pairs_with_its_own_baseline(study):
    rows = [
        row("scratch", 0, 30.0),
        row("scratch-lr-1e-3", 0, 20.0, baseline="scratch-lr-1e-3"),
        row("dcpt-shipped-lr-1e-3", 0, 20.25, p=4000, baseline="scratch-lr-1e-3", recipe="s"),
    ]
    assert (
        table_row(study.summarise(rows), "dcpt-shipped-lr-1e-3", 1200)[-2] == "0.25 (n=1, vs scratch-lr-1e-3)"
    )


def test_every_arm_with_a_baseline_names_a_known_arm(study):
    for name, spec in study.ARMS.items():
        assert spec.get("baseline", "scratch") in study.ARMS, name
        assert bool(spec.get("pretrain")) + bool(spec.get("asset")) <= 1, name
        if spec.get("asset"):
            assert (study.ASSETS / spec["asset"]).is_file(), name


def test_a_pinned_pretrain_seed_shares_the_recipe_and_the_run(study):
    args = study.parse_args(["--pretrain-steps", "40", "--finetune-steps", "20"])
    pinned, free = (
        study.pretrain_config("dcpt-pre1-lr-1e-3", 3, args),
        study.pretrain_config("dcpt-lr-1e-3", 1, args),
    )
    assert (pinned.train.seed, pinned.data.seed) == (1, 1)
    # the same pre-training as dcpt-lr-1e-3 at seed 1, so it reuses that run's folder and checkpoint
    assert study.recipe_tag(pinned) == study.recipe_tag(free)
    assert study.pretrain_overrides("dcpt-pre1-lr-1e-3", 3, args) == study.pretrain_overrides(
        "dcpt-lr-1e-3", 1, args
    )
