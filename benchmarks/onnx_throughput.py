"""CPU throughput of onnxruntime vs PyTorch on restoration tiles, side by side with the ratio.

Each preset is built with seeded random weights (speed does not depend on the values), exported with
`dcpt.infer.onnx_export.export_onnx` in a child process (cached in --cache, so a rerun skips it) and
timed on B x 3 x T x T tiles in [0, 1]: PyTorch under `torch.inference_mode`, onnxruntime through
`dcpt.infer.onnx_engine.OnnxRestorer` (what `dcpt restore --engine onnx` runs), both with the same
number of intra-op threads and idle threads sleeping (dcpt's OpenMP policy, onnxruntime without
spinning). The two engines alternate within each repeat, so load from other processes falls on both
alike; the figure is the median over repeats, in megapixels per second.

    nice -n 19 .venv/bin/python benchmarks/onnx_throughput.py [--presets nafnet-tiny nafnet-5d]
        [--tile 256] [--batch 1] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the dcpt command sets it, before torch loads

PRESETS = ("nafnet-tiny", "nafnet-5d", "restormer-5d", "swinir-5d")


EXPORT = """
import sys, torch
from dcpt.infer.onnx_export import export_onnx
from dcpt.models import create_model
torch.manual_seed(0)
export_onnx(create_model(sys.argv[1]), sys.argv[2])
"""


def _export_in_child(name: str, path: Path) -> None:
    """Export in another process, so the timed one holds no exporter state (memory, traced graphs)."""
    subprocess.run([sys.executable, "-c", EXPORT, name, str(path)], check=True)


def _seconds(fn, x) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels (default: 256)")
    parser.add_argument("--batch", type=int, default=1, help="tiles per forward pass (default: 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "dcpt-onnx-bench"))
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    from dcpt.infer.onnx_engine import OnnxRestorer
    from dcpt.models import create_model

    torch.set_num_threads(args.threads)
    megapixels = args.batch * args.tile * args.tile / 1e6
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} thread(s), "
        f"{args.batch} x 3 x {args.tile} x {args.tile} tiles, median of {args.repeats}"
    )
    print(f"{'preset':<14} {'torch MP/s':>10} {'onnx MP/s':>10} {'onnx/torch':>10} {'export s':>9}")
    for name in args.presets:
        torch.manual_seed(0)
        net = create_model(name).eval()
        path = Path(args.cache) / f"{name}.onnx"
        start = time.perf_counter()
        if not path.is_file():
            _export_in_child(name, path)
        exported = time.perf_counter() - start
        restorer = OnnxRestorer(path, device="cpu", threads=args.threads)
        x = torch.rand(args.batch, 3, args.tile, args.tile, generator=torch.Generator().manual_seed(0))

        def torch_run(image, net=net):
            with torch.inference_mode():
                return net(image)

        torch_run(x), restorer(x)  # warm-up: allocations, onnxruntime's first-run planning
        times: dict = {"torch": [], "onnx": []}
        for _ in range(args.repeats):
            times["torch"].append(_seconds(torch_run, x))
            times["onnx"].append(_seconds(restorer, x))
        rate = {engine: megapixels / statistics.median(t) for engine, t in times.items()}
        print(
            f"{name:<14} {rate['torch']:>10.3g} {rate['onnx']:>10.3g} {rate['onnx'] / rate['torch']:>9.2f}x "
            f"{exported:>9.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
