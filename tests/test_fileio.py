"""`dcpt.fileio`: a failed write keeps the old file and leaves no temporary file; success replaces it."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from dcpt.fileio import atomic_path, atomic_write, leftovers


class Boom(Exception):
    pass


def test_success_replaces_the_content(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    assert atomic_write(target, "new\n") == target
    assert target.read_text() == "new\n"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert list(tmp_path.iterdir()) == [target]


def test_the_temporary_file_is_hidden_in_the_same_folder_with_the_suffix(tmp_path):
    target = tmp_path / "sub" / "last.pt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.exists()
        assert tmp.name.startswith(".last") and tmp.suffix == ".pt"
        assert leftovers(target.parent) == [tmp]
        torch.save({"step": 3}, tmp)
    assert torch.load(target, weights_only=True) == {"step": 3}
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_writer_that_raises_mid_write_keeps_the_old_file(tmp_path, error):
    target = tmp_path / "img.png"
    target.write_bytes(b"previous")
    with pytest.raises(error):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a fi")
            raise error()
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_first_write_creates_nothing(tmp_path):
    with pytest.raises(Boom):
        with atomic_path(tmp_path / "new.txt"):
            raise Boom()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "config.yaml"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_file_mode_follows_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_an_output_folder_may_be_missing_but_not_a_file(tmp_path):
    from dcpt.errors import DcptError
    from dcpt.fileio import check_output_folder

    assert check_output_folder(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "f").write_text("x")
    with pytest.raises(DcptError, match="--out '.*f' is a file; expected a folder"):
        check_output_folder(tmp_path / "f")
