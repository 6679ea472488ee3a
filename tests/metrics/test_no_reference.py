"""PIQE and NIQE against the field's reference implementations: pyiqa's PIQE and NIQE, BasicSR's NIQE.

The committed fixture (``tests/fixtures/no_reference.json``, made by ``scripts/make_nr_fixtures.py`` with
pyiqa 0.1.16 and BasicSR 1.4.2 in a separate environment) holds the references' values on natural
photographs, clean, noisy, blurred and JPEG-compressed (``nr_cases.py``); dcpt must agree to within 1%.
Where pyiqa or BasicSR is importable, the tests also compare with them directly on other images.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dcpt.errors import DcptError
from dcpt.metrics import niqe, piqe
from dcpt.metrics.niqe import PRISTINE_FILE, pristine_model
from dcpt.metrics.nss import gaussian_taps, imresize

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nr_cases  # noqa: E402

TOLERANCE = 0.01  # relative: the "within 1%"
OURS = {
    "pyiqa_piqe": piqe,
    "pyiqa_niqe": niqe,
    "basicsr_niqe": lambda img: niqe(img, convention="basicsr"),
}


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 H x W x 3 -> 3 x H x W float32 in [0, 1], as the references were given it."""
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255.0


@pytest.fixture(scope="module")
def fixture_cases():
    return json.loads(nr_cases.FIXTURE.read_text())["cases"]


@pytest.fixture(scope="module")
def scored(fixture_cases):
    """dcpt's three scores of every case, one batch per photograph, next to the fixture's row."""
    rows = {(row["image"], row["degradation"]): row for row in fixture_cases}
    by_photo = {}
    for name, degradation, img in nr_cases.cases():
        row = rows[(name, degradation)]
        assert row["sha256"] == nr_cases.digest(img), (
            f"{name}/{degradation}: the images differ from those the references scored "
            "(another Pillow or numpy?); regenerate with scripts/make_nr_fixtures.py"
        )
        by_photo.setdefault(name, []).append((degradation, img, row))
    results = []
    for name, items in by_photo.items():
        batch = torch.stack([to_tensor(img) for _, img, _ in items])
        ours = {metric: fn(batch) for metric, fn in OURS.items()}
        for i, (degradation, _, row) in enumerate(items):
            results.append((name, degradation, row, {m: float(v[i]) for m, v in ours.items()}))
    return results


def test_fixture_covers_every_case(fixture_cases):
    assert len(fixture_cases) == len(nr_cases.PHOTOS) * len(nr_cases.DEGRADATIONS)
    assert {row["degradation"] for row in fixture_cases} == set(nr_cases.DEGRADATIONS)


@pytest.mark.parametrize("metric", list(OURS))
def test_agrees_with_the_reference_within_one_percent(scored, metric):
    errors = {
        f"{name}/{degradation}": abs(ours[metric] - row[metric]) / abs(row[metric])
        for name, degradation, row, ours in scored
    }
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOLERANCE, f"{metric}: {worst} is {100 * errors[worst]:.2f}% off the reference"


@pytest.mark.parametrize("metric", list(OURS))
def test_clean_photographs_score_lower_than_degraded(scored, metric):
    clean = {name: ours[metric] for name, degradation, _, ours in scored if degradation == "clean"}
    for name, degradation, _, ours in scored:
        if degradation != "clean":
            assert ours[metric] > clean[name], f"{metric}: {name} {degradation} scores better than clean"


def test_the_two_niqe_conventions_differ_on_jpeg(scored):
    """Luma and flat areas make pyiqa's and BasicSR's NIQE differ: the convention is not cosmetic."""
    gaps = [
        abs(o["pyiqa_niqe"] - o["basicsr_niqe"]) / o["basicsr_niqe"] for _, d, _, o in scored if d == "jpeg5"
    ]
    assert max(gaps) > 0.03


def test_batch_and_single_images_agree():
    img = to_tensor(nr_cases.photo("chelsea"))[:, :200, :300]
    batch = torch.stack([img, img.flip(-1)])
    for fn in (piqe, niqe):
        together = fn(batch)
        assert together.shape == (2,) and together.dtype == torch.float64
        assert fn(img).shape == (1,)
        assert torch.allclose(together, torch.cat([fn(batch[:1]), fn(batch[1:])]), rtol=1e-9)


def test_grey_input_is_its_own_luma():
    img = to_tensor(nr_cases.photo("camera"))[:, :192, :192]  # grey: R = G = B
    for fn in (piqe, niqe):
        assert torch.allclose(fn(img[:1]), fn(img), rtol=1e-6)


def test_pristine_window_is_the_computed_gaussian():
    with (nr_cases.FIXTURE.parents[2] / "src" / "dcpt" / PRISTINE_FILE).open("rb") as f:
        window = np.load(f)["gaussian_window"]
    taps = gaussian_taps().numpy()
    np.testing.assert_allclose(np.outer(taps, taps), window, rtol=1e-6)
    mean, cov = pristine_model()
    assert mean.shape == (36,) and cov.shape == (36, 36) and torch.allclose(cov, cov.T)


