"""Write a paired data set to disk, reproducibly and resumably (``dcpt make-dataset``).

Every (image, type, repetition) is one pair ``OUT/lq/<name>.png`` + ``OUT/gt/<name>.png``. Its
randomness (level when none is given, crop position, degradation seed) comes from a generator seeded
by ``derive_seed(seed, image index, type, repetition)`` alone, so the bytes do not depend on the
number of workers or on the order of work. Images are written atomically (gt first, then lq), so a
pair whose two files exist is complete and is skipped on a re-run; the manifest is rebuilt from the
job list in a fixed order at the end. An interrupted run, re-run, gives exactly the files of an
uninterrupted one. A settings file (``OUT/make_dataset.json``) guards against resuming with other
settings.

An unreadable source image stops the run (policy ``error``) or leaves that image's pairs out
(``skip``, up to a share of the sources). A stop still writes the manifest of the complete pairs and
removes half-written ones, so the folder is consistent and a re-run (with the file fixed, or with
``skip``) completes it; the bad-sample policy is not a setting of the data, so it may change between
runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch

from ..errors import DataError
from ..fileio import atomic_write, leftovers
from .bad_samples import BadSamplePolicy, BadSamples
from .crops import draw_crop
from .io import list_images, read_image, write_image
from .samples import sample_names, sample_paths
from .synthetic import SEED_LIMIT, DegradationClass, derive_seed

SETTINGS_FILE = "make_dataset.json"
MANIFEST_FILE = "manifest.jsonl"


@dataclass(frozen=True)
class PairJob:
    """Everything that decides one pair's bytes; `level` is the drawn or given level."""

    name: str
    source: str
    image_index: int
    type: str
    repetition: int
    level: float
    seed: int
    crop: Optional[tuple]
    patch: Optional[int]

    def record(self) -> dict:
        return {
            "lq": f"lq/{self.name}.png",
            "gt": f"gt/{self.name}.png",
            "type": self.type,
            "level": self.level,
            "seed": self.seed,
            "source": self.source,
            "image_index": self.image_index,
            "repetition": self.repetition,
            "crop": list(self.crop) if self.crop else None,
        }


def resolve_sources(src: Union[str, Path]) -> List[tuple]:
    """``[(label, path)]`` for SRC: a folder's images, or the embedded images (train then test) for
    ``samples``, labelled ``samples:<name>`` in the manifest."""
    if str(src) == "samples" and not Path(src).exists():
        return [(f"samples:{n}", p) for n, p in zip(sample_names("all"), sample_paths("all"))]
    return [(str(p), p) for p in list_images(src)]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def plan_jobs(
    sources: Sequence[tuple],
    classes: Sequence[DegradationClass],
    per_image: int,
    seed: int,
    patch: Optional[int],
    sizes: Optional[Sequence[Optional[tuple]]] = None,
) -> List[PairJob]:
    """One job per (image, type, repetition), in that order; draws levels, crops and seeds. A source
    whose size is None (unreadable, skipped) gets no jobs; the others keep their indices and bytes."""
    jobs = []
    for i, (label, path) in enumerate(sources):
        if sizes is not None and sizes[i] is None:
            continue
        for cls in classes:
            for r in range(per_image):
                g = torch.Generator().manual_seed(derive_seed(seed, i, cls.name, r))
                lo, hi = cls.level_range
                t = float(torch.rand((), generator=g, dtype=torch.float64))
                level = float(torch.tensor(lo + (hi - lo) * t))  # float32, as the op will see it
                crop = None
                if patch is not None:
                    size = None if sizes is None else sizes[i]
                    if size is None:
                        raise DataError(f"cropping {patch}-pixel patches needs the image sizes (`sizes`)")
                    crop = draw_crop(g, size[0], size[1], patch)
                deg_seed = int(torch.randint(SEED_LIMIT, (), generator=g))
                name = f"{i:04d}_{_safe(path.stem)}_{_safe(cls.name)}_{r}"
                jobs.append(PairJob(name, label, i, cls.name, r, level, deg_seed, crop, patch))
    return jobs


@lru_cache(maxsize=2)
def read_cached(path: str):
    return read_image(path)


def init_worker() -> None:
    torch.set_num_threads(1)


