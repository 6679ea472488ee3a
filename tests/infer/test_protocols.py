"""The release protocols against references written here from the releases' code, in numpy / OpenCV / skimage."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from dcpt.data.io import to_numpy
from dcpt.data.samples import load_samples
from dcpt.errors import DcptError
from dcpt.infer.protocols import evaluate_release
from dcpt.infer.release_tables import TABLES, release_table
from dcpt.models import create_model

SIZE = (37, 53)  # odd on purpose: the releases pad to a multiple of 16 (NAFNet) and crop back


def _save(path, arr, quality=90):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=quality)


def clean_images():
    """Crops of scikit-image's embedded test photographs (8-bit RGB)."""
    return [to_numpy(img)[40 : 40 + SIZE[0], 60 : 60 + SIZE[1]] for _, img in load_samples("test")]


@pytest.fixture
def root(tmp_path):
    """Three 5D sets in the releases' layout (names paired as their configs pair them), Urban100, CDD haze."""
    root = tmp_path / "data"
    for i, gt in enumerate(clean_images()):
        _save(root / f"CBSD68/{i:02d}.png", gt)
        _save(root / f"Urban100/img_{i:03d}.png", gt)
        streaks = 40 * (np.arange(SIZE[1]) % 7 == 0)[None, :, None]
        _save(root / f"Rain100L/rainy/{i}.png", np.clip(gt.astype(int) + streaks, 0, 255).astype(np.uint8))
        _save(root / f"Rain100L/norain/{i}.png", gt)
        _save(root / f"SOTS/outdoor/hazy/{i:04d}_0.8_0.2.jpg", (gt * 0.6 + 90).astype(np.uint8))
        _save(root / f"SOTS/outdoor/gt/{i:04d}.png", gt)
        _save(root / f"CDD/test/haze/{i}.png", (gt * 0.5 + 100).astype(np.uint8))
        _save(root / f"CDD/test/clear/{i}.png", gt)
    return root


def rows(results):
    return {r.name: r for r in results}


def read_float(path):
    """The releases' reader: OpenCV BGR decode, float32 / 255, to RGB."""
    return (cv2.imread(str(path), cv2.IMREAD_COLOR).astype(np.float32) / 255.0)[:, :, ::-1].copy()


def noisy_inputs(root, sigma, clip, seed_each=True, rgb_order=True):
    """PairedImageDenoiseDataset as read in the release (optionally with a convention changed)."""
    out, rng = [], np.random.RandomState(0)
    for path in sorted((root / "CBSD68").iterdir()):
        gt = read_float(path)
        if seed_each:
            np.random.seed(0)
            noise = np.random.normal(0, sigma / 255.0, gt.shape)
        else:
            noise = rng.normal(0, sigma / 255.0, gt.shape)
        lq = gt.copy()
        lq += noise if rgb_order else noise[:, :, ::-1]
        out.append((np.clip(lq, 0, 1) if clip else lq, gt))
    return out


def psnr_rounded(pairs):
    """DCPT's metric (image_range 255): clamp, ``(x * 255.0).round()`` to uint8, PSNR on the 8-bit images."""
    q = lambda x: (np.clip(x, 0, 1) * np.float32(255.0)).round().astype(np.uint8)  # noqa: E731
    return np.mean([peak_signal_noise_ratio(q(gt), q(out), data_range=255) for out, gt in pairs])


def psnr_float(pairs):
    """MaskDCPT's metric (image_range 1.0): clamp, PSNR of the float images."""
    return np.mean(
        [
            peak_signal_noise_ratio(
                gt.astype(np.float64), np.clip(out, 0, 1).astype(np.float64), data_range=1.0
            )
            for out, gt in pairs
        ]
    )


def test_tables_list_every_release_set():
    assert [
        len(TABLES[p][b])
        for p, b in (
            ("dcpt", "5d"),
            ("maskdcpt", "5d"),
            ("maskdcpt", "12d"),
            ("maskdcpt", "mixed"),
            ("maskdcpt", "dn"),
        )
    ] == [5, 5, 52, 13, 20]
    names = [e.name for e in release_table("maskdcpt", "mixed")]
    assert names[:11] == [
        "haze",
        "haze_rain",
        "haze_snow",
        "low",
        "low_haze",
        "low_haze_rain",
        "low_haze_snow",
        "low_rain",
        "low_snow",
        "rain",
        "snow",
    ]
    with pytest.raises(DcptError, match="no '12d' benchmark"):
        release_table("dcpt", "12d")
    with pytest.raises(DcptError, match="unknown protocol"):
        release_table("basicsr", "5d")


