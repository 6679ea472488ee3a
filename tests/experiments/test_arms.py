"""The registry: every arm and pre-training is typed, unique, and consistent with what it refers to."""

import dataclasses

import pytest

from experiments import arms
from experiments.__main__ import chosen_seeds
from experiments.runner import ASSETS


def test_arms_are_frozen_typed_records():
    for arm in arms.ARMS.values():
        assert isinstance(arm, arms.Arm)
        assert arm.init in arms.INITS, arm.name
        assert all(isinstance(o, str) and "=" in o for o in arm.finetune_overrides), arm.name
        with pytest.raises(dataclasses.FrozenInstanceError):
            arm.finetune_steps = 1


def test_a_second_declaration_of_a_name_raises():
    with pytest.raises(ValueError, match="declared twice"):
        arms._add(arms.ARMS["scratch"])
    with pytest.raises(ValueError, match="declared twice"):
        arms._add_pretraining(arms.PRETRAININGS["dcpt"])


def test_an_unknown_name_suggests_the_closest():
    with pytest.raises(KeyError, match="maskdcpt-lr-1e-3"):
        arms.get_arm("maskdcpt-lr-1e3")


@pytest.mark.parametrize("arm", list(arms.ARMS.values()), ids=lambda a: a.name)
def test_each_arm_refers_to_what_exists(arm):
    assert (arm.init == "pretrained") == (arm.pretraining is not None)
    assert arm.baseline is None or arm.baseline in arms.ARMS
    assert len(set(arm.seeds)) == len(arm.seeds) > 0
    if arm.pretraining is None:
        assert all(pre is None for pre, _ in arm.seeds)
        return
    p = arms.PRETRAININGS[arm.pretraining]
    assert all(isinstance(pre, int) for pre, _ in arm.seeds)
    if p.shipped:
        assert (ASSETS / p.shipped).is_file()
        assert {pre for pre, _ in arm.seeds} == {p.shipped_seed}
    if not arm.retired:
        assert not p.retired, "a live arm cannot use a retired pre-training"


def test_chosen_seeds():
    assert chosen_seeds("dcpt-lr-1e-3", None, None) == arms.ARMS["dcpt-lr-1e-3"].seeds
    assert chosen_seeds("dcpt", "0,2", None) == ((0, 0), (2, 2))
    assert chosen_seeds("dcpt-lr-1e-3", "0,1", "3") == ((3, 0), (3, 1))
    assert chosen_seeds("scratch", "1", None) == ((None, 1),)
    assert chosen_seeds("maskdcpt-shipped-lr-1e-3", "4", None) == ((0, 4),)
    with pytest.raises(ValueError):
        chosen_seeds("maskdcpt-shipped-lr-1e-3", "4", "1")
