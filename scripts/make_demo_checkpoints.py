"""Make the demo's shipped checkpoints from the committed configs, the way a maintainer refreshes them.

For each pre-training (DCPT; MaskDCPT with dcpt's own masking, the studies' and the app's; MaskDCPT
with the release's masking, the demo's) it runs ``dcpt pretrain configs/demo-pretrain-<name>.yaml``
into ``<work>/demo-pretrain-<name>`` (resuming an interrupted run), then writes the exported EMA
net and its classifier to ``src/dcpt/assets/demo/nafnet-tiny-<name>.safetensors`` with fp16
tensors (half the size; loading casts back to fp32), and copies the config next to it, which
``dcpt demo --pretrain`` runs for the pre-trainings named by ``dcpt.demo.run.PRETRAINING``.

    .venv/bin/python scripts/make_demo_checkpoints.py            # all three, one after the other
    .venv/bin/python scripts/make_demo_checkpoints.py --only dcpt  # e.g. one per core, in parallel
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "src" / "dcpt" / "assets" / "demo"
PRETRAININGS = ("dcpt", "maskdcpt", "maskdcpt-release")


def pretrain(name: str, work: Path) -> Path:
    """Run (or resume, or reuse) the committed pre-training config; returns its final checkpoint."""
    run = work / f"demo-pretrain-{name}"
    final = run / "final.safetensors"
    committed = ROOT / "configs" / f"demo-pretrain-{name}.yaml"
    if (run / "config.yaml").is_file() and _resolved(run / "config.yaml") != _resolved(committed):
        sys.exit(f"{run} was made from another config than {committed}; delete it to pre-train afresh")
    if final.is_file():
        return final
    cmd = [sys.executable, "-m", "dcpt", "pretrain", str(committed), "--out", str(run)]
    if (run / "last.pt").is_file():
        cmd.append("--resume")
    subprocess.run(cmd, check=True)
    return final


def _resolved(path: Path) -> dict:
    """A config as the engine sees it (defaults filled in), without the run folder."""
    from dcpt.config import config_from_dict, config_to_dict, read_yaml

    resolved = config_to_dict(config_from_dict(read_yaml(path), []))
    resolved.pop("out", None)
    return resolved


def ship(name: str, final: Path) -> Path:
    """Copy the net and classifier of `final` into the package assets as fp16, with its config."""
    import torch

    from dcpt.models.checkpoint import load_bundle, save_checkpoint

    bundle = load_bundle(final)
    out = ASSETS / f"nafnet-tiny-{name}.safetensors"
    meta = dict(bundle.meta.get("meta", {}))
    meta["source"] = f"configs/demo-pretrain-{name}.yaml via scripts/make_demo_checkpoints.py"
    save_checkpoint(
        bundle.net,
        out,
        classifier=bundle.classifier,
        class_names=bundle.class_names,
        dtype=torch.float16,
        step=bundle.meta.get("step", 0),
        **meta,
    )
    shutil.copyfile(ROOT / "configs" / f"demo-pretrain-{name}.yaml", ASSETS / f"demo-pretrain-{name}.yaml")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=PRETRAININGS, help="make one checkpoint only")
    parser.add_argument("--work", default=str(ROOT / "runs" / "ship"), help="folder of the pre-training runs")
    args = parser.parse_args(argv)
    for name in [args.only] if args.only else PRETRAININGS:
        out = ship(name, pretrain(name, Path(args.work)))
        print(f"{name}: wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    shutil.copyfile(ROOT / "configs" / "demo-finetune.yaml", ASSETS / "demo-finetune.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
