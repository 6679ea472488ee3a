"""No-reference evaluation on real photographs: PIQE and NIQE before and after restoration.

Real degraded photographs have no clean version, so PSNR / SSIM cannot score a restoration of them; the
MaskDCPT paper reports instead how much the no-reference scores fall ("PIQE falls by 34.8%"). The library
side of ``dcpt evaluate --no-reference DIR`` and ``dcpt restore --metrics``:

* both images are scored as they are stored: the input as read, the restoration clamped to [0, 1] and
  rounded to 8 bits (what ``dcpt restore`` writes), each with `dcpt.metrics.piqe` and
  `dcpt.metrics.niqe` (pyiqa's conventions; lower is better);
* NIQE needs two 96 x 96 blocks (e.g. 96 x 192 pixels) with some texture: a smaller or flat image has
  no NIQE (``None``, "n/a"), and the mean NIQE is over the images that have one;
* the change is relative, in percent of the score before: ``100 * (after - before) / before``, per image
  and for the means (the paper's figure); negative means the restoration scores better.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from ..fileio import atomic_write, check_output_folder
from .tiling import Restorer

METRICS = ("piqe", "niqe")
REPORT_FILES = ("results.md", "results.csv", "results.json")


def quality(img: torch.Tensor) -> Dict[str, Optional[float]]:
    """PIQE and NIQE of one ``3 x H x W`` image in [0, 1] (NIQE None where the image is too small)."""
    from ..metrics import niqe, piqe
    from ..metrics.niqe import BLOCK_SIZE

    height, width = img.shape[-2:]
    scores: Dict[str, Optional[float]] = {"piqe": float(piqe(img)[0]), "niqe": None}
    if (height // BLOCK_SIZE) * (width // BLOCK_SIZE) >= 2:
        value = float(niqe(img)[0])
        scores["niqe"] = None if math.isnan(value) else value
    return scores


def as_8_bit(img: torch.Tensor) -> torch.Tensor:
    """`img` clamped to [0, 1] and rounded to 8 bits as `dcpt.data.io.write_image` rounds it, as float32
    (the values `read_image` gives back from the written PNG)."""
    return (torch.round(img.detach().double().clamp(0.0, 1.0) * 255.0) / 255.0).float()


def change(before: Optional[float], after: Optional[float]) -> Optional[float]:
    """Relative change in percent of `before` (None when either is missing or `before` is 0)."""
    if before is None or after is None or before == 0:
        return None
    return 100.0 * (after - before) / before


@dataclass
class ImageScores:
    """One row: an image's scores before and after restoration."""

    name: str
    height: int
    width: int
    before: Dict[str, Optional[float]]
    after: Dict[str, Optional[float]]

    def change(self, metric: str) -> Optional[float]:
        return change(self.before[metric], self.after[metric])


@dataclass
class NoReferenceResult:
    """Every image's row, and the means over the images that have each score."""

    folder: str
    rows: List[ImageScores] = field(default_factory=list)

    def mean(self, metric: str, when: str) -> Optional[float]:
        values = [getattr(r, when)[metric] for r in self.rows if r.before[metric] is not None]
        return sum(values) / len(values) if values else None

    def count(self, metric: str) -> int:
        return sum(r.before[metric] is not None for r in self.rows)

    def mean_change(self, metric: str) -> Optional[float]:
        return change(self.mean(metric, "before"), self.mean(metric, "after"))


def score_restoration(before: torch.Tensor, restored: torch.Tensor, name: str) -> ImageScores:
    """The row of one image: `before` as read, `restored` as it would be written (8 bits)."""
    return ImageScores(
        name=name,
        height=int(before.shape[-2]),
        width=int(before.shape[-1]),
        before=quality(before),
        after=quality(as_8_bit(restored)),
    )


