"""The run configuration: one typed tree, and the only place where defaults live.

A YAML file maps onto `RunConfig`; see `dcpt.config.load_config`. Units: `lr` per optimiser step,
`steps` counts optimiser steps (each one `accum` micro-batches), sizes are pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Tuple

from ..errors import ConfigError
from .bounds import bounded, check_bounds
from .memory import TRAIN_BYTES_PER_PIXEL, check_fits

MAX_SEED = 2**63 - 1


@dataclass
class ModelConfig:
    """A registered preset (`dcpt info` lists them) plus constructor overrides such as ``width: 32``."""

    name: str = "nafnet-tiny"
    overrides: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ClassConfig:
    """One degradation class for synthetic data: its label and how to synthesise it.

    `degradation` is a registered name or a mixture ``"gaussian_blur,jpeg"`` (default: `name`);
    `levels` is the (low, high) range levels are drawn from (default: the op's whole range).
    """

    name: str
    degradation: Optional[str] = None
    levels: Optional[Tuple[float, float]] = bounded(None, ge=0)


@dataclass
class SourceConfig:
    """Synthetic, paired, or shards.

    Synthetic: `clean` is a folder of clean images, ``samples`` (the embedded training photographs) or
    ``samples:test``; every class in `classes` is synthesised on the fly. Paired: `paired` is a
    benchmark folder (layouts: see `dcpt.data.paired`) whose pairs all carry the class `label`.
    `repeat` lists a paired folder that many times per epoch. Shards (training only, the only
    source): `shards` is a folder of ``dcpt make-dataset --format shards`` or shard URLs (a brace
    pattern, ``file://``, ``pipe:``; see `dcpt.data.shards`) with `manifest` its manifest's location;
    each sample's class is its type. docs/shards.md.
    """

    clean: Optional[str] = None
    classes: List[ClassConfig] = field(default_factory=list)
    paired: Optional[str] = None
    layout: str = "auto"
    label: Optional[str] = None
    repeat: int = bounded(1, ge=1)
    shards: Optional[str] = None
    manifest: Optional[str] = None

    @property
    def synthetic(self) -> bool:
        return self.clean is not None


@dataclass
class DataConfig:
    """Training data. `batch_size` is per process (torchrun multiplies it by the world size).
    `scale_range` (low, high) shrinks each clean photograph by a random factor in that range before a
    synthetic training crop is cut (scale augmentation; (1, 1) is off). Paired folders are never
    rescaled: resizing would change their degradation. `gamma_range` (low, high) raises each synthetic
    training crop to a power drawn log-uniformly in that range before it is degraded (tone
    augmentation, (1, 1) is off: a few photographs show more brightness and contrast profiles).
    `smooth_band_fraction` of the synthetic training crops get a band of smooth sky- or cloth-like
    field along one side before they are degraded (0 is off; dcpt.data.smooth_bands says why), except
    the crops of the classes named in `smooth_band_skip`.
    `on_bad_sample` decides what an unreadable image does: ``error`` stops the run naming it, ``skip``
    leaves it out with a warning, unless more than `max_bad_fraction` of a source's images are bad
    (then the run stops: the folder is wrong)."""

    train: List[SourceConfig] = field(default_factory=list)
    val: List[SourceConfig] = field(default_factory=list)
    patch_size: int = bounded(64, ge=1)
    scale_range: Tuple[float, float] = bounded((1.0, 1.0), gt=0, le=1)
    gamma_range: Tuple[float, float] = bounded((1.0, 1.0), gt=0, le=10)
    smooth_band_fraction: float = bounded(0.0, ge=0, le=1)
    smooth_band_skip: List[str] = field(default_factory=list)
    val_patch_size: Optional[int] = bounded(
        None, ge=1
    )  # None: whole images, one per batch (paired) / patch_size (synthetic)
    batch_size: int = bounded(8, ge=1)
    workers: int = bounded(0, ge=0, le=1024)
    seed: int = bounded(0, ge=0, le=MAX_SEED)
    epoch_length: int = bounded(1000, ge=1)
    val_length: int = bounded(64, ge=1)
    on_bad_sample: Literal["error", "skip"] = "error"
    max_bad_fraction: float = bounded(0.01, ge=0, le=1)


@dataclass
class ObjectiveConfig:
    """What is optimised. `mask_patch` None means the network's own `mask_patch_size`; `focal_gamma`
    0 is plain cross-entropy, > 0 the focal loss both papers use against class imbalance.
    `classifier_taps`: which features of the net a new classifier reads, its ``decoder`` stages (DCPT)
    or its ``encoder`` stages (NAFNet only; dcpt's own MaskDCPT variant). `mask_through`: how far
    the mask reaches in MaskDCPT's sparse / token modes: ``all`` (the MaskDCPT release's mask
    architectures: every block of encoder, middle and decoder; the reconstruction is scored on visible
    pixels, the only ones the net can restore) or ``encoder`` (dcpt's own variant: sparse encoder,
    dense decoder that fills the holes, scored on every pixel). `pixel_loss` (restore only): ``l1``;
    ``psnr``, minus the mean per-image PSNR, which weighs every degradation type by its relative
    improvement rather than by the size of its error; or ``relative``, each image's squared error over
    its input's, whose weights do not fade on an image the net makes worse. `l1_weight` adds that many
    times the L1 to the ``psnr`` loss, so that the types with the largest errors (haze, low light),
    whose PSNR gradient is the smallest, are not left behind; `relative_weight` adds that many times
    the ``relative`` loss to it, so that an image the net ruins keeps its weight; `ssim_weight` adds that
    many times ``1 - SSIM`` to any pixel loss, so that structure counts, not only the mean. `psnr_cap_db`: the
    PSNR at which an image stops counting (the loss uses ``log10(mse + 10^(-cap/10))``), so that a
    clean image among the inputs, which a copy restores perfectly, cannot dominate the gradient with
    an unbounded score; it also floors the input's error in ``relative``."""

    name: Literal["dcpt", "maskdcpt", "restore"] = "dcpt"
    cls_weight: float = bounded(1.0, ge=0)
    focal_gamma: float = bounded(0.0, ge=0)
    rec_weight: float = bounded(1.0, ge=0)
    mask_ratio: float = bounded(0.5, ge=0, lt=1)
    mask_patch: Optional[int] = bounded(None, ge=1)
    mask_mode: Literal["sparse", "zero", "token"] = "sparse"
    mask_through: Literal["all", "encoder"] = "all"
    classifier_taps: Literal["decoder", "encoder"] = "decoder"
    freq_weight: float = bounded(0.0, ge=0)
    pixel_loss: Literal["l1", "psnr", "relative"] = "l1"
    l1_weight: float = bounded(0.0, ge=0)
    relative_weight: float = bounded(0.0, ge=0)
    ssim_weight: float = bounded(0.0, ge=0)
    psnr_cap_db: float = bounded(80.0, gt=0)


@dataclass
class OptimConfig:
    """AdamW with linear warm-up then cosine decay from `lr` to `min_lr`; `grad_clip` 0 = off.
    `lr_scale` multiplies the schedule's rate per module by name (``{classifier: 0.5}``), to give a
    freshly initialised classifier its own pace next to the net it reads (docs/experiments.md)."""

    lr: float = bounded(2e-4, gt=0)
    weight_decay: float = bounded(1e-4, ge=0)
    betas: Tuple[float, float] = bounded((0.9, 0.999), ge=0, lt=1)
    warmup_steps: int = bounded(0, ge=0)
    min_lr: float = bounded(1e-6, ge=0)
    grad_clip: float = bounded(0.0, ge=0)
    fused: bool = True  # one fused AdamW kernel: 0.93x the step time of foreach (benchmarks/step_time.py)
    lr_scale: Dict[str, float] = bounded(default_factory=dict, ge=0)


@dataclass
class TrainConfig:
    """The loop. `ema` is the EMA decay per step (0 = off); `*_every` count optimiser steps (0 = never)."""

    steps: int = bounded(1000, ge=1)
    accum: int = bounded(1, ge=1)
    amp: Literal["none", "bf16", "fp16"] = "none"
    channels_last: bool = True  # NHWC + fused LayerNorm2d: 0.73x the step time (benchmarks/step_time.py)
    compile: bool = False
    ema: float = bounded(0.999, ge=0, lt=1)
    log_every: int = bounded(50, ge=0)
    val_every: int = bounded(0, ge=0)
    ckpt_every: int = bounded(500, ge=0)
    seed: int = bounded(0, ge=0, le=MAX_SEED)
    device: Literal["auto", "cpu", "cuda"] = "auto"


@dataclass
class InitConfig:
    """Weights to start from (fine-tuning): a dcpt checkpoint (.safetensors or a training `last.pt`)."""

    checkpoint: Optional[str] = None
    classifier: bool = True


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init: InitConfig = field(default_factory=InitConfig)
    out: Optional[str] = None

    def validate(self) -> "RunConfig":
        """The declared ranges of every field, then checks across fields; returns self."""
        check_bounds(self)
        for key, upper in (("scale_range", 1), ("gamma_range", 10)):
            lo, hi = getattr(self.data, key)
            if lo > hi:
                raise ConfigError(
                    f"config key 'data.{key}': expected [low, high] with 0 < low <= high <= {upper}, "
                    f"got {[lo, hi]}"
                )
        if self.optim.min_lr > self.optim.lr:
            raise ConfigError(
                f"config key 'optim.min_lr': expected <= optim.lr ({self.optim.lr}), got {self.optim.min_lr}"
            )
        if self.train.amp == "fp16" and self.train.device == "cpu":
            raise ConfigError("config key 'train.amp': fp16 needs a CUDA device; use bf16 on CPU")
        if not self.data.train:
            raise ConfigError("config key 'data.train': expected at least one data source, got none")
        for section in ("train", "val"):
            for i, source in enumerate(getattr(self.data, section)):
                _check_source(source, f"data.{section}.{i}")
                if source.shards is not None and (section == "val" or len(self.data.train) > 1):
                    raise ConfigError(
                        f"config key 'data.{section}.{i}.shards': shards stream as the only data.train source"
                    )
        patch, batch = self.data.patch_size, self.data.batch_size
        check_fits(
            patch * patch * batch,
            TRAIN_BYTES_PER_PIXEL,
            f"one training step of data.batch_size={batch} x data.patch_size={patch}^2 pixels",
            self.train.device,
        )
        return self


def _check_source(source: SourceConfig, path: str) -> None:
    paired = source.paired is not None
    kinds = [source.synthetic, paired, source.shards is not None].count(True)
    if kinds != 1:
        raise ConfigError(
            f"config key {path!r}: expected either 'clean' (synthetic), 'paired' (a folder) or 'shards' (tar shards), "
            f"got {'several' if kinds else 'none'}"
        )
    if source.shards is not None and (source.label is not None or source.classes):
        raise ConfigError(
            f"config key {path!r}: a shards source takes its classes from its types; no 'label' or 'classes'"
        )
    if source.synthetic and not source.classes:
        raise ConfigError(
            f"config key {path + '.classes'!r}: a synthetic source needs at least one degradation class"
        )
    if paired and (source.label is None or source.classes):
        raise ConfigError(
            f"config key {path!r}: a paired source needs a 'label' (its class name) and no 'classes'"
        )
    for j, cls in enumerate(source.classes):
        if cls.levels is not None and cls.levels[0] > cls.levels[1]:
            raise ConfigError(
                f"config key {path}.classes.{j}.levels: expected (low, high) with low <= high, got {list(cls.levels)}"
            )
