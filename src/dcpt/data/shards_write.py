"""``dcpt make-dataset --format shards``: the planned pairs written as tar shards, in parallel and
resumably.

The pairs are those of the folder format (same plan, same bytes per pair). Shard ``k`` holds the
jobs ``perm[k*S : (k+1)*S]`` of a permutation seeded by the data set's seed, so every shard mixes
images and types (a reader that shuffles only shard order and within shards still sees a mixed
batch); inside a shard the jobs keep plan order, so consecutive pairs of one source image reuse its
decoded pixels. One worker task writes one whole shard under a temporary name and renames it when
complete (`dcpt.fileio`), so after a kill every ``shard-*.tar`` is finished: a re-run checks each
one's samples against its planned keys (a damaged one is rewritten) and writes only the missing
shards. ``manifest.json`` is written last, from the files on disk.

Bad source images follow the folder format's policy: ``skip`` leaves their pairs out of their shards
(the manifest counts what is there); ``error`` stops the run, keeping the finished shards.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ..errors import DataError
from .make_dataset import (
    SETTINGS_FILE,
    Plan,
    Stopped,
    check_settings,
    init_worker,
    make_pair,
    remove_partial_files,
)
from .shards import FORMAT, encode_png, file_sha256, sample_key, shard_keys, shard_name, write_manifest
from .synthetic import derive_seed

LOG = logging.getLogger("dcpt.data")


def assign_shards(count: int, shard_size: int, seed: int) -> List[List[int]]:
    """Job indices per shard: a seeded permutation cut into runs of `shard_size`, each run sorted."""
    if shard_size < 1:
        raise DataError(f"--shard-size must be at least 1 pair, got {shard_size}")
    g = torch.Generator().manual_seed(derive_seed(seed, "shards"))
    perm = torch.randperm(count, generator=g).tolist()
    return [sorted(perm[k : k + shard_size]) for k in range(0, count, shard_size)]


def sample_meta(plan: Plan, j: int) -> dict:
    """What ``<key>.json`` holds: the folder manifest's fields for the pair plus its class label
    (the type's index in the manifest's `types`)."""
    job = plan.jobs[j]
    record = job.record()
    del record["lq"], record["gt"]
    record["key"] = sample_key(job.name)
    record["label"] = plan.settings["types"].index(job.type)
    return record


def write_one(args) -> Tuple[int, int, Optional[str], List[Tuple[str, str]]]:
    """Write shard `index` (a worker task); returns (index, count, sha256 or None, bad sources).

    An unreadable source under ``error`` returns at once with no shard written and that one source in
    the list; under ``skip`` its pairs are left out and every such source is listed."""
    index, tasks, out, skip = args
    samples = []
    bad: List[Tuple[str, str]] = []
    for todo, meta in tasks:
        job, path, cls, _ = todo
        if any(source == str(path) for source, _ in bad):
            continue
        try:
            lq, gt = make_pair(job, path, cls)
        except DataError as exc:
            bad.append((str(path), str(exc)))
            if not skip:
                return index, 0, None, bad
            continue
        samples.append((meta["key"], encode_png(lq), encode_png(gt), meta))
    from .shards import write_shard

    count, sha = write_shard(Path(out) / shard_name(index), samples)
    return index, count, sha, bad


def _finished(path: Path, keys: Sequence[str]) -> bool:
    """A shard left by an earlier run is kept when its samples are its planned ones, in order (some
    may be missing: bad sources skipped then)."""
    try:
        found = shard_keys(path)
    except DataError as exc:
        LOG.warning("dcpt: warning: rewriting %s", exc)
        return False
    planned = iter(keys)
    if all(any(k == p for p in planned) for k in found):
        return True
    LOG.warning("dcpt: warning: rewriting %s: its samples are not the planned ones", path)
    return False


def write_shards(plan: Plan, out: Path, shard_size: int, workers: int, progress: bool) -> List[dict]:
    """Write the shards and ``manifest.json``; returns the sample records in plan order."""
    shards = assign_shards(len(plan.jobs), shard_size, plan.settings["seed"])
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, {**plan.settings, "format": "shards", "shard_size": shard_size})
    remove_partial_files(out)
    metas = [sample_meta(plan, j) for j in range(len(plan.jobs))]
    skip = plan.bad.policy.skip
    done: Dict[int, Tuple[int, str]] = {}
    todo = []
    for k, members in enumerate(shards):
        path = out / shard_name(k)
        if path.is_file() and _finished(path, [metas[j]["key"] for j in members]):
            done[k] = (len(shard_keys(path)), file_sha256(path))
        else:
            todo.append((k, [(plan.todo(plan.jobs[j], out), metas[j]) for j in members], str(out), skip))

    def on_result(index: int, count: int, sha: Optional[str], bad: List[Tuple[str, str]]) -> None:
        for source, message in bad:
            try:
                plan.bad.record(source, DataError(message))
            except DataError as exc:
                raise Stopped(str(exc)) from None
        if sha is not None:
            done[index] = (count, sha)

    try:
        _run(todo, workers, len(shards), progress, on_result)
    except Stopped as stop:
        remove_partial_files(out)
        raise DataError(
            f"{stop}; stopped with {len(done)} of {len(shards)} shards written in {out} (no manifest "
            "yet); a re-run completes the set once the image is fixed"
        ) from None
    plan.bad.log_summary()
    return _manifest(plan, out, shards, metas, done)


def _manifest(plan: Plan, out: Path, shards, metas, done: Dict[int, Tuple[int, str]]) -> List[dict]:
    types = plan.settings["types"]
    counts = {t: 0 for t in types}
    records = []
    for k, members in enumerate(shards):
        present = set(shard_keys(out / shard_name(k)))
        for j in members:
            if metas[j]["key"] in present:
                counts[metas[j]["type"]] += 1
                records.append((j, {**metas[j], "shard": shard_name(k)}))
    entries = [{"name": shard_name(k), "count": done[k][0], "sha256": done[k][1]} for k in range(len(shards))]
    write_manifest(
        out,
        {
            "format": FORMAT,
            "types": types,
            "levels": plan.settings["levels"],
            "counts": counts,
            "total": sum(e["count"] for e in entries),
            "seed": plan.settings["seed"],
            "patch": plan.settings["patch"],
            "shards": entries,
            "settings": SETTINGS_FILE,
        },
    )
    return [r for _, r in sorted(records, key=lambda jr: jr[0])]


def _run(todo: list, workers: int, total: int, progress: bool, on_result) -> None:
    """Run the shard tasks, in a spawn pool when `workers` > 1 (one shard per task); `on_result`
    may raise `Stopped`, which ends the pool (its half-written temporaries are removed by the caller)."""
    from tqdm import tqdm

    bar = tqdm(
        total=total, initial=total - len(todo), unit="shard", disable=not progress, desc="make-dataset"
    )
    try:
        if workers <= 1 or len(todo) <= 1:
            for args in todo:
                on_result(*write_one(args))
                bar.update()
            return
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker) as pool:
            for result in pool.imap_unordered(write_one, todo):
                on_result(*result)
                bar.update()
    finally:
        bar.close()
