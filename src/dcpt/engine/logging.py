"""What a run reports: a tqdm bar (step, loss, steps/s, data wait, ETA), TensorBoard scalars and
`metrics.jsonl`. The data wait shown is the last log window's (see `engine.loop`).

Only rank 0 reports; on other ranks every method is a no-op.

A run that resumes at step S first cuts `metrics.jsonl` back to the records of steps <= S (those
written before its checkpoint) and opens TensorBoard with ``purge_step=S + 1``, so the steps a killed
run logged after its last checkpoint do not appear twice; a fresh start (S = 0) clears both. A full
disk while logging is a one-line `WriteError`, like any other write.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Dict, Optional

from ..fileio import WriteError, atomic_write

METRICS = "metrics.jsonl"

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


class RunLogger:
    def __init__(
        self,
        run_dir: Optional[Path],
        total_steps: int,
        start_step: int = 0,
        enabled: bool = True,
        tensorboard: bool = True,
    ):
        self.enabled = enabled and run_dir is not None
        self.bar: Optional[Any] = None  # a tqdm bar (tqdm ships no type information)
        self.writer: Optional[SummaryWriter] = None
        self.jsonl: Optional[IO[str]] = None
        if not self.enabled or run_dir is None:
            return
        from tqdm import tqdm

        self.path = Path(run_dir) / METRICS
        cut_metrics(self.path, start_step)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.jsonl = open(self.path, "a")
        except OSError as exc:
            raise WriteError(self.path, exc) from None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a declared dependency; tolerate a slim install
                pass
            else:
                tb = Path(run_dir) / "tb"
                self.writer = SummaryWriter(
                    log_dir=str(tb), purge_step=start_step + 1 if tb.is_dir() else None
                )
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        )
        self._t0 = time.perf_counter()
        self._step0 = start_step

    def scalars(self, step: int, values: Dict[str, float], prefix: str = "train") -> None:
        if not self.enabled or self.jsonl is None:
            return
        record = {"step": step, "kind": prefix, **{k: float(v) for k, v in values.items()}}
        try:
            self.jsonl.write(json.dumps(record) + "\n")
            self.jsonl.flush()
        except OSError as exc:
            raise WriteError(self.path, exc) from None
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"{prefix}/{key}", float(value), step)

    def progress(self, step: int, loss: float, data_wait: Optional[float] = None) -> None:
        if not self.enabled or self.bar is None:
            return
        self.bar.n = step
        rate = (step - self._step0) / max(time.perf_counter() - self._t0, 1e-9)
        shown = {"loss": f"{loss:.4f}", "steps_per_s": f"{rate:.2f}"}
        if data_wait is not None:
            shown["data_wait"] = f"{100 * data_wait:.0f}%"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.refresh()

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None and not self.bar.disable:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self.jsonl is not None:
            try:
                self.jsonl.close()
            except OSError:  # a full disk, already reported by `scalars`
                pass


def cut_metrics(path: Path, step: int) -> None:
    """Keep the records of `path` up to and including `step`; a line cut short by a kill is dropped."""
    if not path.is_file():
        return
    text = path.read_text()
    kept = []
    for line in text.splitlines(keepends=True):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
            kept.append(line if line.endswith("\n") else line + "\n")
    if "".join(kept) != text:
        atomic_write(path, "".join(kept))
