"""PSNR / SSIM tables over benchmark data sets: the toolkit's own protocol (``--protocol toolkit``).

This is dcpt's protocol, not either paper's (those are `dcpt.infer.protocols`): noisy inputs are seeded
per file name, clipped to [0, 255] and floored to integers (`NoisyCleanDataset`), images are decoded with
Pillow, and large images may be tiled. Scoring: RGB, no border crop, no Y channel; the restored image is
clamped to [0, 1] and rounded to 8 bits, as is the clean image, and both are scored on the 0-255 scale.
The networks reflect-pad to their own padding multiple and crop back themselves, so any image size is
evaluated whole (or tiled with `tile`, for memory). A data set's score is the mean over its images; the
table's average is the mean over the data sets present. `SetResult`, `markdown_table`, `write_reports`
and `require_scored` serve every protocol.
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
from torch import nn

from ..errors import DataError, DcptError
from ..fileio import atomic_write, check_output_folder
from .benchmarks import EvalSet, benchmark_sets, pair_sets


@dataclass
class SetResult:
    """One table row. `status`: "ok", "missing" (folder absent) or "error" (unreadable data)."""

    name: str
    path: str
    status: str
    psnr: float = math.nan
    ssim: float = math.nan
    images: int = 0
    detail: str = ""
    per_image: List[Dict] = field(default_factory=list)

    def label(self) -> str:
        return f"missing ({self.path})" if self.status == "missing" else f"error ({self.detail})"


def open_set(entry: EvalSet):
    """A data set whose items hold ``lq``, ``gt`` (3 x H x W in [0, 1]) and ``name``."""
    from ..data.paired import (
        LAYOUTS,
        JpegCleanDataset,
        NoisyCleanDataset,
        PairedFolderDataset,
        PairListDataset,
        match_pairs,
    )

    root = Path(entry.path)
    if entry.kind == "noise":
        return NoisyCleanDataset(root, entry.sigma)
    if entry.kind == "jpeg":
        return JpegCleanDataset(root, entry.quality)
    if entry.dirs:
        for folder in entry.dirs:
            if not (root / folder).is_dir():
                raise DataError(f"{root / folder}: no such folder (expected {entry.expected()})")
        return PairListDataset(match_pairs(root / entry.dirs[0], root / entry.dirs[1], LAYOUTS["generic"]))
    return PairedFolderDataset(root, layout=entry.layout)


def score_pair(restored: torch.Tensor, gt: torch.Tensor) -> Dict[str, float]:
    """PSNR (dB) and SSIM of two ``3 x H x W`` images after rounding both to 8 bits (toolkit protocol)."""
    from ..data.io import to_numpy
    from ..metrics import psnr, ssim

    if restored.shape != gt.shape:
        raise DataError(f"restored image is {tuple(restored.shape)} but the clean image is {tuple(gt.shape)}")
    out8, gt8 = to_numpy(restored, 8), to_numpy(gt, 8)
    return {"psnr": float(psnr(out8, gt8)), "ssim": float(ssim(out8, gt8))}


def evaluate_sets(
    net: Optional[nn.Module],
    sets: Sequence[EvalSet],
    tile: Optional[int] = None,
    overlap: int = 32,
    batch: Optional[int] = 1,
    save_dir=None,
    show_progress: bool = True,
) -> List[SetResult]:
    """Score `net` (or the degraded inputs themselves when `net` is None) on every data set."""
    return [_evaluate_one(net, entry, tile, overlap, batch, save_dir, show_progress) for entry in sets]


def _evaluate_one(net, entry, tile, overlap, batch, save_dir, show_progress) -> SetResult:
    from tqdm import tqdm

    from ..data.io import safe_name, write_image
    from .restore import restore_image

    if not Path(entry.path).exists():
        return SetResult(entry.name, entry.path, "missing", detail=f"expected {entry.expected()}")
    rows = []
    try:
        data = open_set(entry)
        for index in tqdm(
            range(len(data)), desc=entry.name, unit="img", disable=None if show_progress else True
        ):
            item = data[index]
            if net is None:
                restored = item["lq"].clamp(0.0, 1.0)
            else:
                restored = restore_image(net, item["lq"], tile=tile, overlap=overlap, batch=batch)
            rows.append({"name": item["name"], **score_pair(restored, item["gt"])})
            if save_dir is not None:
                write_image(Path(save_dir) / safe_name(entry.name) / f"{item['name']}.png", restored)
    except DataError as exc:
        return SetResult(entry.name, entry.path, "error", detail=str(exc))
    if not rows:
        return SetResult(entry.name, entry.path, "error", detail="no images")
    mean = {key: sum(r[key] for r in rows) / len(rows) for key in ("psnr", "ssim")}
    return SetResult(entry.name, entry.path, "ok", mean["psnr"], mean["ssim"], len(rows), per_image=rows)


def evaluate_benchmark(
    net: Optional[nn.Module], benchmark: str, data_root, overrides=None, **kwargs
) -> List[SetResult]:
    """Rows of the 3D / 5D / 12D table (see `dcpt.infer.benchmarks`) for `net` (None: the inputs)."""
    return evaluate_sets(net, benchmark_sets(benchmark, data_root, overrides), **kwargs)


def evaluate_pairs(net: Optional[nn.Module], specs: Sequence[str], **kwargs) -> List[SetResult]:
    """Rows for ``NAME=DIR`` paired folders of any standard layout."""
    return evaluate_sets(net, pair_sets(specs), **kwargs)


def average(results: Sequence[SetResult]) -> Optional[Dict[str, float]]:
    """Mean PSNR / SSIM over the data sets that were scored (None if none was)."""
    done = [r for r in results if r.status == "ok"]
    if not done:
        return None
    return {key: sum(getattr(r, key) for r in done) / len(done) for key in ("psnr", "ssim")}


def require_scored(results: Sequence[SetResult], what: str) -> None:
    """One-line DcptError when any requested data set was not scored, naming the first few and where
    they were sought: a table with "missing" or "error" rows is a wrong path or broken data, and a
    script that checks only the exit code must not take it for a result. Callers print and write the
    table first, so the scored rows are kept."""
    failed = [r for r in results if r.status != "ok"]
    if not failed:
        return
    shown = "; ".join(f"{r.name}: {r.label()}" for r in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    if len(failed) == len(results):
        raise DcptError(f"nothing was scored for {what}: {shown}{more}")
    raise DcptError(
        f"{len(failed)} of {len(results)} data sets could not be scored for {what}: {shown}{more}"
    )


def markdown_table(results: Sequence[SetResult]) -> str:
    """``| Data set | Images | PSNR (dB) | SSIM |`` with an Average row; missing sets say where they were sought."""
    lines = ["| Data set | Images | PSNR (dB) | SSIM |", "|---|---:|---:|---:|"]
    for r in results:
        if r.status == "ok":
            lines.append(f"| {r.name} | {r.images} | {r.psnr:.2f} | {r.ssim:.4f} |")
        else:
            lines.append(f"| {r.name} | - | {r.label()} | - |")
    mean = average(results)
    if mean is not None:
        scored = sum(r.status == "ok" for r in results)
        lines.append(
            f"| **Average** ({scored} of {len(results)}) | | {mean['psnr']:.2f} | {mean['ssim']:.4f} |"
        )
    return "\n".join(lines)


def write_reports(results: Sequence[SetResult], out_dir, meta: Optional[Dict] = None) -> Dict[str, Path]:
    """Write ``results.csv`` (one row per data set + average) and ``results.json`` (with per-image scores)."""
    out = check_output_folder(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mean = average(results)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["dataset", "status", "images", "psnr", "ssim", "path"])
    for r in results:
        ok = r.status == "ok"
        writer.writerow(
            [r.name, r.status, r.images, f"{r.psnr:.4f}" if ok else "", f"{r.ssim:.6f}" if ok else "", r.path]
        )
    if mean is not None:
        writer.writerow(["Average", "ok", "", f"{mean['psnr']:.4f}", f"{mean['ssim']:.6f}", ""])
    csv_path = atomic_write(out / "results.csv", table.getvalue())
    payload = {"meta": meta or {}, "average": mean, "datasets": [_jsonable(asdict(r)) for r in results]}
    json_path = atomic_write(out / "results.json", json.dumps(payload, indent=2))
    return {"csv": csv_path, "json": json_path}


def _jsonable(row: Dict) -> Dict:
    return {
        key: (None if isinstance(value, float) and math.isnan(value) else value) for key, value in row.items()
    }
