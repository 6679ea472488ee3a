"""Every table `docs/experiments.md` shows, by id, computed from the results file alone.

A table is registered with ``@table(id, title)``; ``python -m experiments tables --markdown`` prints each
after a ``<!-- table: id -->`` line, as the doc carries it, and a test checks that the doc's copies are
verbatim. PSNR in dB; gains are paired by fine-tuning seed against the named baseline arm; ``x ± y`` is
the mean and sample standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .arms import ARMS, PRETRAININGS
from .results import ClassifierRow, RestoreRow, Results
from .summary import compress, fmt, mean, paired_gains, seeds_cell

SHORT = {"gaussian_noise": "noise", "gaussian_blur": "blur", "low_light": "low light"}
VIEWS = ("crop64", "crop128", "crop256", "whole")


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    render: Callable[[Results], str]


TABLES: Dict[str, Table] = {}


def table(id: str, title: str):
    def register(fn: Callable[[Results], str]) -> Callable[[Results], str]:
        if id in TABLES:
            raise ValueError(f"table {id!r} is registered twice")
        TABLES[id] = Table(id, title, fn)
        return fn

    return register


def markdown(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])


def _types(results: Results) -> List[str]:
    first = results.restore()[0]
    return [t for t in first.psnr if t != "average"]


def _rows(results: Results, arm: str, pre: Optional[Sequence[int]] = None, fine=None) -> List[RestoreRow]:
    return [
        r
        for r in results.restore(arm)
        if (pre is None or r.pretrain_seed in pre) and (fine is None or r.finetune_seed in fine)
    ]


def _accuracy(rows: Sequence[RestoreRow]) -> str:
    """The pre-trained classifier's held-out accuracy (%), one value per pre-training seed."""
    per_seed = {
        r.pretrain_seed: 100 * r.classifier_accuracy for r in rows if r.classifier_accuracy is not None
    }
    return fmt(list(per_seed.values()), digits=1)


def gain_table(results: Results, arms: Sequence[str], fine: Optional[Sequence[int]] = None) -> str:
    """One line per arm over all its rows (fine-tuning seeds `fine` only, if given): PSNR per type (mean)
    and average, the paired gain over its baseline, how many rows are ahead, the classifier's accuracy."""
    types = _types(results)
    head = ["arm", "baseline", "P", "F", "seeds (pre x fine)"] + [SHORT.get(t, t) for t in types]
    head += ["average", "gain (paired)", "ahead", "classifier %"]
    body = []
    for name in arms:
        arm = ARMS[name]
        rows = _rows(results, name, fine=fine)
        if not rows:
            raise ValueError(f"table asks for arm {name!r}, which has no rows")
        gains: List[float] = []
        if arm.baseline:
            base = _rows(results, arm.baseline, fine=fine)
            for pre in sorted({r.pretrain_seed for r in rows}, key=lambda s: -1 if s is None else s):
                gains += [g for _, g in paired_gains([r for r in rows if r.pretrain_seed == pre], base)]
        body.append(
            [
                name,
                arm.baseline or "-",
                str(rows[0].pretrain_steps),
                str(arm.finetune_steps),
                seeds_cell(rows),
            ]
            + [f"{mean([r.psnr[t] for r in rows]):.2f}" for t in types]
            + [fmt([r.psnr["average"] for r in rows])]
            + [f"{fmt(gains, signed=True)} (n={len(gains)})" if gains else "-"]
            + [f"{sum(g > 0 for g in gains)}/{len(gains)}" if gains else "-", _accuracy(rows)]
        )
    return markdown(head, body)


# (label, [(arm, pre-training seeds)]): one method's checkpoints, gathered from the arms that hold them
Group = Tuple[str, Sequence[Tuple[str, Sequence[int]]]]


