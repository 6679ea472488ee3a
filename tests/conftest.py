"""Shared test fixtures: small deterministic images, a real small tmpfs, and the slow / gpu markers."""

import subprocess

import numpy as np
import pytest
import torch


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow: pass --runslow to run")
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True, scope="session")
def _one_intra_op_thread():
    """One torch thread: on small tensors, thread hand-offs cost more than they save, and CI machines
    are shared; tests that measure thread-count independence set threads themselves."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def images():
    """A batch of 4 smooth-plus-texture RGB images, 3 x 48 x 64, in [0, 1] (float32)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    base = torch.stack([xx, yy, (xx + yy) / 2])[None].repeat(4, 1, 1, 1)
    texture = torch.rand(4, 3, 48, 64, generator=g) * 0.3
    return (0.15 + 0.6 * base + texture).clamp(0, 1)


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs(size)`: a real tmpfs of `size` (mount's syntax: ``"256k"``) under `tmp_path`, unmounted
    after the test, where this process may mount one (root on Linux); the test is skipped, with the
    reason, where it cannot."""
    mounted = []

    def mount(size: str):
        point = tmp_path / f"tmpfs-{len(mounted)}"
        point.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                capture_output=True,
                text=True,
            )
        except OSError as exc:
            pytest.skip(f"cannot mount a tmpfs here: {exc}")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)
