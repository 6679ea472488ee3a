"""An endless, resumable stream of training batches whose order we control (not DataLoader's RNG).

Epoch `e` visits ``randperm(len(dataset))`` drawn from a generator seeded by ``(seed, e)``; the
global batch ``k`` of the epoch is ``perm[k*G : (k+1)*G]`` with ``G = batch_size * world_size``,
and rank ``r`` takes its ``r``-th slice of ``batch_size``. So N processes see exactly the samples
one process would see with an N times larger batch, and ``(epoch, batch)`` is the whole position:
saving it and the dataset's own seed is enough to continue the exact sample stream after a resume.
The last incomplete global batch of an epoch is dropped.

A streamed data set (tar shards, `dcpt.data.shards_stream.ShardStream`) has no random access; it
plans the same kind of epoch itself (a seeded order, ``N // G`` global batches, each rank its share),
so here it is only told the epoch, rank and batch to start from, and the DataLoader takes its ready
batches. Its split also depends on the number of processes and of DataLoader workers, which the
position records.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Type

import torch
from torch.utils.data import DataLoader

from ..errors import DataError, DcptError, one_line


class BatchStream:
    def __init__(
        self,
        dataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
        pin_memory: bool = False,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.workers = workers
        self.pin_memory = pin_memory
        self.global_batch = batch_size * world_size
        self.streamed = hasattr(dataset, "batches_per_epoch")
        if self.streamed:
            self.batches_per_epoch = dataset.batches_per_epoch(batch_size, world_size)
        else:
            self.batches_per_epoch = len(dataset) // self.global_batch
        if self.batches_per_epoch == 0:
            raise DataError(
                f"training data has {len(dataset)} samples per epoch, fewer than one global batch of {self.global_batch}"
            )
        self.epoch = 0
        self.batch = 0
        self._iter: Optional[Iterator[Dict]] = None

    def epoch_order(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.dataset), generator=gen)

    def _indices(self, epoch: int, start_batch: int) -> List[List[int]]:
        perm = self.epoch_order(epoch).tolist()
        lo = self.rank * self.batch_size
        return [
            perm[k * self.global_batch + lo : k * self.global_batch + lo + self.batch_size]
            for k in range(start_batch, self.batches_per_epoch)
        ]

    def _start_epoch_iterator(self) -> Iterator[Dict]:
        if self.streamed:
            self.dataset.configure(self.epoch, self.rank, self.world_size, self.batch_size, self.batch)
            return iter(
                DataLoader(
                    self.dataset, batch_size=None, num_workers=self.workers, pin_memory=self.pin_memory
                )
            )
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_sampler=self._indices(self.epoch, self.batch),
            num_workers=self.workers,
            pin_memory=self.pin_memory,
        )
        return iter(loader)

    def __iter__(self):
        return self

    def __next__(self) -> Dict:
        if self.batch >= self.batches_per_epoch:
            self.epoch += 1
            self.batch = 0
            self._iter = None
        if self._iter is None:
            self._iter = self._start_epoch_iterator()
        try:
            item = next(self._iter)
        except Exception as exc:
            error = worker_error(exc)
            if error is None:
                raise
            raise error from None
        self.batch += 1
        return item

    def state_dict(self) -> Dict[str, int]:
        """Position of the next batch: epoch, global batch index and sample index within the epoch
        (and, for a streamed data set, the DataLoader workers per rank its split was made for)."""
        state = {
            "epoch": self.epoch,
            "batch": self.batch,
            "index": self.batch * self.global_batch,
            "seed": self.seed,
            "global_batch": self.global_batch,
        }
        if self.streamed:
            state["stream_workers"] = max(1, self.workers)
            state["stream_ranks"] = self.world_size
        return state

    def load_state_dict(self, state: Dict[str, int]) -> None:
        if state.get("global_batch", self.global_batch) != self.global_batch:
            raise DataError(
                f"cannot resume: the checkpoint's global batch is {state['global_batch']} samples, "
                f"this run's is {self.global_batch} (batch_size x processes)"
            )
        if self.streamed and state.get("stream_ranks", self.world_size) != self.world_size:
            raise DataError(
                f"cannot resume: the checkpoint streamed its shards to {state['stream_ranks']} "
                f"process(es), this run has {self.world_size}"
            )
        if self.streamed and state.get("stream_workers", max(1, self.workers)) != max(1, self.workers):
            raise DataError(
                f"cannot resume: the checkpoint streamed its shards with {state['stream_workers']} "
                f"DataLoader worker(s) per process, this run has {max(1, self.workers)} (data.workers)"
            )
        self.epoch = int(state["epoch"])
        self.batch = int(state["batch"])
        self._iter = None


def worker_error(exc: BaseException) -> Optional[DcptError]:
    """The project's error that a DataLoader worker raised, with its own one-line message; None when
    `exc` is not one (a bug in a worker keeps torch's report and its traceback).

    torch re-raises a worker's exception in the main process as a new one of the same class whose
    message is "Caught DataError in DataLoader worker process 0.", then "Original " and the worker's
    whole traceback, or as a RuntimeError when the class cannot be built from one string. The
    traceback ends with "dcpt.errors.DataError: <the message>"; that is the error rebuilt here.
    """
    text = str(exc)
    if not text.startswith("Caught "):
        return None
    classes = {f"{c.__module__}.{c.__qualname__}": c for c in _subclasses(DcptError)}
    lines = text.splitlines()
    for at in range(len(lines) - 1, 0, -1):
        name, sep, first = lines[at].partition(": ")
        if sep and name in classes:
            message = one_line(" ".join([first, *lines[at + 1 :]]), limit=2000)
            try:
                return classes[name](message)
            except TypeError:  # a class built from other arguments (fileio.WriteError)
                return DcptError(message)
    return None


def _subclasses(cls: Type[DcptError]) -> List[Type[DcptError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found
