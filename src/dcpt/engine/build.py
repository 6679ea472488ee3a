"""A `RunConfig` -> a `Job` for the loop: data sets, network, classifier, objective and export.

This is the one place where the config meets the rest of the package; the loop stays generic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.data import Dataset

from ..config import ClassConfig, DataConfig, RunConfig, SourceConfig, config_to_dict
from ..errors import CheckpointError, ConfigError, DataError
from .loop import Job


class _Relabelled(Dataset):
    """Items ``{"lq", "gt", "label"}`` of `dataset`, its label `k` renamed `labels[k]`, listed `repeat` times."""

    def __init__(self, dataset, labels: Sequence[int], repeat: int = 1):
        self.dataset, self.labels, self.repeat = dataset, list(labels), repeat

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.dataset) * self.repeat

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index % len(self.dataset)]
        return {"lq": item["lq"], "gt": item["gt"], "label": self.labels[int(item["label"])]}


class _Concat(Dataset):
    """Concatenation that forwards `set_epoch` (torch's ConcatDataset does not)."""

    def __init__(self, parts: List[Dataset]):
        self.parts = parts
        self.offsets = []
        total = 0
        for part in parts:
            self.offsets.append(total)
            total += len(part)
        self.total = total

    def set_epoch(self, epoch: int) -> None:
        for part in self.parts:
            part.set_epoch(epoch)

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: int) -> dict:
        for part, offset in zip(reversed(self.parts), reversed(self.offsets)):
            if index >= offset:
                return part[index - offset]
        raise IndexError(index)


def _clean_images(text: str):
    from ..data import list_images, load_samples

    if text == "samples" or text.startswith("samples:"):
        return load_samples(text.partition(":")[2] or "train")
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise DataError(f"data folder {text!r} does not exist")
    return [str(p) for p in list_images(folder)]


def _class_spec(cls: ClassConfig) -> dict:
    spec = {"name": cls.degradation or cls.name}
    if cls.levels is not None:
        spec["levels"] = list(cls.levels)
    return spec


def class_names_of(sources: Sequence[SourceConfig]) -> List[str]:
    """Class names in order of first appearance; a name used by several sources is one class."""
    names: List[str] = []
    for source in sources:
        for name in [c.name for c in source.classes] if source.synthetic else [source.label]:
            if name not in names:
                names.append(name)
    return names


def build_dataset(
    sources: Sequence[SourceConfig],
    data: DataConfig,
    class_names: List[str],
    patch_size: Optional[int],
    length: int,
    seed: int,
    train: bool = True,
) -> Dataset:
    """One labelled data set over `sources`; `patch_size` None reads whole paired images. Only
    training crops get ``data.scale_range``: validation measures the photographs as they are."""
    from ..data import PairedFolderDataset, SyntheticDataset

    parts = []
    for i, source in enumerate(sources):
        if source.synthetic:
            dataset = SyntheticDataset(
                _clean_images(source.clean),
                [_class_spec(c) for c in source.classes],
                patch_size=patch_size or data.patch_size,
                length=length,
                seed=seed + i,
                pad_small=True,
                scale_range=data.scale_range if train else (1.0, 1.0),
            )
            labels = [class_names.index(c.name) for c in source.classes]
        else:
            if not Path(source.paired).expanduser().is_dir():
                raise DataError(f"data folder {source.paired!r} does not exist")
            dataset = PairedFolderDataset(
                Path(source.paired).expanduser(),
                layout=source.layout,
                patch_size=patch_size,
                augment=patch_size is not None,
                seed=seed + i,
                pad_small=True,
            )
            labels = [class_names.index(source.label)]
        parts.append(_Relabelled(dataset, labels, source.repeat))
    return parts[0] if len(parts) == 1 else _Concat(parts)


def build_net(cfg: RunConfig) -> nn.Module:
    from ..models import create_model

    overrides = dict(cfg.model.overrides)
    if cfg.objective.name == "maskdcpt" and cfg.objective.mask_mode == "token":
        overrides.setdefault("mask_token", True)
    return create_model(cfg.model.name, **overrides)


def _plain(config: Dict) -> Dict:
    """JSON-normalised copy (tuples become lists), as a checkpoint header stores it."""
    return json.loads(json.dumps(config, default=str))


def load_init(net: nn.Module, cfg: RunConfig) -> Tuple[Optional[nn.Module], Optional[List[str]]]:
    """Load `init.checkpoint` into `net`; returns its classifier and class names (or Nones)."""
    from ..models.checkpoint import load_bundle, load_state_strict

    path = Path(cfg.init.checkpoint).expanduser()
    if not path.is_file():
        raise CheckpointError(f"init checkpoint {str(path)!r} does not exist")
    bundle = load_bundle(path, arch=getattr(net, "arch_name", None))
    theirs, ours = _plain(bundle.net.arch_config), _plain(getattr(net, "arch_config", bundle.net.arch_config))
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
            net.feature_channels, len(class_names), taps=cfg.objective.classifier_taps
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
