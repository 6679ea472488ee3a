"""The tables' statistics on a small synthetic results file, against figures computed by hand."""

import pytest

from experiments import results as store
from experiments import tables
from experiments.summary import compress, fmt, paired_gains, sample_std, seeds_cell


def row(arm, pre, fine, rain, haze, acc=None, f=1200, p=0):
    return store.RestoreRow(
        arm=arm,
        pretrain_seed=pre,
        finetune_seed=fine,
        pretrain_steps=p,
        finetune_steps=f,
        psnr={"rain": rain, "haze": haze, "average": (rain + haze) / 2},
        classifier_accuracy=acc,
    )


# scratch-lr-1e-3 averages 20, 21, 22 (seeds 0-2); the shipped DCPT file (pre-training seed 0) 21, 21.5,
# 22.5; dcpt-lr-1e-3 pre-training seed 1 at fine-tuning seeds 0 and 2: 19.5 and 22.5
ROWS = [
    row("scratch-lr-1e-3", None, 0, 21.0, 19.0),
    row("scratch-lr-1e-3", None, 1, 22.0, 20.0),
    row("scratch-lr-1e-3", None, 2, 23.0, 21.0),
    row("dcpt-shipped-lr-1e-3", 0, 0, 23.0, 19.0, acc=0.9, p=4000),
    row("dcpt-shipped-lr-1e-3", 0, 1, 23.0, 20.0, acc=0.9, p=4000),
    row("dcpt-shipped-lr-1e-3", 0, 2, 24.0, 21.0, acc=0.9, p=4000),
    row("dcpt-lr-1e-3", 1, 0, 20.0, 19.0, acc=0.8, p=4000),
    row("dcpt-lr-1e-3", 1, 2, 24.0, 21.0, acc=0.8, p=4000),
]
RESULTS = store.Results(ROWS)


def cells(table: str, first: str, second: str = None) -> list:
    for line in table.splitlines():
        c = [x.strip() for x in line.strip("|").split("|")]
        if c[0] == first and (second is None or c[1] == second):
            return c
    raise AssertionError(f"no line {first} {second}:\n{table}")


def test_mean_and_sample_std():
    assert sample_std([1.0, 2.0, 3.0, 4.0]) == pytest.approx((5 / 3) ** 0.5)
    assert sample_std([2.0]) is None
    assert fmt([1.0, 2.0, 3.0, 4.0]) == "2.50 ± 1.29"
    assert fmt([-0.25], signed=True) == "-0.25" and fmt([]) == "-"


def test_gains_are_paired_by_fine_tuning_seed():
    shipped = [r for r in ROWS if r.arm == "dcpt-shipped-lr-1e-3"]
    scratch = [r for r in ROWS if r.arm == "scratch-lr-1e-3"]
    assert paired_gains(shipped, scratch) == [(0, 1.0), (1, 0.5), (2, 0.5)]
    assert paired_gains(shipped, scratch, "rain") == [(0, 2.0), (1, 1.0), (2, 1.0)]
    pinned = [r for r in ROWS if r.arm == "dcpt-lr-1e-3"]
    assert paired_gains(pinned, scratch) == [(0, -0.5), (2, 0.5)]  # seed 1 has no row: left out
    with pytest.raises(ValueError, match="two rows"):
        paired_gains(shipped + [row("dcpt-shipped-lr-1e-3", 1, 0, 1, 1)], scratch)


def test_the_gain_table():
    table = tables.gain_table(RESULTS, ["scratch-lr-1e-3", "dcpt-lr-1e-3"])
    assert table.splitlines()[0].startswith("| arm | baseline | P | F | seeds (pre x fine) | rain | haze |")
    assert cells(table, "scratch-lr-1e-3")[4:] == ["0-2", "22.00", "20.00", "21.00 ± 1.00", "-", "-", "-"]
    # gains -0.5 and +0.5: mean 0, sample std 0.71; rain 22, haze 20; average 21 ± 2.12
    assert cells(table, "dcpt-lr-1e-3")[4:] == [
        "1 x 0,2",
        "22.00",
        "20.00",
        "21.00 ± 2.12",
        "+0.00 ± 0.71 (n=2)",
        "1/2",
        "80.0",
    ]


def test_the_seed_table_averages_each_pre_training_seed_first():
    group = [("DCPT", [("dcpt-shipped-lr-1e-3", (0,)), ("dcpt-lr-1e-3", (1,))])]
    table = tables.seed_table(RESULTS, group)
    # seed 0: gains 1.0, 0.5, 0.5 -> 0.67 ± 0.29; seed 1: -0.5, 0.5 -> 0.00 ± 0.71
    assert cells(table, "DCPT", "0 (shipped)")[2:] == ["0-2", "90.0", "21.67", "+0.67 ± 0.29", "3/3"]
    assert cells(table, "DCPT", "1")[2:] == ["0,2", "80.0", "21.00", "+0.00 ± 0.71", "1/2"]
    # the two seed means 0.667 and 0: mean 0.33, sample std 0.47
    assert cells(table, "**DCPT**")[5:] == ["**+0.33 ± 0.47**", "1/2"]
    per_type = tables.seed_per_type_table(RESULTS, group)
    assert cells(per_type, "DCPT", "0 (shipped)")[2:] == ["+1.33", "+0.00", "+0.67"]
    assert cells(per_type, "DCPT", "1")[2:] == ["+0.00", "+0.00", "+0.00"]  # rain -1, +1; haze 0, 0


def test_seed_cells():
    assert compress([0, 1, 2, 3]) == "0-3" and compress([0, 2]) == "0,2"
    assert seeds_cell([row("a", 0, 0, 1, 1), row("a", 1, 1, 1, 1)]) == "0,1 = fine"
    grid = [row("a", p, f, 1, 1) for p in (1, 2) for f in (0, 1, 2)] + [row("a", 3, 0, 1, 1)]
    assert seeds_cell(grid) == "1,2 x 0-2; 3 x 0"
