"""Score the no-reference test cases with the reference implementations; write the committed fixture.

dcpt's PIQE and NIQE (``dcpt.metrics``) are checked against pyiqa's PIQE and NIQE and BasicSR's NIQE on
natural photographs, clean and degraded (``tests/metrics/nr_cases.py`` makes the images). This script
runs those references, outside dcpt's environment, and writes only figures to
``tests/fixtures/no_reference.json``: per case the photograph, the degradation, the SHA-256 of its
pixels and the three reference values. How to run it (the references want torchvision, which the CPU
torch of dcpt's venv cannot import beside it, hence a venv of its own)::

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/refenv/bin/pip install --no-deps pyiqa==0.1.16
    /tmp/refenv/bin/pip install scipy scikit-image opencv-python-headless addict einops tqdm \\
        requests pyyaml pandas timm future yapf lmdb
    /tmp/refenv/bin/pip install --no-deps --no-build-isolation basicsr==1.4.2
    /tmp/refenv/bin/python scripts/make_nr_fixtures.py

Two details of the references, handled here and not in dcpt:

* pyiqa's NIQE downloads its parameter file at first use; there is no network where dcpt is built, so
  it is given BasicSR's pristine parameters (the authors' official ``modelparameters.mat``, shipped by
  BasicSR and copied to ``src/dcpt/assets/niqe/``) as a ``.mat`` file instead;
* BasicSR 1.4.2 imports ``torchvision.transforms.functional_tensor``, which torchvision removed in
  0.17; the module is aliased to ``torchvision.transforms.functional`` (the function it needs,
  ``rgb_to_grayscale``, lives there), which touches no metric.

The references take the images as their documented inputs: pyiqa an ``N x 3 x H x W`` float32 RGB
tensor in [0, 1]; BasicSR an ``H x W x 3`` uint8 BGR array with ``crop_border=0`` and its default Y
(of YCbCr) conversion.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "metrics"))

import nr_cases  # noqa: E402  (numpy and Pillow only; shared with the tests)

PRISTINE = ROOT / "src" / "dcpt" / "assets" / "niqe" / "niqe_pris_params.npz"


def references(workdir: Path):
    """The three reference scorers, each ``uint8 H x W x 3 RGB -> float``, and their versions."""
    import importlib.metadata

    import scipy.io
    import torch
    import torchvision.transforms.functional as tv_functional

    sys.modules.setdefault("torchvision.transforms.functional_tensor", tv_functional)
    from basicsr.metrics.niqe import calculate_niqe
    from pyiqa.archs.niqe_arch import NIQE
    from pyiqa.archs.piqe_arch import PIQE

    params = np.load(PRISTINE)
    mat = workdir / "niqe_pris_params.mat"
    scipy.io.savemat(
        mat, {"mu_prisparam": params["mu_pris_param"], "cov_prisparam": params["cov_pris_param"]}
    )
    pyiqa_piqe, pyiqa_niqe = PIQE().eval(), NIQE(pretrained_model_path=str(mat)).eval()

    def as_tensor(img: np.ndarray) -> "torch.Tensor":
        return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0

    def piqe(img: np.ndarray) -> float:
        with torch.no_grad():
            return float(pyiqa_piqe(as_tensor(img)).item())

    def niqe(img: np.ndarray) -> float:
        with torch.no_grad():
            return float(pyiqa_niqe(as_tensor(img)).item())

    def basicsr_niqe(img: np.ndarray) -> float:
        return float(calculate_niqe(np.ascontiguousarray(img[..., ::-1]), crop_border=0))

    versions = {name: importlib.metadata.version(name) for name in ("pyiqa", "basicsr", "torch", "numpy")}
    return {"pyiqa_piqe": piqe, "pyiqa_niqe": niqe, "basicsr_niqe": basicsr_niqe}, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=nr_cases.FIXTURE, help="the fixture to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scorers, versions = references(Path(tmp))
        rows = []
        for name, degradation, img in nr_cases.cases():
            row = {"image": name, "degradation": degradation, "shape": list(img.shape)}
            row["sha256"] = nr_cases.digest(img)
            row.update({metric: round(score(img), 6) for metric, score in scorers.items()})
            print(json.dumps(row), flush=True)
            rows.append(row)
    fixture = {
        "about": "reference no-reference scores of tests/metrics/nr_cases.py; made by scripts/make_nr_fixtures.py",
        "versions": versions,
        "niqe_parameters": "src/dcpt/assets/niqe/niqe_pris_params.npz (BasicSR's) for pyiqa and BasicSR alike",
        "cases": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {len(rows)} cases to {args.out}")


if __name__ == "__main__":
    main()
