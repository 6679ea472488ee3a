"""The demo's shipped fine-tuned nets: where they live, and their held-out scores as mean and spread.

The demo's verdict (scratch vs DCPT init vs MaskDCPT init) comes from evaluating these files, never
from a live training run: evaluation is deterministic up to floating-point round-off, so every machine
prints the same table, while a short fine-tuning amplifies another CPU's round-off into different
figures. The files are made offline by ``scripts/make_demo_models.py`` from
``configs/demo-finetune-shipped.yaml``, several fine-tuning seeds per initialisation, stored as fp16.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

from ..errors import DcptError

FINETUNED = Path(__file__).resolve().parent.parent / "assets" / "demo" / "finetuned"
ARMS = ("scratch", "dcpt", "maskdcpt")
_NAME = re.compile(r"nafnet-tiny-(?P<arm>scratch|dcpt|maskdcpt)-seed(?P<seed>\d+)\.safetensors")


def shipped_file(arm: str, seed: int, folder: Path = FINETUNED) -> Path:
    return folder / f"nafnet-tiny-{arm}-seed{seed}.safetensors"


def shipped_models(folder: Path = FINETUNED) -> Dict[str, List[Path]]:
    """``{arm: [file, ...]}`` in seed order, for every arm; a missing arm is a one-line error."""
    found: Dict[str, List[tuple]] = {arm: [] for arm in ARMS}
    for path in folder.glob("*.safetensors") if folder.is_dir() else ():
        match = _NAME.fullmatch(path.name)
        if match:
            found[match["arm"]].append((int(match["seed"]), path))
    empty = [arm for arm, files in found.items() if not files]
    if empty:
        raise DcptError(
            f"the shipped fine-tuned nets for {', '.join(empty)} are missing from {folder}; "
            "scripts/make_demo_models.py makes them"
        )
    return {arm: [path for _, path in sorted(files)] for arm, files in found.items()}


def summarise(per_seed: Sequence[Dict[str, Dict[str, float]]]) -> Dict[str, Dict[str, List[float]]]:
    """Score tables of several seeds (``{"psnr": {type: dB}, "ssim": {...}}``) -> the same keys with
    ``[mean, sd]`` per type, rounded to 4 decimals (what report.json stores)."""
    out: Dict[str, Dict[str, List[float]]] = {}
    for metric in per_seed[0]:
        out[metric] = {}
        for key in per_seed[0][metric]:
            values = [table[metric][key] for table in per_seed]
            mean, sd = statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
            out[metric][key] = [round(mean, 4), round(sd, 4)]
    return out


def evaluate_shipped(
    types, files: Dict[str, List[Path]], tick: Callable[[], None] = lambda: None
) -> Tuple[Dict[str, List[Dict]], Dict[str, Dict]]:
    """Score the shipped nets on the held-out `types`: ``{arm: [score table per seed]}``, and
    ``{arm: {type: restored crops}}`` of each arm's first seed (the images the grid shows). `tick` is
    called after each net (a progress bar's update)."""
    import torch

    from ..models.checkpoint import load_checkpoint
    from .heldout import restore_all, score

    tables: Dict[str, List[Dict]] = {}
    shown: Dict[str, Dict] = {}
    with torch.no_grad():
        for arm, paths in files.items():
            tables[arm] = []
            for path in paths:
                net = load_checkpoint(path).eval()
                restored = {t.name: restore_all(net, t.lq).clamp(0.0, 1.0) for t in types}
                tables[arm].append(score(restored, types))
                shown.setdefault(arm, restored)
                tick()
    return tables, shown
