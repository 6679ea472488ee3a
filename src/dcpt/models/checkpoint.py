"""dcpt checkpoints: one safetensors file that rebuilds the network (and classifier) by itself.

Layout: the net's tensors under their official names (unprefixed), the classifier's under
`classifier.`, and in the safetensors metadata one JSON header under the key `dcpt`::

    {"format": "dcpt", "version": 1, "arch": "nafnet", "arch_config": {...}, "preset": "nafnet-5d",
     "classifier": {"feature_channels": [...], "num_classes": 5, ...}, "class_names": [...],
     "step": 1000, "meta": {...free-form...}}

No pickle is involved, so loading can run no code. BasicSR `.pth` files (the official releases) are
read by `import_basicsr` with `torch.load(weights_only=True)`; `load_checkpoint` and `load_bundle`
accept both and tell them apart by content, not by file name.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, TypeVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..errors import CheckpointError, DcptError, one_line
from ..fileio import atomic_path
from .registry import ARCHS, PRESETS, build_arch

FORMAT = "dcpt"
VERSION = 1
HEADER_KEY = "dcpt"
CLASSIFIER_PREFIX = "classifier."
# Bounds for building what a header asks for (see `build_within`): torch calls per tensor of the
# file, and calls and values allowed on top (buffers that are not saved, small files).
CALLS_PER_TENSOR = 50
SPARE_CALLS = 10_000
SPARE_VALUES = 2**20

M = TypeVar("M", bound=nn.Module)


@dataclass
class Bundle:
    """What a checkpoint holds: the net, the classifier (or None), class names (or None) and the
    header (`arch`, `arch_config`, `preset`, `step`, `meta`, ...)."""

    net: nn.Module
    classifier: Optional[nn.Module] = None
    class_names: Optional[List[str]] = None
    meta: Dict = field(default_factory=dict)


def save_checkpoint(
    model: nn.Module,
    path,
    *,
    classifier: Optional[nn.Module] = None,
    class_names: Optional[List[str]] = None,
    dtype: Optional[torch.dtype] = None,
    **meta,
) -> Path:
    """Write `model` (built by `create_model`), optionally with its classifier, atomically to `path`.

    `dtype` (e.g. ``torch.float16``) stores floating-point tensors in that type, halving a shipped
    file; loading casts them back to the model's dtype. `step` in `meta` is stored at the top level;
    any other keyword goes to the free-form `meta` (JSON; other values are stored as strings).
    """
    from safetensors.torch import save_file

    path = Path(path)
    if not hasattr(model, "arch_name"):
        raise DcptError(
            "cannot save a model that was not built by dcpt.models.create_model (it has no arch_name)"
        )
    header = {"format": FORMAT, "version": VERSION, "arch": model.arch_name, "arch_config": model.arch_config}
    if getattr(model, "preset_name", None):
        header["preset"] = model.preset_name
    tensors = _plain(model.state_dict(), dtype=dtype)
    if classifier is not None:
        header["classifier"] = classifier.config
        tensors.update(_plain(classifier.state_dict(), CLASSIFIER_PREFIX, dtype))
    if class_names is not None:
        header["class_names"] = [str(n) for n in class_names]
    if "step" in meta:
        header["step"] = int(meta.pop("step"))
    header["meta"] = meta
    metadata = {HEADER_KEY: json.dumps(header, default=str)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def load_checkpoint(path, arch: Optional[str] = None, map_location="cpu") -> nn.Module:
    """The network of a dcpt checkpoint or a BasicSR `.pth` (which needs `arch`), loaded strictly."""
    return load_bundle(path, arch=arch, map_location=map_location).net


def load_bundle(path, arch: Optional[str] = None, map_location="cpu") -> Bundle:
    """Everything in a checkpoint. For a dcpt file `arch`, if given, must match what it holds;
    for a BasicSR `.pth` it is required (a preset such as `nafnet-5d`, or a family)."""
    path = Path(path)
    kind = _sniff(path)
    if kind == "torch":
        from .import_basicsr import load_basicsr

        return Bundle(net=load_basicsr(path, arch, map_location), meta={"source": "basicsr"})
    header, tensors = _read_safetensors(path, map_location)
    _check_arch(path, header, arch)
    net_state = {k: v for k, v in tensors.items() if not k.startswith(CLASSIFIER_PREFIX)}
    net = build_within(
        path, "network", lambda: build_arch(header["arch"], **header["arch_config"]), net_state
    )
    if header.get("preset") is not None:
        net.preset_name = header["preset"]
    load_state_strict(net, net_state, path, header["arch"])
    classifier = None
    if header.get("classifier") is not None:
        from .classifier import DegradationClassifier

        cls_state = {
            k[len(CLASSIFIER_PREFIX) :]: v for k, v in tensors.items() if k.startswith(CLASSIFIER_PREFIX)
        }
        classifier = build_within(
            path, "classifier", lambda: DegradationClassifier(**header["classifier"]), cls_state
        )
        load_state_strict(classifier, cls_state, path, "classifier")
        classifier.to(map_location)
    class_names = header.get("class_names")
    if classifier is not None and class_names is not None:
        if len(class_names) != classifier.config["num_classes"]:
            raise CheckpointError(
                f"{path} names {len(class_names)} classes for a classifier of "
                f"{classifier.config['num_classes']}"
            )
    net.to(map_location)
    return Bundle(net=net, classifier=classifier, class_names=class_names, meta=header)


def build_within(path, what: str, build: Callable[[], M], state: Dict[str, torch.Tensor]) -> M:
    """`build()` for the weights `state` read from `path`, refused when it would be far larger.

    A header is data: a damaged or hand-made one may ask for width 2**40 or 10**9 blocks. The module
    is first built on the meta device (no memory) with at most `CALLS_PER_TENSOR` torch calls per
    tensor in `state` (a real net takes about ten), and its size is compared with `state`'s; only
    then is it built for real. A constructor's exception on such arguments is the file's fault, so
    it becomes one CheckpointError line whatever its type.
    """
    stored = sum(t.numel() for t in state.values())
    with torch.device("meta"), _CallBudget(CALLS_PER_TENSOR * len(state) + SPARE_CALLS):
        probe = _attempt(path, what, build)
    size = sum(t.numel() for t in itertools.chain(probe.parameters(), probe.buffers()))
    if size > 2 * stored + SPARE_VALUES:
        raise CheckpointError(
            f"{path}: its header asks for a {what} of {size:,} values but the file holds {stored:,}; "
            "the header is damaged"
        )
    return _attempt(path, what, build)


def _attempt(path, what: str, build: Callable[[], M]) -> M:
    try:
        return build()
    except Exception as exc:  # constructors given a damaged file's arguments raise any type
        cause = str(exc) if isinstance(exc, DcptError) else f"{type(exc).__name__}: {exc}"
        raise CheckpointError(f"{path}: cannot rebuild its {what}: {one_line(cause)}") from None


class _CallBudget(TorchFunctionMode):
    """Stops a build after `limit` torch calls: a net of 10**9 blocks is refused, not built slowly.

    It raises once: the calls made while the build unwinds (``no_grad``'s exit restoring grad mode)
    must go through, or they would leave torch's global state changed."""

    def __init__(self, limit: int):
        super().__init__()
        self.left = limit

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.left -= 1
        if self.left == -1:
            raise CheckpointError("it asks for far more layers than the file holds tensors")
        return func(*args, **(kwargs or {}))


def load_state_strict(module: nn.Module, state: Dict[str, torch.Tensor], path, what: str) -> None:
    """`module.load_state_dict(state)` that reports a mismatch as one CheckpointError line.

    Architectures that accept other official key layouts (e.g. the MaskDCPT release's renamed
    Restormer/SwinIR blocks) expose `adapt_state_dict`, applied before the keys are compared."""
    adapt = getattr(module, "adapt_state_dict", None)
    if adapt is not None:
        state = adapt(state)
    own = module.state_dict()
    missing = [_key(k) for k in own if k not in state]
    unexpected = [_key(k) for k in state if k not in own]
    mismatched = [
        f"{_key(k)} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch (file vs model)", mismatched),
        ):
            if keys:
                more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
                parts.append(f"{label}: {', '.join(keys[:5])}{more}")
        raise CheckpointError(f"{path} does not fit {what}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)


def _key(name: str) -> str:
    """A parameter name as an error quotes it: as it is when printable, else its repr (a damaged
    file's name may hold a newline), cut to 80 characters."""
    shown = name if name.isprintable() else repr(name)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _plain(
    state: Dict[str, torch.Tensor], prefix: str = "", dtype: Optional[torch.dtype] = None
) -> Dict[str, torch.Tensor]:
    if dtype is not None and not dtype.is_floating_point:
        raise DcptError(
            f"checkpoint dtype: expected a floating-point type such as torch.float16, got {dtype}"
        )

    def plain(name: str, v: torch.Tensor) -> torch.Tensor:
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            cast = v.to(dtype)
            if not torch.isfinite(cast).all() and torch.isfinite(v).all():
                raise DcptError(
                    f"{prefix}{name} has values outside the range of {dtype}; save it in a wider type"
                )
            v = cast
        return v.contiguous().clone()

    return {prefix + k: plain(k, v) for k, v in state.items()}


def _sniff(path: Path) -> str:
    """'safetensors' when the file starts with a plausible safetensors header (an 8-byte little-endian
    length that fits the file, then a JSON object), else 'torch' (a torch.save zip or pickle).

    The safetensors test comes first: a header length whose low byte is 0x80 would otherwise look
    like a pickle's first byte (one file in 256)."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(9)
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty")
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= path.stat().st_size - 8:
        return "safetensors"
    return "torch" if head[:2] == b"PK" or head[:1] == b"\x80" else "safetensors"


def _read_safetensors(path: Path, map_location):
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device=str(torch.device(map_location))) as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises several types for damaged files
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from None
    try:
        header = json.loads(metadata[HEADER_KEY])
    except (KeyError, ValueError):
        raise CheckpointError(
            f"{path} is a safetensors file without a dcpt header (not written by dcpt)"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path} has an invalid dcpt header: {one_line(metadata[HEADER_KEY], 200)}")
    _check_header(path, header)
    return header, tensors


HEADER_FIELDS = {  # field -> (the JSON type it must hold when present, what an error calls it)
    "version": (int, "an integer"),
    "arch": (str, "an architecture name"),
    "arch_config": (dict, "an object of constructor arguments"),
    "preset": (str, "a preset name"),
    "classifier": (dict, "an object of constructor arguments"),
    "class_names": (list, "a list of names"),
    "step": (int, "an integer"),
    "meta": (dict, "an object"),
}


def _check_header(path: Path, header: Dict) -> None:
    """Types and values of the header's fields: a hand-edited or damaged header is one line here,
    not a TypeError deep inside a constructor. `arch` and `arch_config` are required; `version` may
    be absent (version 1); the others are absent when they do not apply."""
    for name in ("arch", "arch_config"):
        if name not in header:
            raise CheckpointError(f"{path} has an invalid dcpt header: it has no {name!r}")
    for name, (kind, called) in HEADER_FIELDS.items():
        if name in header and (not isinstance(header[name], kind) or isinstance(header[name], bool)):
            got = one_line(json.dumps(header[name]), 60)
            raise CheckpointError(f"{path} has an invalid dcpt header: {name!r} must be {called}, got {got}")
    if not 1 <= header.get("version", VERSION) <= VERSION:
        raise CheckpointError(
            f"{path} is dcpt checkpoint version {header['version']}; this dcpt reads versions 1 to {VERSION}"
        )
    if header["arch"] not in ARCHS:
        raise CheckpointError(
            f"{path} holds an unknown architecture {one_line(header['arch'], 60)!r}; "
            f"this dcpt knows {', '.join(ARCHS.names())}"
        )
    if not all(isinstance(n, str) for n in header.get("class_names", ())):
        raise CheckpointError(f"{path} has an invalid dcpt header: 'class_names' must be strings")


def _check_arch(path: Path, header: Dict, arch: Optional[str]) -> None:
    if arch is None:
        return
    if arch in PRESETS:
        wanted = PRESETS.get(arch).arch
    elif arch in ARCHS:
        wanted = ARCHS.canonical(arch)
    else:
        PRESETS.canonical(arch)  # raises with close matches
        return
    if ARCHS.canonical(wanted) != ARCHS.canonical(header["arch"]):
        raise CheckpointError(f"{path} holds a {header['arch']} network, not {arch}")
