"""Typed configs: unknown keys, wrong types, --set overrides and the saved resolved config."""

import re

import pytest
import torch
import yaml

from dcpt.config import RunConfig, config_from_dict, load_config, save_config
from dcpt.errors import ConfigError

RAW = {
    "data": {
        "train": [{"clean": "samples", "classes": [{"name": "rain"}, {"name": "haze", "levels": [0.2, 0.8]}]}]
    }
}


def test_defaults_live_in_the_dataclasses():
    cfg = config_from_dict(RAW)
    assert cfg.train.steps == RunConfig().train.steps
    assert cfg.data.train[0].classes[1].levels == (0.2, 0.8)
    assert cfg.objective.name == "dcpt"


def test_unknown_key_names_path_and_suggests():
    with pytest.raises(
        ConfigError, match=r"unknown config key 'train\.stpes'; did you mean 'train\.steps'\?"
    ):
        config_from_dict({**RAW, "train": {"stpes": 3}})
    with pytest.raises(
        ConfigError,
        match=r"'data\.train\.0\.classes\.1\.level'; did you mean 'data\.train\.0\.classes\.1\.levels'",
    ):
        config_from_dict(
            {
                "data": {
                    "train": [
                        {"clean": "samples", "classes": [{"name": "rain"}, {"name": "haze", "level": 1}]}
                    ]
                }
            }
        )


