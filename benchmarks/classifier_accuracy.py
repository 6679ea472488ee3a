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
from typing import Dict, List, Tuple

import torch

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "configs" / "demo-finetune.yaml"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+", help="checkpoints with a classifier (from `dcpt pretrain`)")
    parser.add_argument("--crops", default="64,128,256", help="comma-separated crop sides ('' for none)")
    parser.add_argument("--crops-per-image", type=int, default=20, help="crops per photograph and type")
    parser.add_argument(
        "--whole", type=int, default=8, help="whole degraded photographs per photograph and type (0: none)"
    )
    parser.add_argument(
        "--config", default=str(DEMO_CONFIG), help="config whose data.val[0].classes are scored"
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def config_classes(config: str) -> List[Tuple[str, dict]]:
    """``[(name, degradation spec)]`` of a config's first validation set."""
    from dcpt.config import config_from_dict, read_yaml
    from dcpt.demo.heldout import class_specs

    return class_specs(config_from_dict(read_yaml(config)).data.val[0].classes)


def eight_bit(types: List) -> List:
    """The held-out images as a saved 8-bit file would hold them."""
    from dcpt.demo.heldout import quantize

    for t in types:
        t.lq = quantize(t.lq)
    return types


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from dcpt.demo.heldout import confusion_matrix, held_out_set, whole_image_set
    from dcpt.errors import DcptError
    from dcpt.infer.classify import load_classifier

    try:
        specs = config_classes(args.config)
        views: Dict[str, list] = {
            f"crop{size}": eight_bit(held_out_set(specs, args.crops_per_image, int(size), args.seed))
            for size in filter(None, args.crops.split(","))
        }
        if args.whole:
            views["whole"] = eight_bit(whole_image_set(specs, args.whole, args.seed))
        order = [name for name, _ in specs]
        results = {}
        for ckpt in args.ckpts:
            net, classifier, names = load_classifier(ckpt)
            results[ckpt] = {}
            for view, types in views.items():
                m = confusion_matrix(net, classifier, names, types)
                idx = [names.index(n) for n in order]  # the config's types, in its order
                acc = float(m.trace()) / float(m.sum())
                per_type = {n: float(m[j, j]) / max(float(m[j].sum()), 1.0) for n, j in zip(order, idx)}
                results[ckpt][view] = {
                    "accuracy": acc,
                    "per_type": per_type,
                    "confusion": m[idx].tolist(),
                    "predicted": list(names),
                    "count": int(m.sum()),
                }
                print(
                    f"{Path(ckpt).name} {view:>8}: {100 * acc:5.1f}% of {int(m.sum())}  "
                    + "  ".join(f"{n} {100 * v:.0f}%" for n, v in per_type.items())
                )
    except DcptError as exc:
        sys.exit(f"error: {exc}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"seed": args.seed, "classes": order, "results": results}, indent=1)
        )
    for ckpt, by_view in results.items():
        print(
            f"accuracy {Path(ckpt).name} " + " ".join(f"{v}={r['accuracy']:.4f}" for v, r in by_view.items())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
