"""The test-set lists of the official DCPT and MaskDCPT releases, and where each set lives under DATA_ROOT.

Each row is one ``datasets: test_N`` entry of a release's ``options/all_in_one/test/*.yml`` (its `name`
kept verbatim, so a row can be compared with the release's log line by line). The release configs hold
absolute paths of the authors' machine (``/mnt/nasv3/hjk/...``); `lq` and `gt` here are the folders
relative to DATA_ROOT that stand for them (the mapping is tabulated in ``docs/protocols.md``). Rows are
in config-file order; the release's ``test.py`` runs them in the lexicographic order of their keys, which
changes nothing but the order of its log.

Kinds, after the release's dataset class:
  paired     PairedImageDataset: files of identical name in `lq` and `gt`
  dehaze     PairedImageDehazeDataset: every file of `lq`, clean file ``<name up to '_'>`` + `suffix` in `gt`
  noise      PairedImageDenoiseDataset: clean images in `gt`, Gaussian noise of `sigma` (0-255 scale)
  jpeg       PairedImageJPEGCARDataset: clean images in `gt`, OpenCV JPEG at `quality`
  mosaic     PairedImageMosaicDataset: clean images in `gt`, RGGB Bayer sampling + OpenCV EA demosaicing
  txtlist    PairedImageTxtlistDataset: ``gt lq`` lines of the text file `lq`, relative to `gt`
  pregenerated  the release draws random blur kernels from the unseeded global RNG, so no run can
             repeat its inputs; pairs written beforehand (`lq`, `gt`, identical names) are read instead
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ..errors import DcptError

DCPT_5D = "dcpt options/all_in_one/test/test_NAFNet_5d.yml"
MASK_5D = "MaskDCPT options/all_in_one/test/test_NAFNet_5d.yml"
MASK_12D = "MaskDCPT options/all_in_one/test/test_NAFNet_12d.yml"
MASK_MIXED = "MaskDCPT options/all_in_one/test/test_NAFNet_mixed.yml"
MASK_DN = "MaskDCPT options/all_in_one/test/test_NAFNet_5d_dn.yml"


@dataclass(frozen=True)
class ReleaseSet:
    """One test set of a release config. `lq` / `gt` are relative to DATA_ROOT; `line` is the line of
    its ``name:`` in `config`."""

    name: str
    kind: str
    gt: str
    lq: Optional[str] = None
    sigma: float = 0.0
    quality: int = 0
    suffix: str = ""
    config: str = ""
    line: int = 0

    def source(self) -> str:
        return f"{self.config}:{self.line}"

    def folders(self) -> Tuple[str, ...]:
        """The paths (relative to DATA_ROOT) that must exist for this set to be scored."""
        if self.kind in ("noise", "jpeg", "mosaic"):
            return (self.gt,)
        if self.lq is None:
            raise DcptError(f"release set {self.name!r} ({self.kind}, {self.source()}) has no lq folder")
        if self.kind == "txtlist":
            return (self.gt, self.lq)
        return (self.lq, self.gt)


def _paired(name, lq, gt, config, line, kind="paired", suffix=""):
    return ReleaseSet(name, kind, gt=gt, lq=lq, suffix=suffix, config=config, line=line)


def _noise(name, gt, sigma, config, line):
    return ReleaseSet(name, "noise", gt=gt, sigma=float(sigma), config=config, line=line)


def _sots(name, config, line):
    return _paired(name, "SOTS/outdoor/hazy", "SOTS/outdoor/gt", config, line, kind="dehaze", suffix=".png")


def _five_d(config, lines, names, order):
    """The 5D list (same folders in both releases, listed in a different order with other names)."""
    sets = {
        "rain": lambda n, line: _paired(n, "Rain100L/rainy", "Rain100L/norain", config, line),
        "noise": lambda n, line: _noise(n, "CBSD68", 25, config, line),
        "haze": lambda n, line: _sots(n, config, line),
        "blur": lambda n, line: _paired(n, "GoPro/test/input", "GoPro/test/groundtruth", config, line),
        "low": lambda n, line: _paired(n, "LOL/eval15/low", "LOL/eval15/high", config, line),
    }
    return tuple(sets[key](name, line) for key, name, line in zip(order, names, lines))


CLEAN_SETS = ("CBSD68", "Kodak", "McMasterHQ", "Urban100")


def _twelve_d() -> Tuple[ReleaseSet, ...]:
    c = MASK_12D
    rows = []
    line = 13
    for sigma in (50, 25, 15):
        for clean in CLEAN_SETS:
            rows.append(_noise(f"GaussianDenoise{sigma}_{clean}", clean, sigma, c, line))
            line += 8
    pairs = [
        ("RealNoise_SIDD", "SIDD/val/input", "SIDD/val/groundtruth", 109),
        ("MotionDeblur_GoPro", "GoPro/test/input", "GoPro/test/groundtruth", 116),
        ("MotionDeblur_REDS", "REDS/val/val_blur", "REDS/val/val_sharp", 123),
        ("MotionDeblur_HIDE", "HIDE/test/input", "HIDE/test/groundtruth", 130),
        ("MotionDeblur_RealBlurJ", "RealBlur_J/input", "RealBlur_J/target", 137),
        ("MotionDeblur_RealBlurR", "RealBlur_R/input", "RealBlur_R/target", 144),
    ]
    rows += [_paired(n, lq, gt, c, line) for n, lq, gt, line in pairs]
    rows.append(
        _paired(
            "MotionDeblur_RSBlur_real",
            "RSBlur/RSBlurList/RSBlur_real_test.txt",
            "RSBlur",
            c,
            151,
            kind="txtlist",
        )
    )
    rows.append(_paired("DefocuseDeblur_DPDD", "DPDD/test/inputC", "DPDD/test/target", c, 159))
    rows.append(_paired("DefocuseDeblur_RealDOF", "RealDOF/source", "RealDOF/target", c, 166))
    for i, clean in enumerate(CLEAN_SETS):
        rows.append(ReleaseSet(f"JPEG_{clean}", "jpeg", gt=clean, quality=50, config=c, line=173 + 8 * i))
    rows.append(_sots("Dehaze_SOTS", c, 205))
    derain = [("Rain100L", 213), ("Rain100H", 220), ("Test100", 227), ("Test1200", 234), ("Test2800", 241)]
    rows += [_paired(f"Derain_{n}", f"{n}/input", f"{n}/target", c, line) for n, line in derain]
    rows += [
        _paired("Derain_SynRain", "SynRain-13k/test/input", "SynRain-13k/test/target", c, 248),
        _paired(
            "Derain_RealRainL",
            "RealRain-1k/RealRain-1k-L/test/input",
            "RealRain-1k/RealRain-1k-L/test/target",
            c,
            255,
        ),
        _paired(
            "Derain_RealRainH",
            "RealRain-1k/RealRain-1k-H/test/input",
            "RealRain-1k/RealRain-1k-H/test/target",
            c,
            262,
        ),
    ]
    for size, line in (("S", 269), ("M", 276), ("L", 283)):
        base = f"Snow100K/test/Snow100K-{size}"
        rows.append(_paired(f"Snow_Snow100K-{size}", f"{base}/synthetic", f"{base}/gt", c, line))
    rows.append(_paired("Snow_CSD", "CSD/Test/Snow", "CSD/Test/Gt", c, 290))
    rows.append(ReleaseSet("Mosaic_Urban100", "mosaic", gt="Urban100", config=c, line=297))
    low = [
        ("LowLight_LoLv1", "LOL/eval15/low", "LOL/eval15/high", 303),
        ("LowLight_LoLv2Syn", "LOLv2/Synthetic/Test/Low", "LOLv2/Synthetic/Test/Normal", 310),
        ("LowLight_LoLv2Real", "LOLv2/Real_captured/Test/Low", "LOLv2/Real_captured/Test/Normal", 317),
        ("LowLight_LSRW_Huawei", "LSRW/Eval/Huawei/low", "LSRW/Eval/Huawei/high", 324),
        ("LowLight_LSRW_Nikon", "LSRW/Eval/Nikon/low", "LSRW/Eval/Nikon/high", 331),
        ("Moire", "Moire/testset/moire_RGB", "Moire/testset/gt_RGB", 338),
        ("RainDrop_a", "RainDrop/test_a/data", "RainDrop/test_a/gt", 345),
        ("RainDrop_b", "RainDrop/test_b/data", "RainDrop/test_b/gt", 352),
        ("RainDS_syn", "RainDS/RainDS_syn/test/raindrop", "RainDS/RainDS_syn/test/gt", 359),
        ("RainDS_real", "RainDS/RainDS_real/test_set/raindrop", "RainDS/RainDS_real/test_set/gt", 366),
    ]
    rows += [_paired(n, lq, gt, c, line) for n, lq, gt, line in low]
    rows.append(
        _paired(
            "GaussianBlur_Urban100",
            "GaussianBlur_Urban100/lq",
            "GaussianBlur_Urban100/gt",
            c,
            373,
            kind="pregenerated",
        )
    )
    rows.append(_paired("UDC_poled", "UDC/poled_test/display", "UDC/poled_test/gt", c, 385))
    rows.append(_paired("UDC_toled", "UDC/toled_test/display", "UDC/toled_test/gt", c, 392))
    return tuple(rows)


def _mixed() -> Tuple[ReleaseSet, ...]:
    kinds = (
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
    )
    rows = [
        _paired(k, f"CDD/test/{k}", "CDD/test/clear", MASK_MIXED, 13 + 7 * i) for i, k in enumerate(kinds)
    ]
    rows += [
        _paired(k, f"LOLBlur/test/{k}", "LOLBlur/test/high_sharp_scaled", MASK_MIXED, line)
        for k, line in (("low_blur_noise", 90), ("low_blur", 97))
    ]
    return tuple(rows)


def _denoise_ood() -> Tuple[ReleaseSet, ...]:
    rows = []
    line = 13
    for sigma in (75, 60, 50, 25, 15):
        for clean in CLEAN_SETS:
            # The config names its sigma-50 CBSD68 row "GaussianDenoise56_CBSD68" (sigma_range is 50).
            label = 56 if (sigma, clean) == (50, "CBSD68") else sigma
            rows.append(_noise(f"GaussianDenoise{label}_{clean}", clean, sigma, MASK_DN, line))
            line += 8
    return tuple(rows)


TABLES: Dict[str, Dict[str, Tuple[ReleaseSet, ...]]] = {
    "dcpt": {
        "5d": _five_d(
            DCPT_5D,
            (12, 19, 27, 35, 42),
            ("Rain100L", "CBSD68", "SOTS", "deblur", "LowLight"),
            ("rain", "noise", "haze", "blur", "low"),
        ),
    },
    "maskdcpt": {
        "5d": _five_d(
            MASK_5D,
            (13, 20, 28, 36, 44),
            ("Rain100L", "CBSD68", "SOTS", "LowLight", "Gopro"),
            ("rain", "noise", "haze", "low", "blur"),
        ),
        "12d": _twelve_d(),
        "mixed": _mixed(),
        "dn": _denoise_ood(),
    },
}


def release_table(protocol: str, benchmark: str) -> Tuple[ReleaseSet, ...]:
    """The rows of `benchmark` under `protocol`; one-line DcptError naming the valid choices otherwise."""
    if protocol not in TABLES:
        raise DcptError(f"unknown protocol {protocol!r}; expected one of toolkit, {', '.join(TABLES)}")
    tables = TABLES[protocol]
    if benchmark not in tables:
        raise DcptError(
            f"the {protocol} protocol has no {benchmark!r} benchmark; its release tests {', '.join(tables)}"
        )
    return tables[benchmark]