def test_wrong_type_names_path_expected_and_got():
    with pytest.raises(ConfigError, match=r"'optim\.lr': expected a number, got str 'fast'"):
        config_from_dict({**RAW, "optim": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"'train\.steps': expected an integer, got float 1\.5"):
        config_from_dict({**RAW, "train": {"steps": 1.5}})
    with pytest.raises(
        ConfigError, match=r"'objective\.name': expected one of .*got 'mask' \(did you mean 'maskdcpt'\?\)"
    ):
        config_from_dict({**RAW, "objective": {"name": "mask"}})
    with pytest.raises(ConfigError, match=r"'train\.channels_last': expected a boolean"):
        config_from_dict({**RAW, "train": {"channels_last": "yes please"}})


def test_set_overrides_are_yaml_scalars_checked_against_the_field():
    cfg = config_from_dict(
        RAW,
        [
            "train.steps=12",
            "optim.lr=1e-3",
            "optim.betas=[0.9, 0.99]",
            "train.amp=bf16",
            "model.overrides.width=8",
            "data.train.0.classes.0.levels=[0.1, 0.2]",
        ],
    )
    assert cfg.train.steps == 12 and cfg.optim.lr == 1e-3 and cfg.optim.betas == (0.9, 0.99)
    assert cfg.train.amp == "bf16" and cfg.model.overrides == {"width": 8}
    assert cfg.data.train[0].classes[0].levels == (0.1, 0.2)
    with pytest.raises(ConfigError, match=r"'train\.steps': expected an integer, got str 'many'"):
        config_from_dict(RAW, ["train.steps=many"])
    with pytest.raises(ConfigError, match="did you mean 'optim.weight_decay'"):
        config_from_dict(RAW, ["optim.weight_decy=0"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config_from_dict(RAW, ["train.steps"])
    assert RAW["data"]["train"][0]["classes"][0] == {
        "name": "rain"
    }  # overrides never touch the caller's dict


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="'train.ema'"):
        config_from_dict(RAW, ["train.ema=1.0"])
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        config_from_dict(RAW, ["train.amp=fp16", "train.device=cpu"])
    with pytest.raises(ConfigError, match="at least one data source"):
        config_from_dict({})
    with pytest.raises(
        ConfigError, match=r"'data\.scale_range': expected \[low, high\] with 0 < low <= high <= 1"
    ):
        config_from_dict(RAW, ["data.scale_range=[0.8, 0.5]"])
    assert config_from_dict(RAW, ["data.scale_range=[0.5, 1]"]).data.scale_range == (0.5, 1.0)
    with pytest.raises(
        ConfigError, match=r"'data\.gamma_range': expected \[low, high\] with 0 < low <= high"
    ):
        config_from_dict(RAW, ["data.gamma_range=[2, 0.5]"])
    assert config_from_dict(RAW, ["data.gamma_range=[0.5, 2]"]).data.gamma_range == (0.5, 2.0)
    with pytest.raises(ConfigError, match="either 'clean'"):
        config_from_dict({"data": {"train": [{"clean": "samples", "paired": "x", "label": "rain"}]}})


def test_saved_config_round_trips(tmp_path):
    cfg = config_from_dict(RAW, ["optim.betas=[0.9, 0.9]"])
    save_config(cfg, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert yaml.safe_load(text)["optim"]["betas"] == [0.9, 0.9]
    assert load_config(tmp_path / "config.yaml") == cfg


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("train: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    "path",
    sorted((__import__("pathlib").Path(__file__).parents[1] / "configs").glob("*.yaml")),
    ids=lambda p: p.name,
)
def test_shipped_configs_are_valid(path):
    cfg = load_config(path)
    from dcpt.models import list_models

    assert cfg.model.name in list_models()


@pytest.mark.parametrize(
    "override, key",
    [
        ("optim.lr=nan", "optim.lr"),
        ("optim.lr=.inf", "optim.lr"),
        ("optim.weight_decay=-.inf", "optim.weight_decay"),
        ("optim.betas=[.nan, 0.9]", "optim.betas.0"),
        ("optim.lr_scale={classifier: .nan}", "optim.lr_scale.classifier"),
        ("objective.mask_ratio=NaN", "objective.mask_ratio"),
        ("train.ema=1e999", "train.ema"),
    ],
)
def test_non_finite_numbers_are_refused(override, key):
    """NaN passed every `> 0` check (AdamW then raised a traceback); now the type layer refuses it."""
    with pytest.raises(ConfigError, match=rf"'{key}': expected a finite number"):
        config_from_dict(RAW, [override])


@pytest.mark.parametrize(
    "override, key, expected",
    [
        ("optim.grad_clip=-1", "optim.grad_clip", ">= 0"),
        ("optim.weight_decay=-1e-4", "optim.weight_decay", ">= 0"),
        ("optim.lr=0", "optim.lr", "> 0"),
        ("optim.betas=[0.9, 1.0]", "optim.betas.1", "< 1"),
        ("optim.lr_scale={classifier: -0.5}", "optim.lr_scale.classifier", ">= 0"),
        ("train.ckpt_every=-1", "train.ckpt_every", ">= 0"),
        ("train.log_every=-5", "train.log_every", ">= 0"),
        ("train.steps=0", "train.steps", ">= 1"),
        ("train.seed=-1", "train.seed", ">= 0"),
        ("data.workers=-2", "data.workers", ">= 0"),
        ("data.patch_size=0", "data.patch_size", ">= 1"),
        ("data.batch_size=-8", "data.batch_size", ">= 1"),
        ("data.scale_range=[0, 1]", "data.scale_range.0", "> 0"),
        ("data.gamma_range=[0, 1]", "data.gamma_range.0", "> 0"),
        ("objective.psnr_cap_db=0", "objective.psnr_cap_db", "> 0"),
        ("data.train.0.repeat=0", "data.train.0.repeat", ">= 1"),
        ("data.train.0.classes.1.levels=[-1, 0.5]", "data.train.0.classes.1.levels.0", ">= 0"),
        ("objective.mask_ratio=1", "objective.mask_ratio", "< 1"),
        ("objective.focal_gamma=-2", "objective.focal_gamma", ">= 0"),
    ],
)
def test_declared_ranges_name_the_key_and_the_range(override, key, expected):
    with pytest.raises(ConfigError, match=rf"'{re.escape(key)}': expected [^,]*{re.escape(expected)}"):
        config_from_dict(RAW, [override])


def test_every_numeric_field_declares_its_range():
    """The schema is the one validation layer: a new int or float field without a range fails here."""
    import dataclasses
    import typing

    from dcpt.config import schema
    from dcpt.config.bounds import BOUNDS_KEY

    def numeric(tp) -> bool:
        if tp in (int, float):
            return True
        return any(numeric(a) for a in typing.get_args(tp) if a is not Ellipsis)

    unbounded = []
    for cls in vars(schema).values():
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if numeric(hints[f.name]) and BOUNDS_KEY not in f.metadata:
                unbounded.append(f"{cls.__name__}.{f.name}")
    assert unbounded == []


def test_a_batch_that_cannot_fit_is_refused_with_estimate_and_limit(monkeypatch):
    """data.patch_size=5000 was accepted and the kernel killed the process at 23 GB."""
    from dcpt.config import memory

    monkeypatch.setattr(memory, "available_ram", lambda: 16 * memory.GIB)
    with pytest.raises(ConfigError) as info:
        config_from_dict(RAW, ["data.patch_size=5000", "train.device=cpu"])
    message = str(info.value)
    assert "data.patch_size=5000" in message and "data.batch_size=8" in message
    assert "1525.9 GiB" in message and "16.0 GiB" in message and "\n" not in message
    assert config_from_dict(RAW, ["data.patch_size=256", "train.device=cpu"]).data.patch_size == 256


def test_available_ram_reads_a_positive_figure():
    from dcpt.config.memory import available_ram

    ram = available_ram()
    assert ram is None or ram > 0


@pytest.mark.parametrize(
    "override", ["optim.lr=1" + "0" * 400, "train.steps=-1" + "0" * 400, "data.batch_size=1" + "0" * 400]
)
def test_integers_beyond_the_float_range_are_config_errors(override):
    """float(10**400) raises OverflowError; the checks compare integers exactly instead."""
    with pytest.raises(ConfigError):
        config_from_dict(RAW, [override, "train.device=cpu"])


def test_gamma_range_reaches_training_crops_only():
    """A config's ``data.gamma_range`` (2, 2) squares the training crops and leaves validation alone:
    compared with the same config without it."""
    from dcpt.recipes.data import build_dataset, class_names_of

    raw = {
        "data": {"train": [{"clean": "samples", "classes": [{"name": "gaussian_noise"}]}], "patch_size": 16}
    }
    plain, squared = config_from_dict(raw), config_from_dict(raw, ["data.gamma_range=[2, 2]"])
    names = class_names_of(plain.data.train)
    for train in (True, False):
        a = build_dataset(plain.data.train, plain.data, names, 16, 4, 0, train=train)[1]["gt"]
        b = build_dataset(squared.data.train, squared.data, names, 16, 4, 0, train=train)[1]["gt"]
        torch.testing.assert_close(b, a**2 if train else a, rtol=1e-6, atol=0)
