"""The batch stream: deterministic order, exact position, and rank slices that tile the global batch."""

import torch

from dcpt.engine.stream import BatchStream


class Numbers(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n, self.epochs = n, []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": torch.tensor(i)}


def _take(stream, k):
    return [next(stream)["x"].tolist() for _ in range(k)]


def test_epochs_are_permutations_and_last_partial_batch_is_dropped():
    stream = BatchStream(Numbers(10), batch_size=3, seed=1)
    first = _take(stream, 3)
    assert len(set(sum(first, []))) == 9
    assert sorted(sum(first, [])) == sorted(stream.epoch_order(0).tolist()[:9])
    second = _take(stream, 3)
    assert stream.epoch == 1 and stream.dataset.epochs == [0, 1]
    assert first != second


def test_resume_position_continues_exact_stream():
    a = BatchStream(Numbers(10), batch_size=2, seed=7)
    expected = _take(a, 12)
    b = BatchStream(Numbers(10), batch_size=2, seed=7)
    _take(b, 7)
    state = b.state_dict()
    assert state["epoch"] == 1 and state["batch"] == 2 and state["index"] == 4
    c = BatchStream(Numbers(10), batch_size=2, seed=7)
    c.load_state_dict(state)
    assert _take(c, 5) == expected[7:]


def test_ranks_tile_the_single_process_batch():
    single = _take(BatchStream(Numbers(12), batch_size=4, seed=2), 5)
    ranks = [_take(BatchStream(Numbers(12), batch_size=2, seed=2, rank=r, world_size=2), 5) for r in range(2)]
    assert [r0 + r1 for r0, r1 in zip(*ranks)] == single
