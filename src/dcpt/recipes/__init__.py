"""Recipes: a `RunConfig` -> objective + models + data -> the `Job` that `dcpt.engine.loop.fit` trains.

The layer where DCPT, MaskDCPT and fine-tuning are put together by name; the engine under it knows
no objective and no model family. `build_job` is the door (``dcpt pretrain`` / ``finetune``, the demo,
``python -m experiments``); `build_dataset` and `class_names_of` also serve evaluation of a run's data.
"""

from .data import build_dataset, class_names_of
from .job import build_job, build_net, load_init

__all__ = ["build_dataset", "build_job", "build_net", "class_names_of", "load_init"]