def evaluate_folder(
    net: Restorer,
    folder,
    tile: Optional[int] = None,
    overlap: int = 32,
    batch: Optional[int] = 1,
    save_dir=None,
    show_progress: bool = True,
) -> NoReferenceResult:
    """Restore every image of `folder` (no ground truth) with `net`; score each before and after.

    `save_dir`, when given, receives the restored images as 8-bit PNGs under the inputs' base names.
    """
    from tqdm import tqdm

    from ..data.io import list_images, read_image, write_image
    from .restore import restore_image

    paths = list_images(folder)
    result = NoReferenceResult(folder=str(folder))
    for path in tqdm(paths, desc="images", unit="img", disable=None if show_progress else True):
        img = read_image(path)
        restored = restore_image(net, img, tile=tile, overlap=overlap, batch=batch)
        result.rows.append(score_restoration(img, restored, path.name))
        if save_dir is not None:
            write_image(Path(save_dir) / f"{path.stem}.png", restored, bit_depth=8)
    return result


def _number(value: Optional[float], digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def summary_line(row: ImageScores) -> str:
    """``name: PIQE 45.20 -> 30.10 (-33.4%), NIQE 6.10 -> 4.20 (-31.1%)``."""
    parts = [
        f"{m.upper()} {_number(row.before[m])} -> {_number(row.after[m])} ({_percent(row.change(m))})"
        for m in METRICS
    ]
    return f"{row.name}: " + ", ".join(parts)


def markdown_table(result: NoReferenceResult) -> str:
    """Per-image PIQE / NIQE before, after and change; a Mean row (the relative change of the means)."""
    head = "| Image | Size | PIQE input | PIQE restored | PIQE change | NIQE input | NIQE restored | NIQE change |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result.rows:
        cells = [f"{_number(r.before[m])} | {_number(r.after[m])} | {_percent(r.change(m))}" for m in METRICS]
        lines.append(f"| {r.name} | {r.width} x {r.height} | " + " | ".join(cells) + " |")
    means = [
        f"{_number(result.mean(m, 'before'))} | {_number(result.mean(m, 'after'))} | "
        f"{_percent(result.mean_change(m))}"
        for m in METRICS
    ]
    images = ", ".join(f"{m.upper()} over {result.count(m)}" for m in METRICS)
    lines.append(f"| **Mean** ({images}) | | " + " | ".join(means) + " |")
    return "\n".join(lines)


def write_reports(result: NoReferenceResult, out_dir, meta: Optional[Dict] = None) -> Dict[str, Path]:
    """``results.md`` (the table), ``results.csv`` (a row per image + the mean) and ``results.json``."""
    out = check_output_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO()
    writer = csv.writer(table)
    columns = [f"{m}_{when}" for m in METRICS for when in ("input", "restored", "change_percent")]
    writer.writerow(["image", "width", "height", *columns])
    for r in result.rows:
        values = [v for m in METRICS for v in (r.before[m], r.after[m], r.change(m))]
        writer.writerow([r.name, r.width, r.height, *_csv_cells(values)])
    means = [
        v for m in METRICS for v in (result.mean(m, "before"), result.mean(m, "after"), result.mean_change(m))
    ]
    writer.writerow(["Mean", "", "", *_csv_cells(means)])
    summary = {
        m: {
            "images": result.count(m),
            "input": result.mean(m, "before"),
            "restored": result.mean(m, "after"),
            "change_percent": result.mean_change(m),
        }
        for m in METRICS
    }
    rows = [{**asdict(r), "change_percent": {m: r.change(m) for m in METRICS}} for r in result.rows]
    payload = {"meta": meta or {}, "folder": result.folder, "mean": summary, "images": rows}
    return {
        "md": atomic_write(out / "results.md", markdown_table(result) + "\n"),
        "csv": atomic_write(out / "results.csv", table.getvalue()),
        "json": atomic_write(out / "results.json", json.dumps(payload, indent=2)),
    }


def _csv_cells(values: Sequence[Optional[float]]) -> List[str]:
    return ["" if v is None or math.isnan(v) else f"{v:.4f}" for v in values]
