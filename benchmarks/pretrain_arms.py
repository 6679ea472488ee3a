"""The arms of `pretrain_gain.py`: what each pre-trains, its config overrides, and its baseline.

An arm's gain is paired against its baseline arm (same seed, same fine-tuning steps); `pre` overrides
the pre-training config, `fine` the fine-tuning config. `asset` arms start from a checkpoint shipped
in `src/dcpt/assets/demo/` instead of pre-training: there the seed changes only the fine-tuning (its
data order), which measures what a user fine-tuning the shipped checkpoint gets.
"""

from __future__ import annotations

from typing import Dict

# the shipped demo checkpoints, by the objective that made them
SHIPPED = {"dcpt": "nafnet-tiny-dcpt.safetensors", "maskdcpt": "nafnet-tiny-maskdcpt.safetensors"}

# arm -> what it pre-trains (None: nothing), config overrides for pre-training and for fine-tuning,
# and the arm its gain is paired against (same seed, same fine-tuning steps).
ARMS: Dict[str, dict] = {
    "scratch": dict(pretrain=None),
    # scratch, but starting as an exact identity (NAFNet's `ending` conv zeroed): rules out that
    # pre-training only helps by teaching the net to return its input.
    "scratch-identity": dict(pretrain=None, identity_init=True),
    # scratch trained for P + F steps (its P column counts the extra steps): the same total compute as
    # a pre-trained arm, to tell an initialisation's value from the value of more training.
    "scratch-longer": dict(pretrain=None, extra_steps=True),
    "dcpt": dict(pretrain="dcpt"),
    "maskdcpt": dict(pretrain="maskdcpt"),
    "dcpt-cls-only": dict(pretrain="dcpt", pre=("objective.rec_weight=0",)),
    "dcpt-rec-only": dict(pretrain="dcpt", pre=("objective.cls_weight=0",)),
    "dcpt-rec-0.1": dict(pretrain="dcpt", pre=("objective.rec_weight=0.1",)),
    "maskdcpt-rec-0.1": dict(pretrain="maskdcpt", pre=("objective.rec_weight=0.1",)),
    "maskdcpt-cls-5": dict(pretrain="maskdcpt", pre=("objective.cls_weight=5",)),
    # the classifier at 5x the net's learning rate (`optim.lr_scale`): it starts from scratch
    "dcpt-cls-lr5": dict(pretrain="dcpt", pre=("optim.lr_scale.classifier=5",)),
    "maskdcpt-cls-lr5": dict(pretrain="maskdcpt", pre=("optim.lr_scale.classifier=5",)),
    # pre-training crops cut from photographs shrunk by a random factor in [0.5, 1] (`data.scale_range`):
    # ten training photographs seen at many sizes, against a classifier that learns their content
    "dcpt-scale": dict(pretrain="dcpt", pre=("data.scale_range=[0.5, 1]",)),
    "maskdcpt-scale": dict(pretrain="maskdcpt", pre=("data.scale_range=[0.5, 1]",)),
    "maskdcpt-ratio-0.25": dict(pretrain="maskdcpt", pre=("objective.mask_ratio=0.25",)),
    "maskdcpt-ratio-0.75": dict(pretrain="maskdcpt", pre=("objective.mask_ratio=0.75",)),
    "scratch-lr-1e-4": dict(pretrain=None, fine=("optim.lr=1.0e-4",), baseline="scratch-lr-1e-4"),
    "dcpt-lr-1e-4": dict(pretrain="dcpt", fine=("optim.lr=1.0e-4",), baseline="scratch-lr-1e-4"),
    "scratch-lr-1e-3": dict(pretrain=None, fine=("optim.lr=1.0e-3",), baseline="scratch-lr-1e-3"),
    "dcpt-lr-1e-3": dict(pretrain="dcpt", fine=("optim.lr=1.0e-3",), baseline="scratch-lr-1e-3"),
    # fresh pre-training seeds at the tuned fine-tuning rate: do the shipped (seed 0) checkpoints' gains
    # survive another pre-training seed?
    "maskdcpt-lr-1e-3": dict(pretrain="maskdcpt", fine=("optim.lr=1.0e-3",), baseline="scratch-lr-1e-3"),
}
# one pre-training seed under several fine-tuning seeds (`--seeds` then sets only the fine-tuning seed): is a
# fresh seed's gain or loss a property of its checkpoint or of one fine-tuning run?
for _objective in ("dcpt", "maskdcpt"):
    for _pre_seed in (1, 2, 3, 4):
        ARMS[f"{_objective}-pre{_pre_seed}-lr-1e-3"] = dict(
            ARMS[f"{_objective}-lr-1e-3"], pretrain_seed=_pre_seed
        )