def test_imresize_half_matches_matlab_weights():
    """MATLAB's antialiased bicubic halving: output j (1-based) centres on input 2j - 0.5 and weighs
    input p by 0.5 * cubic((2j - 0.5 - p) / 2). Input 16 is 2.5, 0.5, 1.5 and 3.5 pixels from the
    centres of outputs 7-10, so a unit impulse there gives cubic(1.25) / 2, cubic(0.25) / 2,
    cubic(0.75) / 2, cubic(1.75) / 2 (each output's 8 weights already sum to 1)."""
    row = torch.zeros(1, 1, 8, 32, dtype=torch.float64)
    row[..., 15] = 1.0
    out = imresize(row, 0.5)[0, 0, 0]
    expected = [0.0, -0.03515625, 0.43359375, 0.11328125, -0.01171875, 0.0]
    np.testing.assert_allclose(out[5:11].numpy(), expected, atol=1e-12)
    flat = imresize(torch.full((1, 1, 10, 14), 7.0, dtype=torch.float64), 0.5)
    assert flat.shape == (1, 1, 5, 7) and torch.allclose(flat, torch.tensor(7.0, dtype=torch.float64))


def test_input_checks():
    with pytest.raises(DcptError, match="expected a B x 3 x H x W"):
        piqe(torch.rand(2, 4, 32, 32))
    with pytest.raises(DcptError, match="expected a torch tensor"):
        niqe(np.zeros((192, 192, 3)))
    with pytest.raises(DcptError, match="needs two 96 x 96 blocks"):
        niqe(torch.rand(1, 3, 96, 150))
    with pytest.raises(DcptError, match="unknown convention"):
        niqe(torch.rand(1, 3, 192, 192), convention="matlab")


def test_a_flat_image_has_no_niqe():
    flat = torch.full((2, 3, 192, 192), 0.5)
    flat[1, :, :, 96:] = torch.rand(3, 192, 96, generator=torch.Generator().manual_seed(0))
    for convention in ("pyiqa", "basicsr"):
        scores = niqe(flat, convention=convention)
        assert torch.isnan(scores[0]) and torch.isfinite(scores[1])


def test_flat_and_black_images_give_finite_piqe():
    assert piqe(torch.zeros(1, 3, 40, 40)).item() == 100.0  # no active block: (0 + 1) / (0 + 1) * 100
    assert piqe(torch.full((1, 3, 8, 8), 0.5)).item() == 100.0  # smaller than one block


@pytest.mark.gpu
def test_cuda_matches_cpu():
    img = torch.stack([to_tensor(img) for _, _, img in list(nr_cases.cases())[:3]])
    for fn in OURS.values():
        assert torch.allclose(fn(img.cuda()).cpu(), fn(img), rtol=1e-6)


def _reference_images():
    """Crops unlike the fixture's: other sizes, sharper and noisier, a JPEG of a crop."""
    astronaut, coffee = nr_cases.photo("astronaut"), nr_cases.photo("coffee")
    return [
        astronaut[50:350, 100:420],
        nr_cases.gaussian_noise(coffee[:300, 100:500], 25.0, seed=7),
        nr_cases.jpeg(astronaut[200:, :400], 30),
    ]


def test_directly_against_pyiqa(tmp_path):
    pytest.importorskip("pyiqa", reason="pyiqa is not installed: the fixture test covers it")
    scipy_io = pytest.importorskip("scipy.io")
    from pyiqa.archs.niqe_arch import NIQE
    from pyiqa.archs.piqe_arch import PIQE

    mean, cov = pristine_model()
    mat = tmp_path / "niqe.mat"
    scipy_io.savemat(mat, {"mu_prisparam": mean.numpy()[None], "cov_prisparam": cov.numpy()})
    reference = {"pyiqa_piqe": PIQE(), "pyiqa_niqe": NIQE(pretrained_model_path=str(mat))}
    for img in _reference_images():
        x = to_tensor(img)[None]
        for metric, ref in reference.items():
            with torch.no_grad():
                expected = float(ref(x).item())
            assert float(OURS[metric](x)) == pytest.approx(expected, rel=TOLERANCE), metric


def test_directly_against_basicsr():
    tv_functional = pytest.importorskip(
        "torchvision.transforms.functional", reason="BasicSR needs torchvision"
    )
    sys.modules.setdefault("torchvision.transforms.functional_tensor", tv_functional)
    basicsr_niqe = pytest.importorskip("basicsr.metrics.niqe", reason="BasicSR is not installed")
    for img in _reference_images():
        expected = basicsr_niqe.calculate_niqe(np.ascontiguousarray(img[..., ::-1]), crop_border=0)
        assert float(OURS["basicsr_niqe"](to_tensor(img))) == pytest.approx(expected, rel=TOLERANCE)
