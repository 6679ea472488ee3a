"""The per-pre-training-seed table groups the three kinds of rows by the seed their checkpoint came from."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pretrain_seed_table.py"


@pytest.fixture(scope="module")
def seeds():
    spec = importlib.util.spec_from_file_location("pretrain_seed_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(arm, seed, average, acc=None, f=1200, **extra):
    return dict(
        arm=arm, seed=seed, finetune_steps=f, classifier_accuracy=acc, psnr={"average": average}, **extra
    )


def cells_of(table: str, objective: str, pre: str) -> list:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:2] == [objective, pre]:
            return cells
    raise AssertionError(f"no {objective} row for pre-training seed {pre}:\n{table}")


def test_rows_group_by_pretraining_seed(seeds):
    rows = [row("scratch-lr-1e-3", s, 20.0 + s) for s in range(3)]
    rows += [
        row("dcpt-shipped-lr-1e-3", 0, 20.5, 0.9),
        row("dcpt-shipped-lr-1e-3", 1, 21.5, 0.9),  # seed 0: +0.5
        row("dcpt-lr-1e-3", 1, 20.0, 0.8),
        row("dcpt-pre1-lr-1e-3", 0, 19.0, 0.8, pretrain_seed=1),  # seed 1: -1
        row("dcpt-lr-1e-3", 2, 23.0, 0.7, f=2400),
        row("maskdcpt-lr-1e-3", 2, 20.0, 0.6),
    ]  # other F; objective
    table = seeds.table(rows, "lr-1e-3", 1200)
    assert cells_of(table, "dcpt", "0")[2:] == ["0,1", "90.0", "21.00", "+0.50 ± 0.00", "2/2"]
    assert cells_of(table, "dcpt", "1")[2:] == ["0,1", "80.0", "19.50", "-1.00 ± 0.00", "0/2"]
    assert cells_of(table, "dcpt", "mean of 2 seeds")[5:] == ["-0.25 ± 1.06", "1/2"]
    assert cells_of(table, "maskdcpt", "2")[2:] == ["2", "60.0", "20.00", "-2.00", "0/1"]
    assert "| dcpt | 2 |" not in table  # its only row is at F = 2400


def test_a_pinned_arm_name_must_match_the_objective_and_suffix(seeds):
    assert seeds.pretrain_seed_of(row("maskdcpt-pre2-lr-1e-3", 0, 0), "maskdcpt", "lr-1e-3") == 2
    assert seeds.pretrain_seed_of(row("maskdcpt-pre2-lr-1e-3", 0, 0), "dcpt", "lr-1e-3") is None
    assert seeds.pretrain_seed_of(row("dcpt-pre2-lr-2e-3", 0, 0), "dcpt", "lr-1e-3") is None


def test_per_type_gains_are_paired_by_fine_tuning_seed(seeds):
    def typed(arm, seed, rain, haze, **extra):
        return dict(
            arm=arm,
            seed=seed,
            finetune_steps=1200,
            psnr={"rain": rain, "haze": haze, "average": (rain + haze) / 2},
            **extra,
        )

    rows = [
        typed("scratch-lr-1e-3", 0, 20.0, 15.0),
        typed("scratch-lr-1e-3", 1, 22.0, 17.0),
        typed("maskdcpt-shipped-lr-1e-3", 0, 21.0, 14.0),
        typed("maskdcpt-shipped-lr-1e-3", 1, 24.0, 17.0),
        typed("maskdcpt-pre3-lr-1e-3", 1, 21.0, 18.0),
    ]
    table = seeds.per_type_table(rows, "lr-1e-3", 1200)
    assert table.splitlines()[0] == "| objective | pre-training seed | rain | haze | average |"
    assert cells_of(table, "maskdcpt", "0")[2:] == ["+1.50", "-0.50", "+0.50"]  # rain +1, +2; haze -1, 0
    assert cells_of(table, "maskdcpt", "3")[2:] == ["-1.00", "+1.00", "+0.00"]
    assert "| dcpt |" not in table
