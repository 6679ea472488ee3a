import os
import subprocess
import sys

import pytest

from dcpt import __version__
from dcpt.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "dcpt", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "usage: dcpt" in out.stdout


@pytest.mark.parametrize(
    "env, expected",
    [({}, "10000"), ({"GOMP_SPINCOUNT": "5"}, "5"), ({"OMP_WAIT_POLICY": "ACTIVE"}, None)],
)
def test_openmp_spinning_is_bounded_unless_the_user_chose(monkeypatch, env, expected):
    """Spinning OpenMP threads made a training step 7-60x slower on busy cores
    (benchmarks/openmp_wait.py); the user's own setting always wins."""
    for key in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.setenv(key, "x")  # so that monkeypatch restores the variable after the test
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["info", "--list"]) == 0
    assert os.environ.get("GOMP_SPINCOUNT") == expected
