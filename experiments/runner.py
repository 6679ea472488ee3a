"""Run one arm at some (pre-training seed, fine-tuning seed) pairs: pre-train, fine-tune, evaluate.

Pre-train P steps (if the arm pre-trains; a pre-training run is shared by every arm and fine-tuning
seed that uses it), fine-tune F steps with the restore objective on the demo's five degradation types,
then measure PSNR per type on the study's held-out crops. Each finished pair is appended as one row to
the results file; a re-run skips the pairs it holds, and an interrupted training resumes from its last
checkpoint in the work folder (outside the repository), so a stop at any moment loses at most
``--ckpt-every`` steps.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

from . import results as store
from .arms import STUDY_FINE, Arm, Pretraining, Seeds, get_pretraining
from .results import PROTOCOL, RestoreRow

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
ASSETS = ROOT / "src" / "dcpt" / "assets" / "demo"
# config keys left out of a recipe tag: the seeds and what does not change the weights
VOLATILE = {
    "train": ("seed", "val_every", "log_every", "ckpt_every", "device"),
    "data": ("seed", "val", "val_length", "val_patch_size", "workers"),
}


def engine():
    """The engine entry points the study drives, imported in this one place: (build_job, fit,
    build_dataset, class_names_of)."""
    from dcpt.engine.loop import fit
    from dcpt.recipes import build_dataset, build_job, class_names_of

    return build_job, fit, build_dataset, class_names_of


def make_config(name: str, overrides: List[str]):
    from dcpt.config import config_from_dict, read_yaml

    return config_from_dict(read_yaml(CONFIGS / name), list(overrides))


def recipe_tag(cfg) -> str:
    """A short hash of a resolved config without its seeds and logging keys: what a row was made with.
    Rows are keyed by arm and seeds; a tag that differs from the arm's today says a config has changed."""
    from dcpt.config import config_to_dict

    raw = config_to_dict(cfg)
    for section, keys in VOLATILE.items():
        for key in keys:
            raw.get(section, {}).pop(key, None)
    raw.pop("out", None)
    return hashlib.sha1(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:10]


def common_overrides(steps: int, seed: int, ckpt_every: int) -> List[str]:
    return [
        f"train.steps={steps}",
        f"train.seed={seed}",
        f"data.seed={seed}",
        f"data.patch_size={PROTOCOL['patch_size']}",
        f"data.batch_size={PROTOCOL['batch_size']}",
        "train.val_every=0",
        f"train.ckpt_every={ckpt_every}",
        f"train.log_every={max(steps // 4, 1)}",
        "train.device=cpu",
    ]


def pretrain_config(p: Pretraining, seed: int, ckpt_every: int = 200):
    return make_config(p.config, common_overrides(p.steps, seed, ckpt_every) + list(p.overrides))


def finetune_config(arm: Arm, seed: int, init: Optional[Path], ckpt_every: int = 200):
    start = [f"init.checkpoint={init}", "init.classifier=false"] if init is not None else []
    overrides = list(STUDY_FINE) + start + common_overrides(arm.finetune_steps, seed, ckpt_every)
    return make_config("demo-finetune.yaml", overrides + list(arm.finetune_overrides))


def train(cfg, run_dir: Path, finetune: bool) -> Path:
    """Run (or resume, or reuse) one training run in `run_dir`; returns its exported EMA checkpoint."""
    import torch

    from dcpt.config import save_config

    build_job, fit, _, _ = engine()
    final = run_dir / "final.safetensors"
    if final.is_file():
        return final
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    job = build_job(cfg, finetune=finetune)
    job.val_data = None
    fit(
        job,
        cfg.data,
        cfg.optim,
        cfg.train,
        run_dir,
        torch.device("cpu"),
        resume=(run_dir / "last.pt").is_file(),
    )
    return final


def heldout(cfg):
    """Test-split crops degraded from one fixed seed: identical for every arm and seed."""
    _, _, build_dataset, class_names_of = engine()
    names = class_names_of(cfg.data.val)
    data = build_dataset(
        cfg.data.val,
        cfg.data,
        names,
        PROTOCOL["eval_patch"],
        PROTOCOL["eval_count"],
        PROTOCOL["eval_seed"],
        train=False,
    )
    return data, names


def evaluate(objective, modules: Dict, cfg) -> Dict[str, float]:
    import torch

    from dcpt.engine.validate import validate

    data, names = heldout(cfg)
    return validate(objective, modules, data, 20, torch.device("cpu"), names)


def per_type(metrics: Dict[str, float], metric: str) -> Dict[str, float]:
    out = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith(metric + "/")}
    out["average"] = sum(out.values()) / len(out)
    return out


class Scored:
    """PSNR (dB) and SSIM of each restored crop against its clean crop (RGB, no border crop); with
    ``restore=False`` the degraded input itself is scored, the study's `input` arm."""

    def __init__(self, restore: bool = True):
        self.restore = restore

    def evaluate(self, batch, nets):
        from dcpt.metrics import psnr, ssim

        out = nets["net"](batch["lq"]).clamp(0, 1) if self.restore else batch["lq"]
        return {"psnr": psnr(out, batch["gt"]), "ssim": ssim(out, batch["gt"])}


