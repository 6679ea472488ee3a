"""The training loop: one function for single-process and torchrun runs (nanoGPT's habit).

It knows nothing of DCPT: a `Job` hands it named modules, an objective ``(batch, modules) ->
(loss, logs)`` and data; it owns optimisation (AdamW, warm-up + cosine, clipping, accumulation,
AMP, EMA), validation, logging, atomic checkpoints and exact resume.

A run stops with one line, never a traceback, when the loss or the weights stop being finite or a
write fails (a full disk): the message names the last checkpoint that is really good (finite
weights that gave a finite loss; see `engine.state`), since a failed or refused write leaves the
previous `last.pt`.

Data wait: every log record carries ``data_wait``, the fraction of the window's training-step time
that the host spent obtaining batches: the wall time from asking the stream for a batch until it is
on the device and through `Job.prepare`, summed over the steps since the last log, divided by the
summed wall time of those steps (from choosing the learning rate to the EMA update; validation,
logging and checkpoint writes between steps are left out). Nothing is synchronised for it: on a GPU
the copy (``non_blocking``) and `prepare`'s kernels are queued, so only the host-side wait counts,
while each step's device work is in its step time because the finite-loss check reads the loss.
It is rank 0's figure, not an average over ranks, and a timing: a resumed run's values differ.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..config import DataConfig, OptimConfig, TrainConfig
from ..errors import ConfigError, DcptError
from ..fileio import WriteError
from . import checkpointing as ckpt
from . import faults, state
from .distributed import DistInfo, all_reduce_mean, barrier
from .ema import ModelEma
from .logging import RunLogger
from .schedule import lr_at
from .stream import BatchStream
from .validate import validate


class TrainingDiverged(DcptError):
    """The loss or the weights became NaN or infinite; the last good checkpoint is kept."""


class TrainingStopped(DcptError):
    """A write failed during training (a full disk, a read-only folder); the last good checkpoint is kept."""


@dataclass
class Job:
    """What to train. `objective` may also carry `trains` (names of the modules it optimises; default
    all), `generator` (its own random stream, saved for resume), `evaluate(batch, modules) -> {metric:
    Tensor[B]}` for validation and `find_unused_parameters` (for DDP)."""

    modules: Dict[str, nn.Module]
    objective: Callable
    train_data: object
    val_data: Optional[object] = None
    val_batch_size: int = 1
    group_names: Sequence[str] = ()
    ema_of: Optional[str] = "net"
    export: Optional[Callable[[Dict[str, nn.Module], int, Path], None]] = None
    config: Dict = field(default_factory=dict)
    prepare: Optional[Callable[[Dict], Dict]] = None


@dataclass
class FitResult:
    step: int
    last_logs: Dict[str, float]
    val_metrics: Dict[str, float]
    exported: Optional[Path]


class _Step(nn.Module):
    """Puts every trained module behind one forward, so DDP sees one forward per backward."""

    def __init__(self, modules: Dict[str, nn.Module], objective: Callable):
        super().__init__()
        self.nets = nn.ModuleDict(modules)
        self._objective = [objective]

    def forward(self, batch):
        return self._objective[0](batch, self.nets)


def to_device(batch: Dict, device: torch.device, channels_last: bool = False) -> Dict:
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.ndim == 4 and value.is_floating_point():
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _param_groups(
    modules: Dict[str, nn.Module], trains: Sequence[str], lr_scale: Dict[str, float]
) -> List[Dict]:
    """One AdamW group per trained module, carrying its ``lr_scale`` (1 unless `lr_scale` names it)."""
    unknown = sorted(set(lr_scale) - set(modules))
    if unknown:
        raise ConfigError(
            f"config key 'optim.lr_scale.{unknown[0]}': this job has no module {unknown[0]!r}; "
            f"it has {', '.join(modules)}"
        )
    bad = [n for n, v in lr_scale.items() if not v > 0]
    if bad:
        raise ConfigError(f"config key 'optim.lr_scale.{bad[0]}': must be > 0, got {lr_scale[bad[0]]}")
    groups = []
    for name in trains:
        params = [p for p in modules[name].parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr_scale": float(lr_scale.get(name, 1.0))})
    return groups


def fit(
    job: Job,
    data: DataConfig,
    optim: OptimConfig,
    train: TrainConfig,
    run_dir: Optional[Path],
    device: torch.device,
    info: Optional[DistInfo] = None,
    resume: bool = False,
) -> FitResult:
    """Train `job` for ``train.steps`` optimiser steps; writes into `run_dir` on rank 0 only."""
    info = info or DistInfo()
    if train.amp == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"config key 'train.amp': fp16 needs a CUDA device, this run is on {device}; use bf16"
        )
    run_dir = Path(run_dir) if run_dir is not None else None
    last_path = run_dir / ckpt.LAST if run_dir is not None else None
    objective = job.objective
    trains = tuple(getattr(objective, "trains", job.modules.keys()))
    for name, module in job.modules.items():
        module.to(device)
        if train.channels_last:
            module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # Module.to takes it; the stub omits it
        module.train(name in trains)
        module.requires_grad_(name in trains)
    optimizer = torch.optim.AdamW(
        _param_groups(job.modules, trains, optim.lr_scale),
        lr=optim.lr,
        betas=optim.betas,
        weight_decay=optim.weight_decay,
        fused=True if optim.fused else None,  # None: AdamW's default choice
    )
    ema = ModelEma(job.modules[job.ema_of], train.ema) if job.ema_of and train.ema > 0 else None
    scaler = torch.amp.GradScaler(device.type, enabled=train.amp == "fp16")
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(train.amp)
    stream = BatchStream(
        job.train_data,
        data.batch_size,
        seed=data.seed,
        rank=info.rank,
        world_size=info.world_size,
        workers=data.workers,
        pin_memory=device.type == "cuda",
    )
    generator = getattr(objective, "generator", None)

    _seed_everything(train.seed + info.rank)
    if generator is not None:
        generator.manual_seed(train.seed * 7919 + info.rank + 1)
    run = state.RunState(job.modules, optimizer, ema, scaler, stream, generator, job.config)
    step = 0
    sums: Dict[str, torch.Tensor] = {}
    count = 0
    if resume:
        if last_path is None:
            raise ConfigError("resuming a run needs its run folder (run_dir is None)")
        step, sums, count = state.restore(ckpt.load_training_state(last_path), run, info)
    kill_at = faults.kill_step(info.rank)

    model: nn.Module = _Step({n: job.modules[n] for n in trains}, objective)
    ddp: Optional[nn.parallel.DistributedDataParallel] = None
    if info.enabled:
        model = ddp = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=bool(getattr(objective, "find_unused_parameters", False)),
        )
    if train.compile:
        model = torch.compile(model)  # type: ignore[assignment]  # an OptimizedModule; the stub says Callable

    logger = RunLogger(run_dir, train.steps, start_step=step, enabled=info.is_main)
    if resume:
        logger.message(f"resumed from {last_path} at step {step}")
    last_logs: Dict[str, float] = {}
    val_metrics: Dict[str, float] = {}
    last_good = step if resume else None
    wait_s = busy_s = 0.0  # data wait and step time since the last log
    pending: Optional[state.Captured] = None  # a checkpoint waiting for its weights' loss
    try:
        while step < train.steps:
            started = time.perf_counter()
            lr = lr_at(step, optim.lr, train.steps, optim.warmup_steps, optim.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            optimizer.zero_grad(set_to_none=True)
            step_loss = torch.zeros((), device=device)
            for micro in range(train.accum):
                asked = time.perf_counter()
                batch = to_device(next(stream), device, train.channels_last)
                if job.prepare is not None:
                    batch = job.prepare(batch)
                wait_s += time.perf_counter() - asked
                sync = micro == train.accum - 1 or not info.enabled
                with contextlib.nullcontext() if sync or ddp is None else ddp.no_sync():
                    with torch.autocast(
                        device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None
                    ):
                        loss, logs = model(batch)
                    scaler.scale(loss / train.accum).backward()
                step_loss += loss.detach().float() / train.accum
                for key, value in logs.items():
                    sums[key] = (
                        sums.get(key, 0.0)
                        + torch.as_tensor(value, dtype=torch.float32).detach() / train.accum
                    )
            step_loss = all_reduce_mean(step_loss, info)
            sums["loss"] = sums.get("loss", 0.0) + step_loss
            if not torch.isfinite(step_loss).item():
                raise TrainingDiverged(
                    f"loss is {step_loss.item()} at step {step + 1}; stopped. "
                    f"Last good checkpoint: {_where(last_path, last_good)}"
                )
            if pending is not None and last_path is not None:
                last_good = _write(last_path, pending, run, info, device, last_good)
                pending = None
            if optim.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(
                    [p for g in optimizer.param_groups for p in g["params"]], optim.grad_clip
                )
            scaler.step(optimizer)
            scaler.update()
            if ema is not None and job.ema_of is not None:
                ema.update(job.modules[job.ema_of])
            step += 1
            count += 1
            busy_s += time.perf_counter() - started

            if (train.log_every and step % train.log_every == 0) or step == train.steps:
                means = {k: v / count for k, v in sums.items()}
                reduced = {
                    k: (v if k == "loss" else all_reduce_mean(v.to(device), info)).item()
                    for k, v in means.items()
                }
                last_logs = {**reduced, "lr": lr, "data_wait": wait_s / max(busy_s, 1e-9)}
                logger.scalars(step, last_logs)
                sums, count = {}, 0
                wait_s = busy_s = 0.0
            logger.progress(step, step_loss.item(), last_logs.get("data_wait"))
            if (
                job.val_data is not None
                and train.val_every
                and (step % train.val_every == 0 or step == train.steps)
            ):
                val_metrics = _validate_main(job, ema, data, device, train, info, logger, step)
            if last_path is not None and (
                step == train.steps or (train.ckpt_every and step % train.ckpt_every == 0)
            ):
                pending = state.capture(step, run, sums, count, info)
                if step == train.steps:
                    last_good, pending = _write(last_path, pending, run, info, device, last_good), None
            if step == kill_at:
                faults.die()
    except WriteError as exc:
        raise TrainingStopped(
            f"{exc}; stopped after step {step}. Last good checkpoint: {_where(last_path, last_good)}"
        ) from None
    finally:
        logger.close()

    exported = None
    if info.is_main and job.export is not None and run_dir is not None:
        final_modules = dict(job.modules)
        if ema is not None and job.ema_of is not None:
            final_modules[job.ema_of] = ema.module
        exported = run_dir / "final.safetensors"
        try:
            job.export(final_modules, step, exported)
        except WriteError as exc:
            raise TrainingStopped(
                f"{exc}; training itself finished: {_where(last_path, last_good)} holds it, "
                "and --resume exports it again"
            ) from None
    barrier(info)
    return FitResult(step, last_logs, val_metrics, exported)


def _validate_main(job, ema, data, device, train, info, logger, step) -> Dict[str, float]:
    metrics: Dict[str, float] = {}
    if info.is_main:
        modules = dict(job.modules)
        if ema is not None:
            modules[job.ema_of] = ema.module
        t0 = time.perf_counter()
        metrics = validate(
            job.objective,
            modules,
            job.val_data,
            job.val_batch_size,
            device,
            job.group_names,
            channels_last=train.channels_last,
        )
        logger.scalars(step, metrics, prefix="val")
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        logger.message(f"[val] step {step}: {shown} ({time.perf_counter() - t0:.1f} s)")
        for name in getattr(job.objective, "trains", job.modules.keys()):
            job.modules[name].train()
    barrier(info)
    return metrics


def _where(last_path: Optional[Path], last_good: Optional[int]) -> str:
    return f"{last_path} (step {last_good})" if last_good is not None else "none written yet"


def _write(
    path: Path, pending: state.Captured, run: state.RunState, info: DistInfo, device, last_good: Optional[int]
) -> int:
    """Write the checkpoint of step ``pending.step`` unless its weights are not finite; its step."""
    if not run.finite():
        raise TrainingDiverged(
            f"weights are not finite after step {pending.step}; stopped without saving them. "
            f"Last good checkpoint: {_where(path, last_good)}"
        )
    state.write(path, pending, run, info, device)
    return pending.step
