"""Make the demo's shipped fine-tuned nets from the committed recipe, the way a maintainer refreshes them.

For each initialisation (scratch, the shipped DCPT and MaskDCPT checkpoints named by
``dcpt.demo.run.PRETRAINING``) and each fine-tuning seed
it runs ``dcpt finetune configs/demo-finetune-shipped.yaml`` into ``<work>/<arm>-seed<S>`` (resuming
an interrupted run, reusing a finished one), several runs at a time, one torch thread each; then it
writes each run's EMA net as fp16 to ``src/dcpt/assets/demo/finetuned/nafnet-tiny-<arm>-seed<S>``
``.safetensors`` and copies the recipe next to the demo's other configs. Safe to stop and rerun.

    nohup .venv/bin/python scripts/make_demo_models.py --jobs 2 > /tmp/demo-models.log 2>&1 &
    .venv/bin/python scripts/make_demo_models.py --ship-only   # ship what has finished
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "src" / "dcpt" / "assets" / "demo"
RECIPE = ROOT / "configs" / "demo-finetune-shipped.yaml"
ARMS = ("scratch", "dcpt", "maskdcpt")


def _init(arm: str) -> Optional[Path]:
    """The shipped pre-trained checkpoint `arm` starts from (None: scratch)."""
    from dcpt.demo.run import init_checkpoint

    return None if arm == "scratch" else init_checkpoint(arm)


def _check_same_init(run: Path, init: Optional[Path]) -> None:
    """Stop, rather than reuse or resume `run`, if it started from other weights than `init` (a run
    left over from an earlier shipped pre-training would otherwise be shipped again)."""
    import torch
    import yaml
    from safetensors.torch import load_file

    if not (run / "config.yaml").is_file():
        return
    recorded = (yaml.safe_load((run / "config.yaml").read_text()).get("init") or {}).get("checkpoint")
    if recorded is None and init is None:
        return
    if recorded is not None and init is not None and (ROOT / recorded).is_file():  # `/` keeps absolute paths
        ours, theirs = load_file(str(init)), load_file(str(ROOT / recorded))
        if ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours):
            return
    sys.exit(
        f"{run} was fine-tuned from {recorded or 'scratch'}, not {init or 'scratch'}; delete it to start afresh"
    )


def finetune(arm: str, seed: int, work: Path) -> Path:
    """Run (or resume, or reuse) one fine-tuning; returns its final.safetensors."""
    run = work / f"{arm}-seed{seed}"
    final = run / "final.safetensors"
    init = _init(arm)
    _check_same_init(run, init)
    if final.is_file():
        return final
    cmd = [sys.executable, "-m", "dcpt", "finetune", str(RECIPE), "--out", str(run)]
    cmd += ["--set", f"train.seed={seed}", "--set", f"data.seed={seed}", "--set", "train.device=cpu"]
    if init is not None:
        cmd += ["--init", str(init)]
    if (run / "last.pt").is_file():
        cmd.append("--resume")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(work / f"{arm}-seed{seed}.log", "a") as log:
        subprocess.run(cmd, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    return final


def ship(arm: str, seed: int, final: Path) -> Path:
    """The EMA net of `final` as fp16 in the package assets (no classifier: fine-tuning drops it)."""
    import torch

    from dcpt.models.checkpoint import load_bundle, save_checkpoint

    bundle = load_bundle(final)
    init = _init(arm)
    out = ASSETS / "finetuned" / f"nafnet-tiny-{arm}-seed{seed}.safetensors"
    save_checkpoint(
        bundle.net,
        out,
        dtype=torch.float16,
        step=bundle.meta.get("step", 0),
        source=f"configs/demo-finetune-shipped.yaml, seed {seed}, init {arm} ({init.name if init else 'no pre-training'}), "
        "via scripts/make_demo_models.py",
    )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="fine-tuning seeds (default: 0,1,2)")
    parser.add_argument("--arms", default=",".join(ARMS), help="initialisations (default: all three)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each (default: 2)")
    parser.add_argument("--work", default=str(ROOT / "runs" / "ship-finetuned"), help="folder of the runs")
    parser.add_argument("--ship-only", action="store_true", help="ship the finished runs, train nothing")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    todo = [(arm, int(seed)) for seed in args.seeds.split(",") for arm in args.arms.split(",")]
    if not args.ship_only:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for (arm, seed), fut in [(job, pool.submit(finetune, *job, work)) for job in todo]:
                fut.result()
                print(f"{arm} seed {seed}: done", flush=True)
    for arm, seed in todo:
        final = work / f"{arm}-seed{seed}" / "final.safetensors"
        if final.is_file():
            out = ship(arm, seed, final)
            print(f"{arm} seed {seed}: wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    shutil.copyfile(RECIPE, ASSETS / RECIPE.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