def make_pair(job: PairJob, path, cls: DegradationClass) -> Tuple[torch.Tensor, torch.Tensor]:
    """(lq, gt) of one job; raises DataError when the source image is unreadable."""
    img = read_cached(str(path))
    if job.crop is not None:
        top, left = job.crop
        img = img[:, top : top + job.patch, left : left + job.patch]
    lq = cls.degrade(img[None], torch.tensor([job.level], dtype=torch.float64), [job.seed])[0]
    return lq, img


def run_job(args) -> Tuple[str, Optional[str]]:
    """Make one pair (in a worker process): read, crop, degrade, write gt then lq atomically.

    Returns (source path, None), or (source path, message) when the source image is unreadable, so
    the parent process decides what a bad image does."""
    job, path, cls, out = args
    try:
        lq, gt = make_pair(job, path, cls)
    except DataError as exc:
        return str(path), str(exc)
    write_image(Path(out) / "gt" / f"{job.name}.png", gt)
    write_image(Path(out) / "lq" / f"{job.name}.png", lq)
    return str(path), None


def _image_sizes(paths: Sequence[Path], patch: int, bad: BadSamples) -> List[Optional[tuple]]:
    """(height, width) of each image, checked against the patch size before any work starts; None
    for an unreadable image that the policy skips."""
    from PIL import Image, UnidentifiedImageError

    sizes: List[Optional[tuple]] = []
    for path in paths:
        try:
            with Image.open(path) as im:
                h, w = im.size[::-1] if im.getexif().get(0x0112, 1) < 5 else im.size
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError, EOFError):
            try:
                h, w = read_image(path).shape[1:]
            except DataError as exc:
                bad.record(str(path), exc)
                sizes.append(None)
                continue
        if h < patch or w < patch:
            raise DataError(f"{path} is {h}x{w} pixels, smaller than the {patch}x{patch} patch")
        sizes.append((h, w))
    return sizes