def test_dcpt_identity_noise_row_matches_the_release_convention(root):
    got = rows(evaluate_release(None, "dcpt", "5d", root, show_progress=False))["CBSD68"]
    ref = psnr_rounded(noisy_inputs(root, 25, clip=False))
    assert got.images == 3 and got.psnr == pytest.approx(ref, abs=1e-6)
    # Each of these conventions moves the figure by more than the tolerance asserted above.
    assert abs(psnr_rounded(noisy_inputs(root, 25, clip=False, seed_each=False)) - ref) > 1e-3
    assert abs(psnr_rounded(noisy_inputs(root, 25, clip=False, rgb_order=False)) - ref) > 1e-3
    assert abs(psnr_float(noisy_inputs(root, 25, clip=False)) - ref) > 1e-3
    floored = [(np.floor(np.clip(lq, 0, 1) * 255) / 255, gt) for lq, gt in noisy_inputs(root, 25, clip=True)]
    assert abs(psnr_rounded(floored) - ref) > 1e-3


def test_maskdcpt_identity_rows_score_float_images(root):
    got = rows(evaluate_release(None, "maskdcpt", "5d", root, show_progress=False))
    ref = psnr_float(noisy_inputs(root, 25, clip=True))
    assert got["CBSD68"].psnr == pytest.approx(ref, abs=1e-6)
    assert abs(psnr_rounded(noisy_inputs(root, 25, clip=True)) - ref) > 1e-3
    hazy = sorted((root / "SOTS/outdoor/hazy").iterdir())
    pairs = [
        (read_float(p), read_float(root / "SOTS/outdoor/gt" / (p.name.split("_")[0] + ".png"))) for p in hazy
    ]
    assert got["SOTS"].psnr == pytest.approx(psnr_float(pairs), abs=1e-5)
    assert (
        got["Rain100L"].images == 3
        and got["LowLight"].status == "missing"
        and got["Gopro"].status == "missing"
    )


def test_tiny_network_sees_unclipped_noise_in_dcpt_and_clipped_in_maskdcpt(root):
    torch.manual_seed(0)
    net = create_model("nafnet-tiny").eval()

    def run(pairs):
        out = []
        for lq, gt in pairs:
            x = torch.from_numpy(lq.transpose(2, 0, 1).copy())[None]
            pad_h, pad_w = (-x.shape[2]) % 16, (-x.shape[3]) % 16
            with torch.no_grad():
                y = net(F.pad(x, (0, pad_w, 0, pad_h), mode="reflect"))[..., : x.shape[2], : x.shape[3]]
            out.append((y[0].clamp(0, 1).numpy().transpose(1, 2, 0), gt))
        return out

    dcpt = rows(evaluate_release(net, "dcpt", "5d", root, show_progress=False))["CBSD68"]
    mask = rows(evaluate_release(net, "maskdcpt", "5d", root, show_progress=False))["CBSD68"]
    ref_dcpt = psnr_rounded(run(noisy_inputs(root, 25, clip=False)))
    ref_mask = psnr_float(run(noisy_inputs(root, 25, clip=True)))
    assert dcpt.psnr == pytest.approx(ref_dcpt, abs=1e-4)
    assert mask.psnr == pytest.approx(ref_mask, abs=1e-4)
    assert abs(psnr_rounded(run(noisy_inputs(root, 25, clip=True))) - ref_dcpt) > 1e-3


def test_maskdcpt_12d_synthesises_jpeg_and_mosaic_rows(root):
    got = rows(evaluate_release(None, "maskdcpt", "12d", root, show_progress=False))
    jpeg, mosaic = [], []
    for path in sorted((root / "CBSD68").iterdir()):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        _, code = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50])
        jpeg.append((cv2.imdecode(code, cv2.IMREAD_UNCHANGED)[:, :, ::-1] / 255.0, bgr[:, :, ::-1] / 255.0))
    for path in sorted((root / "Urban100").iterdir()):
        rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
        mask = np.zeros(rgb.shape, bool)
        mask[0::2, 0::2, 0] = mask[0::2, 1::2, 1] = mask[1::2, 0::2, 1] = mask[1::2, 1::2, 2] = True
        cfa = (rgb * mask).sum(axis=2).astype(np.uint8)
        mosaic.append((cv2.cvtColor(cfa, cv2.COLOR_BAYER_BG2BGR_EA) / 255.0, rgb / 255.0))
    assert got["JPEG_CBSD68"].psnr == pytest.approx(psnr_float(jpeg), abs=1e-5)
    assert got["Mosaic_Urban100"].psnr == pytest.approx(psnr_float(mosaic), abs=1e-5)
    assert got["GaussianDenoise50_CBSD68"].psnr < got["GaussianDenoise15_CBSD68"].psnr
    # 3 noise levels x {CBSD68, Urban100}, JPEG x {CBSD68, Urban100}, mosaic, SOTS; Rain100L/input is absent
    assert sum(r.status == "ok" for r in got.values()) == 10 and got["Derain_Rain100L"].status == "missing"


