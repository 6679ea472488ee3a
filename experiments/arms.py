"""Every pre-training and every arm of the pre-training study, declared once and typed.

A *pre-training* is a recipe that makes a checkpoint: a committed config, its step count and overrides,
or a shipped file. An *arm* is one way to start and fine-tune a restoration net (the degraded input
itself, scratch, an identity start, or a pre-training's checkpoint), its fine-tuning steps and overrides,
the arm its gain is paired against (same fine-tuning seed), and the (pre-training seed, fine-tuning seed)
pairs the study ran. An arm never changes after it has rows: a new setting is a new arm.

Every row of `results/results.jsonl` names one arm and its two seeds; nothing is parsed from a name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Dict, Iterable, Literal, Optional, Tuple

Seeds = Tuple[Tuple[Optional[int], int], ...]
Init = Literal["input", "scratch", "identity", "pretrained"]
INITS = ("input", "scratch", "identity", "pretrained")

# The study's fine-tuning base, pinned so that arms keep their meaning when the demo's config changes:
# every arm without an lr override fine-tunes at 3e-4 (the demo now uses 1e-3, the `*-lr-1e-3` arms).
STUDY_FINE = ("objective.name=restore", "optim.lr=3.0e-4")
LR_1E3 = ("optim.lr=1.0e-3",)
# Study 1 ran code that no longer exists: NAFNet's masked forward was sparse in the decoder too, and the
# demo classes used each op's whole level range. Its arms are kept for their rows; they cannot be re-run.
V1_RETIRED = "study 1 ran a sparse-decoder MaskDCPT and the old level ranges, neither of which exists now"
# The MaskDCPT release's masking (issue 18): the mask kept through the decoder, the reconstruction scored
# on visible pixels, the classifier on the decoder stages.
RELEASE_MASKING = ("objective.mask_through=all", "objective.classifier_taps=decoder")


@dataclass(frozen=True)
class Pretraining:
    """A recipe that makes a checkpoint with a classifier: `configs/demo-pretrain-<objective>.yaml` at
    `steps` with `overrides`, or (`shipped`) a file in `src/dcpt/assets/demo/` made by
    `scripts/make_demo_checkpoints.py` with seed `shipped_seed` of the `steps`-step recipe."""

    name: str
    objective: Literal["dcpt", "maskdcpt"]
    steps: int
    overrides: Tuple[str, ...] = ()
    shipped: Optional[str] = None
    shipped_seed: int = 0
    retired: Optional[str] = None

    @property
    def config(self) -> str:
        return f"demo-pretrain-{self.objective}.yaml"


@dataclass(frozen=True)
class Arm:
    """One arm: how its net starts, how it is fine-tuned, what its gain is paired against."""

    name: str
    init: Init
    finetune_steps: int
    seeds: Seeds
    pretraining: Optional[str] = None
    finetune_overrides: Tuple[str, ...] = ()
    baseline: Optional[str] = None
    retired: Optional[str] = None
    note: str = ""


PRETRAININGS: Dict[str, Pretraining] = {}
ARMS: Dict[str, Arm] = {}


def _add_pretraining(p: Pretraining) -> Pretraining:
    if p.name in PRETRAININGS:
        raise ValueError(f"pre-training {p.name!r} is declared twice")
    PRETRAININGS[p.name] = p
    return p


def _add(arm: Arm) -> Arm:
    if arm.name in ARMS:
        raise ValueError(f"arm {arm.name!r} is declared twice")
    ARMS[arm.name] = arm
    return arm


def _lookup(table: Dict, name: str, what: str):
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(table)}"
        raise KeyError(f"unknown {what} {name!r}{hint}")
    return table[name]


def get_arm(name: str) -> Arm:
    return _lookup(ARMS, name, "arm")


def get_pretraining(name: str) -> Pretraining:
    return _lookup(PRETRAININGS, name, "pre-training")


def fine_only(seeds: Iterable[int]) -> Seeds:
    """Seed pairs of an arm that does not pre-train."""
    return tuple((None, s) for s in seeds)


def diagonal(seeds: Iterable[int]) -> Seeds:
    """Each pre-training seed fine-tuned with the same seed (the first studies' design)."""
    return tuple((s, s) for s in seeds)


def cross(pretrain: Iterable[int], fine: Iterable[int]) -> Seeds:
    """Every pre-training seed under every fine-tuning seed: the pre-training run's share of the spread
    separates from the fine-tuning run's."""
    fine = tuple(fine)
    return tuple((p, f) for p in pretrain for f in fine)


# --- pre-trainings -------------------------------------------------------------------------------
for _objective in ("dcpt", "maskdcpt"):
    _add_pretraining(Pretraining(f"{_objective}-p2000", _objective, 2000))
    _add_pretraining(Pretraining(_objective, _objective, 4000))
    _add_pretraining(
        Pretraining(
            f"{_objective}-shipped", _objective, 4000, shipped=f"nafnet-tiny-{_objective}.safetensors"
        )
    )
    _add_pretraining(Pretraining(f"v1-{_objective}", _objective, 200, retired=V1_RETIRED))
_add_pretraining(
    Pretraining("v1-dcpt-cls-only", "dcpt", 200, ("objective.rec_weight=0",), retired=V1_RETIRED)
)
_add_pretraining(
    Pretraining("v1-maskdcpt-cls-5", "maskdcpt", 200, ("objective.cls_weight=5",), retired=V1_RETIRED)
)
# crops cut from photographs shrunk by a random factor in [0.5, 1]: ten photographs seen at many sizes
_add_pretraining(Pretraining("maskdcpt-scale", "maskdcpt", 4000, ("data.scale_range=[0.5, 1]",)))
_add_pretraining(Pretraining("dcpt-taps-encoder", "dcpt", 4000, ("objective.classifier_taps=encoder",)))
_add_pretraining(Pretraining("maskdcpt-rec-only", "maskdcpt", 4000, ("objective.cls_weight=0",)))
_add_pretraining(Pretraining("maskdcpt-release", "maskdcpt", 4000, RELEASE_MASKING))
_add_pretraining(
    Pretraining("maskdcpt-release-rec-only", "maskdcpt", 4000, RELEASE_MASKING + ("objective.cls_weight=0",))
)

# --- the lr 3e-4 protocol (studies 2 and 3) ----------------------------------------------------------
_add(Arm("input", "input", 0, fine_only(range(3)), note="the degraded crops themselves, no restoration"))
_add(Arm("scratch", "scratch", 1200, fine_only(range(5))))
_add(
    Arm(
        "scratch-identity",
        "identity",
        1200,
        fine_only(range(3)),
        baseline="scratch",
        note="scratch with NAFNet's last conv zeroed, so the net starts as the identity",
    )
)
_add(
    Arm(
        "scratch-f3200",
        "scratch",
        3200,
        fine_only(range(3)),
        baseline="scratch",
        note="scratch for P + F = 2000 + 1200 steps: the compute of a P = 2000 pre-trained arm",
    )
)
for _objective in ("dcpt", "maskdcpt"):
    _add(
        Arm(
            f"{_objective}-p2000",
            "pretrained",
            1200,
            diagonal(range(3)),
            f"{_objective}-p2000",
            baseline="scratch",
        )
    )
    _add(Arm(_objective, "pretrained", 1200, diagonal(range(3)), _objective, baseline="scratch"))
    _add(
        Arm(
            f"{_objective}-shipped",
            "pretrained",
            1200,
            cross((0,), range(5)),
            f"{_objective}-shipped",
            baseline="scratch",
        )
    )
_add(Arm("maskdcpt-f3200", "pretrained", 3200, diagonal(range(3)), "maskdcpt", baseline="scratch-f3200"))
_add(Arm("maskdcpt-scale", "pretrained", 1200, diagonal(range(2)), "maskdcpt-scale", baseline="scratch"))

# --- fine-tuning rate, warm-up and length, each against scratch at the same setting ------------------
FINE_SETTINGS = {
    "lr-1e-3": (LR_1E3, 1200, range(5)),
    "lr-2e-3": (("optim.lr=2.0e-3",), 1200, range(1)),
    "lr-1e-3-f2400": (LR_1E3, 2400, range(3)),
    "lr-1e-3-warmup-200": (LR_1E3 + ("optim.warmup_steps=200",), 1200, range(3)),
}
for _tag, (_fine, _steps, _seeds) in FINE_SETTINGS.items():
    _add(Arm(f"scratch-{_tag}", "scratch", _steps, fine_only(_seeds), finetune_overrides=_fine))
    for _objective in ("dcpt", "maskdcpt"):
        _add(
            Arm(
                f"{_objective}-shipped-{_tag}",
                "pretrained",
                _steps,
                cross((0,), _seeds),
                f"{_objective}-shipped",
                _fine,
                baseline=f"scratch-{_tag}",
            )
        )

# --- at the tuned rate: fresh pre-training seeds, ablations, the release's masking -------------------
for _objective in ("dcpt", "maskdcpt"):
    _add(
        Arm(
            f"{_objective}-lr-1e-3",
            "pretrained",
            1200,
            cross(range(1, 5), range(5)),
            _objective,
            LR_1E3,
            baseline="scratch-lr-1e-3",
            note="pre-training seeds 1-4; seed 0 is the shipped file (the *-shipped-lr-1e-3 arm)",
        )
    )
_add(
    Arm(
        "dcpt-taps-encoder-lr-1e-3",
        "pretrained",
        1200,
        cross((0,), range(5)),
        "dcpt-taps-encoder",
        LR_1E3,
        baseline="scratch-lr-1e-3",
    )
)
_add(
    Arm(
        "maskdcpt-rec-only-lr-1e-3",
        "pretrained",
        1200,
        cross((0,), range(5)) + cross((1,), range(3)),
        "maskdcpt-rec-only",
        LR_1E3,
        baseline="scratch-lr-1e-3",
    )
)
for _name in ("maskdcpt-release", "maskdcpt-release-rec-only"):
    _add(
        Arm(
            f"{_name}-lr-1e-3",
            "pretrained",
            1200,
            cross(range(3), range(3)),
            _name,
            LR_1E3,
            baseline="scratch-lr-1e-3",
        )
    )

# --- study 1 (P = 200, F = 400, retired code) ---------------------------------------------------------
_add(Arm("v1-input", "input", 0, fine_only(range(3)), retired=V1_RETIRED))
_add(Arm("v1-scratch", "scratch", 400, fine_only(range(3)), retired=V1_RETIRED))
_add(
    Arm(
        "v1-scratch-identity", "identity", 400, fine_only(range(3)), baseline="v1-scratch", retired=V1_RETIRED
    )
)
for _name, _seeds in (("dcpt", 3), ("maskdcpt", 3), ("dcpt-cls-only", 3), ("maskdcpt-cls-5", 2)):
    _add(
        Arm(
            f"v1-{_name}",
            "pretrained",
            400,
            diagonal(range(_seeds)),
            f"v1-{_name}",
            baseline="v1-scratch",
            retired=V1_RETIRED,
        )
    )