# Ablations at the tuned fine-tuning rate, one pre-training seed (0) under several fine-tuning seeds:
# does MaskDCPT's gain need the classification at all (masked image modelling alone), and does DCPT's
# classifier do better reading the encoder, as MaskDCPT's does, than the decoder?
ARMS["maskdcpt-rec-only-lr-1e-3"] = dict(
    ARMS["maskdcpt-lr-1e-3"], pre=("objective.cls_weight=0",), pretrain_seed=0
)
ARMS["maskdcpt-rec-only-pre1-lr-1e-3"] = dict(ARMS["maskdcpt-rec-only-lr-1e-3"], pretrain_seed=1)
ARMS["dcpt-taps-encoder-lr-1e-3"] = dict(
    ARMS["dcpt-lr-1e-3"], pre=("objective.classifier_taps=encoder",), pretrain_seed=0
)

# Fine-tuning learning rate and warm-up, each against scratch at the same setting: a pre-trained net
# may want a gentler start than a random one, and scratch may be under-tuned at the default.
FINE_ABLATIONS = {
    "lr-1e-4": ("optim.lr=1.0e-4",),
    "lr-1e-3": ("optim.lr=1.0e-3",),
    "lr-2e-3": ("optim.lr=2.0e-3",),
    "warmup-200": ("optim.warmup_steps=200",),
    "lr-1e-3-warmup-200": ("optim.lr=1.0e-3", "optim.warmup_steps=200"),
}
for _objective, _asset in SHIPPED.items():
    ARMS[f"{_objective}-shipped"] = dict(pretrain=None, asset=_asset, objective=_objective)
for _tag, _fine in FINE_ABLATIONS.items():
    ARMS.setdefault(f"scratch-{_tag}", dict(pretrain=None, fine=_fine, baseline=f"scratch-{_tag}"))
    for _objective, _asset in SHIPPED.items():
        ARMS[f"{_objective}-shipped-{_tag}"] = dict(
            pretrain=None, asset=_asset, objective=_objective, fine=_fine, baseline=f"scratch-{_tag}"
        )

# MaskDCPT as released (issue 18): the mask kept through the decoder as in the release's mask
# architectures, the reconstruction scored on visible pixels, the classifier on the decoder stages;
# pre-training seeds 0-2, each under the fine-tuning seeds `--seeds` gives, at the tuned rate.
RELEASE_MASKING = ("objective.mask_through=all", "objective.classifier_taps=decoder")
for _pre_seed in (0, 1, 2):
    ARMS[f"maskdcpt-release-pre{_pre_seed}-lr-1e-3"] = dict(
        ARMS["maskdcpt-lr-1e-3"], pre=RELEASE_MASKING, pretrain_seed=_pre_seed
    )
    # the same without the classification loss: is the faithful variant's gain the masking's again?
    ARMS[f"maskdcpt-release-rec-only-pre{_pre_seed}-lr-1e-3"] = dict(
        ARMS[f"maskdcpt-release-pre{_pre_seed}-lr-1e-3"], pre=RELEASE_MASKING + ("objective.cls_weight=0",)
    )
