"""Make the committed fixtures that prove dcpt's presets *are* the releases' architectures.

It runs the official DCPT and MaskDCPT architecture code (``basicsr/archs/*_arch.py``) outside the
project, in a scratch folder, and writes only figures under ``tests/fixtures/releases/``:

* ``<name>.keys.json``: every parameter / buffer name and shape of the release's model at the
  preset's full configuration (what a released ``.pth`` holds under ``params_ema``);
* ``<name>.reduced.safetensors``: for a reduced configuration (few blocks, small width), a seeded
  state dict (every tensor randomised, so zero-initialised residual scales hide nothing), a fixed
  input and the release's output on it, plus any extra inputs a spec needs (a MaskDCPT mask).

None of the releases' code is copied into the repository. How to run it (a network is needed
only to clone the two public repositories and to install einops)::

    git clone https://github.com/MILab-PKU/dcpt      /tmp/releases/dcpt
    git clone https://github.com/MILab-PKU/MaskDCPT  /tmp/releases/MaskDCPT
    .venv/bin/pip install --target /tmp/releases/deps einops
    .venv/bin/python scripts/make_release_fixtures.py --dcpt /tmp/releases/dcpt \
        --maskdcpt /tmp/releases/MaskDCPT --deps /tmp/releases/deps [--only nafnet-5d ...]

The fixtures committed were made from dcpt 0889ede and MaskDCPT e6a1f18 (their public HEADs).

The scratch folder holds a copy of the release's ``basicsr/archs`` files plus tiny stubs for the
modules they import only for registration or initialisation (``basicsr.utils.registry``,
``timm.models.layers``, ``fvcore.nn.weight_init``, ``basicsr.utils.color_util``): the stubs do not
take part in any forward pass that a fixture records (DropPath is the identity at rate 0, the
initialisers are overwritten by the seeded state dict).

The specs live in ``scripts/release_specs/<family>.py``, each a list ``SPECS`` of `Spec`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "releases"
SPEC_DIR = Path(__file__).resolve().parent / "release_specs"
FAMILIES = ("nafnet", "restormer", "swinir", "promptir")


@dataclass
class Spec:
    """One release architecture checked against one dcpt preset.

    `name`: the fixture's file stem (usually the preset); `release`: "dcpt" or "maskdcpt";
    `module`: the file under ``basicsr/archs`` without ``.py``; `cls`: the class; `full`: the
    release's constructor arguments for the preset (its test config); `reduced`: a small
    configuration of the same class; `preset` / `overrides`: how dcpt builds the same two models
    (`overrides` turn the preset into the reduced configuration); `input_shape`: the fixed input;
    `run`: how to get the release's output, ``run(model, inputs) -> Tensor`` (default
    ``model(inputs["input"])``); `extra_inputs`: more named tensors for `run` (e.g. a mask),
    made from a seeded generator. `store_state`: False where even the reduced model is too large
    to commit (the releases' PromptIR hard-codes its widths for dim 48): the seeded state is then
    left out and the metadata entry ``state_keys`` lists the release's keys and shapes in state-dict
    order, from which a test remakes it exactly as `randomise` drew it (seed 1).
    """

    name: str
    release: str
    module: str
    cls: str
    full: Dict
    reduced: Dict
    preset: str
    overrides: Dict
    input_shape: Tuple[int, ...] = (1, 3, 32, 32)
    run: Optional[Callable] = None
    extra_inputs: Optional[Callable[[torch.Generator], Dict[str, torch.Tensor]]] = None
    notes: str = ""
    meta: Dict = field(default_factory=dict)
    store_state: bool = True


STUBS = {
    "basicsr/__init__.py": "",
    "basicsr/utils/__init__.py": "",
    "basicsr/utils/registry.py": (
        "class _Registry:\n"
        "    def __init__(self):\n"
        "        self.classes = {}\n"
        "    def register(self, obj=None):\n"
        "        def add(o):\n"
        "            self.classes[o.__name__] = o\n"
        "            return o\n"
        "        return add(obj) if obj is not None else add\n"
        "ARCH_REGISTRY = _Registry()\n"
    ),
    "basicsr/utils/color_util.py": (
        "def rgb2ycbcr_pt(img, y_only=False):\n"
        "    raise NotImplementedError('stub: not used by the recorded forward passes')\n"
    ),
    "basicsr/archs/__init__.py": "",
    "timm/__init__.py": "",
    "timm/models/__init__.py": "",
    "timm/models/layers.py": (
        "import collections.abc, itertools\n"
        "import torch\n"
        "from torch import nn\n"
        "def to_2tuple(x):\n"
        "    return tuple(x) if isinstance(x, collections.abc.Iterable) else (x, x)\n"
        "def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0):\n"
        "    with torch.no_grad():\n"
        "        return t.normal_(mean, std).clamp_(a, b)\n"
        "class DropPath(nn.Module):\n"
        "    def __init__(self, drop_prob=0.0):\n"
        "        super().__init__()\n"
        "        assert drop_prob == 0.0, 'stub DropPath supports rate 0 only'\n"
        "    def forward(self, x):\n"
        "        return x\n"
    ),
    "fvcore/__init__.py": "",
    "fvcore/nn/__init__.py": "",
    "fvcore/nn/weight_init.py": (
        "from torch import nn\n"
        "def c2_msra_fill(m):\n"
        "    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')\n"
        "    if m.bias is not None:\n"
        "        nn.init.constant_(m.bias, 0)\n"
        "def c2_xavier_fill(m):\n"
        "    nn.init.kaiming_uniform_(m.weight, a=1)\n"
        "    if m.bias is not None:\n"
        "        nn.init.constant_(m.bias, 0)\n"
    ),
}


def scratch_package(checkout: Path, into: Path) -> None:
    """`into`/basicsr/archs: the release's arch files (copied at run time, never committed) + stubs."""
    for rel, text in STUBS.items():
        path = into / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for src in (checkout / "basicsr" / "archs").glob("*_arch.py"):
        shutil.copy(src, into / "basicsr" / "archs" / src.name)
    shutil.copy(checkout / "basicsr" / "archs" / "arch_util.py", into / "basicsr" / "archs" / "arch_util.py")


def release_class(scratch: Path, module: str, cls: str):
    """Import ``basicsr.archs.<module>`` from one scratch folder (a fresh import per release)."""
    for name in [m for m in sys.modules if m == "basicsr" or m.startswith(("basicsr.", "timm", "fvcore"))]:
        del sys.modules[name]
    sys.path.insert(0, str(scratch))
    try:
        return getattr(importlib.import_module(f"basicsr.archs.{module}"), cls)
    finally:
        sys.path.remove(str(scratch))


def load_release_class(checkout: Path, spec_name: str, scratch: Path, deps: Optional[Path] = None):
    """``(spec, cls)``: the `Spec` named `spec_name` and its release class, imported from a scratch copy
    (under `scratch`) of the release `checkout`; `deps` is a folder holding einops, if needed.

    The importable door for other scripts (``benchmarks/inference_vs_release.py``) that need the
    release's own architecture code without copying it into the repository.
    """
    specs = load_specs([spec_name])
    if not specs:
        raise KeyError(f"no release spec named {spec_name!r}")
    if deps is not None and str(deps) not in sys.path:
        sys.path.append(str(deps))
    scratch_package(Path(checkout), Path(scratch))
    return specs[0], release_class(Path(scratch), specs[0].module, specs[0].cls)


def randomise(model: torch.nn.Module, seed: int) -> Dict[str, torch.Tensor]:
    """Seeded weights for every floating tensor of the state dict (buffers such as relative-position
    indices are kept); small enough that a deep net's activations stay finite."""
    g = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    out = {}
    for key, value in state.items():
        if value.is_floating_point() and "relative_position_index" not in key and "attn_mask" not in key:
            out[key] = torch.randn(value.shape, generator=g) * 0.1 + (
                1.0 if key.endswith("norm.weight") else 0.0
            )
        else:
            out[key] = value.clone()
    model.load_state_dict(out, strict=True)
    return out


@contextlib.contextmanager
def linspace_on_cpu():
    """The releases' SwinIR computes its drop-path rates with ``torch.linspace(...).item()``, which a
    meta tensor cannot give: while the full model is built on the meta device (keys and shapes only),
    ``torch.linspace`` defaults to the CPU."""
    original = torch.linspace

    def on_cpu(*args, **kwargs):
        kwargs.setdefault("device", "cpu")
        return original(*args, **kwargs)

    torch.linspace = on_cpu
    try:
        yield
    finally:
        torch.linspace = original


def record(spec: Spec, scratch: Path, release_ref: str) -> None:
    from safetensors.torch import save_file

    cls = release_class(scratch, spec.module, spec.cls)
    with torch.device("meta"), linspace_on_cpu():
        full = cls(**spec.full)
    keys = [[k, list(v.shape)] for k, v in full.state_dict().items()]
    header = dict(
        release=release_ref,
        module=spec.module,
        cls=spec.cls,
        full=spec.full,
        reduced=spec.reduced,
        preset=spec.preset,
        overrides=spec.overrides,
        notes=spec.notes,
        **spec.meta,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(f"  {json.dumps(k)}" for k in keys)
    (OUT / f"{spec.name}.keys.json").write_text(
        json.dumps(header)[:-1] + ',\n "keys": [\n' + lines + "\n ]}\n"
    )

    torch.manual_seed(0)
    model = cls(**spec.reduced).eval()
    state = randomise(model, seed=1)
    g = torch.Generator().manual_seed(2)
    inputs = {"input": torch.rand(spec.input_shape, generator=g)}
    if spec.extra_inputs is not None:
        inputs.update(spec.extra_inputs(g))
    with torch.no_grad():
        output = spec.run(model, inputs) if spec.run else model(inputs["input"])
    tensors = {f"state.{k}": v.contiguous() for k, v in state.items()} if spec.store_state else {}
    tensors.update({f"inputs.{k}": v.contiguous() for k, v in inputs.items()})
    tensors["output"] = output.contiguous()
    metadata = {"dcpt_fixture": json.dumps(header)}
    if not spec.store_state:
        metadata["state_keys"] = json.dumps([[k, list(v.shape)] for k, v in state.items()])
    save_file(tensors, str(OUT / f"{spec.name}.reduced.safetensors"), metadata=metadata)
    print(f"{spec.name}: {len(keys)} keys (full), output {tuple(output.shape)} from {release_ref} {spec.cls}")


def load_specs(only: Optional[List[str]]) -> List[Spec]:
    specs: List[Spec] = []
    for family in FAMILIES:
        path = SPEC_DIR / f"{family}.py"
        if not path.is_file():
            continue
        loader = importlib.util.spec_from_file_location(f"release_specs_{family}", path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[loader.name] = module
        loader.loader.exec_module(module)
        specs += module.SPECS
    return [s for s in specs if not only or s.name in only]


def git_ref(checkout: Path, name: str, commit: Optional[str]) -> str:
    """`owner/repo@sha`: the commit given, else the checkout's HEAD."""
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            commit = "unknown"
    return f"{name}@{commit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dcpt", type=Path, required=True, help="a checkout of github.com/MILab-PKU/dcpt")
    parser.add_argument(
        "--maskdcpt", type=Path, required=True, help="a checkout of github.com/MILab-PKU/MaskDCPT"
    )
    parser.add_argument("--deps", type=Path, help="a folder with einops (pip install --target)")
    parser.add_argument("--dcpt-commit", help="the dcpt checkout's commit, if it is not a git work tree")
    parser.add_argument(
        "--maskdcpt-commit", help="the MaskDCPT checkout's commit, if it is not a git work tree"
    )
    parser.add_argument("--only", nargs="*", help="fixture names to remake")
    args = parser.parse_args()
    if args.deps:
        sys.path.append(str(args.deps))
    checkouts = {
        "dcpt": (args.dcpt, "MILab-PKU/dcpt", args.dcpt_commit),
        "maskdcpt": (args.maskdcpt, "MILab-PKU/MaskDCPT", args.maskdcpt_commit),
    }
    with tempfile.TemporaryDirectory() as tmp:
        scratch = {}
        for release, (checkout, _, _) in checkouts.items():
            scratch[release] = Path(tmp) / release
            scratch_package(checkout, scratch[release])
        for spec in load_specs(args.only):
            checkout, repo, commit = checkouts[spec.release]
            record(spec, scratch[spec.release], git_ref(checkout, repo, commit))


if __name__ == "__main__":
    main()
