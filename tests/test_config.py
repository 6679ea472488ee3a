"""Typed configs: unknown keys, wrong types, --set overrides and the saved resolved config."""

import pytest
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
