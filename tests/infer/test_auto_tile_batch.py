"""`--tile-batch auto` (opt-in): how many tiles go through the net per pass, and that the
choice never changes the restored image."""

import argparse

import pytest
import torch

import dcpt.config.memory as memory
from dcpt.cli.restore import add_tiling_options
from dcpt.infer.restore import auto_tile_batch, restore_image
from dcpt.models import create_model

GIB = 1024**3


def net():
    torch.manual_seed(0)
    return create_model("nafnet-tiny").eval()


@pytest.fixture
def free_memory(monkeypatch):
    def set_free(nbytes):
        monkeypatch.setattr(memory, "device_memory", lambda device: nbytes)

    return set_free


def test_plenty_of_memory_stacks_four_tiles_but_never_more_than_the_image_has(free_memory):
    free_memory(64 * GIB)
    assert auto_tile_batch(net(), 1024, 1024, 256) == 4  # 16 tiles
    assert auto_tile_batch(net(), 300, 300, 256) == 4  # 2 x 2 tiles
    assert auto_tile_batch(net(), 200, 500, 256) == 2  # 1 x 2 tiles
    assert auto_tile_batch(net(), 200, 200, 256) == 1
    assert auto_tile_batch(net(), 1024, 1024, None) == 1  # a whole image is one pass


def test_short_memory_stacks_fewer_tiles(free_memory):
    one_tile = 256 * 256 * 16384  # bytes of one 256-pixel tile at the assumed 16 KiB per pixel
    free_memory(4 * 2 * one_tile)  # a quarter of free memory holds two tiles
    assert auto_tile_batch(net(), 2048, 2048, 256) == 2
    free_memory(4 * one_tile - 1)
    assert auto_tile_batch(net(), 2048, 2048, 256) == 1
    free_memory(None)  # memory unknown: one tile at a time
    assert auto_tile_batch(net(), 2048, 2048, 256) == 1


def test_the_automatic_choice_restores_the_same_image_as_one_tile_per_pass(free_memory):
    free_memory(64 * GIB)
    img = torch.rand(3, 96, 120, generator=torch.Generator().manual_seed(1))
    model = net()
    auto = restore_image(model, img, tile=48, overlap=8, batch=None)
    single = restore_image(model, img, tile=48, overlap=8, batch=1)
    assert torch.allclose(auto, single, atol=1e-5)


def parse(*argv):
    parser = argparse.ArgumentParser(prog="dcpt")
    add_tiling_options(parser)
    return parser.parse_args(list(argv))


def test_cli_default_is_one_tile_and_auto_or_a_number_is_accepted(capsys):
    assert parse().tile_batch == 1
    assert parse("--tile-batch", "AUTO").tile_batch is None
    assert parse("--tile-batch", "3").tile_batch == 3
    with pytest.raises(SystemExit):
        parse("--tile-batch", "many")
    assert "expected 'auto' or an integer >= 1, got 'many'" in capsys.readouterr().err
