"""Training data streamed from tar shards: exact epochs across ranks and workers, exact resume.

The epoch sequence. Epoch `e` orders the shards by a permutation seeded by ``(seed, e)`` and each
shard's samples by one seeded by ``(seed, e, shard)``; the concatenation ``S`` (all N samples once)
is the epoch. Shards are written with their samples drawn at random from the whole set
(`dcpt.data.shards_write`), so this two-level shuffle mixes images and types in every batch.

The split. Training (`batch_size` B, `world_size` W): the first ``K*B*W`` samples of ``S``, with
``K = N // (B*W)``, go to the ranks in contiguous runs of ``K*B`` (the last incomplete global batch is
dropped, as in `dcpt.engine.stream`). A rank's K batches go to its DataLoader workers in contiguous
runs (``K // workers`` each, one more for the first ``K % workers``) and each worker collates its own
batches, which torch's DataLoader hands out in turn, worker 0, 1, ... So every (rank, worker) reads a
contiguous piece of ``S``: its own few shards, plus parts of the shards on its edges, which it reads
skipping the members it does not need. Without a batch size (evaluation, tests) the N samples are
cut into W * workers contiguous runs whose lengths differ by at most one: every sample once.

Resume. After a rank delivered b batches of an epoch, worker w has delivered ``ceil((b - w) / n)``
of them (n workers); each worker starts past those, and DataLoader worker i plays worker
``(i + b) % n``, so the next batch comes from the worker whose turn it was. The batch position is
saved by `dcpt.engine.stream.BatchStream`; resuming needs the same world size and worker count.

Crops follow the folder data sets: a seeded crop and flips per (seed, epoch, position in ``S``).
A bad sample (a corrupt member, or a sample lost in a damaged tar) stops the run naming shard and
key, or under ``skip`` is replaced by the worker's next good sample (wrapping to its first), so batch
counts never change.
"""

from __future__ import annotations

import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import IterableDataset, default_collate, get_worker_info

from ..errors import DataError
from .bad_samples import BadSamplePolicy, BadSamples
from .paired import _Crops
from .shards import decode_sample, read_samples, resolve


def slot_range(total: int, slot: int, slots: int) -> Tuple[int, int]:
    """Slot `slot`'s contiguous [start, stop) of `total` items cut into `slots` near-equal runs."""
    return slot * total // slots, (slot + 1) * total // slots


def worker_batches(batches: int, worker: int, workers: int) -> Tuple[int, int]:
    """[first, stop) of a rank's `batches` that `worker` collates: contiguous, the first
    ``batches % workers`` workers one more (so DataLoader's turn order is the batch order)."""
    base, extra = divmod(batches, workers)
    first = worker * base + min(worker, extra)
    return first, first + base + (1 if worker < extra else 0)


def delivered(batches_done: int, worker: int, workers: int) -> int:
    """How many of its batches `worker` had handed out when its rank had received `batches_done`."""
    return max(0, math.ceil((batches_done - worker) / workers))


