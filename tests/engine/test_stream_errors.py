"""A DcptError raised in a DataLoader worker reaches the caller as itself, in one line: torch re-raises
it as "Caught DataError in DataLoader worker process 0." followed by the worker's traceback, which the
CLI would print line by line."""

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from dcpt.cli import main
from dcpt.engine.stream import BatchStream, worker_error
from dcpt.errors import DataError, DcptError
from dcpt.fileio import WriteError


class Failing(torch.utils.data.Dataset):
    """Eight numbers; item 5 raises `error`."""

    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise self.error
        return {"x": torch.tensor(i)}


def _drain(stream):
    for _ in range(8):
        next(stream)


def test_a_workers_data_error_is_its_one_line_message():
    stream = BatchStream(Failing(DataError("pairs/lq/p5.png: cannot read")), batch_size=2, workers=1)
    with pytest.raises(DataError) as info:
        _drain(stream)
    assert str(info.value) == "pairs/lq/p5.png: cannot read"


def test_a_chained_error_keeps_the_message_of_the_last_exception():
    try:
        try:
            raise OSError("broken data stream\nwhile reading")
        except OSError as cause:
            raise DataError("p5.png: truncated") from cause
    except DataError as exc:
        error = exc
    with pytest.raises(DataError) as info:
        _drain(BatchStream(Failing(error), batch_size=2, workers=1))
    assert str(info.value) == "p5.png: truncated"


def test_an_error_that_torch_cannot_rebuild_is_still_one_line():
    """`WriteError(path, cause)` cannot be built from one string: torch raises a RuntimeError."""
    error = WriteError("out/x.png", OSError(28, "No space left on device"))
    with pytest.raises(DcptError) as info:
        _drain(BatchStream(Failing(error), batch_size=2, workers=1))
    assert str(info.value) == "cannot write 'out/x.png': No space left on device (ENOSPC)"


def test_a_bug_in_a_worker_keeps_torchs_report():
    with pytest.raises(ZeroDivisionError, match="DataLoader worker process 0"):
        _drain(BatchStream(Failing(ZeroDivisionError("bug")), batch_size=2, workers=1))
    assert worker_error(ZeroDivisionError("Caught ZeroDivisionError in DataLoader worker process 0.")) is None
    assert worker_error(DataError("Caught in the act: a.png")) is None


def _png(path, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(path)


def test_finetune_with_a_worker_stops_in_one_line_naming_the_file(tmp_path, capsys):
    root = tmp_path / "pairs"
    (root / "lq").mkdir(parents=True)
    (root / "gt").mkdir()
    for k in range(4):
        _png(root / "lq" / f"p{k}.png", k)
        _png(root / "gt" / f"p{k}.png", 10 + k)
    broken = root / "lq" / "p1.png"
    broken.write_bytes(broken.read_bytes()[:60])
    cfg = {
        "model": {
            "name": "nafnet-tiny",
            "overrides": {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1, "dec_blk_nums": [1]},
        },
        "data": {
            "train": [{"paired": str(root), "label": "gaussian_noise"}],
            "patch_size": 16,
            "batch_size": 2,
            "epoch_length": 4,
            "workers": 1,
        },
        "train": {"steps": 4, "ema": 0.0, "ckpt_every": 0, "device": "cpu"},
    }
    path = tmp_path / "ft.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = main(["finetune", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("dcpt: error:") and "p1.png" in err[0] and "Caught" not in err[0]
