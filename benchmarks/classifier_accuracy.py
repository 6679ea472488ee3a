"""How well does a pre-trained classifier name the degradation of held-out images?

For each checkpoint: accuracy and confusion matrix on the held-out test photographs (camera, chelsea,
coffee), degraded with the demo's five types at levels drawn uniformly from their ranges, seen

- as square crops of each ``--crops`` size (the demo and `pretrain_gain.py` score 128-pixel crops), and
- as whole photographs (``--whole``), which is what ``dcpt classify IMAGE`` sees.

A crop can be ill-posed (Gaussian blur on a patch of clear sky looks like nothing at all); a whole
photograph rarely is. Degraded inputs are rounded to 8 bits, as a saved image would be. Everything
flows from ``--seed``, so two checkpoints are scored on the same images.

    .venv/bin/python benchmarks/classifier_accuracy.py src/dcpt/assets/demo/nafnet-tiny-dcpt.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "configs" / "demo-finetune.yaml"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+", help="checkpoints with a classifier (from `dcpt pretrain`)")
    parser.add_argument("--crops", default="64,128,256", help="comma-separated crop sides ('' for none)")
    parser.add_argument("--crops-per-image", type=int, default=20, help="crops per photograph and type")
    parser.add_argument("--whole", type=int, default=8, help="whole degraded photographs per photograph and type (0: none)")
    parser.add_argument("--config", default=str(DEMO_CONFIG), help="config whose data.val[0].classes are scored")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def class_specs(config: str) -> List[Tuple[str, dict]]:
    """``[(name, degradation spec)]`` of a config's first validation set."""
    from dcpt.config import config_from_dict, read_yaml

    cfg = config_from_dict(read_yaml(config))
    return [(c.name, {"name": c.degradation or c.name, **({"levels": list(c.levels)} if c.levels else {})})
            for c in cfg.data.val[0].classes]


def eight_bit(img: torch.Tensor) -> torch.Tensor:
    return (img.clamp(0.0, 1.0) * 255.0).round() / 255.0


def crop_views(specs, size: int, per_image: int, seed: int) -> List[Tuple[int, torch.Tensor]]:
    """``[(label, N x 3 x size x size)]``: the demo's held-out crops at side `size`."""
    from dcpt.demo.heldout import held_out_set

    return [(t.label, eight_bit(t.lq)) for t in held_out_set(specs, per_image, size, seed)]


def whole_views(specs, per_image: int, seed: int) -> List[Tuple[int, torch.Tensor]]:
    """``[(label, 1 x 3 x H x W)]``: each test photograph degraded `per_image` times per type."""
    from dcpt.data import load_samples
    from dcpt.data.synthetic import parse_classes

    g = torch.Generator().manual_seed(seed)
    views = []
    for _, img in load_samples("test"):
        for label, cls in enumerate(parse_classes([s for _, s in specs])):
            lo, hi = cls.level_range
            for _ in range(per_image):
                level = lo + (hi - lo) * torch.rand(1, generator=g, dtype=torch.float64)
                noise_seed = torch.randint(2**31 - 1, (1,), generator=g).tolist()
                views.append((label, eight_bit(cls.degrade(img[None], level, noise_seed))))
    return views


@torch.no_grad()
def confusion(net, classifier, names: Sequence[str], specs, views, batch: int = 16) -> torch.Tensor:
    """``K x (K + 1)`` counts: rows the true type (in `specs` order), columns the predicted one, the
    last column a class of the checkpoint that `specs` does not score (always wrong)."""
    from dcpt.infer.classify import class_probabilities

    column = {names.index(name): k for k, (name, _) in enumerate(specs)}  # checkpoint index -> column
    matrix = torch.zeros(len(specs), len(specs) + 1, dtype=torch.long)
    for label, images in views:
        for i in range(0, len(images), batch):
            pred = class_probabilities(net, classifier, images[i:i + batch]).argmax(dim=1)
            for p in pred.tolist():
                matrix[label, column.get(p, len(specs))] += 1
    return matrix


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from dcpt.errors import DcptError
    from dcpt.infer.classify import load_classifier

    try:
        specs = class_specs(args.config)
        views: Dict[str, list] = {f"crop{s}": crop_views(specs, int(s), args.crops_per_image, args.seed)
                                  for s in filter(None, args.crops.split(","))}
        if args.whole:
            views["whole"] = whole_views(specs, args.whole, args.seed)
        results = {}
        for ckpt in args.ckpts:
            net, classifier, names = load_classifier(ckpt)
            missing = [n for n, _ in specs if n not in names]
            if missing:
                raise DcptError(f"{ckpt}: its classifier does not know {missing}")
            results[ckpt] = {}
            for view, items in views.items():
                m = confusion(net, classifier, names, specs, items)
                acc = float(m[:, :-1].trace()) / float(m.sum())
                per_type = {n: float(m[i, i]) / max(float(m[i].sum()), 1.0) for i, (n, _) in enumerate(specs)}
                results[ckpt][view] = {"accuracy": acc, "per_type": per_type, "confusion": m.tolist(),
                                       "count": int(m.sum())}
                print(f"{Path(ckpt).name} {view:>8}: {100 * acc:5.1f}% of {int(m.sum())}  "
                      + "  ".join(f"{n} {100 * v:.0f}%" for n, v in per_type.items()))
    except DcptError as exc:
        sys.exit(f"error: {exc}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seed": args.seed, "classes": [n for n, _ in specs],
                                               "results": results}, indent=1))
    for ckpt, by_view in results.items():
        print(f"accuracy {Path(ckpt).name} " + " ".join(f"{v}={r['accuracy']:.4f}" for v, r in by_view.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