def _members(
    results: Results, group: Group, pre: Optional[Sequence[int]], fine
) -> List[Tuple[str, int, list]]:
    """(pre-training seed label, seed, rows) for each pre-training seed of a group."""
    out = []
    for arm, seeds in group[1]:
        shipped = PRETRAININGS[ARMS[arm].pretraining].shipped
        for seed in seeds:
            if pre is not None and seed not in pre:
                continue
            rows = _rows(results, arm, (seed,), fine)
            out.append((f"{seed} (shipped)" if shipped else str(seed), seed, rows))
    return sorted(out, key=lambda m: m[1])


def seed_table(results: Results, groups: Sequence[Group], pre=None, fine=None) -> str:
    """One line per (method, pre-training seed) over its fine-tuning seeds, then the method's mean and
    spread over its seeds' mean gains: the pre-training run's share of the spread."""
    head = [
        "method",
        "pre-training seed",
        "fine-tuning seeds",
        "classifier %",
        "average",
        "gain (paired)",
        "ahead",
    ]
    body = []
    for group in groups:
        seed_means = []
        for label, _, rows in _members(results, group, pre, fine):
            gains = [g for _, g in paired_gains(rows, _rows(results, ARMS[rows[0].arm].baseline, fine=fine))]
            seed_means.append(mean(gains))
            body.append(
                [group[0], label, compress(r.finetune_seed for r in rows), _accuracy(rows)]
                + [f"{mean([r.psnr['average'] for r in rows]):.2f}", fmt(gains, signed=True)]
                + [f"{sum(g > 0 for g in gains)}/{len(gains)}"]
            )
        if len(seed_means) > 1:
            body.append(
                [f"**{group[0]}**", f"**mean of {len(seed_means)}**", "-", "-", "-"]
                + [
                    f"**{fmt(seed_means, signed=True)}**",
                    f"{sum(g > 0 for g in seed_means)}/{len(seed_means)}",
                ]
            )
    return markdown(head, body)


def seed_per_type_table(results: Results, groups: Sequence[Group], pre=None, fine=None) -> str:
    """Each (method, pre-training seed)'s mean paired gain per degradation type."""
    types = _types(results) + ["average"]
    head = ["method", "pre-training seed"] + [SHORT.get(t, t) for t in types]
    body = []
    for group in groups:
        for label, _, rows in _members(results, group, pre, fine):
            base = _rows(results, ARMS[rows[0].arm].baseline, fine=fine)
            cells = [f"{mean([g for _, g in paired_gains(rows, base, t)]):+.2f}" for t in types]
            body.append([group[0], label] + cells)
    return markdown(head, body)


def difference_table(results: Results, pairs: Sequence[Tuple[str, str]]) -> str:
    """`arm` minus `other` on the five-type average, per fine-tuning seed both have."""
    head = ["arm", "minus", "fine-tuning seeds", "per seed", "mean"]
    body = []
    for arm, other in pairs:
        diffs = paired_gains(_rows(results, arm), _rows(results, other))
        body.append(
            [arm, other, compress(s for s, _ in diffs), " / ".join(f"{d:+.2f}" for _, d in diffs)]
            + [fmt([d for _, d in diffs], signed=True)]
        )
    return markdown(head, body)


def _classifier(results: Results) -> Dict[Tuple[str, int], Dict[str, ClassifierRow]]:
    out: Dict[Tuple[str, int], Dict[str, ClassifierRow]] = {}
    for row in results.classifier():
        out.setdefault((row.pretraining, row.pretrain_seed), {})[row.view] = row
    return out


def _study_accuracy(results: Results, pretraining: str, seed: int) -> str:
    rows = [
        r
        for r in results.restore()
        if ARMS[r.arm].pretraining == pretraining
        and r.pretrain_seed == seed
        and r.classifier_accuracy is not None
    ]
    return f"{100 * rows[0].classifier_accuracy:.1f}" if rows else "-"


