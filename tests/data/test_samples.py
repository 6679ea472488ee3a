"""The embedded sample images: fixed split, read exactly as scikit-image's own files, grey -> RGB."""

import numpy as np
import pytest
import torch
from PIL import Image

from dcpt.data import export_samples, load_samples, sample_names
from dcpt.data.samples import samples_folder
from dcpt.errors import DataError


def test_split_is_fixed_and_disjoint():
    train, test = sample_names("train"), sample_names("test")
    assert {"coffee", "chelsea", "camera"} <= set(test)
    assert not set(train) & set(test)
    assert len(train) >= 8
    assert sample_names("all") == train + test
    with pytest.raises(DataError, match="unknown sample split"):
        sample_names("validation")


def test_images_match_the_package_files_and_grey_becomes_rgb():
    samples = dict(load_samples("test"))
    assert list(samples) == sample_names("test")
    for name, file in (("camera", "camera.png"), ("chelsea", "chelsea.png")):
        reference = np.asarray(Image.open(samples_folder() / file).convert("RGB"), dtype=np.float32) / 255
        img = samples[name]
        assert img.dtype == torch.float32 and img.shape == (3, *reference.shape[:2])
        np.testing.assert_array_equal(img.permute(1, 2, 0).numpy(), reference)
    camera = samples["camera"]
    assert (camera[0] == camera[1]).all() and (camera[1] == camera[2]).all()


def test_export_writes_rgb_pngs(tmp_path):
    paths = export_samples(tmp_path, "test")
    assert [p.name for p in paths] == [f"{n}.png" for n in sample_names("test")]
    with Image.open(tmp_path / "coffee.png") as im:
        assert im.mode == "RGB"
        exported = np.asarray(im)
    with Image.open(samples_folder() / "coffee.png") as im:
        np.testing.assert_array_equal(exported, np.asarray(im.convert("RGB")))
