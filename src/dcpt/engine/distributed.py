"""torchrun support: process-group set-up from the environment, rank queries and barriers.

Under ``torchrun --nproc_per_node=N`` the variables RANK, WORLD_SIZE and LOCAL_RANK are set; we use
NCCL on CUDA and gloo on CPU. A plain ``python -m dcpt ...`` is a world of one and touches nothing.

Restarts (``torchrun --max-restarts``): torchrun shares its rendezvous store with the workers by
default, and a restarted group can then read the previous group's addresses and fail to connect
(pytorch/pytorch#135712; seen here with gloo about one restart in two).
``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` in torchrun's environment gives each group a fresh store;
rank 0 says so once when restarts are enabled without it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def rank_device(name: str, local_rank: int = 0) -> torch.device:
    """`train.device` for this process: a CUDA device without an index means the rank's own GPU."""
    device = resolve_device(name, option="config key 'train.device'")
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


def init_distributed(device_name: str) -> tuple:
    """Join the process group torchrun describes (if any); returns (DistInfo, device)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(), rank_device(device_name)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if rank == 0 and restarts_may_reuse_a_stale_store(os.environ):
        print(
            "dcpt: warning: torchrun --max-restarts shares its rendezvous store with the workers, so a "
            "restarted group may fail to connect (pytorch#135712); set TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1",
            file=sys.stderr,
            flush=True,
        )
    device = rank_device(device_name, local_rank)
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world_size, local_rank), device


def restarts_may_reuse_a_stale_store(env) -> bool:
    """torchrun will restart this group (max restarts > 0) and lends it the rendezvous store."""
    restarts = env.get("TORCHELASTIC_MAX_RESTARTS", "0")
    return restarts.isdigit() and int(restarts) > 0 and env.get("TORCHELASTIC_USE_AGENT_STORE") == "True"


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world_size
    return value


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
