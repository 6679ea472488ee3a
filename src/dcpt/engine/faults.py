"""A test hook: kill this training process at a chosen step, as a crashed node would.

``DCPT_FAULT_KILL=STEP`` (any rank) or ``DCPT_FAULT_KILL=STEP@RANK`` makes the process send itself
SIGKILL right after optimiser step STEP is complete (logged and, if due, checkpointed). It fires in
the first attempt only: under ``torchrun --max-restarts`` the restarted workers see
``TORCHELASTIC_RESTART_COUNT`` > 0 and train on, which is what the elastic-restart test needs. This
is the only place the variable is read; it exists for the fault-injection tests, not for users.
"""

from __future__ import annotations

import os
import signal
from typing import Optional

from ..errors import ConfigError

ENV = "DCPT_FAULT_KILL"


def kill_step(rank: int) -> Optional[int]:
    """The step after which this rank must die, or None (no hook set, another rank, or a restart)."""
    spec = os.environ.get(ENV, "").strip()
    if not spec or int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0:
        return None
    step_text, _, rank_text = spec.partition("@")
    try:
        step = int(step_text)
        target = int(rank_text) if rank_text else rank
    except ValueError:
        raise ConfigError(f"{ENV}={spec!r}: expected STEP or STEP@RANK (integers)") from None
    return step if target == rank else None


def die() -> None:
    """SIGKILL, where it exists: no handler, no clean-up, no flush, as with a lost machine."""
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