def identity_init(cfg, seed: int, work: Path) -> Path:
    """A seeded random net of the config's model whose last conv is zero, so net(x) == x at step 0."""
    import torch

    from dcpt.models import create_model
    from dcpt.models.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    net = create_model(cfg.model.name, **dict(cfg.model.overrides or {}))
    with torch.no_grad():
        net.ending.weight.zero_()
        net.ending.bias.zero_()
    return save_checkpoint(net, work / f"identity-init-s{seed}.safetensors")


def classifier_scores(checkpoint: Path, pre_cfg) -> Dict:
    """Held-out accuracy of a pre-trained checkpoint's classifier on the study's crops, overall and per type."""
    from dcpt.models.checkpoint import load_bundle
    from dcpt.objectives import DcptObjective

    bundle = load_bundle(checkpoint)
    acc = evaluate(DcptObjective(), {"net": bundle.net, "classifier": bundle.classifier}, pre_cfg)
    return {
        "classifier_accuracy": acc["acc"],
        "classifier_accuracy_per_type": {k.split("/", 1)[1]: v for k, v in acc.items() if "/" in k},
    }


def pretrained(p: Pretraining, seed: int, work: Path, ckpt_every: int = 200):
    """(checkpoint, its config, recipe tag) of pre-training `p` at `seed`, training it if needed."""
    if p.retired:
        raise ValueError(f"pre-training {p.name} cannot be re-run: {p.retired}")
    if p.shipped:
        if seed != p.shipped_seed:
            raise ValueError(f"{p.name} is a shipped file, made with seed {p.shipped_seed} only")
        path = ASSETS / p.shipped
        return path, make_config(p.config, []), "shipped-" + hashlib.sha1(path.read_bytes()).hexdigest()[:8]
    cfg = pretrain_config(p, seed, ckpt_every)
    tag = recipe_tag(cfg)  # in the folder name, so a changed config never reuses a stale run
    return train(cfg, work / f"pre-{p.name}-s{seed}-{tag}", finetune=False), cfg, tag


def code_version() -> Dict[str, Optional[str]]:
    import dcpt

    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"dcpt_version": dcpt.__version__, "commit": commit}


def run_one(
    arm: Arm, pre_seed: Optional[int], seed: int, work: Path, threads: int, ckpt_every: int = 200
) -> RestoreRow:
    from dcpt.models.checkpoint import load_bundle

    extra: Dict = {}
    init: Optional[Path] = None
    pre_steps = 0
    t0 = time.perf_counter()
    if arm.pretraining:
        p = get_pretraining(arm.pretraining)
        init, pre_cfg, extra["recipe"] = pretrained(p, pre_seed, work, ckpt_every)
        pre_steps = p.steps
        extra.update(classifier_scores(init, pre_cfg))
    if arm.init == "identity":
        init = identity_init(finetune_config(arm, seed, None), seed, work)
    t1 = time.perf_counter()
    cfg = finetune_config(arm, seed, init, ckpt_every)
    if arm.init == "input":
        metrics = evaluate(Scored(restore=False), {}, cfg)
    else:
        fine_dir = work / f"fine-{arm.name}-p{pre_seed}-f{seed}"
        net = load_bundle(train(cfg, fine_dir, finetune=True)).net
        metrics = evaluate(Scored(), {"net": net}, cfg)
        shutil.rmtree(fine_dir, ignore_errors=True)
    return RestoreRow(
        arm=arm.name,
        pretrain_seed=pre_seed,
        finetune_seed=seed,
        pretrain_steps=pre_steps,
        finetune_steps=arm.finetune_steps,
        psnr=per_type(metrics, "psnr"),
        ssim=per_type(metrics, "ssim"),
        pretrain_s=round(t1 - t0, 1),
        finetune_s=round(time.perf_counter() - t1, 1),
        threads=threads,
        **extra,
        **code_version(),
    )


def run_arm(arm: Arm, seeds: Seeds, args) -> List[RestoreRow]:
    """Run each pair of `seeds` the results file lacks, appending a row as each finishes."""
    import torch

    if arm.retired:
        raise ValueError(f"arm {arm.name} cannot be re-run: {arm.retired}")
    undeclared = [pair for pair in seeds if pair not in arm.seeds]
    if undeclared:
        raise ValueError(
            f"{arm.name} does not declare the seed pair(s) {undeclared}; add them to its seeds in "
            "experiments/arms.py, so the registry says what the results hold"
        )
    torch.set_num_threads(args.threads)
    done = {r.key for r in store.read(args.results).restore(arm.name)}
    made = []
    for pre_seed, seed in seeds:
        if (arm.name, pre_seed, seed) in done:
            print(
                f"skip {arm.name} pre-training seed {pre_seed}, fine-tuning seed {seed}: in {args.results}",
                flush=True,
            )
            continue
        t0 = time.perf_counter()
        row = run_one(arm, pre_seed, seed, Path(args.work), args.threads, args.ckpt_every)
        store.append(row, args.results)
        made.append(row)
        acc = "" if row.classifier_accuracy is None else f", classifier {100 * row.classifier_accuracy:.1f}%"
        print(
            f"{arm.name} pre-training seed {pre_seed}, fine-tuning seed {seed}: average "
            f"{row.psnr['average']:.2f} dB{acc} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return made
