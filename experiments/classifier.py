"""How well does a pre-trained classifier name the degradation of held-out images?

A pre-training's checkpoint (shipped, or trained in the work folder if it is not there yet) is scored on
the held-out test photographs (camera, chelsea, coffee), degraded with the demo's five types at levels
drawn uniformly from their ranges, seen as square crops of each ``--crops`` size (the demo and the study
score 128-pixel crops) and as whole photographs, which is what ``dcpt classify IMAGE`` sees. A crop can
be ill-posed (Gaussian blur on a patch of clear sky looks like nothing at all); a whole photograph
rarely is. Degraded inputs are rounded to 8 bits, as a saved image would be. Everything flows from
``--image-seed``, so two checkpoints are scored on the same images. One row per view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

from . import results as store
from .arms import Pretraining
from .results import ClassifierRow

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "demo-finetune.yaml"


def views(crops: str, crops_per_image: int, whole: int, image_seed: int):
    """(classes in the config's order, {view: held-out types}), 8-bit rounded."""
    from dcpt.config import config_from_dict, read_yaml
    from dcpt.demo.heldout import class_specs, held_out_set, quantize, whole_image_set

    specs = class_specs(config_from_dict(read_yaml(DEMO_CONFIG)).data.val[0].classes)
    out: Dict[str, list] = {
        f"crop{size}": held_out_set(specs, crops_per_image, int(size), image_seed)
        for size in filter(None, crops.split(","))
    }
    if whole:
        out["whole"] = whole_image_set(specs, whole, image_seed)
    for types in out.values():
        for t in types:
            t.lq = quantize(t.lq)
    return [name for name, _ in specs], out


def score(checkpoint: Path, classes: Sequence[str], held_out: Dict[str, list]) -> Dict[str, Dict]:
    """{view: accuracy, per-type accuracy, confusion (rows: true type in `classes` order; columns: the
    checkpoint's class names, `predicted`), count}."""
    from dcpt.demo.heldout import confusion_matrix
    from dcpt.infer.classify import load_classifier

    net, classifier, names = load_classifier(str(checkpoint))
    out = {}
    for view, types in held_out.items():
        m = confusion_matrix(net, classifier, names, types)
        idx = [names.index(n) for n in classes]
        out[view] = {
            "accuracy": float(m.trace()) / float(m.sum()),
            "per_type": {n: float(m[j, j]) / max(float(m[j].sum()), 1.0) for n, j in zip(classes, idx)},
            "confusion": m[idx].tolist(),
            "predicted": list(names),
            "count": int(m.sum()),
        }
    return out


def classify(p: Pretraining, seeds: List[int], args) -> List[ClassifierRow]:
    import torch

    from .runner import code_version, pretrained

    torch.set_num_threads(args.threads)
    classes, held_out = views(args.crops, args.crops_per_image, args.whole, args.image_seed)
    done = {r.key for r in store.read(args.results).classifier()}
    made = []
    for seed in seeds:
        todo = {v: t for v, t in held_out.items() if (p.name, seed, v, args.image_seed) not in done}
        if not todo:
            print(f"skip {p.name} seed {seed}: every view is in {args.results}", flush=True)
            continue
        checkpoint, _, _ = pretrained(p, seed, Path(args.work))
        for view, r in score(checkpoint, classes, todo).items():
            row = ClassifierRow(
                p.name, seed, view, args.image_seed, classes=list(classes), **r, **code_version()
            )
            store.append(row, args.results)
            made.append(row)
            print(
                f"{p.name} seed {seed} {view:>8}: {100 * row.accuracy:5.1f}% of {row.count}  "
                + "  ".join(f"{n} {100 * v:.0f}%" for n, v in row.per_type.items()),
                flush=True,
            )
    return made