def check_settings(out: Path, settings: dict) -> None:
    path = out / SETTINGS_FILE
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError):
            raise DataError(
                f"{path}: unreadable settings of an earlier run; delete it or use an empty folder"
            ) from None
        if previous != settings:
            raise DataError(
                f"{out} was made with other settings ({path}); use an empty folder or the same settings"
            )
    else:
        atomic_write(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def remove_partial_files(out: Path) -> None:
    """Temporary files of writes cut short by a kill: hidden names, never part of the data set (in the
    image folders any hidden file is one, whichever writer left it)."""
    for path in [*leftovers(out), *(out / "lq").glob(".*"), *(out / "gt").glob(".*")]:
        if path.is_file():
            path.unlink()


@dataclass
class Plan:
    """A checked make-dataset request: its pair jobs, their sources and classes, and the settings
    that decide the bytes (saved in the settings file so a resume cannot mix two data sets)."""

    jobs: List[PairJob]
    sources: List[tuple]
    by_class: dict
    bad: BadSamples
    settings: dict

    def todo(self, job: PairJob, out: Path) -> tuple:
        return (job, self.sources[job.image_index][1], self.by_class[job.type], str(out))


def plan_dataset(
    src,
    types: Sequence[str],
    levels: Optional[Sequence[float]],
    per_image: int,
    seed: int,
    patch: Optional[int],
    bad_samples: Optional[BadSamplePolicy],
) -> Plan:
    """Check the request and plan every pair (both output formats share it, so their pairs match)."""
    if not types:
        raise DataError("give at least one degradation type")
    if levels is not None and len(levels) != len(types):
        raise DataError(f"give one level per type: {len(types)} types but {len(levels)} levels")
    if seed < 0:
        raise DataError(f"--seed must be 0 or more, got {seed}")
    if per_image < 1:
        raise DataError(f"--per-image must be at least 1, got {per_image}")
    if patch is not None and patch < 1:
        raise DataError(f"--patch must be a positive number of pixels, got {patch}")
    if levels is None:
        classes = [DegradationClass.parse(t) for t in types]
    else:
        classes = [DegradationClass.parse((t, float(lv))) for t, lv in zip(types, levels)]
    names = [c.name for c in classes]
    if len(set(map(_safe, names))) != len(names):
        raise DataError(f"degradation types must be distinct, got {names}")
    sources = resolve_sources(src)
    policy = bad_samples or BadSamplePolicy(option="", fraction_option="max_bad_fraction")
    bad = BadSamples(policy, len(sources), "source images")
    sizes = _image_sizes([p for _, p in sources], patch, bad) if patch is not None else None
    jobs = plan_jobs(sources, classes, per_image, seed, patch, sizes)
    settings = {
        "types": names,
        "levels": None if levels is None else [float(v) for v in levels],
        "per_image": per_image,
        "seed": seed,
        "patch": patch,
        "sources": [label for label, _ in sources],
    }
    return Plan(jobs, sources, dict(zip(names, classes)), bad, settings)


def make_paired_dataset(
    src,
    out,
    types: Sequence[str],
    levels: Optional[Sequence[float]] = None,
    per_image: int = 1,
    seed: int = 0,
    workers: int = 0,
    patch: Optional[int] = None,
    progress: bool = True,
    bad_samples: Optional[BadSamplePolicy] = None,
    format: str = "folders",
    shard_size: int = 1000,
) -> List[dict]:
    """Write ``OUT/lq``, ``OUT/gt`` and ``OUT/manifest.jsonl``; returns the manifest records.

    `types` are op names or mixtures; `levels` gives one level per type (op units; a severity fraction
    in [0, 1] for mixtures) or None for a uniform random level per pair, recorded in the manifest.
    `src` is a folder of images or ``"samples"``. `workers` > 1 uses a process pool. `bad_samples`
    decides what an unreadable source image does (default: stop, naming it). `format` ``shards``
    writes tar shards of `shard_size` pairs instead (`dcpt.data.shards_write`; returns the records
    of the pairs in them, in plan order).
    """
    if format not in ("folders", "shards"):
        raise DataError(f"--format: expected folders or shards, got {format!r}")
    plan = plan_dataset(src, types, levels, per_image, seed, patch, bad_samples)
    if format == "shards":
        from .shards_write import write_shards

        return write_shards(plan, Path(out), shard_size, workers, progress)
    jobs, bad = plan.jobs, plan.bad
    out = Path(out)
    (out / "lq").mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    check_settings(out, plan.settings)
    remove_partial_files(out)

    todo = [plan.todo(j, out) for j in jobs if not _complete(out, j)]

    def on_bad(source: str, message: str) -> None:
        try:
            bad.record(source, DataError(message))
        except DataError as exc:
            raise Stopped(str(exc)) from None

    try:
        _run_all(todo, workers, total=len(jobs), progress=progress, on_bad=on_bad)
    except Stopped as stop:
        remove_partial_files(out)
        written = _write_manifest(out, jobs)
        raise DataError(
            f"{stop}; stopped: {out / MANIFEST_FILE} lists the {len(written)} pairs written, and a "
            "re-run completes the set once the image is fixed"
        ) from None
    bad.log_summary()
    return _write_manifest(out, jobs)


class Stopped(Exception):
    """A bad source image under the 'error' policy, or one too many under 'skip'."""


def _complete(out: Path, job: PairJob) -> bool:
    return (out / "lq" / f"{job.name}.png").exists() and (out / "gt" / f"{job.name}.png").exists()


def _write_manifest(out: Path, jobs: Sequence[PairJob]) -> List[dict]:
    """The manifest of the pairs on disk, in job order; a lone half of a pair cut short is removed,
    so the folders hold exactly the pairs listed (and a re-run makes the rest)."""
    records = []
    for job in jobs:
        if _complete(out, job):
            records.append(job.record())
        else:
            for side in ("lq", "gt"):
                (out / side / f"{job.name}.png").unlink(missing_ok=True)
    atomic_write(out / MANIFEST_FILE, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return records


def _run_all(
    todo: list, workers: int, total: int, progress: bool, on_bad: Callable[[str, str], None]
) -> None:
    """Run the jobs; `on_bad(source, message)` hears of each unreadable source and may raise to stop
    (a pool is then terminated; its half-written files are cleaned by the caller)."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=total - len(todo), unit="pair", disable=not progress, desc="make-dataset")
    bad_sources = set()
    try:
        if workers <= 1 or len(todo) <= 1:
            for args in todo:
                if str(args[1]) not in bad_sources:
                    source, error = run_job(args)
                    if error is not None:
                        bad_sources.add(source)
                        on_bad(source, error)
                bar.update()
            return
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker) as pool:
            chunk = max(1, min(8, len(todo) // (4 * workers)))
            for source, error in pool.imap_unordered(run_job, todo, chunksize=chunk):
                if error is not None:
                    on_bad(source, error)
                bar.update()
    finally:
        bar.close()
