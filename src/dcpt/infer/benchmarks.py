"""The toolkit protocol's tables (``--protocol toolkit``): the papers' data sets, read the toolkit's way.

The releases' own set lists and conventions are `dcpt.infer.release_tables` / `dcpt.infer.protocols`;
these tables keep dcpt's own behaviour (per-file seeded, clipped, floored noise; Pillow decoding;
flexible pairing layouts), under its own name.

3D (AirNet / PromptIR's three tasks)      5D (DCPT / MaskDCPT all-in-one)
  CBSD68 sigma=15, 25, 50  CBSD68/         SOTS outdoor   SOTS/outdoor/{hazy,gt}
  Rain100L  Rain100L/{rainy,norain}        Rain100L       Rain100L/{rainy,norain}
  SOTS outdoor  SOTS/outdoor/{hazy,gt}     CBSD68 sigma=25  CBSD68/
                                           GoPro          GoPro/test/{input,groundtruth}
                                           LOL            LOL/eval15/{low,high}

12D follows the test set list of the MaskDCPT release (one row per data set, twelve degradation
kinds: noise, motion blur, defocus blur, JPEG, haze, rain, snow, mosaic, low light, moire, raindrop,
Gaussian blur); see `TABLES["12d"]` for the folders. Noise and JPEG rows are made here from clean
images (seeded noise as `NoisyCleanDataset`; OpenCV JPEG at quality 50). Mosaic and Gaussian-blur rows
draw random kernels in the original code, so they read pre-generated pairs (``lq/`` + ``gt/``, e.g.
written by ``dcpt make-dataset``).

Any entry's folder can be replaced with ``NAME=DIR`` overrides (see `benchmark_sets`); a folder that does
not exist becomes a "missing" row of the table, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from ..errors import DcptError

JPEG_QUALITY = 50
"""Quality of the JPEG rows of the 12D table (the MaskDCPT test list uses 50)."""


@dataclass(frozen=True)
class EvalSet:
    """One row of a results table: a data set and how its degraded inputs are obtained.

    `kind` is "paired" (degraded and clean folders, `layout` as in `dcpt.data.paired`, or explicit
    sub-folders `dirs=(degraded, clean)`), "noise" (clean folder + Gaussian noise of `sigma`, 0-255
    scale) or "jpeg" (clean folder, JPEG-compressed at `quality`). `path` is relative to DATA_ROOT
    in the tables and absolute once resolved.
    """

    name: str
    path: str
    kind: str = "paired"
    layout: str = "auto"
    dirs: Optional[Tuple[str, str]] = None
    sigma: float = 0.0
    quality: int = JPEG_QUALITY

    def expected(self) -> str:
        """What the folder should hold, for messages and docs."""
        if self.kind in ("noise", "jpeg"):
            return f"{self.path}/ (clean images)"
        if self.dirs:
            return f"{self.path}/{{{self.dirs[0]},{self.dirs[1]}}}"
        return f"{self.path}/ (layout {self.layout})"


def _noise(sigma: int) -> EvalSet:
    return EvalSet(f"CBSD68 sigma={sigma}", "CBSD68", kind="noise", sigma=float(sigma))


SOTS = EvalSet("SOTS outdoor", "SOTS/outdoor", layout="sots")
RAIN100L = EvalSet("Rain100L", "Rain100L", layout="rain100")
GOPRO = EvalSet("GoPro", "GoPro/test", layout="gopro")
LOL = EvalSet("LOL", "LOL/eval15", layout="lol")

TABLES: Dict[str, Tuple[EvalSet, ...]] = {
    "3d": (_noise(15), _noise(25), _noise(50), RAIN100L, SOTS),
    "5d": (SOTS, RAIN100L, _noise(25), GOPRO, LOL),
    "12d": (
        _noise(15),
        _noise(25),
        _noise(50),
        EvalSet("SIDD", "SIDD/val", layout="gopro"),
        GOPRO,
        EvalSet("DPDD", "DPDD/test", dirs=("inputC", "target")),
        EvalSet(f"JPEG q={JPEG_QUALITY} CBSD68", "CBSD68", kind="jpeg"),
        SOTS,
        RAIN100L,
        EvalSet("Snow100K-S", "Snow100K/test/Snow100K-S", dirs=("synthetic", "gt")),
        EvalSet("Mosaic Urban100", "Mosaic_Urban100", layout="generic"),
        LOL,
        EvalSet("Moire", "Moire/testset", dirs=("moire_RGB", "gt_RGB")),
        EvalSet("RainDrop test_a", "RainDrop/test_a", dirs=("data", "gt")),
        EvalSet("Gaussian blur Urban100", "GaussianBlur_Urban100", layout="generic"),
    ),
}


def benchmark_sets(name: str, data_root, overrides: Optional[Dict[str, str]] = None) -> List[EvalSet]:
    """The rows of table `name`, folders resolved under `data_root` unless `overrides` replaces them.

    An override key is a row name ("SOTS outdoor") or the top folder of a row's default path
    ("CBSD68" moves every CBSD68 row); its value is used as given (absolute, or relative to the
    working directory). Raises DcptError for an unknown table, a missing data root or an override
    that matches no row.
    """
    key = name.lower()
    if key not in TABLES:
        raise DcptError(f"unknown benchmark {name!r}; expected one of {', '.join(TABLES)}")
    root = Path(data_root)
    if not root.is_dir():
        raise DcptError(f"data root {root} does not exist (expected e.g. {root}/CBSD68, {root}/Rain100L)")
    overrides = dict(overrides or {})
    unused = set(overrides)
    sets = []
    for entry in TABLES[key]:
        top = entry.path.split("/")[0]
        match = entry.name if entry.name in overrides else top if top in overrides else None
        unused.discard(match)
        folder = Path(overrides[match]) if match else root / entry.path
        sets.append(replace(entry, path=str(folder)))
    if unused:
        rows = ", ".join(dict.fromkeys(s.name for s in TABLES[key]))
        raise DcptError(
            f"--set names no data set of the {key} table: {', '.join(sorted(unused))}; rows are {rows}"
        )
    return sets


def parse_assignments(specs: Iterable[str], option: str) -> Dict[str, str]:
    """``["NAME=DIR", ...]`` -> ``{NAME: DIR}``; one-line DcptError on a malformed entry."""
    parsed: Dict[str, str] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise DcptError(f"{option} expects NAME=DIR, got {spec!r}")
        if name.strip() in parsed:
            raise DcptError(f"{option} names {name.strip()!r} twice")
        parsed[name.strip()] = folder.strip()
    return parsed


def pair_sets(specs: Iterable[str]) -> List[EvalSet]:
    """``--pairs NAME=DIR`` entries: paired folders of any known layout (auto-detected)."""
    return [EvalSet(name, str(Path(folder))) for name, folder in parse_assignments(specs, "--pairs").items()]