def test_mixed_table_and_saved_images(root, tmp_path):
    got = rows(
        evaluate_release(None, "maskdcpt", "mixed", root, save_dir=tmp_path / "saved", show_progress=False)
    )
    pairs = [
        (read_float(root / f"CDD/test/haze/{i}.png"), read_float(root / f"CDD/test/clear/{i}.png"))
        for i in range(3)
    ]
    assert got["haze"].psnr == pytest.approx(psnr_float(pairs), abs=1e-5)
    assert sorted(p.name for p in (tmp_path / "saved/haze").iterdir()) == ["0.png", "1.png", "2.png"]


@pytest.mark.parametrize("case", ["renamed", "extra", "no_gt_for_hazy", "no_root", "file_for_folder"])
def test_pairings_the_release_refuses_are_errors(root, case):
    if case == "file_for_folder":
        for path in (root / "CBSD68").iterdir():
            path.unlink()
        (root / "CBSD68").rmdir()
        (root / "CBSD68").write_bytes(b"")
        match = "is not a folder"
    elif case == "renamed":
        (root / "Rain100L/rainy/0.png").rename(root / "Rain100L/rainy/rain-0.png")
        match = "not in"
    elif case == "extra":
        _save(root / "Rain100L/rainy/9.png", clean_images()[0])
        match = "holds 4 images"
    elif case == "no_gt_for_hazy":
        (root / "SOTS/outdoor/gt/0001.png").unlink()
        match = "has no clean image"
    else:
        root = root / "absent"
        match = "does not exist"
    with pytest.raises(DcptError, match=match):
        evaluate_release(None, "dcpt", "5d", root, show_progress=False)


@pytest.mark.parametrize("content", [None, b"\xff\xfe not text"])
def test_unreadable_txtlist_is_one_line_error(root, content):
    listed = root / "RSBlur/RSBlurList/RSBlur_real_test.txt"
    if content is None:
        listed.mkdir(parents=True)
    else:
        listed.parent.mkdir(parents=True)
        listed.write_bytes(content)
    with pytest.raises(DcptError, match="is not a file" if content is None else "not a UTF-8 text file"):
        evaluate_release(None, "maskdcpt", "12d", root, show_progress=False)


def test_txtlist_items_are_named_by_their_whole_path(root, tmp_path):
    """RSBlur's list repeats one file name in every scene: rows and saved images must not collide."""
    gt = clean_images()[0]
    lines = []
    for scene in ("s1", "s2"):
        _save(root / f"RSBlur/{scene}/gt/sharp.png", gt)
        _save(
            root / f"RSBlur/{scene}/blur/real_blur.png", np.clip(gt.astype(int) + 9, 0, 255).astype(np.uint8)
        )
        lines.append(f"{scene}/gt/sharp.png {scene}/blur/real_blur.png")
    listed = root / "RSBlur/RSBlurList/RSBlur_real_test.txt"
    listed.parent.mkdir(parents=True)
    listed.write_text("\n".join(lines) + "\n")
    got = rows(
        evaluate_release(None, "maskdcpt", "12d", root, save_dir=tmp_path / "saved", show_progress=False)
    )
    row = got["MotionDeblur_RSBlur_real"]
    assert row.images == 2 and [r["name"] for r in row.per_image] == [
        "s1_blur_real_blur",
        "s2_blur_real_blur",
    ]
    assert len(list((tmp_path / "saved/MotionDeblur_RSBlur_real").iterdir())) == 2


@pytest.mark.parametrize(
    "preset, expected",
    [
        (None, 1.0),
        ("nafnet-maskdcpt-5d", 1.0),
        ("restormer-maskdcpt-5d", 255.0),
        ("swinir-maskdcpt-5d", 255.0),
        ("promptir-maskdcpt-5d", 255.0),
    ],
)
def test_dn_image_range_follows_each_network_s_release_config(preset, expected):
    """test_NAFNet_5d_dn.yml scores at 1.0, test_{Restormer,SwinIR,PromptIR}_5d_dn.yml at 255.0; 5d is 1.0 for all."""
    from dcpt.infer.protocols import PROTOCOLS, image_range_for

    with torch.device("meta"):
        net = None if preset is None else create_model(preset)
    assert image_range_for(PROTOCOLS["maskdcpt"], "dn", net) == expected
    assert image_range_for(PROTOCOLS["maskdcpt"], "5d", net) == 1.0
    assert image_range_for(PROTOCOLS["dcpt"], "5d", net) == 255.0