# --- the tables -----------------------------------------------------------------------------------
SEEDS_LR_1E3: List[Group] = [
    ("DCPT", [("dcpt-shipped-lr-1e-3", (0,)), ("dcpt-lr-1e-3", (1, 2, 3, 4))]),
    ("MaskDCPT", [("maskdcpt-shipped-lr-1e-3", (0,)), ("maskdcpt-lr-1e-3", (1, 2, 3, 4))]),
]
RELEASE: List[Group] = [("MaskDCPT as released", [("maskdcpt-release-lr-1e-3", (0, 1, 2))])]
ABLATIONS: List[Group] = [
    ("MaskDCPT", [("maskdcpt-shipped-lr-1e-3", (0,))]),
    ("MaskDCPT, no classification", [("maskdcpt-rec-only-lr-1e-3", (0, 1))]),
    ("DCPT", [("dcpt-shipped-lr-1e-3", (0,))]),
    ("DCPT, classifier on the encoder", [("dcpt-taps-encoder-lr-1e-3", (0,))]),
]


@table(
    "seeds-lr-1e-3", "DCPT and MaskDCPT over five pre-training x five fine-tuning seeds (lr 1e-3, F = 1200)"
)
def _seeds_lr_1e3(results: Results) -> str:
    return seed_table(results, SEEDS_LR_1E3)


@table("seeds-lr-1e-3-per-type", "The same, gain per degradation type (mean over fine-tuning seeds)")
def _seeds_lr_1e3_per_type(results: Results) -> str:
    return seed_per_type_table(results, SEEDS_LR_1E3)


@table("lr-3e-4", "Every arm at the first protocol (lr 3e-4, F = 1200): P = 2000 and P = 4000, controls")
def _lr_3e4(results: Results) -> str:
    arms = ["input", "scratch", "scratch-identity", "dcpt-p2000", "maskdcpt-p2000", "dcpt", "maskdcpt"]
    return gain_table(results, arms + ["maskdcpt-scale", "dcpt-shipped", "maskdcpt-shipped"])


@table("compute-matched", "Scratch given the pre-training's steps as extra fine-tuning")
def _compute_matched(results: Results) -> str:
    return gain_table(results, ["scratch", "scratch-f3200", "maskdcpt-f3200"])


@table("compute-matched-per-seed", "Scratch at P + F steps minus the pre-trained arms, per seed")
def _compute_matched_per_seed(results: Results) -> str:
    pairs = [("scratch-f3200", "dcpt-p2000"), ("scratch-f3200", "maskdcpt-p2000")]
    return difference_table(results, pairs + [("scratch-lr-1e-3-f2400", "maskdcpt-shipped-lr-1e-3")])


@table("finetune-lr", "The fine-tuning learning rate, shipped checkpoints against scratch at the same rate")
def _finetune_lr(results: Results) -> str:
    arms = [
        f"{m}{tag}"
        for tag in ("", "-lr-1e-3", "-lr-2e-3")
        for m in ("scratch", "dcpt-shipped", "maskdcpt-shipped")
    ]
    return gain_table(results, arms)


@table("warmup", "A 200-step warm-up instead of 20 (lr 1e-3, F = 1200, fine-tuning seeds 0-2)")
def _warmup(results: Results) -> str:
    arms = [
        f"{m}-lr-1e-3{tag}"
        for tag in ("", "-warmup-200")
        for m in ("scratch", "dcpt-shipped", "maskdcpt-shipped")
    ]
    return gain_table(results, arms, fine=(0, 1, 2))


@table("longer-finetune", "Twice the fine-tuning (F = 2400, lr 1e-3, fine-tuning seeds 0-2)")
def _longer_finetune(results: Results) -> str:
    arms = [
        f"{m}-lr-1e-3{tag}" for tag in ("", "-f2400") for m in ("scratch", "dcpt-shipped", "maskdcpt-shipped")
    ]
    return gain_table(results, arms, fine=(0, 1, 2))


@table("ablations", "Is the classification doing the work? (lr 1e-3, F = 1200)")
def _ablations(results: Results) -> str:
    return seed_table(results, ABLATIONS)


@table("ablations-per-type", "The ablations' gain per degradation type")
def _ablations_per_type(results: Results) -> str:
    return seed_per_type_table(results, ABLATIONS)


