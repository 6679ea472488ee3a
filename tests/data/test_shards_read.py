"""`ShardStream`: every sample once per epoch across ranks x workers, seeded order, exact resume,
URL forms, bad members."""

import io
import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from dcpt.data import make_paired_dataset
from dcpt.data.bad_samples import BadSamplePolicy
from dcpt.data.shards_stream import ShardStream
from dcpt.engine.stream import BatchStream
from dcpt.errors import DataError

TYPES = ["gaussian_noise", "jpeg"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """16 pairs of 20 x 20 in shards of 5, 5, 5, 1 (sizes that divide by no split)."""
    root = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / f"img{k}.png")
    out = root / "out"
    make_paired_dataset(root, out, TYPES, per_image=2, seed=1, format="shards", shard_size=5, progress=False)
    return out


def tar_keys(folder):
    """Every sample key in the shards, read with Python's tarfile (not the reader under test)."""
    keys = []
    for path in sorted(folder.glob("shard-*.tar")):
        with tarfile.open(path) as tar:
            keys += [m.name.split(".")[0] for m in tar.getmembers() if m.name.endswith(".json")]
    return keys


def rank_keys(folder, rank, world, epoch=0, workers=2, **kw):
    ds = ShardStream(str(folder), with_keys=True, **kw)
    ds.configure(epoch, rank, world)
    return [item["key"] for item in DataLoader(ds, batch_size=None, num_workers=workers)]


def test_every_sample_once_across_2_ranks_x_2_workers(folder):
    keys = [k for r in range(2) for k in rank_keys(folder, r, 2)]
    assert len(tar_keys(folder)) == 16
    assert sorted(keys) == sorted(tar_keys(folder))


def test_order_is_seeded_by_seed_and_epoch(folder):
    first = rank_keys(folder, 0, 1, epoch=0, workers=0)
    assert rank_keys(folder, 0, 1, epoch=0, workers=0) == first
    assert rank_keys(folder, 0, 1, epoch=1, workers=0) != first
    assert rank_keys(folder, 0, 1, epoch=0, workers=0, seed=5) != first
    assert sorted(rank_keys(folder, 0, 1, epoch=1, workers=0)) == sorted(first)


def streams(folder, world=2, workers=2, batch=2, state=None):
    out = []
    for rank in range(world):
        ds = ShardStream(str(folder), with_keys=True, patch_size=8)
        stream = BatchStream(ds, batch, seed=0, rank=rank, world_size=world, workers=workers)
        if state is not None:
            stream.load_state_dict(state)
        out.append(stream)
    return out


def take(stream, n):
    return [next(stream) for _ in range(n)]


def test_training_batches_cover_the_kept_samples_once(folder):
    a, b = streams(folder, batch=3)
    assert a.batches_per_epoch == 16 // 6
    keys = [k for s in (a, b) for batch in take(s, a.batches_per_epoch) for k in batch["key"]]
    assert len(keys) == len(set(keys)) == 12 and set(keys) <= set(tar_keys(folder))
    assert all(batch["lq"].shape == (3, 3, 8, 8) for batch in take(a, 2))


@pytest.mark.parametrize("stop", [1, 3, 4, 7])
def test_resume_continues_the_exact_stream(folder, stop):
    """Stopped after `stop` batches (mid-epoch, at an epoch's end, in the next epoch), a fresh
    stream from the saved position gives the rest of an uninterrupted run: keys and pixels."""
    full = [take(s, 10) for s in streams(folder)]
    first = streams(folder)
    for s in first:
        take(s, stop)
    resumed = streams(folder, state=first[0].state_dict())
    for whole, again in zip(full, resumed):
        rest = take(again, 10 - stop)
        assert [b["key"] for b in whole[stop:]] == [b["key"] for b in rest]
        assert all(torch.equal(x["lq"], y["lq"]) for x, y in zip(whole[stop:], rest))


def test_resume_with_another_worker_or_rank_count_is_refused(folder):
    (a,) = streams(folder, world=1, workers=2)
    take(a, 1)
    (b,) = streams(folder, world=1, workers=0)
    with pytest.raises(DataError, match="2 DataLoader worker"):
        b.load_state_dict(a.state_dict())
    c, _ = streams(folder, world=2, workers=2, batch=1)  # the same global batch of 2, split otherwise
    with pytest.raises(DataError, match="to 1 process"):
        c.load_state_dict(a.state_dict())


