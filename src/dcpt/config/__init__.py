"""Typed run configs: YAML + ``--set key=value`` overrides -> a validated `RunConfig`.

    cfg = load_config("configs/demo-pretrain-dcpt.yaml", ["train.steps=100"])
    save_config(cfg, run_dir / "config.yaml")

An unknown key names its dotted path and the closest valid key; a wrong type names the path, what
was expected and what arrived. Both raise `ConfigError` (one line, exit code 2 at the CLI).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from ..errors import ConfigError
from ..fileio import atomic_write
from .schema import (  # noqa: F401
    ClassConfig,
    DataConfig,
    InitConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    RunConfig,
    SourceConfig,
    TrainConfig,
)
from .typed import apply_override, from_dict, parse_override, to_dict


def read_yaml(path: Union[str, Path]) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config file {str(path)!r}: expected a mapping at the top, got {type(raw).__name__}"
        )
    return raw


def config_from_dict(raw: Dict[str, Any], overrides: Iterable[str] = ()) -> RunConfig:
    """Apply `overrides` (``"a.b=value"``, values parsed as YAML scalars) to `raw`, then type and validate it."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    return from_dict(RunConfig, raw).validate()


def load_config(path: Optional[Union[str, Path]], overrides: Iterable[str] = ()) -> RunConfig:
    raw = read_yaml(path) if path is not None else {}
    return config_from_dict(raw, overrides)


def config_to_dict(cfg: RunConfig) -> Dict[str, Any]:
    return to_dict(cfg)


def save_config(cfg: RunConfig, path: Union[str, Path]) -> None:
    """Write the resolved config (every default spelled out) so a run can be repeated from its folder."""
    atomic_write(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
