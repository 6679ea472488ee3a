"""What `last.pt` holds and how a run gets it back: the loop's side of exact resume.

`RunState` lists every stateful piece of a run once, so saving and restoring cannot drift apart:
weights, EMA, optimiser, AMP scaler, data position, each rank's random streams, and the partial sums
of the metrics being averaged until the next log step (without them, a run resumed between two log
steps would log a different mean than an uninterrupted one).

A checkpoint due after step k is taken in two parts. `capture` records, at step k, the small
per-rank state that step k + 1 will advance (random streams, data position, log sums); `write`
saves it with the weights and optimiser once step k + 1 has computed a finite loss *with step k's
weights*, before the optimiser changes them. So `last.pt` only ever holds weights that were seen to
give a finite loss: after a divergence (lr 1e6: finite but huge weights, then NaN) the previous
checkpoint is kept, not the one that caused it. Only the final checkpoint is written at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError
from ..fileio import WriteError
from . import checkpointing as ckpt
from .distributed import DistInfo, all_reduce_mean
from .ema import ModelEma
from .stream import BatchStream


@dataclass
class RunState:
    modules: Dict[str, nn.Module]
    optimizer: torch.optim.Optimizer
    ema: Optional[ModelEma]
    scaler: Any  # torch.amp.GradScaler
    stream: BatchStream
    generator: Optional[torch.Generator]
    config: Dict = field(default_factory=dict)

    def finite(self) -> bool:
        """Every floating weight and buffer (EMA included) is finite: a checkpoint is never poisoned."""
        modules = [*self.modules.values(), *([self.ema.module] if self.ema is not None else [])]
        return all(
            bool(torch.isfinite(t).all())
            for m in modules
            for t in m.state_dict().values()
            if t.is_floating_point()
        )


def _gather(obj, info: DistInfo) -> List:
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


@dataclass
class Captured:
    """The state of a run after `step` that later steps advance; the weights are read at `write` time."""

    step: int
    stream: Dict[str, Any]
    ranks: List[Dict[str, Any]]


def capture(step: int, run: RunState, log_sums: Dict[str, Any], log_count: int, info: DistInfo) -> Captured:
    """Every rank's random streams and log sums after `step` (a collective call under DDP)."""
    mine = {
        "rng": ckpt.rng_state(),
        "objective": run.generator.get_state() if run.generator is not None else None,
        "log": {
            "sums": {k: torch.as_tensor(v).detach().cpu().clone() for k, v in log_sums.items()},
            "count": log_count,
        },
    }
    return Captured(step, run.stream.state_dict(), _gather(mine, info))


def write(path: Path, captured: Captured, run: RunState, info: DistInfo, device: torch.device) -> None:
    """Rank 0 writes `captured` with the current weights; every rank learns whether it worked, so a
    full disk stops all ranks at once (a barrier alone would leave the others waiting on a rank that
    is gone). The weights must still be those of step ``captured.step``."""
    failure: Optional[WriteError] = None
    if info.is_main:
        state = {
            "step": captured.step,
            "modules": {name: module.state_dict() for name, module in run.modules.items()},
            "ema": run.ema.state_dict() if run.ema is not None else None,
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(),
            "stream": captured.stream,
            "ranks": captured.ranks,
            "world_size": info.world_size,
            "config": run.config,
        }
        try:
            ckpt.save_training_state(state, path)
        except WriteError as exc:
            failure = exc
    failed = all_reduce_mean(torch.tensor(float(failure is not None), device=device), info)
    if failed.item() > 0:
        raise failure or WriteError(path, OSError(f"rank 0 could not write it at step {captured.step}"))


def _split_single_group(saved: Dict, optimizer: torch.optim.Optimizer) -> Dict:
    """A state saved with one parameter group for all modules (dcpt before ``optim.lr_scale``),
    split into this optimiser's per-module groups; parameters keep their order, so their states map."""
    groups = optimizer.param_groups
    if len(saved["param_groups"]) != 1 or len(groups) == 1:
        return saved
    ids, split = list(saved["param_groups"][0]["params"]), []
    for group in groups:
        chunk, ids = ids[: len(group["params"])], ids[len(group["params"]) :]
        split.append({**saved["param_groups"][0], "params": chunk, "lr_scale": group["lr_scale"]})
    return {**saved, "param_groups": split}


def restore(state: Dict, run: RunState, info: DistInfo) -> Tuple[int, Dict[str, Any], int]:
    """Load `state` into `run`; returns (step, log sums, log count)."""
    try:
        for name, module in run.modules.items():
            module.load_state_dict(state["modules"][name])
        scales = [group["lr_scale"] for group in run.optimizer.param_groups]
        run.optimizer.load_state_dict(_split_single_group(state["optimizer"], run.optimizer))
        for group, scale in zip(run.optimizer.param_groups, scales):
            group["lr_scale"] = scale  # the config's, not the checkpoint's: a resume may change it
        if run.ema is not None and state.get("ema") is not None:
            run.ema.load_state_dict(state["ema"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"the training checkpoint does not match this run's model: {str(exc).splitlines()[0]}"
        ) from None
    run.scaler.load_state_dict(state["scaler"])
    run.stream.load_state_dict(state["stream"])
    ranks = state["ranks"]
    mine = ranks[info.rank] if info.rank < len(ranks) else ranks[0]
    ckpt.set_rng_state(mine["rng"])
    if run.generator is not None and mine["objective"] is not None:
        run.generator.set_state(mine["objective"])
    log = mine.get("log") or {"sums": {}, "count": 0}  # absent in checkpoints from before this file
    return int(state["step"]), dict(log["sums"]), int(log["count"])
