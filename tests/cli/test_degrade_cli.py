"""`dcpt degrade` through `dcpt.cli.main`: files, folders, 16-bit, mixtures, --list, --sheet, user errors.

The ops used are whichever are registered (other families land independently), preferring cheap ones.
"""

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from dcpt.analysis.sheet import CAPTION_HEIGHT, GAP, square_tile
from dcpt.cli import main
from dcpt.data.io import read_image, to_uint8
from dcpt.degrade import DEGRADATIONS, apply

PREFERRED = ("gaussian_noise", "gaussian_blur", "jpeg", "resample", "haze")


def pick(count):
    names = [n for n in PREFERRED if n in DEGRADATIONS] + [
        n for n in DEGRADATIONS.names() if n not in PREFERRED
    ]
    if len(names) < count:
        pytest.skip(f"needs {count} registered degradations, found {len(names)}")
    return names[:count]


def mid_level(name):
    return DEGRADATIONS.get(name).sheet_levels()[1]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in" / "astro.png"
    path.parent.mkdir()
    Image.fromarray(data.astronaut()[160:224, 180:260]).save(path)
    return path


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, *fragments):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dcpt: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_list_table_is_aligned(capsys):
    code, out, _ = run_cli(capsys, "degrade", "--list")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["NAME", "FAMILY", "RANGE", "DESCRIPTION"]
    assert len(lines) == len(DEGRADATIONS) + 1
    family_col = lines[0].index("FAMILY")
    for line, (name, spec) in zip(lines[1:], DEGRADATIONS.items()):
        assert line.startswith(name + " ") and line[family_col:].startswith(spec.family)
        assert f"[{spec.level_min:g}, {spec.level_max:g}]" in line


def test_list_json(capsys):
    code, out, _ = run_cli(capsys, "degrade", "--list", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["name"] for e in entries] == DEGRADATIONS.names()
    for entry in entries:
        assert {"name", "family", "level_min", "level_max", "description"} <= set(entry)
        assert entry["level_min"] < entry["level_max"] and entry["description"]


def test_one_file_matches_apply_and_is_reproducible(tmp_path, photo, capsys):
    (name,) = pick(1)
    level = mid_level(name)
    out = tmp_path / "out" / "lq.png"
    code, stdout, _ = run_cli(capsys, "degrade", photo, "-t", name, "-l", level, "--seed", 7, "-o", out)
    assert code == 0 and "lq.png" in stdout
    expected = apply(name, read_image(photo), level, generator=torch.Generator().manual_seed(7))
    first = out.read_bytes()
    np.testing.assert_array_equal(np.asarray(Image.open(out)), to_uint8(expected))
    assert run_cli(capsys, "degrade", photo, "-t", name, "-l", level, "--seed", 7, "-o", out)[0] == 0
    assert out.read_bytes() == first


