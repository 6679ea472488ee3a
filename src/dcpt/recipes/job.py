"""A `RunConfig` -> a `Job` for the loop: network, classifier, objective, data and export.

The composition that knows DCPT: which objective a name means, that MaskDCPT's token mode needs a
mask token, which features the classifier taps, what an init checkpoint must match. The engine
below only trains what it is handed.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, cast

import torch
from torch import nn

from ..config import RunConfig, config_to_dict
from ..engine.loop import Job
from ..errors import CheckpointError, ConfigError
from .data import build_dataset, class_names_of


def build_net(cfg: RunConfig) -> nn.Module:
    from ..models import create_model

    overrides = dict(cfg.model.overrides)
    if cfg.objective.name == "maskdcpt" and cfg.objective.mask_mode == "token":
        overrides.setdefault("mask_token", True)
    return create_model(cfg.model.name, **overrides)


def _plain(config: Dict) -> Dict:
    """JSON-normalised copy (tuples become lists), as a checkpoint header stores it."""
    return json.loads(json.dumps(config, default=str))


def _resolved(net: nn.Module, config: Dict) -> Dict:
    """`config` with the constructor's defaults filled in, JSON-normalised: a BasicSR release spells out
    every argument it can read from the tensors (``img_channel: 3``), a preset only its own."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(type(net)).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    return _plain({**defaults, **config})


def load_init(net: nn.Module, cfg: RunConfig) -> Tuple[Optional[nn.Module], Optional[List[str]]]:
    """Load `init.checkpoint` into `net`; returns its classifier and class names (or Nones)."""
    from ..models.checkpoint import load_bundle, load_state_strict

    path = Path(str(cfg.init.checkpoint)).expanduser()
    if not path.is_file():
        raise CheckpointError(f"init checkpoint {str(path)!r} does not exist")
    bundle = load_bundle(path, arch=getattr(net, "arch_name", None))
    recorded = cast(Dict, bundle.net.arch_config)
    theirs, ours = _resolved(bundle.net, recorded), _resolved(net, getattr(net, "arch_config", recorded))
    if theirs != ours:
        mismatch = {k: v for k, v in theirs.items() if ours.get(k) != v}
        if mismatch:
            raise CheckpointError(
                f"{path} holds a {bundle.meta.get('preset') or bundle.net.arch_name} with {mismatch}, "
                f"which does not fit model {cfg.model.name!r}"
            )
    load_state_strict(net, bundle.net.state_dict(), path, cfg.model.name)
    if not cfg.init.classifier:
        return None, None
    return bundle.classifier, bundle.class_names


def build_job(cfg: RunConfig, finetune: bool = False) -> Job:
    """Everything the loop needs. Seeds torch with ``train.seed`` first, so every rank builds the same net."""
    from ..models.checkpoint import save_checkpoint
    from ..models.classifier import DegradationClassifier, check_taps
    from ..objectives import MaskDcptObjective, build_objective

    torch.manual_seed(cfg.train.seed)
    class_names = class_names_of(cfg.data.train)
    train_data = build_dataset(
        cfg.data.train, cfg.data, class_names, cfg.data.patch_size, cfg.data.epoch_length, cfg.data.seed
    )
    val_data = None
    if cfg.data.val:
        val_names = class_names_of(cfg.data.val)
        group_names = class_names + [n for n in val_names if n not in class_names]
        val_patch = cfg.data.val_patch_size
        val_data = build_dataset(
            cfg.data.val,
            cfg.data,
            group_names,
            val_patch,
            cfg.data.val_length,
            cfg.data.seed + 1000,
            train=False,
        )
    else:
        group_names = class_names
    net = build_net(cfg)
    objective = build_objective(cfg.objective)
    if isinstance(objective, MaskDcptObjective):
        objective.check_net(net)
    if not finetune:
        check_taps(
            cfg.objective.classifier_taps, getattr(net, "feature_taps", ("decoder",)), type(net).__name__
        )
    modules: Dict[str, nn.Module] = {"net": net}
    export_names: Optional[List[str]] = class_names
    if cfg.init.checkpoint:
        classifier, init_names = load_init(net, cfg)
        if classifier is not None and (finetune or init_names == class_names):
            if not finetune and classifier.taps != cfg.objective.classifier_taps:
                raise ConfigError(
                    f"config key 'objective.classifier_taps' is {cfg.objective.classifier_taps!r}, but the "
                    f"classifier in {cfg.init.checkpoint} reads {classifier.taps!r} features"
                )
            modules["classifier"] = classifier
            export_names = init_names
    if "classifier" not in modules and not finetune:
        modules["classifier"] = DegradationClassifier(
            cast(Sequence[int], net.feature_channels), len(class_names), taps=cfg.objective.classifier_taps
        )
    if "classifier" not in modules:
        export_names = None
    config_dict = config_to_dict(cfg)

    def export(final_modules: Dict[str, nn.Module], step: int, path: Path) -> None:
        save_checkpoint(
            final_modules["net"],
            path,
            classifier=final_modules.get("classifier"),
            class_names=export_names if "classifier" in final_modules else None,
            step=step,
            objective=cfg.objective.name,
            config=config_dict,
        )

    return Job(
        modules=modules,
        objective=objective,
        train_data=train_data,
        val_data=val_data,
        group_names=group_names,
        ema_of="net",
        export=export,
        config=config_dict,
        val_batch_size=cfg.data.batch_size
        if (cfg.data.val_patch_size or all(s.synthetic for s in cfg.data.val))
        else 1,
    )
