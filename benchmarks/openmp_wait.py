"""OpenMP's wait policy on idle and on busy cores: a NAFNet-tiny training step and a restoration.

`dcpt` bounds how long idle OpenMP threads spin unless the user set it (dcpt/cli/__init__.py). This
prints why: the same work timed in fresh processes with the default (long spinning), the passive
policy and two short spin counts, with the cores idle and with one busy-looping process per core
competing, as on a shared machine.

    .venv/bin/python benchmarks/openmp_wait.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys

WORK = r"""
import json, time, torch
from dcpt.models import create_model
torch.manual_seed(0)
net = create_model("nafnet-tiny")
opt = torch.optim.AdamW(net.parameters())
x = torch.rand(8, 3, 64, 64)
crops = torch.rand(12, 3, 128, 128)
def step():
    opt.zero_grad(); (net(x) - x).abs().mean().backward(); opt.step()
def restore():
    with torch.no_grad():
        net(crops)
out = {}
for name, fn in (("train step", step), ("restore 12 crops", restore)):
    fn()
    t = time.perf_counter()
    for _ in range(REPEATS):
        fn()
    out[name] = (time.perf_counter() - t) / REPEATS
print(json.dumps(out))
"""


def _busy(stop) -> None:
    while not stop.is_set():
        pass


SETTINGS = {
    "spinning": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin 100k": {"GOMP_SPINCOUNT": "100000"},
    "spin 10k": {"GOMP_SPINCOUNT": "10000"},
}
"""The default (libgomp spins about 300k iterations before sleeping), passive (sleeps at once) and two
shorter spins in between."""


def _timed(setting: str, threads: int, repeats: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    env.update(SETTINGS[setting])
    code = WORK.replace("REPEATS", str(repeats))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{args.threads} torch threads, {os.cpu_count()} cores; seconds per call")
    print(f"{'cores':6s} {'work':18s} " + " ".join(f"{name:>9s}" for name in SETTINGS))
    for load in ("idle", "busy"):
        stop = mp.Event()
        hogs = (
            [mp.Process(target=_busy, args=(stop,)) for _ in range(os.cpu_count() or 1)]
            if load == "busy"
            else []
        )
        for hog in hogs:
            hog.start()
        try:
            times = {name: _timed(name, args.threads, args.repeats) for name in SETTINGS}
        finally:
            stop.set()
            for hog in hogs:
                hog.join()
        for work in times["spinning"]:
            print(f"{load:6s} {work:18s} " + " ".join(f"{times[n][work]:9.3f}" for n in SETTINGS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
