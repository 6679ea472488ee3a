"""Images in and out, the embedded sample images, and the data sets that feed training and evaluation.

* `io`: read / write / list image files (``3 x H x W`` float32 RGB in [0, 1]).
* `samples`: natural photographs shipped with scikit-image, with a fixed train / test split.
* `SyntheticDataset`: clean patches degraded on the fly, reproducibly (`degrade_batch` for the GPU).
* `PairedFolderDataset`, `NoisyCleanDataset`: benchmark folders (Rain100L, SOTS, GoPro, LOL, CBSD68...).
* `ConcatDataset`, `Relabelled`: data sets read as one (a run's sources); `LabelledConcat`,
  `BalancedClassSampler`: one degradation class per member data set.
* `make_paired_dataset`: write a reproducible paired data set with a manifest (``dcpt make-dataset``).

The data sets are imported on first use, so that reading or writing an image does not load the
degradation catalogue they build on.
"""

import importlib

from .io import IMAGE_EXTENSIONS, list_images, read_image, write_image
from .samples import export_samples, load_samples, sample_names

_LAZY = {
    "DegradationClass": "synthetic",
    "SyntheticDataset": "synthetic",
    "degrade_batch": "synthetic",
    "derive_seed": "synthetic",
    "LAYOUTS": "paired",
    "PairedFolderDataset": "paired",
    "NoisyCleanDataset": "paired",
    "ConcatDataset": "concat",
    "Relabelled": "concat",
    "LabelledConcat": "concat",
    "BalancedClassSampler": "concat",
    "make_paired_dataset": "make_dataset",
}

__all__ = [
    "IMAGE_EXTENSIONS",
    "list_images",
    "read_image",
    "write_image",
    "export_samples",
    "load_samples",
    "sample_names",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
