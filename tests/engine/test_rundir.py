"""Run folders: one run at a time (a kernel lock), nothing left by a kill, --resume auto, a full disk."""

import errno
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from dcpt.cli import main
from dcpt.engine import checkpointing
from dcpt.engine.checkpointing import load_training_state
from dcpt.engine.rundir import LOCK, RunFolderBusy, RunLock
from dcpt.fileio import leftovers

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the run-folder lock is POSIX flock")


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dcpt: error: "), err
    return err


@pytest.mark.slow
def test_two_runs_racing_into_one_folder_one_trains_the_other_names_its_pid(tmp_path, tiny_config, dcpt_env):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "dcpt", "pretrain", str(tiny_config), "--out", str(run)]
    argv += ["--set", "train.steps=80", "--set", "train.ckpt_every=40"]
    procs = [
        subprocess.Popen(argv, env=dcpt_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p, *p.communicate(timeout=240)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [err[-2000:] for _, _, err in results]
    (winner, _, _), (_, _, lost) = sorted(results, key=lambda r: r[0].returncode)
    assert lost.strip() == (
        f"dcpt: error: {run} is in use by another dcpt run (PID {winner.pid}); "
        "wait for it to end or choose another --out"
    )
    steps = [yaml.safe_load(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(5, 81, 5))
    assert load_training_state(run / "last.pt")["step"] == 80


def test_the_lock_names_the_holder_and_dies_with_it_under_kill_9(tmp_path, dcpt_env):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dcpt.engine.rundir import RunLock; "
            f"lock = RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(600)",
        ],
        env=dcpt_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderBusy, match=rf"\(PID {holder.pid}\)"):
            RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    assert holder.returncode == -signal.SIGKILL
    with RunLock(tmp_path):  # no stale lock to clear by hand
        assert (tmp_path / LOCK).read_text() == f"{os.getpid()}\n"
    with RunLock(tmp_path):  # released on exit too
        pass


def test_kill_9_during_a_checkpoint_write_leaves_a_temp_file_that_resume_removes(
    tmp_path, tiny_config, dcpt_env
):
    run = tmp_path / "run"
    assert main(["pretrain", str(tiny_config), "--out", str(run), "--set", "train.steps=4"]) == 0
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal; from dcpt.fileio import atomic_path\n"
            f"with atomic_path({str(run / 'last.pt')!r}):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)",
        ],
        env=dcpt_env,
    )
    assert killed.returncode == -signal.SIGKILL
    (stale,) = leftovers(run)
    assert stale.name.startswith(".last.tmp-") and stale.stat().st_size == 0
    assert load_training_state(run / "last.pt")["step"] == 4

    assert main(["pretrain", str(tiny_config), "--out", str(run), "--resume", "--set", "train.steps=6"]) == 0
    assert leftovers(run) == []
    assert load_training_state(run / "last.pt")["step"] == 6


def test_resume_auto_starts_fresh_then_resumes_and_plain_resume_still_works(tmp_path, tiny_config, capsys):
    run = tmp_path / "run"
    base = ["pretrain", str(tiny_config), "--out", str(run)]
    assert main([*base, "--resume", "auto", "--set", "train.steps=4"]) == 0
    assert load_training_state(run / "last.pt")["step"] == 4
    assert main([*base, "--resume", "auto", "--set", "train.steps=6"]) == 0
    assert load_training_state(run / "last.pt")["step"] == 6
    assert main([*base, "--resume", "--set", "train.steps=8"]) == 0
    assert load_training_state(run / "last.pt")["step"] == 8
    steps = [yaml.safe_load(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 5, 6, 8]  # log_every 5, and each run logs its final step
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*base, "--resume", "always"])
    assert exited.value.code == 2
    assert "expected nothing or 'auto', got 'always'" in capsys.readouterr().err


def test_enospc_during_training_exits_2_naming_the_last_good_checkpoint(
    tmp_path, tiny_config, capsys, monkeypatch
):
    real_save, saved = torch.save, []

    def fill_the_disk_at_the_third(obj, fh, *args, **kwargs):
        saved.append(obj["step"])
        if len(saved) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, fh, *args, **kwargs)

    monkeypatch.setattr(checkpointing.torch, "save", fill_the_disk_at_the_third)
    run = tmp_path / "run"
    assert main(["pretrain", str(tiny_config), "--out", str(run)]) == 2
    last = run / "last.pt"
    assert _one_line_error(capsys) == (
        f"dcpt: error: cannot write {str(last)!r}: No space left on device (ENOSPC); stopped after step 12. "
        f"Last good checkpoint: {last} (step 8)"
    )
    assert saved == [4, 8, 12] and leftovers(run) == []
    monkeypatch.setattr(checkpointing.torch, "save", real_save)
    assert load_training_state(last)["step"] == 8
    assert main(["pretrain", str(tiny_config), "--out", str(run), "--resume"]) == 0


@pytest.fixture
def small_tmpfs(tmpfs):
    """A real 1600 KiB tmpfs: one tiny-config `last.pt` is about 1.1 MB, so a second cannot be
    written beside it."""
    return tmpfs("1600k")


def test_a_real_full_disk_during_training_exits_2_and_keeps_the_last_good_checkpoint(
    small_tmpfs, tiny_config, capsys
):
    run = small_tmpfs / "run"
    assert main(["pretrain", str(tiny_config), "--out", str(run)]) == 2
    err = _one_line_error(capsys)
    last = run / "last.pt"
    assert err == (
        f"dcpt: error: cannot write {str(last)!r}: No space left on device (ENOSPC); stopped after step 8. "
        f"Last good checkpoint: {last} (step 4)"
    )
    assert leftovers(run) == []
    assert load_training_state(last)["step"] == 4
