"""Several data sets read as one: the one concatenation of the package, for training and validation.

`ConcatDataset` forwards `set_epoch` to its members (torch's does not), so members that draw
per-epoch randomness stay reproducible inside it. `Relabelled` maps a member's own class labels to
the run's, and `LabelledConcat` gives each member one class of its own.
"""

from __future__ import annotations

import bisect
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset, Sampler

from ..errors import ConfigError


class Relabelled(Dataset):
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


class ConcatDataset(Dataset):
    """`datasets` one after the other; item ``i`` is item ``i - start`` of the member that holds it."""

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        self.cumulative_sizes: List[int] = []
        total = 0
        for ds in self.datasets:
            total += len(ds)  # type: ignore[arg-type]
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def locate(self, index: int) -> Tuple[int, int]:
        """(member, index inside that member) of global `index`."""
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} is outside the {len(self)} items")
        member = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[member - 1] if member else 0
        return member, index - start

    def member_range(self, member: int) -> range:
        start = self.cumulative_sizes[member - 1] if member else 0
        return range(start, self.cumulative_sizes[member])

    def set_epoch(self, epoch: int) -> None:
        """Forward to every member that draws per-epoch randomness."""
        for ds in self.datasets:
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        member, local = self.locate(index)
        return self.datasets[member][local]


class LabelledConcat(ConcatDataset):
    """Members ``[(class_name, dataset), ...]`` in order; an item of member ``k`` gets ``label = k``.

    Items keep ``"lq"``, ``"gt"`` and ``"label"`` plus the member keys listed in `extra_keys`, so that
    members of different kinds (synthetic, paired folders) collate into one batch.
    """

    def __init__(self, members: Sequence[Tuple[str, Dataset]], extra_keys: Tuple[str, ...] = ()):
        if isinstance(members, dict) or not len(members):
            raise ConfigError("LabelledConcat needs a non-empty list of (class_name, dataset) pairs")
        self.class_names: List[str] = [str(name) for name, _ in members]
        if len(set(self.class_names)) != len(self.class_names):
            raise ConfigError(f"class names must be unique, got {self.class_names}")
        super().__init__([ds for _, ds in members])
        empty = [n for n, ds in zip(self.class_names, self.datasets) if len(ds) == 0]  # type: ignore[arg-type]
        if empty:
            raise ConfigError(f"empty member data set(s): {', '.join(empty)}")
        self.keys = ("lq", "gt", "label", *extra_keys)

    def __getitem__(self, index: int) -> dict:
        member, local = self.locate(index)
        item = self.datasets[member][local]
        out = {k: item[k] for k in self.keys if k != "label"}
        out["label"] = member
        return out


class BalancedClassSampler(Sampler):
    """Indices into a `LabelledConcat` that visit the classes in turn: 0, 1, ..., K-1, 0, 1, ...

    Each class draws its items uniformly with replacement, so small and large members are seen
    equally often, and a batch of a multiple of K consecutive indices holds every class equally.
    The draws depend only on (`seed`, epoch); call `set_epoch` each epoch.
    """

    def __init__(self, dataset: LabelledConcat, num_samples: Optional[int] = None, seed: int = 0):
        self.ranges = [dataset.member_range(k) for k in range(len(dataset.datasets))]
        self.num_samples = int(num_samples) if num_samples is not None else len(dataset)
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        k = len(self.ranges)
        picks = torch.rand(self.num_samples, generator=g, dtype=torch.float64)
        for j in range(self.num_samples):
            members = self.ranges[j % k]
            yield members.start + min(int(picks[j] * len(members)), len(members) - 1)
