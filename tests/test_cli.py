import subprocess
import sys

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
