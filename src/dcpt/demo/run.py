"""The demo's orchestration: shipped nets scored -> classifiers scored -> a live fine-tuning -> report.

The verdict comes from the shipped fine-tuned nets (`shipped`), scored on fixed held-out crops: the
same table on any machine. The live part fine-tunes each initialisation briefly on the user's machine
through the engine (`recipes.build_job` + `fit`) from the shipped recipe, to show the pipeline working;
it is labelled as such and never presented as the method's result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..errors import ConfigError, DcptError
from ..fileio import check_output_folder

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "demo"
PRETRAINING = {"dcpt": "dcpt", "maskdcpt": "maskdcpt-release"}
"""The shipped pre-training each initialisation starts from: ``nafnet-tiny-<name>.safetensors``, made
by ``configs/demo-pretrain-<name>.yaml``. MaskDCPT's is the release's masking; fine-tuned with the
shipped recipe, dcpt's own masking (``maskdcpt``, still shipped for the studies and the app) left the
blurred crops worse than their inputs (docs/experiments.md, section 10)."""
PRETRAINED = tuple(PRETRAINING)
MODELS = ("scratch",) + PRETRAINED
LIVE_STEPS = 300
QUICK_LIVE_STEPS = 40
QUICK_PRETRAIN_STEPS = 3
HELD_OUT_SEED = 12345
FINETUNE_CONFIG = "finetune-shipped"


@dataclass
class DemoOptions:
    """What `dcpt demo` was asked for; None step counts mean the demo's defaults."""

    out: Path = Path("runs/demo")
    steps: Optional[int] = None
    pretrain: bool = False
    pretrain_steps: Optional[int] = None
    seed: int = 0
    quick: bool = False
    crops_per_image: int = 4
    crop_size: int = 128

    @property
    def live_steps(self) -> int:
        if self.steps is not None:
            return self.steps
        return QUICK_LIVE_STEPS if self.quick else LIVE_STEPS


def shipped_checkpoint(name: str) -> Path:
    """``assets/demo/nafnet-tiny-<name>.safetensors``, `name` a `PRETRAINING` value or ``maskdcpt``."""
    return ASSETS / f"nafnet-tiny-{name}.safetensors"


def init_checkpoint(model: str) -> Path:
    """The shipped pre-trained checkpoint that initialisation `model` (``dcpt``, ``maskdcpt``) starts from."""
    return shipped_checkpoint(PRETRAINING[model])


def demo_config_path(kind: str) -> Path:
    """``finetune-shipped``, ``finetune`` or ``pretrain-<name>`` (`name` as in `shipped_checkpoint`):
    a shipped copy of ``configs/demo-<kind>.yaml``."""
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
            path = init_checkpoint(objective)
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
        return {objective: init_checkpoint(objective) for objective in PRETRAINED}
    steps = (
        QUICK_PRETRAIN_STEPS if options.quick and options.pretrain_steps is None else options.pretrain_steps
    )
    paths = {}
    for objective in PRETRAINED:
        overrides = _seed_overrides(options.seed) + ([f"train.steps={steps}"] if steps else [])
        log(f"pre-training nafnet-tiny with {objective}")
        paths[objective] = _train(
            _config(f"pretrain-{PRETRAINING[objective]}", overrides),
            options.out / f"pretrain-{objective}",
            False,
            log,
        )
    return paths


def live_finetune(options: DemoOptions, inits: Dict[str, Path], log) -> Dict[str, Path]:
    """The live part: each initialisation fine-tuned for `options.live_steps` with the shipped recipe
    (one seed, one data stream) into ``out/finetune-live-<model>``."""
    paths = {}
    for model in MODELS:
        overrides = _seed_overrides(options.seed) + [f"train.steps={options.live_steps}"]
        if model in inits:
            overrides.append(f"init.checkpoint={inits[model]}")
        log(f"live fine-tuning {model} ({options.live_steps} steps)")
        cfg = _config(FINETUNE_CONFIG, overrides)
        paths[model] = _train(cfg, options.out / f"finetune-live-{model}", True, log)
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


def threads() -> int:
    import torch

    return torch.get_num_threads()


def _progress(total: int, desc: str) -> Callable[[], None]:
    """A tqdm bar (count, rate, ETA) over `total` items; returns the function that advances it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="net", dynamic_ncols=True)

    def tick() -> None:
        bar.update(1)
        if bar.n >= total:
            bar.close()

    return tick


def run_demo(options: DemoOptions, log=print) -> Dict:
    """Run the whole demo into ``options.out``; returns the report dict (as written to report.json)."""
    from ..infer.classify import load_classifier
    from ..models.checkpoint import load_checkpoint
    from . import estimate, figures, report
    from .heldout import class_specs, classifier_accuracy, restore_all, score
    from .no_reference import no_reference_table
    from .shipped import evaluate_shipped, shipped_models, summarise

    _check(options)
    files = shipped_models()
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cfg = _config(FINETUNE_CONFIG, _seed_overrides(options.seed))
    types = held_out_types(options, cfg)
    nets = sum(len(v) for v in files.values())
    crops = sum(len(t.gt) for t in types)
    log(estimate.plan_text(options, nets, crops, cfg.data.batch_size, cfg.data.patch_size, threads()))

    log(f"1/3 scoring the shipped fine-tuned nets on {len(types[0].gt)} held-out crops per type")
    per_seed, shown = evaluate_shipped(types, files, _progress(nets, "score"))
    tables = {arm: summarise(seeds) for arm, seeds in per_seed.items()}
    tables["input"] = summarise([score({t.name: t.lq for t in types}, types)])
    first_nets = {arm: paths[0] for arm, paths in files.items()}
    no_ref = no_reference_table(
        class_specs(cfg.data.val[0].classes), first_nets, options.seed + HELD_OUT_SEED
    )

    inits = pretrain_checkpoints(options, log)
    accuracy = {}
    for objective, path in inits.items():
        net, classifier, names = load_classifier(path)
        accuracy[objective] = classifier_accuracy(net, classifier, names, types)

    log(f"2/3 live fine-tuning on this machine ({threads()} threads): the pipeline, not the method's result")
    live = {}
    for model, path in live_finetune(options, inits, log).items():
        net = load_checkpoint(path).eval()
        live[model] = summarise([score({t.name: restore_all(net, t.lq) for t in types}, types)])

    log("3/3 writing the report")
    seconds = time.perf_counter() - started
    result = report.build(tables, per_seed, live, no_ref, accuracy, options, cfg, inits, seconds, threads())
    figures.image_grid(types, {"input": {t.name: t.lq for t in types}, **shown}, options.out / "grid.png")
    figures.psnr_bars(tables, options.out / "psnr.png")
    report.write(result, options.out)
    names = [t.name for t in types]
    log(report.table_text(tables, names))
    log(report.improvement_text(tables, names))
    log(report.verdict(tables))
    log(report.no_reference_text(no_ref))
    log(
        f"wrote {options.out / 'report.md'}, report.json, psnr.png, grid.png "
        f"({time.perf_counter() - started:.0f} s in all, {threads()} threads)"
    )
    return result