def test_url_forms_read_the_same_samples(folder):
    expected = sorted(tar_keys(folder))
    pattern = str(folder / "shard-{000000..000003}.tar")
    manifest = str(folder / "manifest.json")
    for location, kw in [
        (pattern, {}),
        ("file://" + pattern, {}),
        ("pipe:cat " + pattern, {"manifest": manifest}),
    ]:
        ds = ShardStream(location, with_keys=True, **kw)
        assert sorted(item["key"] for item in ds) == expected, location
    with pytest.raises(DataError, match="name 3 shards, but the manifest"):
        ShardStream(str(folder / "shard-{000000..000002}.tar"))
    with pytest.raises(DataError, match="give the manifest's location"):
        ShardStream("pipe:cat " + pattern)


def _copy_with(folder, tmp_path, change):
    """The shard set with `change(name, data) -> data` applied to shard 0's members."""
    out = tmp_path / "copy"
    out.mkdir()
    for path in folder.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    with tarfile.open(folder / "shard-000000.tar") as src, tarfile.open(out / "shard-000000.tar", "w") as dst:
        for m in src.getmembers():
            data = change(m.name, src.extractfile(m).read())
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    return out


def test_a_corrupt_member_stops_naming_it_or_is_replaced(folder, tmp_path):
    bad_key = tar_keys(folder)[2]
    out = _copy_with(folder, tmp_path, lambda n, d: d[:40] if n == f"{bad_key}.lq.png" else d)
    with pytest.raises(
        DataError, match=rf"shard-000000\.tar: member {bad_key}\.lq\.png does not decode"
    ) as err:
        list(ShardStream(str(out)))
    assert "\n" not in str(err.value)
    ds = ShardStream(str(out), with_keys=True, bad_samples=BadSamplePolicy("skip", 0.1))
    keys = [item["key"] for item in ds]
    assert len(keys) == 16 and bad_key not in keys
    assert sorted(set(keys)) == sorted(k for k in tar_keys(folder) if k != bad_key)
    assert ds.bad.count == 1


def test_a_truncated_shard_is_one_line(folder, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for path in folder.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    data = (folder / "shard-000001.tar").read_bytes()
    (out / "shard-000001.tar").write_bytes(data[: len(data) // 2 + 100])
    with pytest.raises(DataError, match=r"shard-000001\.tar: (corrupt or truncated|holds fewer)") as err:
        list(ShardStream(str(out)))
    assert "\n" not in str(err.value)
    ds = ShardStream(str(out), with_keys=True, bad_samples=BadSamplePolicy("skip", 0.5))
    keys = [item["key"] for item in ds]
    assert len(keys) == 16 and 1 <= ds.bad.count <= 5 and set(keys) < set(tar_keys(folder))


def test_a_training_config_reads_shards_with_the_types_as_classes(folder):
    from dcpt.config import config_from_dict
    from dcpt.errors import ConfigError
    from dcpt.recipes.data import build_dataset, class_names_of

    cfg = config_from_dict({"data": {"train": [{"shards": str(folder)}], "patch_size": 8}})
    names = class_names_of(cfg.data.train)
    assert names == TYPES
    ds = build_dataset(cfg.data.train, cfg.data, names, 8, 10, 0)
    labels = [int(item["label"]) for item in ds]
    counts = json.loads((folder / "manifest.json").read_text())["counts"]
    assert [labels.count(k) for k in range(2)] == [counts[t] for t in TYPES]
    with pytest.raises(ConfigError, match="only data.train source"):
        config_from_dict(
            {
                "data": {
                    "train": [{"shards": str(folder)}, {"clean": "samples", "classes": [{"name": "jpeg"}]}]
                }
            }
        )
    with pytest.raises(ConfigError, match="no 'label' or 'classes'"):
        config_from_dict({"data": {"train": [{"shards": str(folder), "label": "rain"}]}})


def _gloo_rank(rank, folder, init, result):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        ds = ShardStream(folder, with_keys=True)
        ds.configure(3, rank, 2)
        mine = [item["key"] for item in DataLoader(ds, batch_size=None, num_workers=2)]
        stream = BatchStream(ShardStream(folder, with_keys=True), 2, rank=rank, world_size=2, workers=2)
        batches = [k for batch in take(stream, stream.batches_per_epoch) for k in batch["key"]]
        gathered = [None, None]
        dist.all_gather_object(gathered, {"items": mine, "batches": batches})
        if rank == 0:
            with open(result, "w") as fh:
                json.dump(gathered, fh)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_with_two_workers_each_cover_the_epoch(folder, tmp_path):
    import torch.multiprocessing as mp

    result = tmp_path / "keys.json"
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_gloo_rank, args=(str(folder), init, str(result)), nprocs=2, join=True)
    ranks = json.loads(result.read_text())
    items = ranks[0]["items"] + ranks[1]["items"]
    assert sorted(items) == sorted(tar_keys(folder))
    batches = ranks[0]["batches"] + ranks[1]["batches"]
    assert len(batches) == len(set(batches)) == 16 and not set(ranks[0]["batches"]) & set(ranks[1]["batches"])
