"""The docs run as written: every Python block of README.md and docs/*.md, and the README's shell tour.

A user copies the examples first; an example that fails is the first bug they meet. Python blocks run in
the fast tier (each is a few lines on tiny tensors or the shipped checkpoints); the shell tour trains and
restores, so it is in the slow tier. The README's set-up block (`make demo`, `make test`) is what CI
itself runs, so it is the one shell block not executed here.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)
SETUP_COMMANDS = ("make demo", "make test")


def blocks(path: Path, language: str) -> list:
    return [body for lang, body in FENCE.findall(path.read_text()) if lang == language]


PYTHON_BLOCKS = [
    pytest.param(body, id=f"{path.name}-{i}")
    for path in DOCS
    for i, body in enumerate(blocks(path, "python"))
]


def test_the_readme_has_a_python_example_and_a_shell_tour():
    assert blocks(ROOT / "README.md", "python")
    assert len(shell_blocks()) == 2


@pytest.mark.parametrize("source", PYTHON_BLOCKS)
def test_python_block_runs(source, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # blocks may name repository paths (configs/, shipped checkpoints)
    exec(compile(source, "docs python block", "exec"), {"__name__": "docs_example"})


def shell_blocks() -> list:
    return [b for lang in ("bash", "sh", "shell") for b in blocks(ROOT / "README.md", lang)]


def tour_commands() -> list:
    tours = [b for b in shell_blocks() if not any(c in b for c in SETUP_COMMANDS)]
    assert len(tours) == 1, "every shell block of the README but the set-up one must be the tested tour"
    lines = [line.strip() for line in tours[0].splitlines() if line.strip()]
    assert all(line.startswith("dcpt ") for line in lines), lines
    return [shlex.split(line) for line in lines]


@pytest.mark.slow
def test_the_readme_shell_tour_runs_and_does_what_it_says(tmp_path):
    """Each line in a fresh process, from a folder that looks like the repository root."""
    for name in ("src", "configs"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    outputs = {}
    for argv in tour_commands():
        run = subprocess.run(
            [sys.executable, "-m", "dcpt", *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, f"{shlex.join(argv)} exited {run.returncode}:\n{run.stderr[-2000:]}"
        outputs[argv[1]] = run.stdout
    tour = tmp_path / "runs" / "tour"
    lq = sorted(p.name for p in (tour / "pairs" / "lq").iterdir())
    assert lq and sorted(p.stem for p in (tour / "restored").iterdir()) == [Path(n).stem for n in lq]
    assert (tour / "sheet.png").stat().st_size > 0 and (tour / "finetune" / "final.safetensors").exists()
    # the shipped classifier against the truth make-dataset wrote into the file names
    named = re.findall(r"lq/(\S+)\.png: (\w+) ", outputs["classify"])
    assert len(named) == len(lq)
    right = sum(stem.split("_")[-2].replace("-", "_") == guess for stem, guess in named)
    assert right >= 0.8 * len(named), named