def test_folder_uses_one_generator_in_sorted_order(tmp_path, photo, capsys):
    (name,) = pick(1)
    level = mid_level(name)
    second = photo.parent / "b.png"
    Image.fromarray(data.coffee()[100:164, 200:280]).save(second)
    out = tmp_path / "outdir"
    assert run_cli(capsys, "degrade", photo.parent, "-t", name, "-l", level, "--seed", 3, "-o", out)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["astro.png", "b.png"]
    batch = torch.stack([read_image(photo), read_image(second)])
    expected = apply(name, batch, level, generator=torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(np.asarray(Image.open(out / "astro.png")), to_uint8(expected[0]))
    np.testing.assert_array_equal(np.asarray(Image.open(out / "b.png")), to_uint8(expected[1]))


def test_mixture_and_16bit_output(tmp_path, capsys):
    first, second = pick(2)
    mixture = f"{first}:{mid_level(first)},{second}:{mid_level(second)}"
    rgb16 = (data.chelsea()[50:114, 100:180].astype(np.uint16) * 257 + 77).astype(np.uint16)
    src = tmp_path / "cat16.png"
    cv2.imwrite(str(src), rgb16[:, :, ::-1])
    out = tmp_path / "cat_lq.png"
    assert run_cli(capsys, "degrade", src, "-t", mixture, "-o", out)[0] == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == rgb16.shape
    expected = apply(mixture, read_image(src), generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(
        written[:, :, ::-1], (expected.permute(1, 2, 0).double() * 65535).round().numpy().astype(np.uint16)
    )


def test_sheet_layout_and_clean_tile(tmp_path, photo, capsys):
    types = pick(2)
    out = tmp_path / "sheet.png"
    code, _, _ = run_cli(capsys, "degrade", photo, "--sheet", out, "--types", ",".join(types), "--size", 48)
    assert code == 0
    sheet = np.asarray(Image.open(out))
    cell_w, cell_h = 48 + GAP, 48 + CAPTION_HEIGHT + GAP
    assert sheet.shape == (GAP + 3 * cell_h, GAP + 3 * cell_w, 3)
    clean = sheet[GAP + CAPTION_HEIGHT : GAP + CAPTION_HEIGHT + 48, GAP : GAP + 48]
    np.testing.assert_array_equal(clean, to_uint8(square_tile(read_image(photo), 48)[0]))
    caption = sheet[GAP + cell_h : GAP + cell_h + CAPTION_HEIGHT, GAP : GAP + 48]
    assert (caption < 128).any(), "each tile carries a caption"
    assert_user_error(capsys, ["degrade", photo, "--sheet", out, "--types", "no_such_op"], "no_such_op")


@pytest.mark.parametrize("types", ["haze,", ",haze", "haze,,rain", ","])
def test_sheet_types_with_an_empty_name_are_one_line(tmp_path, photo, capsys, types):
    out = tmp_path / "sheet.png"
    assert_user_error(
        capsys, ["degrade", photo, "--sheet", out, "--types", types], "--types", "empty type name"
    )
    assert not out.exists()


def test_unknown_type_lists_valid_names(tmp_path, photo, capsys):
    (name,) = pick(1)
    assert_user_error(
        capsys, ["degrade", photo, "-t", "no_such_op", "-l", 1, "-o", tmp_path / "x.png"], "no_such_op", name
    )


def test_level_out_of_range_states_range(tmp_path, photo, capsys):
    (name,) = pick(1)
    spec = DEGRADATIONS.get(name)
    too_high = spec.level_max + abs(spec.level_max) + 1
    assert_user_error(
        capsys,
        ["degrade", photo, "-t", name, "-l", too_high, "-o", tmp_path / "x.png"],
        f"[{spec.level_min:g}, {spec.level_max:g}]",
    )


@pytest.mark.parametrize("content", ["text", "truncated", "empty"])
def test_bad_input_files(tmp_path, photo, capsys, content):
    (name,) = pick(1)
    bad = tmp_path / "bad.png"
    if content == "text":
        bad.write_text("no pixels here")
    elif content == "truncated":
        raw = photo.read_bytes()
        bad.write_bytes(raw[: len(raw) // 2])
    else:
        bad.write_bytes(b"")
    assert_user_error(
        capsys, ["degrade", bad, "-t", name, "-l", mid_level(name), "-o", tmp_path / "o.png"], "bad.png"
    )
    assert not (tmp_path / "o.png").exists()


def test_folder_without_images_and_missing_arguments(tmp_path, photo, capsys):
    (name,) = pick(1)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    assert_user_error(
        capsys, ["degrade", empty, "-t", name, "-l", mid_level(name), "-o", tmp_path / "o"], "no image files"
    )
    assert_user_error(capsys, ["degrade", photo, "-l", 1, "-o", tmp_path / "o"], "-t TYPE")
    assert_user_error(capsys, ["degrade", photo, "-t", name, "-l", mid_level(name)], "-o OUT")
    assert_user_error(capsys, ["degrade", photo, "-t", name, "-l", mid_level(name), "-o", photo], "overwrite")
