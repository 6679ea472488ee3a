"""The demo's orchestration: checkpoints -> three fine-tunings -> held-out scores -> report.

Everything runs in this process through the engine (`recipes.build_job` + `fit`), from the demo configs
shipped in ``dcpt/assets/demo`` (copies of ``configs/demo-*.yaml``). The three nets share the
fine-tuning config, step count, seed and data stream; only their initial weights differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import ConfigError, DcptError
from ..fileio import check_output_folder

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "demo"
PRETRAINED = ("dcpt", "maskdcpt")
MODELS = ("scratch",) + PRETRAINED
QUICK_STEPS = 3
HELD_OUT_SEED = 12345


@dataclass
class DemoOptions:
    """What `dcpt demo` was asked for; None step counts mean "the config's"."""

    out: Path = Path("runs/demo")
    steps: Optional[int] = None
    pretrain: bool = False
    pretrain_steps: Optional[int] = None
    seed: int = 0
    quick: bool = False
    crops_per_image: int = 4
    crop_size: int = 128


def shipped_checkpoint(objective: str) -> Path:
    return ASSETS / f"nafnet-tiny-{objective}.safetensors"


def demo_config_path(kind: str) -> Path:
    """``finetune``, ``pretrain-dcpt`` or ``pretrain-maskdcpt``: the YAML the demo trains from."""
    return ASSETS / f"demo-{kind}.yaml"


def _config(kind: str, overrides: List[str]):
    from ..config import config_from_dict, read_yaml

    return config_from_dict(read_yaml(demo_config_path(kind)), overrides)


def _check(options: DemoOptions) -> None:
    for name in ("steps", "pretrain_steps"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')}: expected a positive number of steps, got {value}")
    check_output_folder(options.out)
    if not options.pretrain:
        for objective in PRETRAINED:
            path = shipped_checkpoint(objective)
            if not path.is_file():
                raise DcptError(
                    f"the shipped checkpoint {path} is missing; run `dcpt demo --pretrain` to make it afresh"
                )


def _train(cfg, run_dir: Path, finetune: bool, log) -> Path:
    """Run one config through the engine into `run_dir` (a fresh run); returns its final.safetensors."""
    import torch

    from ..config import save_config
    from ..engine import checkpointing
    from ..engine.loop import fit
    from ..recipes import build_job

    (run_dir / checkpointing.LAST).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    job = build_job(cfg, finetune=finetune)
    t0 = time.perf_counter()
    result = fit(job, cfg.data, cfg.optim, cfg.train, run_dir, torch.device("cpu"))
    log(f"  {run_dir.name}: {result.step} steps in {time.perf_counter() - t0:.0f} s")
    if result.exported is None:
        raise DcptError(f"{run_dir.name}: the run exported no final.safetensors (its job has no export)")
    return result.exported


def _seed_overrides(seed: int) -> List[str]:
    return [
        f"train.seed={seed}",
        f"data.seed={seed}",
        "train.val_every=0",
        "train.ckpt_every=0",
        "train.device=cpu",
    ]


def pretrain_checkpoints(options: DemoOptions, log) -> Dict[str, Path]:
    """The DCPT and MaskDCPT checkpoints: the shipped ones, or made afresh under ``out/pretrain-*``."""
    if not options.pretrain:
        return {objective: shipped_checkpoint(objective) for objective in PRETRAINED}
    steps = QUICK_STEPS if options.quick and options.pretrain_steps is None else options.pretrain_steps
    paths = {}
    for objective in PRETRAINED:
        overrides = _seed_overrides(options.seed) + ([f"train.steps={steps}"] if steps else [])
        log(f"pre-training nafnet-tiny with {objective}")
        paths[objective] = _train(
            _config(f"pretrain-{objective}", overrides), options.out / f"pretrain-{objective}", False, log
        )
    return paths


def finetune_all(options: DemoOptions, inits: Dict[str, Path], log) -> Dict[str, Path]:
    """Fine-tune scratch, DCPT-init and MaskDCPT-init nets with one config, seed and data stream."""
    steps = QUICK_STEPS if options.quick and options.steps is None else options.steps
    paths = {}
    for model in MODELS:
        overrides = _seed_overrides(options.seed) + ([f"train.steps={steps}"] if steps else [])
        if model in inits:
            overrides.append(f"init.checkpoint={inits[model]}")
        log(f"fine-tuning {model}")
        paths[model] = _train(_config("finetune", overrides), options.out / f"finetune-{model}", True, log)
    return paths


def held_out_types(options: DemoOptions, cfg) -> List:
    """The scored crops: the fine-tuning config's validation classes on the test photographs."""
    from .heldout import class_specs, held_out_set

    return held_out_set(
        class_specs(cfg.data.val[0].classes),
        options.crops_per_image,
        options.crop_size,
        seed=options.seed + HELD_OUT_SEED,
    )


def run_demo(options: DemoOptions, log=print) -> Dict:
    """Run the whole demo into ``options.out``; returns the report dict (as written to report.json)."""
    import torch

    from ..infer.classify import load_classifier
    from ..models.checkpoint import load_checkpoint
    from . import figures, report
    from .heldout import classifier_accuracy, restore_all, score

    _check(options)
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if options.quick:
        options.crops_per_image = min(options.crops_per_image, 1)
    inits = pretrain_checkpoints(options, log)
    finetuned = finetune_all(options, inits, log)

    cfg = _config("finetune", _seed_overrides(options.seed))
    types = held_out_types(options, cfg)
    log(f"evaluating on {len(types[0].gt)} held-out {options.crop_size}px crops per type")
    outputs = {"input": {t.name: t.lq for t in types}}
    with torch.no_grad():
        for model, path in finetuned.items():
            net = load_checkpoint(path).eval()
            outputs[model] = {t.name: restore_all(net, t.lq).clamp(0.0, 1.0) for t in types}
    tables = {name: score(out, types) for name, out in outputs.items()}
    accuracy = {}
    for objective, path in inits.items():
        net, classifier, names = load_classifier(path)
        accuracy[objective] = classifier_accuracy(net, classifier, names, types)

    result = report.build(tables, accuracy, options, cfg, inits, time.perf_counter() - started)
    figures.psnr_bars(tables, options.out / "psnr.png")
    figures.image_grid(types, outputs, options.out / "grid.png")
    report.write(result, options.out)
    log(report.table_text(tables, [t.name for t in types]))
    log(report.verdict(tables, accuracy))
    log(
        f"wrote {options.out / 'report.md'}, report.json, psnr.png, grid.png "
        f"({time.perf_counter() - started:.0f} s in all)"
    )
    return result
