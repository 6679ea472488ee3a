"""The data of a run: `data.train` / `data.val` sources -> one labelled data set each.

A source is synthetic (clean images and degradation classes) or a paired folder (one class, its
`label`); class names are shared across sources by name, in order of first appearance, so the
classifier's outputs mean the same thing in every source and in validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from torch.utils.data import Dataset

from ..config import ClassConfig, DataConfig, SourceConfig
from ..errors import DataError


def _clean_images(text: str):
    from ..data import list_images, load_samples

    if text == "samples" or text.startswith("samples:"):
        return load_samples(text.partition(":")[2] or "train")
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise DataError(f"data folder {text!r} does not exist")
    return [str(p) for p in list_images(folder)]


def _class_spec(cls: ClassConfig) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"name": cls.degradation or cls.name}
    if cls.levels is not None:
        spec["levels"] = list(cls.levels)
    return spec


def class_names_of(sources: Sequence[SourceConfig]) -> List[str]:
    """Class names in order of first appearance; a name used by several sources is one class."""
    names: List[str] = []
    for source in sources:
        for name in _source_classes(source):
            if name not in names:
                names.append(name)
    return names


def _source_classes(source: SourceConfig) -> List[str]:
    """The class names a source's items carry (`load_config` has checked that a paired one has a
    label); a shards source's are its manifest's types."""
    if source.shards is not None:
        from ..data.shards import resolve

        return list(resolve(source.shards, source.manifest)[0]["types"])
    return [c.name for c in source.classes] if source.synthetic else [str(source.label)]


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
    training crops get ``data.scale_range``, ``data.gamma_range`` and ``data.smooth_band_fraction``:
    validation measures the photographs as they are.
    ``data.on_bad_sample`` / ``data.max_bad_fraction`` apply to each source's files."""
    from ..data import PairedFolderDataset, SyntheticDataset
    from ..data.bad_samples import BadSamplePolicy
    from ..data.concat import ConcatDataset, Relabelled

    policy = BadSamplePolicy(data.on_bad_sample, data.max_bad_fraction)
    parts = []
    for i, source in enumerate(sources):
        labels = [class_names.index(name) for name in _source_classes(source)]
        dataset: Dataset
        if source.shards is not None:
            from ..data.shards_stream import ShardStream

            return ShardStream(
                source.shards,
                source.manifest,
                patch_size=patch_size or data.patch_size,
                seed=seed + i,
                label_map=labels,
                bad_samples=policy,
            )
        if source.clean is not None:
            dataset = SyntheticDataset(
                _clean_images(source.clean),
                [_class_spec(c) for c in source.classes],
                patch_size=patch_size or data.patch_size,
                length=length,
                seed=seed + i,
                pad_small=True,
                scale_range=data.scale_range if train else (1.0, 1.0),
                gamma_range=data.gamma_range if train else (1.0, 1.0),
                smooth_band_fraction=data.smooth_band_fraction if train else 0.0,
                smooth_band_skip=data.smooth_band_skip,
                bad_samples=policy,
            )
        else:
            folder = Path(str(source.paired)).expanduser()
            if not folder.is_dir():
                raise DataError(f"data folder {source.paired!r} does not exist")
            dataset = PairedFolderDataset(
                folder,
                layout=source.layout,
                patch_size=patch_size,
                augment=patch_size is not None,
                seed=seed + i,
                pad_small=True,
                bad_samples=policy,
            )
        parts.append(Relabelled(dataset, labels, source.repeat))
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)