class ShardStream(_Crops, IterableDataset):
    """Samples ``{"lq", "gt", "label"}`` (plus ``"key"`` with `with_keys`) streamed from shards.

    `location` and `manifest` as `dcpt.data.shards.resolve` takes them. `label_map[k]` is the run's
    class index for the manifest's type `k` (default: k). Call `configure` before each epoch; with a
    batch size the stream yields collated batches (use ``DataLoader(batch_size=None)``).
    """

    def __init__(
        self,
        location: str,
        manifest: Optional[str] = None,
        patch_size: Optional[int] = None,
        seed: int = 0,
        label_map: Optional[Sequence[int]] = None,
        bad_samples: Optional[BadSamplePolicy] = None,
        with_keys: bool = False,
    ):
        self.info, self.urls = resolve(str(location), manifest)
        self.counts = [int(e["count"]) for e in self.info["shards"]]
        self.total = sum(self.counts)
        if self.total == 0:
            raise DataError(f"shards {location!r}: the manifest lists no samples")
        self.types: List[str] = list(self.info["types"])
        self.label_map = list(label_map) if label_map is not None else list(range(len(self.types)))
        self.bad = BadSamples(bad_samples, self.total, f"samples in {location}")
        self.with_keys = with_keys
        self._init_crops(patch_size, patch_size is not None, seed, pad_small=True)
        self.configure(0)

    def __len__(self) -> int:
        return self.total

    def configure(
        self,
        epoch: int,
        rank: int = 0,
        world_size: int = 1,
        batch_size: Optional[int] = None,
        start_batch: int = 0,
    ) -> None:
        """What the next iteration reads: this rank's share of epoch `epoch`, as batches of
        `batch_size` from batch `start_batch` on, or (None) as single samples."""
        if batch_size is None and start_batch:
            raise DataError("resuming inside an epoch needs a batch size")
        self.set_epoch(epoch)
        self.rank, self.world_size = rank, world_size
        self.batch_size, self.start_batch = batch_size, start_batch

    def batches_per_epoch(self, batch_size: int, world_size: int) -> int:
        return self.total // (batch_size * world_size)

    # ------------------------------------------------------------------ the epoch sequence

    def epoch_order(self, epoch: int) -> List[Tuple[int, int]]:
        """``S`` as (shard, index in shard) pairs."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order: List[Tuple[int, int]] = []
        for shard in torch.randperm(len(self.counts), generator=g).tolist():
            inner = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 65_537 + shard)
            order.extend((shard, i) for i in torch.randperm(self.counts[shard], generator=inner).tolist())
        return order

    def _piece(self, worker: int, workers: int) -> Tuple[int, int, int]:
        """(start, stop, first position to hand out) of this worker's piece of ``S``."""
        if self.batch_size is None:
            start, stop = slot_range(self.total, self.rank * workers + worker, self.world_size * workers)
            return start, stop, start
        b = self.batch_size
        k = self.batches_per_epoch(b, self.world_size)
        first, stop = worker_batches(k, worker, workers)
        base = self.rank * k * b
        begin = base + b * (first + delivered(self.start_batch, worker, workers))
        return base + first * b, base + stop * b, min(begin, base + stop * b)

    # ------------------------------------------------------------------ reading

    def __iter__(self) -> Iterator[Dict]:
        info = get_worker_info()
        workers = info.num_workers if info is not None else 1
        worker = info.id if info is not None else 0
        worker = (worker + self.start_batch) % workers
        start, stop, begin = self._piece(worker, workers)
        if begin >= stop:
            return
        order = self.epoch_order(self.epoch)
        items = self._items(order, start, stop, begin)
        if self.batch_size is None:
            yield from items
            return
        batch = []
        for item in items:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield default_collate(batch)
                batch = []

    def _items(self, order, start: int, stop: int, begin: int) -> Iterator[Dict]:
        """The samples at positions [begin, stop) of ``S``; a skipped bad one takes the next good
        sample of [begin, stop), then of [start, stop) from its start."""
        waiting: List[int] = []
        for pos, sample in self._decoded(order, begin, stop):
            if sample is None:
                waiting.append(pos)
                continue
            for p in [*waiting, pos]:
                yield self._item(p, sample)
            waiting = []
        if waiting:
            for _, sample in self._decoded(order, start, stop):
                if sample is not None:
                    yield self._item(waiting.pop(0), sample)
                    if not waiting:
                        return
            raise DataError(f"none of the samples {start}..{stop - 1} of this epoch could be read")

    def _decoded(self, order, begin: int, stop: int) -> Iterator[Tuple[int, Optional[tuple]]]:
        """(position, (lq, gt, meta, key) or None when bad and skipped) for [begin, stop), reading
        each shard of the range once."""
        pos = begin
        while pos < stop:
            shard = order[pos][0]
            end = pos
            while end < stop and order[end][0] == shard:
                end += 1
            wanted = {order[p][1]: p for p in range(pos, end)}
            url = self.urls[shard]
            found: Dict[int, tuple] = {}
            missing = DataError(f"{url}: holds fewer samples than the manifest's {self.counts[shard]}")
            try:
                for index, key, parts in read_samples(url, set(wanted)):
                    found[index] = (key, parts)
            except DataError as exc:  # a damaged tar: what it held before the damage is used
                if not self.bad.policy.skip:
                    raise
                missing = exc
            for p in range(pos, end):
                if order[p][1] not in found:
                    self.bad.record(f"{url}#{order[p][1]}", missing)
                    yield p, None
                    continue
                key, parts = found[order[p][1]]
                try:
                    lq, gt, meta = decode_sample(url, key, parts)
                except DataError as exc:
                    self.bad.record(f"{url}#{key}", exc)
                    yield p, None
                    continue
                yield p, (lq, gt, meta, key)
            pos = end

    def _item(self, pos: int, sample: tuple) -> Dict:
        lq, gt, meta, key = sample
        lq, gt = self._crop(pos, key, lq, gt)
        item = {"lq": lq, "gt": gt, "label": self.label_map[int(meta["label"])]}
        if self.with_keys:
            item["key"] = key
        return item
