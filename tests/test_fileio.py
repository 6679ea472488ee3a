"""`dcpt.fileio`: a failed write keeps the old file and leaves no temporary file; success replaces it."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import torch

from dcpt.engine.checkpointing import save_training_state
from dcpt.errors import DcptError
from dcpt.fileio import WriteError, atomic_path, atomic_write, leftovers, remove_leftovers


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
    with pytest.raises(WriteError, match="disk gone"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_the_file_mode_follows_the_umask_for_every_writer(tmp_path, mask):
    """Text, a checkpoint (safetensors' `save_file` writes its own 0600 file) and an image."""
    import torch

    from dcpt.data.io import write_image
    from dcpt.models import create_model
    from dcpt.models.checkpoint import save_checkpoint

    previous = os.umask(mask)
    try:
        paths = [
            atomic_write(tmp_path / "a.txt", "x"),
            save_checkpoint(create_model("nafnet-tiny"), tmp_path / "net.safetensors"),
        ]
        write_image(tmp_path / "img.png", torch.zeros(3, 4, 4))
        paths.append(tmp_path / "img.png")
    finally:
        os.umask(previous)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


def test_an_output_folder_may_be_missing_but_not_a_file(tmp_path):
    from dcpt.errors import DcptError
    from dcpt.fileio import check_output_folder

    assert check_output_folder(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "f").write_text("x")
    with pytest.raises(DcptError, match="--out '.*f' is a file; expected a folder"):
        check_output_folder(tmp_path / "f")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "No space left on device (ENOSPC)"),
        (errno.EROFS, "Read-only file system (EROFS)"),
        (errno.EDQUOT, "Disk quota exceeded (EDQUOT)"),
        (errno.EACCES, "Permission denied (EACCES)"),
    ],
)
def test_an_os_error_mid_write_is_one_line_naming_file_and_cause(tmp_path, code, words):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(WriteError) as caught:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(code, os.strerror(code))
    assert isinstance(caught.value, DcptError) and caught.value.errno == code
    message = str(caught.value)
    assert message == f"cannot write {str(target)!r}: {words}"
    assert "\n" not in message
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_enospc_inside_torch_save_is_named_not_torchs_unexpected_pos(tmp_path, monkeypatch):
    """torch's zip writer wraps the file object's OSError in a RuntimeError; the cause is recovered."""
    real_open = open

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def full_open(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        return FullDisk(fh) if "w" in mode else fh

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(WriteError, match=r"last\.pt': No space left on device \(ENOSPC\)$"):
        save_training_state({"step": 1, "w": torch.zeros(1000)}, tmp_path / "last.pt")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_one_line(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(WriteError, match=r"a\.txt': Permission denied \(EACCES\)"):
        atomic_write(tmp_path / "a.txt", "x")


def test_errors_that_are_not_about_the_disk_pass_through(tmp_path):
    with pytest.raises(ValueError, match="bad value"):
        with atomic_path(tmp_path / "a.txt"):
            raise ValueError("bad value")
    assert list(tmp_path.iterdir()) == []


def test_remove_leftovers_deletes_only_temporary_files(tmp_path):
    keep = tmp_path / "last.pt"
    keep.write_bytes(b"good")
    stale = [tmp_path / ".last.tmp-0badc0de.pt", tmp_path / ".metrics.tmp-12345678.jsonl"]
    for path in stale:
        path.write_bytes(b"")
    assert remove_leftovers(tmp_path) == sorted(stale)
    assert list(tmp_path.iterdir()) == [keep] and keep.read_bytes() == b"good"


@pytest.fixture
def small_tmpfs(tmpfs):
    """A real 256 KiB tmpfs."""
    return tmpfs("256k")


def test_a_real_full_disk_removes_the_temporary_file_and_names_the_cause(small_tmpfs):
    target = small_tmpfs / "last.pt"
    save_training_state({"step": 1, "w": torch.zeros(1000)}, target)
    before = target.read_bytes()
    with pytest.raises(WriteError, match=r"last\.pt': No space left on device \(ENOSPC\)$"):
        save_training_state({"step": 2, "w": torch.zeros(200_000)}, target)
    assert target.read_bytes() == before
    assert sorted(small_tmpfs.iterdir()) == [target]
    with pytest.raises(WriteError, match="ENOSPC"):
        atomic_write(small_tmpfs / "big.bin", bytes(400_000))
    assert sorted(small_tmpfs.iterdir()) == [target]