@table(
    "release-seeds", "MaskDCPT as released, three pre-training x three fine-tuning seeds (lr 1e-3, F = 1200)"
)
def _release_seeds(results: Results) -> str:
    return seed_table(results, RELEASE)


@table("release-per-type", "MaskDCPT as released, gain per degradation type")
def _release_per_type(results: Results) -> str:
    return seed_per_type_table(results, RELEASE)


@table(
    "release-vs-own",
    "The release's masking, dcpt's own masking and DCPT on the same seeds (pre 0-2 x fine 0-2)",
)
def _release_vs_own(results: Results) -> str:
    return seed_table(results, RELEASE + SEEDS_LR_1E3[::-1], pre=(0, 1, 2), fine=(0, 1, 2))


@table(
    "classifier-views",
    "Held-out classifier accuracy (%) by view: crops of 64 / 128 / 256 px, whole photographs",
)
def _classifier_views(results: Results) -> str:
    head = ["pre-training", "seed", "P"] + list(VIEWS) + ["whole: images", "study's 200 crops"]
    body = []
    for (name, seed), views in _classifier(results).items():
        cells = [f"{100 * views[v].accuracy:.1f}" if v in views else "-" for v in VIEWS]
        count = str(views["whole"].count) if "whole" in views else "-"
        body.append(
            [name, str(seed), str(PRETRAININGS[name].steps)]
            + cells
            + [count, _study_accuracy(results, name, seed)]
        )
    return markdown(head, body)


@table("classifier-per-type", "Held-out classifier accuracy (%) per type, 128 px crops and whole photographs")
def _classifier_per_type(results: Results) -> str:
    classes = results.classifier()[0].classes
    head = ["pre-training", "seed", "view"] + [SHORT.get(c, c) for c in classes]
    body = []
    for (name, seed), views in _classifier(results).items():
        for view in ("crop128", "whole"):
            if view in views:
                cells = [f"{100 * views[view].per_type[c]:.0f}" for c in classes]
                body.append([name, str(seed), view] + cells)
    return markdown(head, body)


@table("demo", "`make demo` on the two quiet CPU cores (one fine-tuning seed, 12 crops per type)")
def _demo(results: Results) -> str:
    head = [
        "run",
        "threads",
        "wall time",
        "scratch",
        "DCPT",
        "MaskDCPT",
        "DCPT classifier %",
        "MaskDCPT classifier %",
    ]
    body = []
    for row in results.demo():
        minutes, seconds = divmod(round(row.wall_s), 60)
        psnr = [f"{row.average_psnr[m]:.2f}" for m in ("scratch", "dcpt", "maskdcpt")]
        acc = [f"{100 * row.classifier_accuracy[m]:.1f}" for m in ("dcpt", "maskdcpt")]
        body.append([row.name, str(row.threads), f"{minutes} min {seconds} s"] + psnr + acc)
    return markdown(head, body)


@table("study-1", "Study 1 (retired code): P = 200, F = 400, lr 3e-4, the old level ranges")
def _study_1(results: Results) -> str:
    arms = ["v1-input", "v1-scratch", "v1-scratch-identity", "v1-dcpt", "v1-maskdcpt", "v1-dcpt-cls-only"]
    return gain_table(results, arms + ["v1-maskdcpt-cls-5"])


def render(results: Results, ids: Optional[Sequence[str]] = None, markers: bool = False) -> str:
    """The tables `ids` (all by default), each under its title, or (`markers`) under ``<!-- table: id -->``."""
    out = []
    for id in ids or list(TABLES):
        if id not in TABLES:
            raise KeyError(f"unknown table {id!r}; known: {', '.join(TABLES)}")
        t = TABLES[id]
        head = f"<!-- table: {id} -->" if markers else f"## {id}: {t.title}\n"
        out.append(f"{head}\n{t.render(results)}")
    return "\n\n".join(out) + "\n"
